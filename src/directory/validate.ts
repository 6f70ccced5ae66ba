/**
 * Is a certificate usable to encrypt mail to an address? Every check that fails adds a Reason (a
 * stable code and one line a person can act on), so the directory can say why a certificate was
 * not chosen. Revocation is checked separately (./revocation.ts): it may need the network.
 */
import { AppError } from '../shared/errors.js';
import { equalBytes } from '../shared/bytes.js';
import { certificateHasEmail, normalizeAddress, type Certificate } from '../pki/certificate.js';
import { validateChain, MAX_CHAIN_LENGTH } from '../pki/chain.js';
import { OID } from '../pki/oids.js';
import { MIN_RSA_BITS } from '../smime/recipient-check.js';

export type ReasonCode =
  | 'cert.unreadable'
  | 'cert.no_email'
  | 'cert.address_mismatch'
  | 'cert.is_ca'
  | 'cert.not_yet_valid'
  | 'cert.expired'
  | 'cert.weak_key'
  | 'cert.unsupported_key'
  | 'cert.no_encipherment'
  | 'cert.no_email_protection'
  | 'cert.pending'
  | 'cert.revoked'
  | 'chain.untrusted'
  | 'chain.loop'
  | 'chain.expired'
  | 'chain.not_yet_valid'
  | 'chain.bad_signature'
  | 'chain.issuer_not_ca'
  | 'chain.too_long'
  | 'crl.unavailable';

export interface Reason {
  code: ReasonCode;
  /** One line, e.g. "expired on 2026-01-31T00:00:00.000Z". */
  message: string;
}

/** Every reason code with what it means, for documentation and clients. */
export const REASON_CODES: Readonly<Record<ReasonCode, string>> = {
  'cert.unreadable': 'the stored certificate cannot be parsed',
  'cert.no_email': 'the certificate names no e-mail address (subjectAltName rfc822Name/SmtpUTF8Mailbox or emailAddress)',
  'cert.address_mismatch': 'the certificate does not name the address asked for',
  'cert.is_ca': 'a CA certificate, not a recipient certificate',
  'cert.not_yet_valid': 'not valid yet (notBefore in the future)',
  'cert.expired': 'expired (notAfter in the past)',
  'cert.weak_key': `RSA key shorter than ${MIN_RSA_BITS} bits`,
  'cert.unsupported_key': 'neither an RSA nor an EC P-256/P-384/P-521 key',
  'cert.no_encipherment': 'key usage forbids encryption (keyEncipherment for RSA, keyAgreement for EC)',
  'cert.no_email_protection': 'extended key usage present without emailProtection',
  'cert.pending': 'uploaded, waiting for the holder to confirm the address',
  'cert.revoked': 'revoked (by our CA, an administrator, or on the issuer CRL)',
  'chain.untrusted': 'no chain to a trusted root',
  'chain.loop': 'the issuer chain loops back on itself',
  'chain.expired': 'a CA certificate in the chain has expired',
  'chain.not_yet_valid': 'a CA certificate in the chain is not valid yet',
  'chain.bad_signature': 'a signature in the chain does not verify (or uses SHA-1)',
  'chain.issuer_not_ca': 'an issuer in the chain is not allowed to sign certificates',
  'chain.too_long': `the chain is longer than ${MAX_CHAIN_LENGTH} certificates`,
  'crl.unavailable': 'the issuer CRL could not be obtained and the policy is fail-closed',
};

export function reason(code: ReasonCode, message: string): Reason {
  return { code, message };
}

/** Trust anchors and CA certificates to build chains from. */
export interface TrustStore {
  anchors: readonly Certificate[];
  intermediates: readonly Certificate[];
  /** Fingerprints of our own CA's certificates (their revocations live in our database). */
  own: ReadonlySet<string>;
}

export interface CheckOptions {
  now: Date;
  trust: TrustStore;
  /** The address the certificate must name (domain case-insensitive, local part exact). */
  address?: string;
  /** CA certificates that came with this certificate (a bundle, a signed message). */
  extraIntermediates?: readonly Certificate[];
}

export interface CheckResult {
  reasons: Reason[];
  /** [leaf, ..., anchor] when the chain validated. */
  chain?: Certificate[];
}

const iso = (d: Date) => d.toISOString();

