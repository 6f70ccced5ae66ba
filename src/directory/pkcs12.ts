/**
 * The public part of a PKCS#12 file (RFC 7292): the certificates in its certBags. Private keys are
 * never decrypted or kept. Encrypted bags are opened with the password:
 * - PBES2 (PBKDF2 with HMAC-SHA1/224/256/384/512, AES-128/192/256-CBC or 3DES-CBC): OpenSSL 3's default;
 * - pbeWithSHAAnd3-KeyTripleDES-CBC (the legacy format most clients import);
 * - the RC2 variants when the local crypto library still has RC2 (OpenSSL 3 moved it to "legacy").
 * The MAC, when present, is checked first, so a wrong password gets a clear answer.
 */
import { createDecipheriv, createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { AppError } from '../shared/errors.js';
import { concat } from '../shared/bytes.js';
import { type Node, parse, readInt, readOid, stringBytes, expectTag, child } from '../pki/asn1.js';
import { OID } from '../pki/oids.js';

const P12 = {
  data: OID.data,
  encryptedData: '1.2.840.113549.1.7.6',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbeSha3Des: '1.2.840.113549.1.12.1.3',
  pbeSha2Des: '1.2.840.113549.1.12.1.4',
  pbeSha128Rc2: '1.2.840.113549.1.12.1.5',
  pbeSha40Rc2: '1.2.840.113549.1.12.1.6',
} as const;

const PRF: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

const CIPHERS: Record<string, { name: string; keyLength: number }> = {
  [OID.aes128Cbc]: { name: 'aes-128-cbc', keyLength: 16 },
  [OID.aes192Cbc]: { name: 'aes-192-cbc', keyLength: 24 },
  [OID.aes256Cbc]: { name: 'aes-256-cbc', keyLength: 32 },
  [OID.desEde3Cbc]: { name: 'des-ede3-cbc', keyLength: 24 },
};

const DIGEST_OF: Record<string, { name: string; block: number }> = {
  [OID.sha1]: { name: 'sha1', block: 64 },
  [OID.sha256]: { name: 'sha256', block: 64 },
  [OID.sha384]: { name: 'sha384', block: 128 },
  [OID.sha512]: { name: 'sha512', block: 128 },
};

/** Upper bound on PBKDF2 / PKCS#12-KDF iterations we are willing to run (a crafted file could ask for billions). */
export const MAX_P12_ITERATIONS = 10_000_000;

const fail = (code: string, message: string, cause?: unknown) => new AppError(code, message, { cause });

/** True when the bytes look like a PFX: SEQUENCE { INTEGER 3, ContentInfo, ... }. */
export function looksLikePkcs12(der: Uint8Array): boolean {
  try {
    const pfx = parse(der);
    return pfx.tag === 0x30 && pfx.children[0]?.tag === 0x02 && readInt(pfx.children[0]) === 3n && pfx.children[1]?.tag === 0x30;
  } catch {
    return false;
  }
}

/** BMPString of the password with the two-byte terminator (RFC 7292 B.1). Empty password = empty string. */
function bmpPassword(password: string): Uint8Array {
  if (password === '') return new Uint8Array(0);
  const out = new Uint8Array((password.length + 1) * 2);
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    out[i * 2] = c >> 8;
    out[i * 2 + 1] = c & 0xff;
  }
  return out;
}

/** The PKCS#12 key derivation (RFC 7292 Appendix B.2). id: 1 key, 2 IV, 3 MAC key. */
export function pkcs12Kdf(hash: string, blockSize: number, password: Uint8Array, salt: Uint8Array, id: number, iterations: number, n: number): Uint8Array {
  const u = createHash(hash).digest().length;
  const v = blockSize;
  const D = new Uint8Array(v).fill(id);
  const fill = (src: Uint8Array) => {
    if (src.length === 0) return new Uint8Array(0);
    const out = new Uint8Array(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const I = concat([fill(salt), fill(password)]);
  const out: Uint8Array[] = [];
  const c = Math.ceil(n / u);
  for (let i = 0; i < c; i++) {
    let A = new Uint8Array(createHash(hash).update(D).update(I).digest());
    for (let r = 1; r < iterations; r++) A = new Uint8Array(createHash(hash).update(A).digest());
    out.push(A);
    const B = new Uint8Array(v);
    for (let k = 0; k < v; k++) B[k] = A[k % u]!;
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const x = I[j + k]! + B[k]! + carry;
        I[j + k] = x & 0xff;
        carry = x >> 8;
      }
    }
  }
  return concat(out).subarray(0, n);
}

