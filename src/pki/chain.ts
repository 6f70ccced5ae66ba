/**
 * Certificate path validation for S/MIME signers and recipient certificates: from the leaf to a
 * trusted anchor, each signature checked, each certificate valid at the given time, each issuer a
 * CA allowed to sign certificates, SHA-1 refused, loops and overlong chains refused.
 */
import { constants, verify as nodeVerify } from 'node:crypto';
import { AppError } from '../shared/errors.js';
import { equalBytes } from '../shared/bytes.js';
import type { Certificate } from './certificate.js';
import { OID } from './oids.js';
import { parse, readInt, readOid } from './asn1.js';

export const MAX_CHAIN_LENGTH = 8;

export interface ChainOptions {
  trusted: readonly Certificate[];
  intermediates?: readonly Certificate[];
  time: Date;
}

const HASH_OF: Record<string, string> = {
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
};

const HASH_NAME: Record<string, string> = { [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512', [OID.sha1]: 'sha1' };

/** Parameters of RSASSA-PSS-params: hash and salt length (RFC 4055 defaults SHA-1, 20). */
export function pssParamsOf(params: Uint8Array | undefined): { hash: string; saltLength: number } {
  let hash = 'sha1';
  let saltLength = 20;
  if (params && params.length > 2) {
    for (const c of parse(params).children) {
      if (c.tag === 0xa0) hash = HASH_NAME[readOid(c.children[0]?.children[0])] ?? 'unknown';
      if (c.tag === 0xa2) saltLength = Number(readInt(c.children[0]));
    }
  }
  return { hash, saltLength };
}

/**
 * Verifies `signature` over `data` with `spki` under the signature algorithm `algOid` (+ params).
 * `digestHint` is the hash when the algorithm OID does not name one (CMS rsaEncryption).
 */
export function verifySignature(spki: Uint8Array, algOid: string, params: Uint8Array | undefined, data: Uint8Array, signature: Uint8Array, digestHint?: string): boolean {
  const key = { key: Buffer.from(spki), format: 'der' as const, type: 'spki' as const };
  if (algOid === OID.sha1WithRSAEncryption || (algOid === OID.rsaEncryption && digestHint === 'sha1')) {
    throw new AppError('pki.sha1', 'Signature uses SHA-1, which is no longer accepted');
  }
  if (algOid === OID.rsassaPss) {
    const p = pssParamsOf(params);
    if (p.hash === 'sha1') throw new AppError('pki.sha1', 'Signature uses SHA-1, which is no longer accepted');
    return nodeVerify(p.hash, data, { ...key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, signature);
  }
  const hash = HASH_OF[algOid] ?? (algOid === OID.rsaEncryption || algOid === OID.ecPublicKey ? digestHint : undefined);
  if (!hash) throw new AppError('pki.unsupported_signature', `Unsupported signature algorithm ${algOid}`);
  const isEc = algOid.startsWith('1.2.840.10045.');
  return nodeVerify(hash, data, isEc ? { ...key, dsaEncoding: 'der' } : { ...key, padding: constants.RSA_PKCS1_PADDING }, signature);
}

function certSignatureValid(cert: Certificate, issuer: Certificate): boolean {
  const sigAlgNode = parse(cert.der).children[1]!;
  const params = sigAlgNode.children[1]?.raw;
  try {
    return verifySignature(issuer.publicKey.spki, cert.signatureAlgorithm, params, cert.tbs, cert.signature);
  } catch (e) {
    if (e instanceof AppError) throw e;
    return false;
  }
}

function label(c: Certificate): string {
  return c.emails[0] ?? c.subject ?? c.serialHex;
}

/**
 * Returns the path [leaf, ..., anchor]. Throws AppError with code 'chain.*' and the most specific
 * reason found.
 */
export function validateChain(leaf: Certificate, options: ChainOptions): Certificate[] {
  const { time } = options;
  const trustedFps = new Set(options.trusted.map((c) => c.fingerprint256));
  const pool = [...options.trusted, ...(options.intermediates ?? [])];
  let problem: AppError | undefined;
  const note = (e: AppError) => {
    if (!problem || problem.code === 'chain.untrusted') problem = e;
  };

  const checkTime = (c: Certificate): boolean => {
    if (time < c.notBefore) {
      note(new AppError('chain.not_yet_valid', `Certificate ${label(c)} is not valid before ${c.notBefore.toISOString()}`));
      return false;
    }
    if (time > c.notAfter) {
      note(new AppError('chain.expired', `Certificate ${label(c)} expired on ${c.notAfter.toISOString()}`));
      return false;
    }
    return true;
  };

  const walk = (current: Certificate, path: Certificate[]): Certificate[] | undefined => {
    if (!checkTime(current)) return undefined;
    if (trustedFps.has(current.fingerprint256)) return path;
    if (path.length >= MAX_CHAIN_LENGTH) {
      note(new AppError('chain.too_long', `Certificate chain longer than ${MAX_CHAIN_LENGTH}`));
      return undefined;
    }
    const candidates = pool.filter(
      (c) =>
        equalBytes(c.subjectDer, current.issuerDer) &&
        !path.some((p) => p.fingerprint256 === c.fingerprint256) &&
        (!current.authorityKeyId || !c.subjectKeyId || equalBytes(current.authorityKeyId, c.subjectKeyId)),
    );
    if (candidates.length === 0) {
      const selfSigned = equalBytes(current.subjectDer, current.issuerDer);
      note(new AppError('chain.untrusted', selfSigned ? `Certificate ${label(current)} is self-signed and not trusted` : `No trusted issuer found for ${label(current)} (issuer: ${current.issuer})`));
      return undefined;
    }
    for (const issuer of candidates) {
      if (!issuer.isCA || (issuer.keyUsage && !issuer.keyUsage.keyCertSign)) {
        note(new AppError('chain.issuer_not_ca', `Issuer ${issuer.subject} is not a CA allowed to sign certificates`));
        continue;
      }
      let ok: boolean;
      try {
        ok = certSignatureValid(current, issuer);
      } catch (e) {
        if (e instanceof AppError) note(new AppError('chain.bad_signature', `Certificate ${label(current)}: ${e.message}`));
        continue;
      }
      if (!ok) {
        note(new AppError('chain.bad_signature', `Signature on certificate ${label(current)} does not verify with the key of ${issuer.subject}`));
        continue;
      }
      const found = walk(issuer, [...path, issuer]);
      if (found) return found;
    }
    return undefined;
  };

  const path = walk(leaf, [leaf]);
  if (path) return path;
  throw problem ?? new AppError('chain.untrusted', `No trusted chain for ${label(leaf)}`);
}
