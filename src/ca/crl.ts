/**
 * X.509 v2 CRLs (RFC 5280 5): our issuer name, thisUpdate/nextUpdate, the revoked serials with
 * their revocation time and reason code (omitted for "unspecified", as the S/MIME BR ask), and the
 * CRL extensions authorityKeyIdentifier and cRLNumber. Signed through the Signer port.
 */
import { bitString, ctx, int, seq, tlv, time, type Der } from '../pki/der.js';
import type { Certificate } from '../pki/certificate.js';
import { fromHex } from '../shared/bytes.js';
import { parse } from '../pki/asn1.js';
import { enumerated, extension } from './der.js';
import { CA_OID } from './oids.js';
import { signatureAlgorithmIdentifier, type Signer } from './signer.js';

/** RFC 5280 CRLReason codes we use. certificateHold (6) and removeFromCRL (8) are never used. */
export const REVOCATION_REASON_CODES = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASON_CODES;
export const REVOCATION_REASONS = Object.keys(REVOCATION_REASON_CODES) as RevocationReason[];

export function isRevocationReason(s: unknown): s is RevocationReason {
  return typeof s === 'string' && Object.hasOwn(REVOCATION_REASON_CODES, s);
}

export interface RevokedEntry {
  serialHex: string;
  revokedAt: Date;
  /** null or 'unspecified': no reasonCode entry extension. */
  reason: RevocationReason | null;
}

export interface CrlRequest {
  issuer: Certificate;
  signer: Signer;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: readonly RevokedEntry[];
}

function entry(r: RevokedEntry): Der {
  const code = r.reason ? REVOCATION_REASON_CODES[r.reason] : 0;
  const fields = [int(fromHex(r.serialHex)), time(r.revokedAt)];
  if (code !== 0) fields.push(seq(extension(CA_OID.crlReason, false, enumerated(code))));
  return seq(...fields);
}

export async function buildCrl(r: CrlRequest): Promise<Der> {
  const fields: Der[] = [int(1), signatureAlgorithmIdentifier(r.signer.algorithm), r.issuer.subjectDer, time(r.thisUpdate), time(r.nextUpdate)];
  if (r.revoked.length > 0) {
    const sorted = [...r.revoked].sort((a, b) => a.revokedAt.getTime() - b.revokedAt.getTime() || a.serialHex.localeCompare(b.serialHex));
    fields.push(seq(...sorted.map(entry)));
  }
  const exts: Der[] = [];
  if (r.issuer.subjectKeyId) exts.push(extension(CA_OID.authorityKeyIdentifier, false, seq(tlv(0x80, r.issuer.subjectKeyId))));
  exts.push(extension(CA_OID.crlNumber, false, int(r.number)));
  fields.push(ctx(0, true, seq(...exts)));
  const tbs = seq(...fields);
  return seq(tbs, signatureAlgorithmIdentifier(r.signer.algorithm), bitString(await r.signer.sign(tbs)));
}

/** How many revoked certificates a CRL we made lists. */
export function crlEntryCount(der: Uint8Array): number {
  const tbs = parse(der).children[0];
  // version, signature, issuer, thisUpdate, nextUpdate, then revokedCertificates (a SEQUENCE) or [0] extensions
  const list = tbs?.children[5];
  return list?.tag === 0x30 ? list.children.length : 0;
}
