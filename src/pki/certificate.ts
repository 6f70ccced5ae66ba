/**
 * Certificate reader: the facts the S/MIME engine, the directory and the CA need, read straight
 * from the DER (exact issuer and serial encodings are kept for issuerAndSerialNumber).
 */
import { AppError } from '../shared/errors.js';
import { decodePemAll, looksLikePem, latin1, toHex, fromUtf8 } from '../shared/bytes.js';
import { type Node, parse, child, expectTag, readOid, readString, readTime, readUnsigned, stringBytes } from './asn1.js';
import { OID } from './oids.js';
import { decodeCapabilities, type SmimeCapability } from './capabilities.js';
import { sha256 } from './hash.js';

/** Certificates larger than this are refused before parsing (certificate bombs). */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

export interface KeyUsage {
  digitalSignature: boolean;
  nonRepudiation: boolean;
  keyEncipherment: boolean;
  dataEncipherment: boolean;
  keyAgreement: boolean;
  keyCertSign: boolean;
  cRLSign: boolean;
}

export type PublicKeyInfo =
  | { kind: 'rsa'; bits: number; spki: Uint8Array }
  | { kind: 'ec'; curve: 'P-256' | 'P-384' | 'P-521'; spki: Uint8Array; point: Uint8Array }
  | { kind: 'other'; algorithm: string; spki: Uint8Array };

export interface Certificate {
  der: Uint8Array;
  /** DER of the issuer Name, exactly as in the certificate. */
  issuerDer: Uint8Array;
  /** DER of the serialNumber INTEGER, exactly as in the certificate. */
  serialDer: Uint8Array;
  serialHex: string;
  subjectDer: Uint8Array;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: PublicKeyInfo;
  /** Mailboxes from subjectAltName (rfc822Name, SmtpUTF8Mailbox) and the subject emailAddress. */
  emails: string[];
  keyUsage?: KeyUsage;
  extKeyUsage?: string[];
  isCA: boolean;
  /** From the smimeCapabilities extension (RFC 4262), if present. */
  capabilities?: SmimeCapability[];
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
  signatureAlgorithm: string;
  /** DER of tbsCertificate and the signature value, for chain checks. */
  tbs: Uint8Array;
  signature: Uint8Array;
  fingerprint256: string;
}

const ATTR_SHORT: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
};

function readName(node: Node): { text: string; emails: string[] } {
  const parts: string[] = [];
  const emails: string[] = [];
  for (const rdn of node.children) {
    for (const atv of rdn.children) {
      const type = readOid(atv.children[0]);
      const value = atv.children[1] ? readString(atv.children[1]) : '';
      if (type === OID.emailAddress) emails.push(value);
      parts.push(`${ATTR_SHORT[type] ?? type}=${value.replace(/([,+"\\<>;])/g, '\\$1')}`);
    }
  }
  return { text: parts.join(', '), emails };
}

function readPublicKey(spkiNode: Node): PublicKeyInfo {
  const alg = child(spkiNode, 0, 'public key algorithm');
  const algOid = readOid(alg.children[0]);
  const keyBits = expectTag(spkiNode.children[1], 0x03, 'subjectPublicKey').value.subarray(1);
  if (algOid === OID.rsaEncryption) {
    const rsa = parse(keyBits);
    const modulus = readUnsigned(rsa.children[0]);
    let bits = modulus.length * 8;
    for (let b = modulus[0] ?? 0; bits > 0 && (b & 0x80) === 0; b <<= 1) bits--;
    return { kind: 'rsa', bits, spki: spkiNode.raw };
  }
  if (algOid === OID.ecPublicKey) {
    const curveOid = alg.children[1]?.tag === 0x06 ? readOid(alg.children[1]) : '';
    const curve = curveOid === OID.secp256r1 ? 'P-256' : curveOid === OID.secp384r1 ? 'P-384' : curveOid === OID.secp521r1 ? 'P-521' : undefined;
    if (!curve) return { kind: 'other', algorithm: `ec:${curveOid || 'explicit'}`, spki: spkiNode.raw };
    return { kind: 'ec', curve, spki: spkiNode.raw, point: keyBits };
  }
  return { kind: 'other', algorithm: algOid, spki: spkiNode.raw };
}

function readKeyUsage(value: Uint8Array): KeyUsage {
  const bs = expectTag(parse(value), 0x03, 'keyUsage');
  const b0 = bs.value[1] ?? 0;
  return {
    digitalSignature: (b0 & 0x80) !== 0,
    nonRepudiation: (b0 & 0x40) !== 0,
    keyEncipherment: (b0 & 0x20) !== 0,
    dataEncipherment: (b0 & 0x10) !== 0,
    keyAgreement: (b0 & 0x08) !== 0,
    keyCertSign: (b0 & 0x04) !== 0,
    cRLSign: (b0 & 0x02) !== 0,
  };
}

function readSanEmails(value: Uint8Array): string[] {
  const out: string[] = [];
  for (const gn of parse(value).children) {
    if (gn.tag === 0x81) out.push(latin1(gn.value)); // rfc822Name IA5String
    else if (gn.tag === 0xa0) {
      // otherName { type-id, [0] EXPLICIT value }
      const typeId = readOid(gn.children[0]);
      if (typeId === OID.smtpUtf8Mailbox && gn.children[1]?.children[0]) out.push(fromUtf8(stringBytes(gn.children[1].children[0])));
    }
  }
  return out;
}

