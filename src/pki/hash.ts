/** Synchronous hashing (node:crypto, also available in workerd with nodejs_compat). */
import { createHash } from 'node:crypto';

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

export function digest(algorithm: 'sha256' | 'sha384' | 'sha512' | 'sha1', data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(algorithm).update(data).digest());
}
