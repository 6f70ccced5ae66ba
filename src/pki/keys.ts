/**
 * Private-key loading for the engine: PEM or DER, PKCS#8 (optionally encrypted), PKCS#1 RSA or
 * SEC1 EC. Returns a node:crypto KeyObject (node:crypto is available in Node and in workerd with
 * nodejs_compat).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AppError } from '../shared/errors.js';
import { decodePemAll, equalBytes, latin1, looksLikePem } from '../shared/bytes.js';
import type { Certificate } from './certificate.js';

export interface PrivateKey {
  key: KeyObject;
  kind: 'rsa' | 'rsa-pss' | 'ec';
  /** DER SubjectPublicKeyInfo of the matching public key. */
  spki: Uint8Array;
}

export function readPrivateKey(input: Uint8Array, passphrase?: string, source = 'key'): PrivateKey {
  if (input.length === 0) throw new AppError('key.empty', `${source}: empty file, expected a private key`);
  let key: KeyObject;
  try {
    if (looksLikePem(input)) {
      const text = latin1(input);
      const blocks = decodePemAll(text).filter((b) => /PRIVATE KEY$/.test(b.label));
      if (blocks.length === 0) {
        const labels = decodePemAll(text).map((b) => b.label).join(', ') || 'no complete PEM block';
        throw new AppError('key.not_key', `${source}: no private key found (found: ${labels})`);
      }
      key = createPrivateKey({ key: text, format: 'pem', passphrase });
    } else {
      key = createPrivateKey({ key: Buffer.from(input), format: 'der', type: 'pkcs8', passphrase });
    }
  } catch (e) {
    if (e instanceof AppError) throw e.code.startsWith('key.') ? e : new AppError(e.code, `${source}: ${e.message}`, { cause: e });
    const msg = (e as Error).message;
    if (/passphrase|decrypt/i.test(msg)) throw new AppError('key.passphrase', `${source}: the private key is encrypted and the passphrase is missing or wrong`, { cause: e });
    throw new AppError('key.malformed', `${source}: not a readable private key (PKCS#8, PKCS#1 or SEC1; PEM or DER)`, { cause: e });
  }
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'rsa-pss' && type !== 'ec') {
    throw new AppError('key.unsupported', `${source}: unsupported key type ${type ?? 'unknown'} (RSA or EC expected)`);
  }
  const spki = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  return { key, kind: type, spki };
}

/** Throws unless `key` is the private half of `cert`'s public key. */
export function assertKeyMatchesCertificate(key: PrivateKey, cert: Certificate, source = 'key'): void {
  if (!equalBytes(key.spki, cert.publicKey.spki)) {
    throw new AppError('key.mismatch', `${source}: the private key does not belong to the certificate for ${cert.subject || cert.serialHex}`);
  }
}
