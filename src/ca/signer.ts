/**
 * The signing port of the CA and its software implementation.
 *
 * Every signature the CA makes (certificates, CRLs, OCSP responses) goes through `Signer`, so a
 * hardware security module or a cloud KMS can replace the software key later: it only has to say
 * which algorithm it signs with, give its public key and sign bytes. Signatures are SHA-256 or
 * stronger by construction (the algorithm set below has nothing else).
 *
 * Software keys are kept at rest as PKCS#8 EncryptedPrivateKeyInfo, PBES2 with scrypt
 * (N=2^14, r=8, p=1, the `openssl pkcs8 -scrypt` defaults, which OpenSSL 3 decrypts) and
 * AES-256-CBC, so `openssl pkey -in key.pem -passin env:CA_KEY_PASSPHRASE` reads them too.
 */
import { createCipheriv, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, scryptSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { algId, int, octets, oid, seq } from '../pki/der.js';
import { AppError } from '../shared/errors.js';
import { encodePem } from '../shared/bytes.js';
import { CA_OID } from './oids.js';

export const SIGNATURE_ALGORITHMS = ['sha256WithRSAEncryption', 'ecdsaWithSha256', 'ecdsaWithSha384'] as const;
export type SignatureAlgorithmName = (typeof SIGNATURE_ALGORITHMS)[number];

export interface Signer {
  /** The signature algorithm of every signature this signer makes (never SHA-1). */
  readonly algorithm: SignatureAlgorithmName;
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly publicKeySpki: Uint8Array;
  /** Signs `data` (hashing it with the algorithm's hash); returns the signature value (ECDSA: DER Ecdsa-Sig-Value). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

const ALGORITHM_OID: Record<SignatureAlgorithmName, string> = {
  sha256WithRSAEncryption: CA_OID.sha256WithRSAEncryption,
  ecdsaWithSha256: CA_OID.ecdsaWithSha256,
  ecdsaWithSha384: CA_OID.ecdsaWithSha384,
};

/** AlgorithmIdentifier DER of a signature algorithm (RSA with explicit NULL parameters, ECDSA without). */
export function signatureAlgorithmIdentifier(name: SignatureAlgorithmName): Uint8Array {
  return name === 'sha256WithRSAEncryption' ? algId(ALGORITHM_OID[name], null) : algId(ALGORITHM_OID[name]);
}

export const CA_KEY_TYPES = ['rsa2048', 'rsa3072', 'rsa4096', 'p256', 'p384'] as const;
export type CaKeyType = (typeof CA_KEY_TYPES)[number];

/** Generates a fresh CA key pair. */
export function generateCaKey(type: CaKeyType): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject) => (err ? reject(err) : resolve(priv));
    if (type.startsWith('rsa')) generateKeyPair('rsa', { modulusLength: Number(type.slice(3)), publicExponent: 0x10001 }, done);
    else generateKeyPair('ec', { namedCurve: type === 'p256' ? 'P-256' : 'P-384' }, done);
  });
}

/** The signature algorithm a key signs with: RSA -> SHA-256, P-256 -> ECDSA-SHA256, P-384 -> ECDSA-SHA384. */
export function algorithmForKey(key: KeyObject): SignatureAlgorithmName {
  if (key.asymmetricKeyType === 'rsa') return 'sha256WithRSAEncryption';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ecdsaWithSha256';
    if (curve === 'secp384r1') return 'ecdsaWithSha384';
  }
  throw new AppError('ca.key_unsupported', `CA keys must be RSA, P-256 or P-384 (got ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''})`.trim(), { kind: 'internal' });
}

/** A Signer over a private key held in this process. */
export function createSoftwareSigner(key: KeyObject): Signer {
  if (key.type !== 'private') throw new AppError('ca.key_unsupported', 'A signer needs a private key', { kind: 'internal' });
  const algorithm = algorithmForKey(key);
  const publicKeySpki = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  const hash = algorithm === 'ecdsaWithSha384' ? 'sha384' : 'sha256';
  return {
    algorithm,
    publicKeySpki,
    async sign(data) {
      return new Uint8Array(nodeSign(hash, data, algorithm === 'sha256WithRSAEncryption' ? key : { key, dsaEncoding: 'der' }));
    },
  };
}

export const SCRYPT_PARAMS = { N: 1 << 14, r: 8, p: 1 } as const;

/**
 * PKCS#8 EncryptedPrivateKeyInfo (DER): PBES2, scrypt key derivation, AES-256-CBC. The passphrase
 * must not be empty.
 */
export function encryptPrivateKey(key: KeyObject, passphrase: string): Uint8Array {
  if (!passphrase) throw new AppError('ca.passphrase_missing', 'A passphrase is required to store a CA key', { kind: 'internal' });
  const plain = key.export({ format: 'der', type: 'pkcs8' });
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const { N, r, p } = SCRYPT_PARAMS;
  const dk = scryptSync(passphrase.normalize('NFC'), salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  const cipher = createCipheriv('aes-256-cbc', dk, iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const kdf = seq(oid(CA_OID.scrypt), seq(octets(salt), int(N), int(r), int(p), int(32)));
  const scheme = algId(CA_OID.aes256Cbc, octets(iv));
  return seq(seq(oid(CA_OID.pbes2), seq(kdf, scheme)), octets(encrypted));
}

/** The PEM form of encryptPrivateKey ("ENCRYPTED PRIVATE KEY"). */
export function encryptPrivateKeyPem(key: KeyObject, passphrase: string): string {
  return encodePem('ENCRYPTED PRIVATE KEY', encryptPrivateKey(key, passphrase));
}

/** Decrypts an EncryptedPrivateKeyInfo (DER or PEM; any PBES2 scheme OpenSSL reads). */
export function decryptPrivateKey(encrypted: Uint8Array | string, passphrase: string, what = 'CA key'): KeyObject {
  try {
    return typeof encrypted === 'string'
      ? createPrivateKey({ key: encrypted, format: 'pem', passphrase: passphrase.normalize('NFC') })
      : createPrivateKey({ key: Buffer.from(encrypted), format: 'der', type: 'pkcs8', passphrase: passphrase.normalize('NFC') });
  } catch (e) {
    throw new AppError('ca.key_passphrase', `The ${what} cannot be decrypted: CA_KEY_PASSPHRASE is wrong or the stored key is damaged`, { kind: 'internal', cause: e });
  }
}
