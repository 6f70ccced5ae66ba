/**
 * PKCS#12 (RFC 7292) writer and reader over WebCrypto only (`crypto.subtle`,
 * `crypto.getRandomValues`) and plain TypeScript: no node: imports, no Buffer. It runs in the
 * recipient's browser (the enrollment page generates the key pair and builds the .p12 there, so the
 * server never sees the private key) and in Node (tests, `smimegw directory import`).
 *
 * API
 *   buildPkcs12({ privateKeyPkcs8, certificate, chain?, password, friendlyName?, flavour })
 *     -> DER of a PFX:
 *        PFX { version 3,
 *              authSafe ContentInfo(data) { AuthenticatedSafe [
 *                ContentInfo(data) { SafeContents [ pkcs8ShroudedKeyBag (PBES2)  {friendlyName, localKeyId} ] },
 *                ContentInfo(encryptedData, same PBES2) { SafeContents [
 *                  certBag leaf {friendlyName, localKeyId}, certBag chain[0], certBag chain[1], ... ] } ] },
 *              macData { DigestInfo(SHA-256, HMAC), macSalt (8 bytes), iterations 2048 } }
 *     localKeyId = SHA-1 of the leaf certificate (what OpenSSL writes). friendlyName is a BMPString,
 *     omitted when not given (NSS then derives a nickname from the subject).
 *     The certificate SafeContents is encrypted (same PBES2), as OpenSSL does it by default:
 *     openssl, NSS pk12util and gpgsm 2.2 all read every certificate from it. From a plain data
 *     SafeContents gpgsm 2.2.40 imports only the first certificate and drops the chain
 *     (test/pki/pkcs12.test.ts).
 *     Throws AppError 'p12.bad_input' (empty password, unparseable key/certificate) or
 *     'p12.key_mismatch' (the private key does not belong to the certificate; checked for RSA and
 *     EC P-256/P-384/P-521 keys, other key types are not checked).
 *
 *   readPkcs12(der, password, { publicOnly? }) -> { certificates, privateKeyPkcs8?, macVerified }
 *     Checks the MAC (HMAC with SHA-1/SHA-256/SHA-384/SHA-512, PKCS#12 KDF) and decrypts PBES2 bags
 *     (PBKDF2 with HMAC-SHA1/SHA-256/SHA-384/SHA-512, AES-128/192/256-CBC; AES-192 is missing
 *     from Chromium's WebCrypto). certificates = every x509 certBag, in file order (for files
 *     from buildPkcs12 and OpenSSL: leaf first). privateKeyPkcs8 = the first key bag (absent with
 *     publicOnly, or when the file has none). macVerified = false only when the file has no MAC
 *     (or, with publicOnly, a MAC algorithm this reader does not know).
 *     publicOnly: key bags are skipped (never decrypted); certificate bags in plain data or in
 *     PBES2-encrypted data are returned.
 *     Errors (AppError):
 *       'p12.bad_password' - the MAC does not match, or a bag does not decrypt: wrong password
 *       'p12.malformed'    - not a PKCS#12 file, truncated, or broken structure
 *       'p12.unsupported'  - legacy PKCS#12 PBE encryption (RC2, 3DES, RC4: `openssl pkcs12 -legacy`,
 *                            Windows "TripleDES" exports) of a bag that must be read, public-key
 *                            integrity/privacy modes, unknown algorithms, absurd iteration counts
 *
 * Flavours (measured with OpenSSL 3.0.19, NSS 3.87.1, gpgsm 2.2.40; /work/shared/reference/interop.md):
 *   'modern':     PBES2 + PBKDF2-HMAC-SHA256 (2048 iterations) + AES-256-CBC, SHA-256 MAC
 *                 (2048 iterations): the OpenSSL 3 default. openssl 3 and NSS pk12util import it;
 *                 gpgsm 2.2 does not.
 *   'compatible': PBES2 + PBKDF2 with the default HMAC-SHA1 PRF (prf field omitted, 2048
 *                 iterations, 16-byte salt) + AES-128-CBC, SHA-256 MAC (2048 iterations):
 *                 openssl, NSS pk12util and gpgsm 2.2 import it.
 *   Windows Server 2016 and older need PBE-SHA1-3DES; WebCrypto has no 3DES (nor RC2), so no
 *   flavour offers it: such a file needs another implementation (e.g. openssl pkcs12 -legacy).
 *
 * Passwords: the MAC key comes from the PKCS#12 KDF (RFC 7292 Appendix B, ID=3) over the password
 * as a BMPString (UTF-16BE code units plus 00 00); PBKDF2 gets the password's UTF-8 bytes. Both are
 * what OpenSSL 3 does (verified with a non-ASCII password in the tests).
 *
 * Iteration counts: buildPkcs12 writes 2048 (OpenSSL's default) for PBKDF2 and for the MAC. The
 * password's strength is what protects the file; 2048 rounds slow a guesser down very little, and
 * more would only slow imports. The reader accepts up to MAX_PBKDF2_ITERATIONS and
 * MAX_MAC_ITERATIONS (NSS 3.87 exports use 600,000 for both). The MAC KDF's iterated hashing uses
 * the synchronous SHA-1/SHA-256 in ./pkcs12-sha.ts (0.3 s for 600,000 SHA-256 rounds in Node 20;
 * one crypto.subtle.digest await per round would take ~30 s); SHA-384/512 MACs go through
 * crypto.subtle.digest and are capped at MAX_MAC_ITERATIONS_SUBTLE.
 */