function iterationsOf(node: Node | undefined): number {
  const n = node ? Number(readInt(node)) : 1;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_P12_ITERATIONS) throw fail('p12.malformed', `PKCS#12 iteration count ${n} is out of range`);
  return n;
}

function decryptWith(algorithm: Node, ciphertext: Uint8Array, password: string): Uint8Array {
  const algOid = readOid(algorithm.children[0]);
  const params = algorithm.children[1];
  let cipher: string;
  let key: Uint8Array;
  let iv: Uint8Array;
  if (algOid === P12.pbes2) {
    const kdf = child(params!, 0, 'PBES2 keyDerivationFunc');
    const enc = child(params!, 1, 'PBES2 encryptionScheme');
    if (readOid(kdf.children[0]) !== P12.pbkdf2) throw fail('p12.unsupported', `PKCS#12 uses an unsupported key derivation (${readOid(kdf.children[0])})`);
    const kp = child(kdf, 1, 'PBKDF2 parameters');
    const salt = stringBytes(expectTag(kp.children[0], 0x04, 'PBKDF2 salt'));
    const iterations = iterationsOf(kp.children[1]);
    let prf = 'sha1';
    for (const extra of kp.children.slice(2)) {
      if (extra.tag === 0x30) {
        const name = PRF[readOid(extra.children[0])];
        if (!name) throw fail('p12.unsupported', `PKCS#12 uses an unsupported PBKDF2 PRF (${readOid(extra.children[0])})`);
        prf = name;
      }
    }
    const encOid = readOid(enc.children[0]);
    const c = CIPHERS[encOid];
    if (!c) throw fail('p12.unsupported', `PKCS#12 uses an unsupported cipher (${encOid})`);
    cipher = c.name;
    iv = stringBytes(expectTag(enc.children[1], 0x04, 'cipher IV'));
    key = new Uint8Array(pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, c.keyLength, prf));
  } else if (algOid === P12.pbeSha3Des || algOid === P12.pbeSha2Des || algOid === P12.pbeSha128Rc2 || algOid === P12.pbeSha40Rc2) {
    const salt = stringBytes(expectTag(params?.children[0], 0x04, 'PBE salt'));
    const iterations = iterationsOf(params?.children[1]);
    const pw = bmpPassword(password);
    const spec =
      algOid === P12.pbeSha3Des
        ? { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 }
        : algOid === P12.pbeSha2Des
          ? { name: 'des-ede-cbc', keyLength: 16, ivLength: 8 }
          : algOid === P12.pbeSha128Rc2
            ? { name: 'rc2-cbc', keyLength: 16, ivLength: 8 }
            : { name: 'rc2-40-cbc', keyLength: 5, ivLength: 8 };
    cipher = spec.name;
    key = pkcs12Kdf('sha1', 64, pw, salt, 1, iterations, spec.keyLength);
    iv = pkcs12Kdf('sha1', 64, pw, salt, 2, iterations, spec.ivLength);
  } else {
    throw fail('p12.unsupported', `PKCS#12 uses an unsupported encryption (${algOid})`);
  }
  try {
    const d = createDecipheriv(cipher, key, iv);
    return new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  } catch (e) {
    const msg = (e as Error).message;
    if (/unsupported|unknown cipher|initialization error/i.test(msg)) {
      throw fail('p12.unsupported', `PKCS#12 certificates are encrypted with ${cipher}, which this system's crypto library no longer offers; re-export the file with AES (openssl pkcs12 -export -certpbe AES-256-CBC)`, e);
    }
    throw fail('p12.bad_password', 'The PKCS#12 password is wrong (the certificates could not be decrypted)', e);
  }
}