/** Parses one certificate from DER. Throws AppError 'cert.malformed' with a reason. */
export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length > MAX_CERTIFICATE_BYTES) {
    throw new AppError('cert.too_large', `Certificate is ${der.length} bytes; the limit is ${MAX_CERTIFICATE_BYTES}`);
  }
  try {
    const cert = expectTag(parse(der), 0x30, 'certificate');
    const tbs = expectTag(cert.children[0], 0x30, 'tbsCertificate');
    const sigAlg = readOid(child(cert, 1, 'signatureAlgorithm').children[0]);
    const sig = expectTag(cert.children[2], 0x03, 'signature').value.subarray(1);
    let i = 0;
    if (tbs.children[0]?.tag === 0xa0) i++; // version
    const serial = expectTag(tbs.children[i++], 0x02, 'serialNumber');
    i++; // signature
    const issuerNode = expectTag(tbs.children[i++], 0x30, 'issuer');
    const validity = expectTag(tbs.children[i++], 0x30, 'validity');
    const subjectNode = expectTag(tbs.children[i++], 0x30, 'subject');
    const spki = expectTag(tbs.children[i++], 0x30, 'subjectPublicKeyInfo');
    const issuer = readName(issuerNode);
    const subject = readName(subjectNode);
    const result: Certificate = {
      der,
      issuerDer: issuerNode.raw,
      serialDer: serial.raw,
      serialHex: toHex(readUnsigned(serial)),
      subjectDer: subjectNode.raw,
      subject: subject.text,
      issuer: issuer.text,
      notBefore: readTime(validity.children[0]),
      notAfter: readTime(validity.children[1]),
      publicKey: readPublicKey(spki),
      emails: [],
      isCA: false,
      signatureAlgorithm: sigAlg,
      tbs: tbs.raw,
      signature: sig,
      fingerprint256: toHex(sha256(der)),
    };
    const sanEmails: string[] = [];
    const extsWrapper = tbs.children.slice(i).find((n) => n.tag === 0xa3);
    for (const ext of extsWrapper?.children[0]?.children ?? []) {
      const extOid = readOid(ext.children[0]);
      const valueNode = ext.children[ext.children.length - 1]!;
      const value = stringBytes(expectTag(valueNode, 0x04, 'extension value'));
      switch (extOid) {
        case OID.keyUsage:
          result.keyUsage = readKeyUsage(value);
          break;
        case OID.extKeyUsage:
          result.extKeyUsage = parse(value).children.map((n) => readOid(n));
          break;
        case OID.subjectAltName:
          sanEmails.push(...readSanEmails(value));
          break;
        case OID.basicConstraints: {
          const bc = parse(value);
          result.isCA = bc.children[0]?.tag === 0x01 && bc.children[0].value[0] !== 0;
          break;
        }
        case OID.smimeCapabilities:
          result.capabilities = decodeCapabilities(value);
          break;
        case OID.subjectKeyIdentifier:
          result.subjectKeyId = stringBytes(parse(value));
          break;
        case OID.authorityKeyIdentifier: {
          const kid = parse(value).children.find((n) => n.tag === 0x80);
          if (kid) result.authorityKeyId = kid.value;
          break;
        }
      }
    }
    const seen = new Set<string>();
    for (const e of [...sanEmails, ...subject.emails]) {
      const key = normalizeAddress(e);
      if (!seen.has(key)) {
        seen.add(key);
        result.emails.push(e);
      }
    }
    return result;
  } catch (e) {
    if (e instanceof AppError && e.code !== 'asn1.malformed') throw e;
    throw new AppError('cert.malformed', `Not a valid X.509 certificate (${(e as Error).message})`, { cause: e });
  }
}

/**
 * Reads certificates from PEM (one or more CERTIFICATE blocks) or DER bytes. Throws when there is
 * none, naming what was found instead (e.g. a private key).
 */
export function readCertificates(input: Uint8Array, source = 'input'): Certificate[] {
  if (input.length === 0) throw new AppError('cert.empty', `${source}: empty file, expected a certificate`);
  if (looksLikePem(input)) {
    const blocks = withSource(() => decodePemAll(latin1(input)), source);
    const certs = blocks.filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE');
    if (certs.length === 0) {
      const found = blocks.map((b) => b.label).join(', ') || 'no complete PEM block';
      throw new AppError('cert.not_certificate', `${source}: no certificate found (found: ${found})`);
    }
    return certs.map((b) => withSource(() => parseCertificate(b.der), source));
  }
  return [withSource(() => parseCertificate(input), source)];
}

function withSource<T>(f: () => T, source: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof AppError) throw new AppError(e.code, `${source}: ${e.message}`, { kind: e.kind, cause: e });
    throw e;
  }
}

/** Mailbox comparison form: domain lower-cased, local part exact (RFC 5321 2.4). */
export function normalizeAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return address;
  return address.slice(0, at) + '@' + address.slice(at + 1).toLowerCase();
}

export function certificateHasEmail(cert: Certificate, address: string): boolean {
  const want = normalizeAddress(address.trim());
  return cert.emails.some((e) => normalizeAddress(e) === want);
}
