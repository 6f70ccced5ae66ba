/** Object identifiers the CA writes and checks, beyond src/pki/oids.ts. */
import { OID } from '../pki/oids.js';

export const CA_OID = {
  ...OID,
  serialNumber: '2.5.4.5',
  organizationName: '2.5.4.10',
  /** CA/Browser Forum S/MIME BR: mailbox-validated, strict. */
  policyMailboxStrict: '2.23.140.1.5.1.3',
  cpsQualifier: '1.3.6.1.5.5.7.2.1',
  ocspAccess: '1.3.6.1.5.5.7.48.1',
  caIssuersAccess: '1.3.6.1.5.5.7.48.2',
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
  crlNumber: '2.5.29.20',
  crlReason: '2.5.29.21',
  extensionRequest: '1.2.840.113549.1.9.14',
  // PBES2 / scrypt (RFC 8018, RFC 7914)
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
  hmacWithSha256: '1.2.840.113549.2.9',
} as const;
