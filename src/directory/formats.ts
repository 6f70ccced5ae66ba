/**
 * Certificate containers the directory reads and writes: PEM (any number of CERTIFICATE and PKCS7
 * blocks), a DER certificate, a DER certs-only PKCS#7 (.p7c/.p7b) and PKCS#12 (.p12/.pfx; public
 * part only). Bounded: the input size, the number of certificates and the ASN.1 nesting are
 * limited, so a crafted file is refused with a reason instead of exhausting the process.
 */
import { AppError } from '../shared/errors.js';
import { decodePemAll, latin1, looksLikePem } from '../shared/bytes.js';
import { parseCertificate, type Certificate } from '../pki/certificate.js';
import { type Node, parse, readOid, expectTag, child } from '../pki/asn1.js';
import { ctx, int, oid, seq, setOf } from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { looksLikePkcs12, readPkcs12Certificates } from './pkcs12.js';

/** Largest container accepted (a certificate is at most 64 KB; bundles of a few hundred fit easily). */
export const MAX_INPUT_BYTES = 8 * 1024 * 1024;
/** Most certificates one container may hold. */
export const MAX_CERTIFICATES_PER_INPUT = 2000;

export type InputFormat = 'pem' | 'der' | 'pkcs7' | 'pkcs12';

export interface CertificateInput {
  format: InputFormat;
  certificates: Certificate[];
}

export interface ReadInputOptions {
  /** Name for messages (a file name, "upload"). */
  source?: string;
  /** Password of a PKCS#12 file. */
  p12Password?: string;
}

const bad = (code: string, message: string, cause?: unknown) => new AppError(code, message, { cause });

function parseAll(ders: Uint8Array[], source: string): Certificate[] {
  if (ders.length > MAX_CERTIFICATES_PER_INPUT) {
    throw bad('input.too_many', `${source}: ${ders.length} certificates; at most ${MAX_CERTIFICATES_PER_INPUT} per file`);
  }
  return ders.map((d, i) => {
    try {
      return parseCertificate(d);
    } catch (e) {
      const where = ders.length > 1 ? ` (certificate ${i + 1} of ${ders.length})` : '';
      if (e instanceof AppError) throw new AppError(e.code, `${source}${where}: ${e.message}`, { cause: e });
      throw e;
    }
  });
}

/** The certificates of a certs-only (or any) CMS SignedData ContentInfo. */
function pkcs7Certificates(ci: Node, source: string): Uint8Array[] {
  const type = readOid(ci.children[0]);
  if (type !== OID.signedData) throw bad('input.unrecognized', `${source}: a PKCS#7 file of type ${type}, not a certificate bundle (signedData)`);
  const sd = expectTag(child(child(ci, 1, 'content'), 0, 'SignedData'), 0x30, 'SignedData');
  const certs = sd.children.find((n) => n.tag === 0xa0);
  return (certs?.children ?? []).filter((n) => n.tag === 0x30).map((n) => new Uint8Array(n.raw));
}

function isCertificateShape(n: Node): boolean {
  return n.tag === 0x30 && n.children.length === 3 && n.children[0]?.tag === 0x30 && n.children[1]?.tag === 0x30 && n.children[2]?.tag === 0x03;
}

function isContentInfoShape(n: Node): boolean {
  return n.tag === 0x30 && n.children[0]?.tag === 0x06 && (n.children[1]?.tag ?? 0) === 0xa0;
}

function readDer(der: Uint8Array, source: string, options: ReadInputOptions): CertificateInput {
  let top: Node;
  try {
    top = parse(der);
  } catch (e) {
    throw bad('cert.malformed', `${source}: not a certificate, PKCS#7 or PKCS#12 file (${(e as Error).message})`, e);
  }
  if (isCertificateShape(top)) return { format: 'der', certificates: parseAll([der], source) };
  if (isContentInfoShape(top)) {
    let ders: Uint8Array[];
    try {
      ders = pkcs7Certificates(top, source);
    } catch (e) {
      if (e instanceof AppError && e.code === 'input.unrecognized') throw e;
      throw bad('cert.malformed', `${source}: not a readable PKCS#7 certificate bundle (${(e as Error).message})`, e);
    }
    if (ders.length === 0) throw bad('cert.empty', `${source}: the PKCS#7 bundle contains no certificate`);
    return { format: 'pkcs7', certificates: parseAll(ders, source) };
  }
  if (looksLikePkcs12(der)) {
    let ders: Uint8Array[];
    try {
      ders = readPkcs12Certificates(der, options.p12Password);
    } catch (e) {
      if (e instanceof AppError) throw new AppError(e.code, `${source}: ${e.message}`, { cause: e });
      throw e;
    }
    return { format: 'pkcs12', certificates: parseAll(ders, source) };
  }
  throw bad('input.unrecognized', `${source}: not a certificate, PKCS#7 or PKCS#12 file`);
}

/**
 * Reads every certificate from PEM, DER, certs-only PKCS#7 or PKCS#12 bytes. Throws an AppError with
 * a stable code ('cert.empty', 'cert.malformed', 'cert.too_large', 'cert.not_certificate',
 * 'input.too_large', 'input.too_many', 'input.unrecognized', 'p12.*') and a one-line reason.
 */
export function readCertificateInput(bytes: Uint8Array, options: ReadInputOptions = {}): CertificateInput {
  const source = options.source ?? 'input';
  if (bytes.length === 0) throw bad('cert.empty', `${source}: empty, expected a certificate`);
  if (bytes.length > MAX_INPUT_BYTES) throw bad('input.too_large', `${source}: ${bytes.length} bytes; at most ${MAX_INPUT_BYTES} bytes per file`);
  if (!looksLikePem(bytes)) return readDer(bytes, source, options);
  let blocks;
  try {
    blocks = decodePemAll(latin1(bytes));
  } catch (e) {
    throw bad('cert.malformed', `${source}: ${(e as Error).message}`, e);
  }
  const ders: Uint8Array[] = [];
  for (const b of blocks) {
    if (b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE') ders.push(b.der);
    else if (b.label === 'PKCS7' || b.label === 'CMS') {
      const inner = readDer(b.der, source, options);
      ders.push(...inner.certificates.map((c) => c.der));
    }
    if (ders.length > MAX_CERTIFICATES_PER_INPUT) break;
  }
  if (ders.length === 0) {
    const found = blocks.map((b) => b.label).join(', ') || 'no complete PEM block';
    throw bad('cert.not_certificate', `${source}: no certificate found (found: ${found})`);
  }
  return { format: 'pem', certificates: parseAll(ders, source) };
}

/** A certs-only CMS SignedData (RFC 8551 3.2.2, .p7c), DER. */
export function certsOnlyPkcs7(certs: readonly Certificate[]): Uint8Array {
  const signedData = seq(int(1), setOf(), seq(oid(OID.data)), ctx(0, true, ...certs.map((c) => c.der)), setOf());
  return seq(oid(OID.signedData), ctx(0, true, signedData));
}
