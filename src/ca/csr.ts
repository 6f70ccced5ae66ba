/**
 * PKCS#10 certification requests (RFC 2986): parse, check proof of possession (the request's
 * signature under its own key), and read the mailboxes it names (subject CN and emailAddress,
 * subjectAltName rfc822Name / SmtpUTF8Mailbox in an extensionRequest attribute).
 *
 * Every failure is an AppError of kind bad_input with a code naming the problem:
 * ca.csr_malformed, ca.csr_weak_signature, ca.csr_bad_signature, ca.csr_weak_key.
 */
import { parse, readOid, readString, stringBytes, type Node } from '../pki/asn1.js';
import { verifySignature } from '../pki/chain.js';
import { AppError } from '../shared/errors.js';
import { decodePemAll, fromUtf8, latin1, looksLikePem } from '../shared/bytes.js';
import { subjectKeyProblem, describeSpki, type SubjectKey } from './keys.js';
import { CA_OID } from './oids.js';

export const MAX_CSR_BYTES = 16 * 1024;

export interface CertificationRequest {
  der: Uint8Array;
  /** DER SubjectPublicKeyInfo, exactly as in the request. */
  spki: Uint8Array;
  key: SubjectKey;
  /** Subject commonName values. */
  commonNames: string[];
  /** Subject emailAddress values. */
  subjectEmails: string[];
  /** rfc822Name and SmtpUTF8Mailbox values of a requested subjectAltName. */
  sanEmails: string[];
  signatureAlgorithm: string;
}

/** Signature algorithms refused outright: SHA-1 and MD5 based. */
const WEAK_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'SHA-1 with RSA',
  '1.2.840.113549.1.1.4': 'MD5 with RSA',
  '1.2.840.113549.1.1.2': 'MD2 with RSA',
  '1.2.840.10045.4.1': 'ECDSA with SHA-1',
  '1.2.840.10040.4.3': 'DSA with SHA-1',
};

function malformed(why: string, cause?: unknown): AppError {
  return new AppError('ca.csr_malformed', `The certificate request is not a valid PKCS#10 request (${why})`, { cause });
}

function requestDer(input: Uint8Array | string): Uint8Array {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  if (bytes.length === 0) throw malformed('it is empty');
  if (bytes.length > MAX_CSR_BYTES) throw new AppError('ca.csr_too_large', `The certificate request is ${bytes.length} bytes; the limit is ${MAX_CSR_BYTES}`, { kind: 'too_large' });
  if (!looksLikePem(bytes)) return bytes;
  let blocks;
  try {
    blocks = decodePemAll(latin1(bytes));
  } catch (e) {
    throw malformed('bad PEM', e);
  }
  const req = blocks.find((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST');
  if (!req) throw malformed(`no CERTIFICATE REQUEST block${blocks.length ? ` (found ${blocks.map((b) => b.label).join(', ')})` : ''}`);
  return req.der;
}

function sanMailboxes(value: Uint8Array): string[] {
  const out: string[] = [];
  for (const gn of parse(value).children) {
    if (gn.tag === 0x81) out.push(latin1(gn.value));
    else if (gn.tag === 0xa0 && readOid(gn.children[0]) === CA_OID.smtpUtf8Mailbox) {
      const v = gn.children[1]?.children[0];
      if (v) out.push(fromUtf8(stringBytes(v)));
    }
  }
  return out;
}

function requestedExtensions(attributes: Node | undefined): Map<string, Uint8Array> {
  const exts = new Map<string, Uint8Array>();
  for (const attr of attributes?.children ?? []) {
    if (readOid(attr.children[0]) !== CA_OID.extensionRequest) continue;
    for (const ext of attr.children[1]?.children[0]?.children ?? []) {
      const last = ext.children[ext.children.length - 1];
      if (last?.tag === 0x04) exts.set(readOid(ext.children[0]), stringBytes(last));
    }
  }
  return exts;
}

/** Parses a PEM or DER request (structure only; see verifyRequest for the signature and the key). */
export function parseRequest(input: Uint8Array | string): CertificationRequest {
  const der = requestDer(input);
  try {
    const root = parse(der);
    const info = root.children[0];
    const sigAlg = root.children[1];
    const sig = root.children[2];
    if (root.tag !== 0x30 || root.children.length !== 3 || info?.tag !== 0x30 || sigAlg?.tag !== 0x30 || sig?.tag !== 0x03) throw new Error('not a CertificationRequest');
    const [version, subject, spki, attributes] = info.children;
    if (version?.tag !== 0x02 || version.value.length !== 1 || version.value[0] !== 0) throw new Error('version is not v1');
    if (subject?.tag !== 0x30 || spki?.tag !== 0x30) throw new Error('subject or public key missing');
    if (attributes && attributes.tag !== 0xa0) throw new Error('attributes are not [0]');
    const commonNames: string[] = [];
    const subjectEmails: string[] = [];
    for (const rdn of subject.children) {
      for (const atv of rdn.children) {
        const type = readOid(atv.children[0]);
        const value = atv.children[1] ? readString(atv.children[1]) : '';
        if (type === CA_OID.commonName) commonNames.push(value);
        if (type === CA_OID.emailAddress) subjectEmails.push(value);
      }
    }
    const san = requestedExtensions(attributes).get(CA_OID.subjectAltName);
    return {
      der,
      spki: spki.raw,
      key: describeSpki(spki),
      commonNames,
      subjectEmails,
      sanEmails: san ? sanMailboxes(san) : [],
      signatureAlgorithm: readOid(sigAlg.children[0]),
    };
  } catch (e) {
    if (e instanceof AppError && e.code !== 'asn1.malformed') throw e;
    throw malformed((e as Error).message, e);
  }
}

/**
 * Checks proof of possession (the signature verifies under the request's own key, with SHA-256
 * or stronger) and that the key is one the profile accepts. Throws an AppError otherwise.
 */
export function verifyRequest(req: CertificationRequest): void {
  const root = parse(req.der);
  const weak = WEAK_SIGNATURES[req.signatureAlgorithm];
  if (weak) throw new AppError('ca.csr_weak_signature', `The certificate request is signed with ${weak}; sign it with SHA-256 or stronger`);
  const info = root.children[0]!;
  const params = root.children[1]!.children[1]?.raw;
  const signature = root.children[2]!.value.subarray(1);
  let ok = false;
  try {
    ok = verifySignature(req.spki, req.signatureAlgorithm, params, info.raw, signature);
  } catch (e) {
    if (e instanceof AppError && e.code === 'pki.sha1') throw new AppError('ca.csr_weak_signature', 'The certificate request is signed with SHA-1; sign it with SHA-256 or stronger', { cause: e });
    if (e instanceof AppError && e.code === 'pki.unsupported_signature') throw new AppError('ca.csr_bad_signature', `The certificate request's signature algorithm ${req.signatureAlgorithm} is not supported`, { cause: e });
    ok = false;
  }
  if (!ok) throw new AppError('ca.csr_bad_signature', 'The certificate request\'s signature does not verify with its own public key (damaged or altered request)');
  const problem = subjectKeyProblem(root.children[0]!.children[2]!);
  if (problem) throw new AppError('ca.csr_weak_key', `The certificate request cannot be certified: ${problem}`);
}

/** Every value in the request that names a mailbox (CN values without "@" are names, not mailboxes). */
export function requestedMailboxes(req: CertificationRequest): string[] {
  return [...req.commonNames.filter((cn) => cn.includes('@')), ...req.subjectEmails, ...req.sanEmails];
}
