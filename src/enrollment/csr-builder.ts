/**
 * Key pair and PKCS#10 request (RFC 2986) made with WebCrypto, for the browser: the private key is
 * generated and used here and never leaves the page. Also runs in Node (globalThis.crypto), where
 * the tests check the result with `openssl req -verify`.
 *
 * The request names the mailbox in the subject CN and in an extensionRequest subjectAltName
 * (rfc822Name, or SmtpUTF8Mailbox for a non-ASCII local part, RFC 9598); the CA writes the
 * certificate from the proven address anyway.
 */
import { algId, bitString, ctx, int, octets, oid, seq, setOf, tlv, utf8String, type Der } from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { encodePem, toArrayBuffer, utf8 } from '../shared/bytes.js';

export type KeyAlgorithm = 'rsa-2048' | 'p-256';

export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'rsa-2048';

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

function generateParams(alg: KeyAlgorithm): RsaHashedKeyGenParams | EcKeyGenParams {
  return alg === 'p-256'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
}

/** A new extractable key pair (the private key is exported into the PKCS#12 later). */
export async function generateKeyPair(alg: KeyAlgorithm = DEFAULT_KEY_ALGORITHM, subtle: SubtleCrypto = crypto.subtle): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(generateParams(alg), true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** ECDSA signatures from WebCrypto are r||s; X.509 wants SEQUENCE { r INTEGER, s INTEGER }. */
export function ecdsaRawToDer(raw: Uint8Array): Der {
  const half = raw.length / 2;
  return seq(int(raw.subarray(0, half)), int(raw.subarray(half)));
}

function sanFor(address: string): Der {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  if (/^[\x20-\x7e]*$/.test(local) && /^[\x20-\x7e]*$/.test(address.slice(at + 1))) {
    return seq(tlv(0x81, utf8(address))); // rfc822Name [1] IA5String
  }
  // otherName [0] { type-id SmtpUTF8Mailbox, value [0] EXPLICIT UTF8String }
  return seq(ctx(0, true, oid(OID.smtpUtf8Mailbox), ctx(0, true, utf8String(address))));
}

/** DER CertificationRequest for `address`, signed with `keys.privateKey` (SHA-256). */
export async function buildCsrDer(keys: CryptoKeyPair, address: string, subtle: SubtleCrypto = crypto.subtle): Promise<Uint8Array> {
  const spki = new Uint8Array(await subtle.exportKey('spki', keys.publicKey));
  const subject = seq(setOf(seq(oid(OID.commonName), utf8String(address))));
  const extensions = seq(seq(oid(OID.subjectAltName), octets(sanFor(address))));
  const attributes = ctx(0, true, seq(oid(EXTENSION_REQUEST), setOf(extensions)));
  const info = seq(int(0), subject, spki, attributes);
  const isEc = keys.privateKey.algorithm.name === 'ECDSA';
  const raw = new Uint8Array(
    await subtle.sign(isEc ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' }, keys.privateKey, toArrayBuffer(info)),
  );
  const sigAlg = isEc ? algId(OID.ecdsaWithSha256) : algId(OID.sha256WithRSAEncryption, null);
  return seq(info, sigAlg, bitString(isEc ? ecdsaRawToDer(raw) : raw));
}

export async function buildCsrPem(keys: CryptoKeyPair, address: string, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  return encodePem('CERTIFICATE REQUEST', await buildCsrDer(keys, address, subtle));
}
