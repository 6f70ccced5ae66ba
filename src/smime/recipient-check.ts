/**
 * Fitness of a certificate for encrypting to its holder: the checks the engine itself makes before
 * it uses a key (the directory adds trust, revocation and address matching on top).
 */
import { AppError } from '../shared/errors.js';
import type { Certificate } from '../pki/certificate.js';
import { OID } from '../pki/oids.js';

export const MIN_RSA_BITS = 2048;

export function assertEncryptionCertificate(cert: Certificate, now: Date, source = 'certificate'): void {
  const who = cert.emails[0] ?? cert.subject ?? cert.serialHex;
  const fail = (code: string, msg: string) => new AppError(code, `${source} (${who}): ${msg}`);
  if (cert.emails.length === 0) throw fail('cert.no_email', 'has no email address (neither subjectAltName rfc822Name nor emailAddress)');
  if (now < cert.notBefore) throw fail('cert.not_yet_valid', `is not valid before ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter) throw fail('cert.expired', `expired on ${cert.notAfter.toISOString()}`);
  const pk = cert.publicKey;
  if (pk.kind === 'rsa') {
    if (pk.bits < MIN_RSA_BITS) throw fail('cert.weak_key', `has a ${pk.bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`);
    if (cert.keyUsage && !cert.keyUsage.keyEncipherment) throw fail('cert.no_encipherment', 'key usage does not allow keyEncipherment, so it cannot be used for encryption');
  } else if (pk.kind === 'ec') {
    if (cert.keyUsage && !cert.keyUsage.keyAgreement) throw fail('cert.no_encipherment', 'key usage does not allow keyAgreement, so it cannot be used for encryption');
  } else {
    throw fail('cert.unsupported_key', `has an unsupported public key (${pk.algorithm})`);
  }
  if (cert.extKeyUsage && !cert.extKeyUsage.includes(OID.emailProtection) && !cert.extKeyUsage.includes(OID.anyExtendedKeyUsage)) {
    throw fail('cert.no_email_protection', 'extended key usage does not include emailProtection');
  }
  if (cert.isCA) throw fail('cert.is_ca', 'is a CA certificate, not a recipient certificate');
}
