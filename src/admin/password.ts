/**
 * Admin passwords: scrypt (N=2^15, r=8, p=1, 16-byte salt, 32-byte hash), stored as
 * `scrypt$N$r$p$<salt base64>$<hash base64>`, compared in constant time. Initial passwords are
 * 20 characters drawn uniformly from an alphabet without look-alikes (about 115 bits).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { fromBase64, toBase64 } from '../shared/bytes.js';
import { AppError } from '../shared/errors.js';

export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Longer passwords are refused before hashing (scrypt cost does not grow, but requests do). */
export const MAX_PASSWORD_LENGTH = 1024;

function scrypt(password: string, salt: Uint8Array, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFC'), salt, keylen, { ...options, maxmem: 256 * options.N! * options.r! }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
    throw new AppError('admin.bad_password', `A password must have 1 to ${MAX_PASSWORD_LENGTH} characters`);
  }
  const salt = randomBytes(SALT_BYTES);
  const { N, r, p } = SCRYPT_PARAMS;
  const hash = await scrypt(password, salt, HASH_BYTES, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${toBase64(salt)}$${toBase64(hash)}`;
}

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

function parseHash(stored: string): ParsedHash | undefined {
  const m = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a corrupted row from costing unbounded memory or time.
  if (N < 2 ** 10 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  try {
    const salt = fromBase64(m[4]!);
    const hash = fromBase64(m[5]!);
    if (salt.length < 8 || hash.length < 16 || hash.length > 64) return undefined;
    return { N, r, p, salt, hash };
  } catch {
    return undefined;
  }
}

/** True when `password` matches `stored`. A malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed || password.length > MAX_PASSWORD_LENGTH) {
    await dummyVerify(password);
    return false;
  }
  const got = await scrypt(password, parsed.salt, parsed.hash.length, { N: parsed.N, r: parsed.r, p: parsed.p });
  return timingSafeEqual(got, parsed.hash);
}

let dummy: Promise<string> | undefined;

/** Costs as much as a real check; used for unknown users so timing does not tell who exists. */
export async function dummyVerify(password: string): Promise<void> {
  dummy ??= hashPassword('smimegw: no such user');
  const parsed = parseHash(await dummy)!;
  await scrypt(password.slice(0, MAX_PASSWORD_LENGTH) || 'x', parsed.salt, parsed.hash.length, { N: parsed.N, r: parsed.r, p: parsed.p });
}

/** No 0/O, 1/l/I: easy to read off a terminal and type. */
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A random password of `length` characters (rejection sampling: every character equally likely). */
export function generatePassword(length = 20): string {
  const n = PASSWORD_ALPHABET.length;
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < limit && out.length < length) out += PASSWORD_ALPHABET[b % n];
    }
  }
  return out;
}