function checkMac(pfx: Node, authSafeContent: Uint8Array, password: string): void {
  const macData = pfx.children[2];
  if (!macData) return;
  const digestInfo = child(macData, 0, 'MacData mac');
  const algOid = readOid(child(digestInfo, 0, 'mac algorithm').children[0]);
  const expected = stringBytes(expectTag(digestInfo.children[1], 0x04, 'mac digest'));
  const salt = stringBytes(expectTag(macData.children[1], 0x04, 'mac salt'));
  const iterations = iterationsOf(macData.children[2]);
  const d = DIGEST_OF[algOid];
  if (!d) return; // e.g. PBMAC1: the decryption itself will tell a wrong password
  const key = pkcs12Kdf(d.name, d.block, bmpPassword(password), salt, 3, iterations, createHash(d.name).digest().length);
  const actual = createHmac(d.name, key).update(authSafeContent).digest();
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw fail('p12.bad_password', 'The PKCS#12 password is wrong (the integrity check failed)');
  }
}

function certsFromSafeContents(safeContents: Node, out: Uint8Array[], depth = 0): void {
  for (const bag of safeContents.children) {
    const bagId = readOid(bag.children[0]);
    const value = bag.children[1]?.children[0];
    if (!value) continue;
    if (bagId === P12.certBag) {
      if (readOid(value.children[0]) !== P12.x509Certificate) continue; // SDSI certificates are ignored
      const certValue = value.children[1]?.children[0];
      if (certValue) out.push(new Uint8Array(stringBytes(expectTag(certValue, 0x04, 'certValue'))));
    } else if (bagId === P12.safeContentsBag && depth < 4) {
      certsFromSafeContents(value, out, depth + 1);
    }
    // keyBag / pkcs8ShroudedKeyBag / crlBag / secretBag: not ours to read
  }
}

/**
 * The DER of every X.509 certificate in a PKCS#12 file. `password` is needed when the certificate
 * bags are encrypted (the usual case). Throws AppError 'p12.*' with a reason.
 */
export function readPkcs12Certificates(der: Uint8Array, password: string | undefined): Uint8Array[] {
  let pfx: Node;
  let authSafeContent: Uint8Array;
  try {
    pfx = expectTag(parse(der), 0x30, 'PFX');
    const authSafe = child(pfx, 1, 'authSafe');
    if (readOid(authSafe.children[0]) !== P12.data) throw fail('p12.unsupported', 'PKCS#12 with public-key integrity mode is not supported');
    authSafeContent = stringBytes(expectTag(child(authSafe, 1, 'authSafe content').children[0], 0x04, 'authSafe data'));
  } catch (e) {
    if (e instanceof AppError && e.code.startsWith('p12.')) throw e;
    throw fail('p12.malformed', `Not a readable PKCS#12 file (${(e as Error).message})`, e);
  }
  if (password !== undefined) checkMac(pfx, authSafeContent, password);
  const out: Uint8Array[] = [];
  try {
    for (const ci of parse(authSafeContent).children) {
      const type = readOid(ci.children[0]);
      const content = ci.children[1]?.children[0];
      if (!content) continue;
      if (type === P12.data) {
        certsFromSafeContents(parse(stringBytes(expectTag(content, 0x04, 'SafeContents'))), out);
      } else if (type === P12.encryptedData) {
        const eci = child(content, 1, 'EncryptedContentInfo');
        const encrypted = eci.children[2];
        if (!encrypted) continue;
        if (password === undefined) throw fail('p12.password_required', 'The PKCS#12 certificates are encrypted: give the password (--p12-password-env VAR)');
        const plain = decryptWith(child(eci, 1, 'contentEncryptionAlgorithm'), stringBytes(encrypted), password);
        let sc: Node;
        try {
          sc = parse(plain);
        } catch (e) {
          throw fail('p12.bad_password', 'The PKCS#12 password is wrong (the decrypted certificates are not readable)', e);
        }
        certsFromSafeContents(sc, out);
      }
      // envelopedData (public-key privacy mode) is not supported: nothing to read without a key
    }
  } catch (e) {
    if (e instanceof AppError && e.code.startsWith('p12.')) throw e;
    throw fail('p12.malformed', `Not a readable PKCS#12 file (${(e as Error).message})`, e);
  }
  if (out.length === 0) throw fail('p12.no_certificate', 'The PKCS#12 file contains no certificate');
  return out;
}