import { AppError } from '../shared/errors.js';
import { concat, toArrayBuffer, utf8, fromBase64, toBase64Url } from '../shared/bytes.js';
import { algId, ctx, int, octets, oid, seq, setOf, tlv, type Der } from './der.js';
import { type Node, parse, readInt, readOid, readUnsigned, stringBytes } from './asn1.js';
import { OID } from './oids.js';
import { iteratedHash } from './pkcs12-sha.js';

export type Pkcs12Flavour = 'modern' | 'compatible';

export interface Pkcs12Input {
  /** The private key, PKCS#8 PrivateKeyInfo DER (what WebCrypto exportKey('pkcs8') gives). */
  privateKeyPkcs8: Uint8Array;
  /** The end-entity certificate, DER. */
  certificate: Uint8Array;
  /** CA certificates, DER, issuer first. */
  chain?: Uint8Array[];
  /** Must not be empty. */
  password: string;
  /** Shown by importers as the key/certificate name (e.g. the mailbox). */
  friendlyName?: string;
  flavour: Pkcs12Flavour;
}

export interface Pkcs12Contents {
  /** DER, every x509 certBag, in file order. */
  certificates: Uint8Array[];
  /** PKCS#8 DER of the first key bag; absent with publicOnly or when the file has no key. */
  privateKeyPkcs8?: Uint8Array;
  /** The file had a MAC and it matched; false only when there was none (see readPkcs12). */
  macVerified: boolean;
}

/** PBKDF2 iterations written by buildPkcs12 (both flavours). */
export const PBKDF2_ITERATIONS = 2048;
/** PKCS#12 KDF iterations for the MAC key written by buildPkcs12. */
export const MAC_ITERATIONS = 2048;
/** The reader refuses larger counts (p12.unsupported): they would stall it (DoS). */
export const MAX_MAC_ITERATIONS = 5_000_000;
/** The same for SHA-384/SHA-512 MACs (one crypto.subtle.digest await per round). */
export const MAX_MAC_ITERATIONS_SUBTLE = 100_000;
export const MAX_PBKDF2_ITERATIONS = 10_000_000;

const PBES2_SALT_BYTES = 16;
const MAC_SALT_BYTES = 8; // OpenSSL's; some macOS versions reportedly fail on longer MAC salts
/** safeContentsBag nesting the reader follows. */
const MAX_BAG_DEPTH = 4;

const P12 = {
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSHA1: '1.2.840.113549.2.7',
  hmacWithSHA256: '1.2.840.113549.2.9',
} as const;

