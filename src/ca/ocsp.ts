/**
 * OCSP (RFC 6960) for our own CAs: request parsing, CertID matching, and BasicOCSPResponse
 * building. The responder is the CA itself (responderID byName, signed with the CA key through the
 * Signer port). What status to give each serial is the authority's decision, not this module's.
 */
import { bitString, ctx, oid, octets, seq, type Der } from '../pki/der.js';
import { parse, readOid, readUnsigned, stringBytes, type Node } from '../pki/asn1.js';
import type { Certificate } from '../pki/certificate.js';
import { digest } from '../pki/hash.js';
import { AppError } from '../shared/errors.js';
import { equalBytes, toHex } from '../shared/bytes.js';
import { enumerated, generalizedTime } from './der.js';
import { subjectPublicKeyBits } from './keys.js';
import { CA_OID } from './oids.js';
import { REVOCATION_REASON_CODES, type RevocationReason } from './crl.js';
import { signatureAlgorithmIdentifier, type Signer } from './signer.js';

/** Requests larger than this are refused (RFC 5019 clients send one CertID). */
export const MAX_OCSP_REQUEST_BYTES = 8 * 1024;
export const MAX_OCSP_CERT_IDS = 20;

export const OCSP_RESPONSE_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;
export type OcspErrorStatus = Exclude<keyof typeof OCSP_RESPONSE_STATUS, 'successful'>;

const CERT_ID_HASHES: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  [CA_OID.sha1]: 'sha1',
  [CA_OID.sha256]: 'sha256',
  [CA_OID.sha384]: 'sha384',
  [CA_OID.sha512]: 'sha512',
};

export interface OcspCertId {
  /** The CertID exactly as requested (echoed in the response). */
  raw: Uint8Array;
  hashAlgorithm: string;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /** Lower-case hex of the serial's magnitude, as stored for our certificates. */
  serialHex: string;
}

export interface OcspRequest {
  certIds: OcspCertId[];
  /** The nonce extension (whole Extension element), echoed in the response. */
  nonceExtension?: Uint8Array;
}

function malformed(why: string): AppError {
  return new AppError('ocsp.malformed', `Malformed OCSP request: ${why}`);
}

function certId(node: Node | undefined): OcspCertId {
  if (!node || node.tag !== 0x30 || node.children.length !== 4) throw malformed('CertID is not a SEQUENCE of four');
  const [alg, nameHash, keyHash, serial] = node.children as [Node, Node, Node, Node];
  const hashAlgorithm = readOid(alg.children[0]);
  if (nameHash.tag !== 0x04 || keyHash.tag !== 0x04 || serial.tag !== 0x02) throw malformed('CertID fields have the wrong types');
  if (serial.value.length === 0 || (serial.value[0]! & 0x80) !== 0) throw malformed('serial number is not positive');
  return { raw: node.raw, hashAlgorithm, issuerNameHash: nameHash.value, issuerKeyHash: keyHash.value, serialHex: toHex(readUnsigned(serial)) };
}