/** True when some issuer path from `leaf` through `pool` comes back to a certificate already on it. */
export function hasIssuerLoop(leaf: Certificate, pool: readonly Certificate[]): boolean {
  const onPath = new Set<string>();
  const done = new Set<string>();
  const visit = (c: Certificate, depth: number): boolean => {
    if (onPath.has(c.fingerprint256)) return true;
    if (done.has(c.fingerprint256) || depth > pool.length + 1) return false;
    if (equalBytes(c.subjectDer, c.issuerDer)) return false; // self-issued: a root, not a loop
    onPath.add(c.fingerprint256);
    const found = pool.some((p) => equalBytes(p.subjectDer, c.issuerDer) && visit(p, depth + 1));
    onPath.delete(c.fingerprint256);
    done.add(c.fingerprint256);
    return found;
  };
  return visit(leaf, 0);
}

/** The reasons (possibly none) why `cert` cannot be used to encrypt to `options.address` now. */
export function checkCertificate(cert: Certificate, options: CheckOptions): CheckResult {
  const reasons: Reason[] = [];
  const { now } = options;
  if (cert.emails.length === 0) {
    reasons.push(reason('cert.no_email', 'names no e-mail address (neither subjectAltName rfc822Name/SmtpUTF8Mailbox nor emailAddress)'));
  } else if (options.address !== undefined && !certificateHasEmail(cert, options.address)) {
    reasons.push(reason('cert.address_mismatch', `is for ${cert.emails.join(', ')}, not ${normalizeAddress(options.address)}`));
  }
  if (cert.isCA) reasons.push(reason('cert.is_ca', 'is a CA certificate, not a recipient certificate'));
  const timeValid = now >= cert.notBefore && now <= cert.notAfter;
  if (now < cert.notBefore) reasons.push(reason('cert.not_yet_valid', `is not valid before ${iso(cert.notBefore)}`));
  if (now > cert.notAfter) reasons.push(reason('cert.expired', `expired on ${iso(cert.notAfter)}`));
  const pk = cert.publicKey;
  if (pk.kind === 'rsa') {
    if (pk.bits < MIN_RSA_BITS) reasons.push(reason('cert.weak_key', `has a ${pk.bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`));
    if (cert.keyUsage && !cert.keyUsage.keyEncipherment) reasons.push(reason('cert.no_encipherment', 'key usage does not include keyEncipherment (required to encrypt to an RSA key)'));
  } else if (pk.kind === 'ec') {
    if (cert.keyUsage && !cert.keyUsage.keyAgreement) reasons.push(reason('cert.no_encipherment', 'key usage does not include keyAgreement (required to encrypt to an EC key)'));
  } else {
    reasons.push(reason('cert.unsupported_key', `has an unsupported public key (${pk.algorithm})`));
  }
  if (cert.extKeyUsage && !cert.extKeyUsage.includes(OID.emailProtection) && !cert.extKeyUsage.includes(OID.anyExtendedKeyUsage)) {
    reasons.push(reason('cert.no_email_protection', 'extended key usage does not include emailProtection'));
  }

  // The chain: judged at a time inside the leaf's own validity when the leaf is out of it, so an
  // expired certificate is reported as expired once, and any other chain problem still shows.
  const time = timeValid ? now : now > cert.notAfter ? cert.notAfter : cert.notBefore;
  const intermediates = [...options.trust.intermediates, ...(options.extraIntermediates ?? [])];
  let chain: Certificate[] | undefined;
  try {
    chain = validateChain(cert, { trusted: options.trust.anchors, intermediates, time });
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    const code = (e.code.startsWith('chain.') ? e.code : 'chain.untrusted') as ReasonCode;
    if (code === 'chain.untrusted' && hasIssuerLoop(cert, intermediates)) {
      reasons.push(reason('chain.loop', `the issuer chain of ${cert.emails[0] ?? cert.subject} loops back on itself; no trusted root is reached`));
    } else {
      reasons.push(reason(code in REASON_CODES ? code : 'chain.untrusted', e.message));
    }
  }
  return chain ? { reasons, chain } : { reasons };
}

/** Just the CA certificates of a bundle. */
export function caCertificates(certs: readonly Certificate[]): Certificate[] {
  return certs.filter((c) => c.isCA);
}

export function formatReasons(reasons: readonly Reason[]): string {
  return reasons.map((r) => `${r.code}: ${r.message}`).join('; ');
}