/** Legacy password-based encryption schemes WebCrypto cannot do (RC2, RC4, DES, 3DES). */
const LEGACY_PBE: Record<string, string> = {
  '1.2.840.113549.1.12.1.1': 'pbeWithSHAAnd128BitRC4',
  '1.2.840.113549.1.12.1.2': 'pbeWithSHAAnd40BitRC4',
  '1.2.840.113549.1.12.1.3': 'pbeWithSHAAnd3-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.4': 'pbeWithSHAAnd2-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.5': 'pbeWithSHAAnd128BitRC2-CBC',
  '1.2.840.113549.1.12.1.6': 'pbeWithSHAAnd40BitRC2-CBC',
  '1.2.840.113549.1.5.1': 'pbeWithMD2AndDES-CBC',
  '1.2.840.113549.1.5.3': 'pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.10': 'pbeWithSHA1AndDES-CBC',
};

type HashName = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

/** Digest OID -> WebCrypto name, output length u and block length v (RFC 7292 B.2). */
const DIGESTS: Record<string, { name: HashName; u: number; v: number }> = {
  [OID.sha1]: { name: 'SHA-1', u: 20, v: 64 },
  [OID.sha256]: { name: 'SHA-256', u: 32, v: 64 },
  [OID.sha384]: { name: 'SHA-384', u: 48, v: 128 },
  [OID.sha512]: { name: 'SHA-512', u: 64, v: 128 },
};

const PRFS: Record<string, HashName> = {
  [P12.hmacWithSHA1]: 'SHA-1',
  [P12.hmacWithSHA256]: 'SHA-256',
  '1.2.840.113549.2.10': 'SHA-384',
  '1.2.840.113549.2.11': 'SHA-512',
};

const AES_CBC_KEY_BYTES: Record<string, number> = {
  [OID.aes128Cbc]: 16,
  [OID.aes192Cbc]: 24,
  [OID.aes256Cbc]: 32,
};

interface FlavourParams {
  /** PBKDF2 PRF; undefined = the default HMAC-SHA1, written by omitting the prf field. */
  prf?: { oid: string; hash: HashName };
  cipherOid: string;
  keyBytes: number;
}

const FLAVOURS: Record<Pkcs12Flavour, FlavourParams> = {
  modern: { prf: { oid: P12.hmacWithSHA256, hash: 'SHA-256' }, cipherOid: OID.aes256Cbc, keyBytes: 32 },
  compatible: { cipherOid: OID.aes128Cbc, keyBytes: 16 },
};

// ---------------------------------------------------------------------------------------------
// WebCrypto plumbing
// ---------------------------------------------------------------------------------------------

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new AppError('p12.unsupported', 'WebCrypto (crypto.subtle) is not available here (in a browser: only on https:// or localhost pages)', { kind: 'internal' });
  return s;
}

function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

async function digest(hash: HashName, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest(hash, toArrayBuffer(data)));
}