/** Parses an OCSPRequest. Signed requests are accepted; their signature is ignored (we answer anyone). */
export function parseOcspRequest(der: Uint8Array): OcspRequest {
  if (der.length === 0) throw malformed('empty');
  if (der.length > MAX_OCSP_REQUEST_BYTES) throw malformed(`larger than ${MAX_OCSP_REQUEST_BYTES} bytes`);
  let root: Node;
  try {
    root = parse(der);
  } catch (e) {
    throw malformed((e as Error).message);
  }
  try {
    const tbs = root.children[0];
    if (root.tag !== 0x30 || tbs?.tag !== 0x30) throw malformed('not an OCSPRequest');
    if (root.children.length > 2 || (root.children[1] && root.children[1].tag !== 0xa0)) throw malformed('unexpected element after tbsRequest');
    let i = 0;
    if (tbs.children[i]?.tag === 0xa0) {
      const v = tbs.children[i]!.children[0];
      if (v?.tag !== 0x02 || v.value.length !== 1 || v.value[0] !== 0) throw malformed('unsupported version');
      i++;
    }
    if (tbs.children[i]?.tag === 0xa1) i++; // requestorName
    const list = tbs.children[i++];
    if (list?.tag !== 0x30 || list.children.length === 0) throw malformed('empty requestList');
    if (list.children.length > MAX_OCSP_CERT_IDS) throw malformed(`more than ${MAX_OCSP_CERT_IDS} certificates asked about`);
    const certIds = list.children.map((req) => {
      if (req.tag !== 0x30) throw malformed('Request is not a SEQUENCE');
      return certId(req.children[0]);
    });
    let nonceExtension: Uint8Array | undefined;
    const extsWrapper = tbs.children[i];
    if (extsWrapper) {
      if (extsWrapper.tag !== 0xa2 || tbs.children.length > i + 1) throw malformed('unexpected element in tbsRequest');
      for (const ext of extsWrapper.children[0]?.children ?? []) {
        if (readOid(ext.children[0]) !== CA_OID.ocspNonce) continue;
        const value = stringBytes(ext.children[ext.children.length - 1]!);
        if (value.length === 0 || value.length > 128) throw malformed('nonce of unreasonable size');
        nonceExtension = ext.raw;
      }
    }
    return { certIds, ...(nonceExtension ? { nonceExtension } : {}) };
  } catch (e) {
    if (e instanceof AppError && e.code === 'ocsp.malformed') throw e;
    throw malformed((e as Error).message);
  }
}

/** True when the CertID names `issuer` as the issuing CA (name hash and key hash). */
export function certIdIsFor(id: OcspCertId, issuer: Certificate): boolean {
  const hash = CERT_ID_HASHES[id.hashAlgorithm];
  if (!hash) return false;
  return equalBytes(id.issuerNameHash, digest(hash, issuer.subjectDer)) && equalBytes(id.issuerKeyHash, digest(hash, subjectPublicKeyBits(issuer.publicKey.spki)));
}

export type OcspCertStatus =
  | { status: 'good' }
  | { status: 'revoked'; revokedAt: Date; reason: RevocationReason | null }
  | { status: 'unknown' };

export interface OcspSingleResponse {
  certId: OcspCertId;
  status: OcspCertStatus;
}

export interface OcspResponseRequest {
  /** The CA answering (its certificate goes into the response). */
  responder: Certificate;
  signer: Signer;
  producedAt: Date;
  nextUpdate: Date;
  responses: readonly OcspSingleResponse[];
  nonceExtension?: Uint8Array;
}

function certStatus(s: OcspCertStatus): Der {
  if (s.status === 'good') return Uint8Array.of(0x80, 0x00);
  if (s.status === 'unknown') return Uint8Array.of(0x82, 0x00);
  const code = s.reason ? REVOCATION_REASON_CODES[s.reason] : 0;
  return code === 0 ? ctx(1, true, generalizedTime(s.revokedAt)) : ctx(1, true, generalizedTime(s.revokedAt), ctx(0, true, enumerated(code)));
}

/** A successful OCSPResponse carrying a BasicOCSPResponse signed by `signer`. */
export async function buildOcspResponse(r: OcspResponseRequest): Promise<Der> {
  const singles = r.responses.map((x) => seq(x.certId.raw, certStatus(x.status), generalizedTime(r.producedAt), ctx(0, true, generalizedTime(r.nextUpdate))));
  const fields = [ctx(1, true, r.responder.subjectDer), generalizedTime(r.producedAt), seq(...singles)];
  if (r.nonceExtension) fields.push(ctx(1, true, seq(r.nonceExtension)));
  const tbs = seq(...fields);
  const basic = seq(tbs, signatureAlgorithmIdentifier(r.signer.algorithm), bitString(await r.signer.sign(tbs)), ctx(0, true, seq(r.responder.der)));
  return seq(enumerated(OCSP_RESPONSE_STATUS.successful), ctx(0, true, seq(oid(CA_OID.ocspBasic), octets(basic))));
}

/** An unsuccessful OCSPResponse (no responseBytes), e.g. malformedRequest or unauthorized. */
export function ocspErrorResponse(status: OcspErrorStatus): Der {
  return seq(enumerated(OCSP_RESPONSE_STATUS[status]));
}
