/**
 * X.509 CRLs (RFC 5280 5): parsing, signature and issuer checks, and the HTTP distribution points a
 * certificate names. Used for the CRLs of external CAs; our own CA's revocations are read from the
 * database directly.
 */
import { AppError } from '../shared/errors.js';
import { equalBytes, latin1, toHex } from '../shared/bytes.js';
import type { Certificate } from '../pki/certificate.js';
import { verifySignature } from '../pki/chain.js';
import { type Node, parse, readOid, readTime, readUnsigned, stringBytes, expectTag, child } from '../pki/asn1.js';
import { OID } from '../pki/oids.js';

/** CRLs larger than this are refused (public CAs' CRLs are at most a few MB). */
export const MAX_CRL_BYTES = 32 * 1024 * 1024;

const REASON_CODE_OID = '2.5.29.21';
const REASON_NAMES = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'unused',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
];

export interface RevokedEntry {
  revokedAt: Date;
  reason?: string;
}

export interface ParsedCrl {
  der: Uint8Array;
  issuerDer: Uint8Array;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** Serial (lower-case hex, no leading zero octet, as Certificate.serialHex) -> entry. */
  revoked: Map<string, RevokedEntry>;
  signatureAlgorithm: string;
  signatureParams?: Uint8Array;
  tbs: Uint8Array;
  signature: Uint8Array;
}

const malformed = (msg: string, cause?: unknown) => new AppError('crl.malformed', `Not a valid CRL (${msg})`, { cause });

export function parseCrl(der: Uint8Array): ParsedCrl {
  if (der.length > MAX_CRL_BYTES) throw new AppError('crl.too_large', `CRL is ${der.length} bytes; the limit is ${MAX_CRL_BYTES}`);
  try {
    const list = expectTag(parse(der), 0x30, 'CertificateList');
    const tbs = expectTag(list.children[0], 0x30, 'tbsCertList');
    const sigAlg = child(list, 1, 'signatureAlgorithm');
    const signature = expectTag(list.children[2], 0x03, 'signatureValue').value.subarray(1);
    let i = 0;
    if (tbs.children[0]?.tag === 0x02) i++; // version
    i++; // signature
    const issuer = expectTag(tbs.children[i++], 0x30, 'issuer');
    const thisUpdate = readTime(tbs.children[i++]);
    let nextUpdate: Date | undefined;
    const maybeNext = tbs.children[i];
    if (maybeNext && (maybeNext.tag === 0x17 || maybeNext.tag === 0x18)) {
      nextUpdate = readTime(maybeNext);
      i++;
    }
    const revoked = new Map<string, RevokedEntry>();
    const list2 = tbs.children[i];
    if (list2 && list2.tag === 0x30) {
      for (const entry of list2.children) {
        const serial = toHex(readUnsigned(entry.children[0]));
        const e: RevokedEntry = { revokedAt: readTime(entry.children[1]) };
        for (const ext of entry.children[2]?.children ?? []) {
          if (readOid(ext.children[0]) === REASON_CODE_OID) {
            const v = parse(stringBytes(expectTag(ext.children[ext.children.length - 1], 0x04, 'reasonCode')));
            e.reason = REASON_NAMES[v.value[0] ?? 0] ?? 'unspecified';
          }
        }
        revoked.set(serial, e);
      }
    }
    return {
      der,
      issuerDer: issuer.raw,
      thisUpdate,
      nextUpdate,
      revoked,
      signatureAlgorithm: readOid(sigAlg.children[0]),
      signatureParams: sigAlg.children[1]?.raw,
      tbs: tbs.raw,
      signature,
    };
  } catch (e) {
    if (e instanceof AppError && e.code.startsWith('crl.')) throw e;
    throw malformed((e as Error).message, e);
  }
}

/** Throws unless `crl` was issued and signed by `issuer` (RFC 5280 6.3.3 (f), (g)). */
export function assertCrlIssuedBy(crl: ParsedCrl, issuer: Certificate): void {
  if (!equalBytes(crl.issuerDer, issuer.subjectDer)) throw new AppError('crl.wrong_issuer', `The CRL is not issued by ${issuer.subject}`);
  if (issuer.keyUsage && !issuer.keyUsage.cRLSign) throw new AppError('crl.wrong_issuer', `${issuer.subject} is not allowed to sign CRLs (keyUsage lacks cRLSign)`);
  let ok = false;
  try {
    ok = verifySignature(issuer.publicKey.spki, crl.signatureAlgorithm, crl.signatureParams, crl.tbs, crl.signature);
  } catch (e) {
    throw new AppError('crl.bad_signature', `The CRL signature cannot be checked: ${(e as Error).message}`, { cause: e });
  }
  if (!ok) throw new AppError('crl.bad_signature', `The CRL signature does not verify with the key of ${issuer.subject}`);
}

/** The DER value (extnValue contents) of an extension of `cert`, if present. */
export function certificateExtension(cert: Certificate, extOid: string): Uint8Array | undefined {
  const tbs = parse(cert.tbs);
  const wrapper = tbs.children.find((n) => n.tag === 0xa3);
  for (const ext of wrapper?.children[0]?.children ?? []) {
    if (readOid(ext.children[0]) === extOid) return stringBytes(expectTag(ext.children[ext.children.length - 1], 0x04, 'extension value'));
  }
  return undefined;
}

/** http(s) URLs of the certificate's CRL distribution points (fullName URIs only). */
export function crlDistributionPoints(cert: Certificate): string[] {
  let value: Uint8Array | undefined;
  try {
    value = certificateExtension(cert, OID.crlDistributionPoints);
  } catch {
    return [];
  }
  if (!value) return [];
  const urls: string[] = [];
  try {
    for (const dp of parse(value).children) {
      const dpName = dp.children.find((n: Node) => n.tag === 0xa0);
      const fullName = dpName?.children.find((n: Node) => n.tag === 0xa0);
      for (const gn of fullName?.children ?? []) {
        if (gn.tag !== 0x86) continue;
        const url = latin1(gn.value);
        if (/^https?:\/\//i.test(url)) urls.push(url);
      }
    }
  } catch {
    return urls;
  }
  return urls;
}