/** The password as PKCS#12 wants it for its KDF: BMPString (UTF-16BE code units) plus 00 00. */
export function bmpPassword(password: string): Uint8Array {
  const out = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

/**
 * The PKCS#12 key derivation function (RFC 7292 Appendix B.2). `password` is already encoded
 * (bmpPassword); id 1 = key, 2 = IV, 3 = MAC key. Exported for known-answer tests.
 */
export async function pkcs12Kdf(hash: HashName, password: Uint8Array, salt: Uint8Array, iterations: number, id: 1 | 2 | 3, n: number): Promise<Uint8Array> {
  const { u, v } = Object.values(DIGESTS).find((d) => d.name === hash)!;
  const stretch = (src: Uint8Array): Uint8Array => {
    const out = new Uint8Array(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const I = concat([stretch(salt), stretch(password)]);
  const D = new Uint8Array(v).fill(id);
  const out = new Uint8Array(n);
  const c = Math.ceil(n / u);
  for (let i = 0; i < c; i++) {
    let a: Uint8Array;
    if (hash === 'SHA-1' || hash === 'SHA-256') a = iteratedHash(hash, concat([D, I]), iterations);
    else {
      a = await digest(hash, concat([D, I]));
      for (let r = 1; r < iterations; r++) a = await digest(hash, a);
    }
    out.set(a.subarray(0, Math.min(u, n - i * u)), i * u);
    if (i + 1 < c) {
      // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block of I, B = A repeated to v bytes
      const b = stretch(a).subarray(0, v);
      for (let j = 0; j < I.length; j += v) {
        let carry = 1;
        for (let k = v - 1; k >= 0; k--) {
          const x = I[j + k]! + b[k]! + carry;
          I[j + k] = x & 0xff;
          carry = x >> 8;
        }
      }
    }
  }
  return out;
}

async function hmacKey(hash: HashName, key: Uint8Array, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return subtle().importKey('raw', toArrayBuffer(key), { name: 'HMAC', hash }, false, [usage]);
}

async function pbkdf2AesKey(password: string, salt: Uint8Array, iterations: number, prf: HashName, keyBytes: number, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  const base = await subtle().importKey('raw', toArrayBuffer(utf8(password)), 'PBKDF2', false, ['deriveBits']);
  const bits = await subtle().deriveBits({ name: 'PBKDF2', hash: prf, salt: toArrayBuffer(salt), iterations }, base, keyBytes * 8);
  return subtle().importKey('raw', bits, { name: 'AES-CBC' }, false, [usage]);
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

function badInput(message: string, cause?: unknown): AppError {
  return new AppError('p12.bad_input', message, { cause });
}

/** BMPString (tag 0x1e) of a JavaScript string (UTF-16 code units, big-endian). */
function bmpString(s: string): Der {
  return tlv(0x1e, bmpPassword(s).subarray(0, s.length * 2));
}

const attribute = (type: string, ...values: Der[]): Der => seq(oid(type), setOf(...values));
const contentInfoData = (content: Uint8Array): Der => seq(oid(OID.data), ctx(0, true, octets(content)));

async function pbes2Encrypt(plain: Uint8Array, password: string, f: FlavourParams): Promise<{ algorithm: Der; ciphertext: Uint8Array }> {
  const salt = randomBytes(PBES2_SALT_BYTES);
  const iv = randomBytes(16);
  const key = await pbkdf2AesKey(password, salt, PBKDF2_ITERATIONS, f.prf?.hash ?? 'SHA-1', f.keyBytes, 'encrypt');
  const ciphertext = new Uint8Array(await subtle().encrypt({ name: 'AES-CBC', iv: toArrayBuffer(iv) }, key, toArrayBuffer(plain)));
  // PBKDF2-params: salt, iterationCount, (no keyLength: AES has a fixed one), prf unless HMAC-SHA1.
  const kdfParams = seq(octets(salt), int(PBKDF2_ITERATIONS), ...(f.prf ? [algId(f.prf.oid, null)] : []));
  const algorithm = algId(P12.pbes2, seq(algId(P12.pbkdf2, kdfParams), algId(f.cipherOid, octets(iv))));
  return { algorithm, ciphertext };
}

function parseDer(der: Uint8Array, what: string): Node {
  try {
    const n = parse(der);
    if (n.tag !== 0x30) throw new Error('not a SEQUENCE');
    return n;
  } catch (e) {
    throw badInput(`${what} is not DER`, e);
  }
}

const EC_CURVES: Record<string, string> = { [OID.secp256r1]: 'P-256', [OID.secp384r1]: 'P-384', [OID.secp521r1]: 'P-521' };

/**
 * Refuses a key that does not belong to the certificate (RSA: same modulus; EC: same point).
 * Key types WebCrypto cannot import (or that are not RSA/EC) are not checked.
 */
async function checkKeyMatchesCertificate(pkcs8: Uint8Array, certificate: Uint8Array): Promise<void> {
  const keyAlg = readOid(parseDer(pkcs8, 'privateKeyPkcs8').children[1]?.children[0]);
  const tbs = parseDer(certificate, 'certificate').children[0];
  const spki = tbs?.children[tbs.children[0]?.tag === 0xa0 ? 6 : 5];
  const certAlg = readOid(spki?.children[0]?.children[0]);
  const point = spki?.children[1];
  if (!point || point.tag !== 0x03) throw badInput('the certificate has no subjectPublicKey');
  const pub = point.value.subarray(1);
  if (keyAlg !== certAlg) throw new AppError('p12.key_mismatch', 'The private key and the certificate are of different key types');
  let algorithm: RsaHashedImportParams | EcKeyImportParams;
  if (keyAlg === OID.rsaEncryption) algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  else if (keyAlg === OID.ecPublicKey) {
    const curve = EC_CURVES[readOid(parseDer(pkcs8, 'privateKeyPkcs8').children[1]?.children[1])];
    if (!curve) return;
    algorithm = { name: 'ECDSA', namedCurve: curve };
  } else return;
  let jwk: JsonWebKey;
  try {
    const key = await subtle().importKey('pkcs8', toArrayBuffer(pkcs8), algorithm, true, ['sign']);
    jwk = await subtle().exportKey('jwk', key);
  } catch (e) {
    throw badInput('privateKeyPkcs8 is not a usable PKCS#8 private key', e);
  }
  let same: boolean;
  if (keyAlg === OID.rsaEncryption) {
    same = toBase64Url(readUnsigned(parse(pub).children[0])) === jwk.n;
  } else if (pub[0] === 0x04) {
    const half = (pub.length - 1) / 2;
    same = toBase64Url(pub.subarray(1, 1 + half)) === jwk.x && toBase64Url(pub.subarray(1 + half)) === jwk.y;
  } else {
    // compressed point: x and the parity of y
    const y = fromBase64(jwk.y ?? ''); // accepts the base64url alphabet
    same = toBase64Url(pub.subarray(1)) === jwk.x && (pub[0]! & 1) === (y[y.length - 1]! & 1);
  }
  if (!same) throw new AppError('p12.key_mismatch', 'The private key does not belong to the certificate');
}

/** Builds a password-protected PKCS#12 file (see the file comment for the layout and flavours). */
export async function buildPkcs12(input: Pkcs12Input): Promise<Uint8Array> {
  subtle(); // fail with p12.unsupported up front (e.g. a page that is not a secure context)
  const f = Object.hasOwn(FLAVOURS, input.flavour) ? FLAVOURS[input.flavour] : undefined;
  if (!f) throw badInput(`unknown PKCS#12 flavour ${JSON.stringify(input.flavour)} (modern or compatible)`);
  if (!input.password) throw badInput('a PKCS#12 file needs a password');
  const chain = input.chain ?? [];
  chain.forEach((c, i) => parseDer(c, `chain[${i}]`));
  try {
    await checkKeyMatchesCertificate(input.privateKeyPkcs8, input.certificate);
  } catch (e) {
    if (e instanceof AppError && e.code === 'asn1.malformed') throw badInput(`the private key or certificate is malformed: ${e.message}`, e);
    throw e;
  }

  const localKeyId = await digest('SHA-1', input.certificate);
  const attrs = setOf(
    attribute(P12.localKeyId, octets(localKeyId)),
    ...(input.friendlyName ? [attribute(P12.friendlyName, bmpString(input.friendlyName))] : []),
  );

  const key = await pbes2Encrypt(input.privateKeyPkcs8, input.password, f);
  const keyBag = seq(oid(P12.pkcs8ShroudedKeyBag), ctx(0, true, seq(key.algorithm, octets(key.ciphertext))), attrs);

  const certBag = (der: Uint8Array, attributes?: Der): Der =>
    seq(oid(P12.certBag), ctx(0, true, seq(oid(P12.x509Certificate), ctx(0, true, octets(der)))), ...(attributes ? [attributes] : []));
  const certSafe = seq(certBag(input.certificate, attrs), ...chain.map((c) => certBag(c)));
  const certs = await pbes2Encrypt(certSafe, input.password, f);
  // EncryptedData { version 0, EncryptedContentInfo { data, algorithm, [0] IMPLICIT OCTET STRING } }
  const encryptedData = seq(int(0), seq(oid(OID.data), certs.algorithm, ctx(0, false, certs.ciphertext)));

  const authSafe = seq(contentInfoData(seq(keyBag)), seq(oid(P12.encryptedData), ctx(0, true, encryptedData)));

  const macSalt = randomBytes(MAC_SALT_BYTES);
  const macKey = await pkcs12Kdf('SHA-256', bmpPassword(input.password), macSalt, MAC_ITERATIONS, 3, 32);
  const mac = new Uint8Array(await subtle().sign('HMAC', await hmacKey('SHA-256', macKey, 'sign'), toArrayBuffer(authSafe)));
  const macData = seq(seq(algId(OID.sha256, null), octets(mac)), octets(macSalt), int(MAC_ITERATIONS));

  return seq(int(3), contentInfoData(authSafe), macData);
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

function malformed(message: string, cause?: unknown): AppError {
  return new AppError('p12.malformed', `Not a readable PKCS#12 file: ${message}`, { cause });
}

function unsupported(message: string): AppError {
  return new AppError('p12.unsupported', message);
}

function badPassword(cause?: unknown): AppError {
  return new AppError('p12.bad_password', 'Wrong password for the PKCS#12 file (or the file was altered)', { cause });
}

function at(node: Node | undefined, i: number, what: string): Node {
  const c = node?.children[i];
  if (!c) throw malformed(`${what} is missing`);
  return c;
}

function expect(node: Node, tag: number, what: string): Node {
  if (node.tag !== tag) throw malformed(`${what}: unexpected tag 0x${node.tag.toString(16)}`);
  return node;
}

/** OCTET STRING contents (primitive or BER-constructed). */
function octetString(node: Node, what: string): Uint8Array {
  if (node.tag !== 0x04 && node.tag !== 0x24) throw malformed(`${what} is not an OCTET STRING`);
  return stringBytes(node);
}

function iterationCount(node: Node | undefined, max: number, what: string): number {
  const n = readInt(node);
  if (n < 1n) throw malformed(`${what}: iteration count ${n}`);
  if (n > BigInt(max)) throw unsupported(`${what}: iteration count ${n} is above the supported maximum ${max}`);
  return Number(n);
}

async function pbes2Decrypt(alg: Node, data: Uint8Array, password: string, what: string): Promise<Uint8Array> {
  const scheme = readOid(at(alg, 0, `${what} algorithm`));
  const legacy = LEGACY_PBE[scheme];
  if (legacy) {
    throw unsupported(
      `Cannot decrypt the ${what}: the legacy ${legacy} scheme (RC2/RC4/DES/3DES) is not available in WebCrypto. ` +
        'Export the file again with AES (OpenSSL 3: openssl pkcs12 -export without -legacy).',
    );
  }
  if (scheme !== P12.pbes2) throw unsupported(`Cannot decrypt the ${what}: unsupported encryption scheme ${scheme}`);
  const params = expect(at(alg, 1, 'PBES2 parameters'), 0x30, 'PBES2 parameters');
  const kdf = at(params, 0, 'PBES2 key derivation');
  const kdfOid = readOid(at(kdf, 0, 'PBES2 key derivation'));
  if (kdfOid !== P12.pbkdf2) throw unsupported(`Cannot decrypt the ${what}: unsupported key derivation ${kdfOid} (only PBKDF2)`);
  const kp = expect(at(kdf, 1, 'PBKDF2 parameters'), 0x30, 'PBKDF2 parameters');
  const salt = octetString(at(kp, 0, 'PBKDF2 salt'), 'PBKDF2 salt');
  const iterations = iterationCount(at(kp, 1, 'PBKDF2 iterations'), MAX_PBKDF2_ITERATIONS, 'PBKDF2');
  let prf: HashName = 'SHA-1';
  let keyLength: number | undefined;
  for (const opt of kp.children.slice(2)) {
    if (opt.tag === 0x02) keyLength = Number(readInt(opt));
    else if (opt.tag === 0x30) {
      const prfOid = readOid(at(opt, 0, 'PBKDF2 PRF'));
      const h = PRFS[prfOid];
      if (!h) throw unsupported(`Cannot decrypt the ${what}: unsupported PBKDF2 PRF ${prfOid}`);
      prf = h;
    } else throw malformed('unexpected field in PBKDF2 parameters');
  }
  const enc = at(params, 1, 'PBES2 encryption scheme');
  const cipherOid = readOid(at(enc, 0, 'PBES2 cipher'));
  const keyBytes = AES_CBC_KEY_BYTES[cipherOid];
  if (!keyBytes) throw unsupported(`Cannot decrypt the ${what}: unsupported cipher ${cipherOid} (only AES-CBC)`);
  if (keyLength !== undefined && keyLength !== keyBytes) throw malformed(`PBKDF2 key length ${keyLength} does not fit the cipher`);
  const iv = octetString(at(enc, 1, 'AES IV'), 'AES IV');
  if (iv.length !== 16) throw malformed('the AES IV is not 16 bytes');
  if (data.length === 0 || data.length % 16 !== 0) throw malformed(`the encrypted ${what} is not a whole number of AES blocks`);
  let key: CryptoKey;
  try {
    key = await pbkdf2AesKey(password, salt, iterations, prf, keyBytes, 'decrypt');
  } catch (e) {
    throw unsupported(`This runtime cannot derive the ${what} key (PBKDF2 with ${prf}, ${keyBytes * 8}-bit AES): ${String(e)}`);
  }
  try {
    return new Uint8Array(await subtle().decrypt({ name: 'AES-CBC', iv: toArrayBuffer(iv) }, key, toArrayBuffer(data)));
  } catch (e) {
    throw badPassword(e); // bad padding
  }
}

/** Decrypted bytes that must be DER; with a wrong password, padding is still valid 1 time in ~256. */
function parseDecrypted(plain: Uint8Array): Node {
  try {
    const n = parse(plain);
    if (n.tag !== 0x30) throw new Error('not a SEQUENCE');
    return n;
  } catch (e) {
    throw badPassword(e);
  }
}

async function verifyMac(macData: Node, authSafe: Uint8Array, password: string, publicOnly: boolean): Promise<boolean> {
  const digestInfo = expect(at(macData, 0, 'MAC'), 0x30, 'MAC');
  const digestOid = readOid(at(at(digestInfo, 0, 'MAC algorithm'), 0, 'MAC algorithm'));
  const mac = octetString(at(digestInfo, 1, 'MAC value'), 'MAC value');
  const salt = octetString(at(macData, 1, 'MAC salt'), 'MAC salt');
  const iterNode = macData.children[2];
  const h = DIGESTS[digestOid];
  if (!h) {
    if (publicOnly) return false;
    throw unsupported(`The file's integrity MAC uses the unsupported digest ${digestOid}`);
  }
  const max = h.name === 'SHA-1' || h.name === 'SHA-256' ? MAX_MAC_ITERATIONS : MAX_MAC_ITERATIONS_SUBTLE;
  const iterations = iterNode ? iterationCount(iterNode, max, 'MAC') : 1;
  // OpenSSL: an empty password is tried both as BMPString "00 00" and as no bytes at all.
  const candidates = password === '' ? [bmpPassword(''), new Uint8Array(0)] : [bmpPassword(password)];
  for (const pw of candidates) {
    const macKey = await pkcs12Kdf(h.name, pw, salt, iterations, 3, h.u);
    const ok = await subtle().verify('HMAC', await hmacKey(h.name, macKey, 'verify'), toArrayBuffer(mac), toArrayBuffer(authSafe));
    if (ok) return true;
  }
  throw badPassword();
}

interface ReadState {
  password: string;
  publicOnly: boolean;
  certificates: Uint8Array[];
  privateKeyPkcs8?: Uint8Array;
}

async function readSafeContents(safe: Node, st: ReadState, depth: number): Promise<void> {
  expect(safe, 0x30, 'SafeContents');
  for (const bag of safe.children) {
    const bagId = readOid(at(bag, 0, 'SafeBag type'));
    const value = at(expect(at(bag, 1, 'SafeBag value'), 0xa0, 'SafeBag value'), 0, 'SafeBag value');
    switch (bagId) {
      case P12.certBag: {
        if (readOid(at(value, 0, 'certificate type')) !== P12.x509Certificate) break; // SDSI certificates: ignored
        const cert = octetString(at(expect(at(value, 1, 'certificate'), 0xa0, 'certificate'), 0, 'certificate'), 'certificate');
        try {
          if (parse(cert).tag !== 0x30) throw new Error('not a SEQUENCE');
        } catch (e) {
          throw malformed('a certificate bag does not hold a DER certificate', e);
        }
        st.certificates.push(new Uint8Array(cert)); // a copy, never a view into the caller's buffer
        break;
      }
      case P12.pkcs8ShroudedKeyBag: {
        if (st.publicOnly || st.privateKeyPkcs8) break;
        const plain = await pbes2Decrypt(at(value, 0, 'key algorithm'), octetString(at(value, 1, 'encrypted key'), 'encrypted key'), st.password, 'private key');
        parseDecrypted(plain);
        st.privateKeyPkcs8 = plain;
        break;
      }
      case P12.keyBag:
        if (!st.publicOnly && !st.privateKeyPkcs8) st.privateKeyPkcs8 = new Uint8Array(expect(value, 0x30, 'key bag').raw);
        break;
      case P12.safeContentsBag:
        if (depth >= MAX_BAG_DEPTH) throw malformed('safe contents nested too deeply');
        await readSafeContents(value, st, depth + 1);
        break;
      default:
        break; // CRL and secret bags: not needed
    }
  }
}

async function readAuthSafe(pfx: Uint8Array, password: string, publicOnly: boolean): Promise<Pkcs12Contents> {
  const root = expect(parse(pfx), 0x30, 'PFX');
  const version = readInt(at(root, 0, 'PFX version'));
  if (version !== 3n) throw unsupported(`PKCS#12 version ${version} is not supported (only 3)`);
  const authSafeInfo = expect(at(root, 1, 'authSafe'), 0x30, 'authSafe');
  const authType = readOid(at(authSafeInfo, 0, 'authSafe type'));
  if (authType !== OID.data) throw unsupported(`PKCS#12 public-key integrity mode (${authType}) is not supported, only password integrity`);
  const authSafe = octetString(at(expect(at(authSafeInfo, 1, 'authSafe content'), 0xa0, 'authSafe content'), 0, 'authSafe content'), 'authSafe content');
  const macData = root.children[2];
  const macVerified = macData ? await verifyMac(expect(macData, 0x30, 'MacData'), authSafe, password, publicOnly) : false;

  const st: ReadState = { password, publicOnly, certificates: [] };
  for (const ci of expect(parse(authSafe), 0x30, 'AuthenticatedSafe').children) {
    const type = readOid(at(ci, 0, 'ContentInfo type'));
    const content = at(expect(at(ci, 1, 'ContentInfo content'), 0xa0, 'ContentInfo content'), 0, 'ContentInfo content');
    if (type === OID.data) {
      await readSafeContents(parse(octetString(content, 'SafeContents')), st, 0);
    } else if (type === P12.encryptedData) {
      const eci = expect(at(content, 1, 'EncryptedContentInfo'), 0x30, 'EncryptedContentInfo');
      const encrypted = at(eci, 2, 'encrypted content');
      if (encrypted.tag !== 0x80 && encrypted.tag !== 0xa0) throw malformed('encrypted content: unexpected tag');
      const plain = await pbes2Decrypt(at(eci, 1, 'encryption algorithm'), stringBytes(encrypted), password, 'certificates');
      await readSafeContents(parseDecrypted(plain), st, 0);
    } else {
      throw unsupported(`PKCS#12 content type ${type} (public-key privacy mode) is not supported`);
    }
  }
  return { certificates: st.certificates, ...(st.privateKeyPkcs8 ? { privateKeyPkcs8: st.privateKeyPkcs8 } : {}), macVerified };
}

/** Reads a PKCS#12 file (see the file comment for what is supported and the error codes). */
export async function readPkcs12(der: Uint8Array, password: string, options: { publicOnly?: boolean } = {}): Promise<Pkcs12Contents> {
  subtle();
  try {
    return await readAuthSafe(der, password, options.publicOnly === true);
  } catch (e) {
    if (e instanceof AppError && e.code.startsWith('p12.')) throw e;
    if (e instanceof AppError && e.code === 'asn1.malformed') throw malformed(e.message, e);
    throw malformed(String(e), e);
  }
}
