/**
 * Keys derived from ADMIN_SECRET_KEY (configuration only):
 * - `sealKey` (AES-256-GCM) encrypts TOTP secrets at rest, bound to the user's id (AAD), so a
 *   sealed secret copied to another user's row does not open;
 * - `setupKey` (HMAC-SHA-256) derives the TOTP secret offered during enrollment from the session,
 *   so the offer survives a page reload without being stored before it is confirmed.
 * Derivation: scrypt(secret, fixed salt, N=2^15) once per process, so a passphrase-like secret is
 * not cheap to guess from a stolen database.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt } from 'node:crypto';
import { utf8 } from '../shared/bytes.js';
import { AppError } from '../shared/errors.js';
import { TOTP_SECRET_BYTES } from './totp.js';

export interface AdminKeys {
  readonly sealKey: Uint8Array;
  readonly setupKey: Uint8Array;
}

const SEAL_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function deriveAdminKeys(secret: string): Promise<AdminKeys> {
  if (secret.length === 0) throw new AppError('admin.no_secret_key', 'ADMIN_SECRET_KEY is empty');
  return new Promise((resolve, reject) => {
    scrypt(secret, 'smimegw/admin-secret-key/v1', 64, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (err, key) => {
      if (err) return reject(err);
      resolve(Object.freeze({ sealKey: new Uint8Array(key.subarray(0, 32)), setupKey: new Uint8Array(key.subarray(32)) }));
    });
  });
}

/** version(1) || iv(12) || ciphertext || tag(16), AES-256-GCM with AAD "totp:" + userId. */
export function sealTotpSecret(keys: AdminKeys, userId: string, secret: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys.sealKey, iv);
  cipher.setAAD(utf8(`totp:${userId}`));
  const ct = Buffer.concat([cipher.update(secret), cipher.final()]);
  return new Uint8Array(Buffer.concat([Buffer.from([SEAL_VERSION]), iv, ct, cipher.getAuthTag()]));
}

export function openTotpSecret(keys: AdminKeys, userId: string, sealed: Uint8Array): Uint8Array {
  const unreadable = () =>
    new AppError('admin.totp_unreadable', 'The stored TOTP secret cannot be decrypted (was ADMIN_SECRET_KEY changed?); ask another admin to reset it', {
      kind: 'internal',
    });
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES + 1 || sealed[0] !== SEAL_VERSION) throw unreadable();
  try {
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', keys.sealKey, iv);
    decipher.setAAD(utf8(`totp:${userId}`));
    decipher.setAuthTag(tag);
    return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]));
  } catch (e) {
    throw Object.assign(unreadable(), { cause: e });
  }
}

/** The secret offered to `userId` while enrolling in the session whose id hash is `sessionIdHash`. */
export function setupTotpSecret(keys: AdminKeys, userId: string, sessionIdHash: string): Uint8Array {
  const mac = createHmac('sha256', keys.setupKey).update(`totp-setup\0${userId}\0${sessionIdHash}`).digest();
  return new Uint8Array(mac.subarray(0, TOTP_SECRET_BYTES));
}
