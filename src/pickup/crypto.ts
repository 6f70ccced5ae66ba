/**
 * The cryptography of secure pickup, over WebCrypto (runtime-agnostic):
 *
 * - Each message is encrypted with its own random AES-256-GCM key (the "content key"); the stored
 *   blob is  version(1) || iv(12) || ciphertext || tag(16),  with the pickup id as additional data,
 *   so a blob copied under another pickup does not open.
 * - The content key is wrapped (AES-256-GCM) by a key derived from the master key
 *   (PICKUP_MASTER_KEY); the wrapped key is  version(1) || keyId(4) || iv(12) || ct(32) || tag(16),
 *   also bound to the pickup id. keyId names the master key, so a changed master key is reported
 *   as such instead of as damaged data.
 * - Cookies of verified recipients are signed with HMAC-SHA-256 under another derived key.
 * - Link tokens are 256 random bits in base64url; only their SHA-256 is stored.
 *
 * Keys are derived from the master key with HKDF-SHA-256 and distinct labels.
 */
import { AppError } from '../shared/errors.js';
import { concat, equalBytes, fromBase64, toArrayBuffer, toBase64Url, toHex, utf8 } from '../shared/bytes.js';

export const MASTER_KEY_BYTES = 32;
const BLOB_VERSION = 1;
const WRAP_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 4;
/** Random bytes in a link token (256 bits). */
export const TOKEN_BYTES = 32;
/** A link token as it appears in URLs: 43 base64url characters. */
export const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export interface PickupKeys {
  /** Wraps and unwraps per-message keys. */
  readonly wrapKey: CryptoKey;
  /** Signs session cookies. */
  readonly sessionKey: CryptoKey;
  /** Names the master key (first 4 bytes of a derived value). */
  readonly keyId: Uint8Array;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

async function hkdf(master: CryptoKey, label: string, bytes: number): Promise<Uint8Array> {
  const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new ArrayBuffer(0), info: toArrayBuffer(utf8(`smimegw/pickup/${label}`)) }, master, bytes * 8);
  return new Uint8Array(bits);
}

/** The keys of secure pickup from the configured master key (32 bytes). */
export async function derivePickupKeys(masterKey: Uint8Array): Promise<PickupKeys> {
  if (masterKey.length !== MASTER_KEY_BYTES) {
    throw new AppError('pickup.bad_master_key', `The pickup master key must be ${MASTER_KEY_BYTES} bytes, got ${masterKey.length}`, { kind: 'internal' });
  }
  const master = await crypto.subtle.importKey('raw', toArrayBuffer(masterKey), 'HKDF', false, ['deriveBits']);
  const [wrap, session, id] = await Promise.all([hkdf(master, 'wrap/v1', 32), hkdf(master, 'session/v1', 32), hkdf(master, 'key-id/v1', KEY_ID_BYTES)]);
  const wrapKey = await crypto.subtle.importKey('raw', toArrayBuffer(wrap), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const sessionKey = await crypto.subtle.importKey('raw', toArrayBuffer(session), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  wrap.fill(0);
  session.fill(0);
  return Object.freeze({ wrapKey, sessionKey, keyId: id });
}

function aad(pickupId: string, what: 'blob' | 'key'): ArrayBuffer {
  return toArrayBuffer(utf8(`smimegw-pickup:${what}:${pickupId}`));
}

export interface SealedMessage {
  /** The encrypted message (what the blob store keeps). */
  blob: Uint8Array;
  /** The message key wrapped by the master key (what the pickups row keeps). */
  wrappedKey: Uint8Array;
}

/** Encrypts `plaintext` for pickup `pickupId` under a fresh key, and wraps that key. */
export async function sealMessage(keys: PickupKeys, pickupId: string, plaintext: Uint8Array): Promise<SealedMessage> {
  const raw = randomBytes(32);
  const contentKey = await crypto.subtle.importKey('raw', toArrayBuffer(raw), 'AES-GCM', false, ['encrypt']);
  const iv = randomBytes(IV_BYTES);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: toArrayBuffer(iv), additionalData: aad(pickupId, 'blob') }, contentKey, toArrayBuffer(plaintext)));
  const wrapIv = randomBytes(IV_BYTES);
  const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: toArrayBuffer(wrapIv), additionalData: aad(pickupId, 'key') }, keys.wrapKey, toArrayBuffer(raw)));
  raw.fill(0);
  return {
    blob: concat([Uint8Array.of(BLOB_VERSION), iv, ct]),
    wrappedKey: concat([Uint8Array.of(WRAP_VERSION), keys.keyId, wrapIv, wrapped]),
  };
}

function unreadable(what: string, cause?: unknown): AppError {
  return new AppError('pickup.unreadable', `The stored message cannot be decrypted (${what})`, { kind: 'internal', ...(cause ? { cause } : {}) });
}

/** Decrypts a sealed message; throws 'pickup.master_key_mismatch' or 'pickup.unreadable'. */
export async function openMessage(keys: PickupKeys, pickupId: string, sealed: SealedMessage): Promise<Uint8Array> {
  const w = sealed.wrappedKey;
  if (w.length !== 1 + KEY_ID_BYTES + IV_BYTES + 32 + TAG_BYTES || w[0] !== WRAP_VERSION) throw unreadable('wrapped key of unknown format');
  if (!equalBytes(w.subarray(1, 1 + KEY_ID_BYTES), keys.keyId)) {
    throw new AppError('pickup.master_key_mismatch', 'The message was stored under another PICKUP_MASTER_KEY; it cannot be decrypted with the configured one', { kind: 'internal' });
  }
  let raw: Uint8Array;
  try {
    const iv = w.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES);
    raw = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: toArrayBuffer(iv), additionalData: aad(pickupId, 'key') }, keys.wrapKey, toArrayBuffer(w.subarray(1 + KEY_ID_BYTES + IV_BYTES))));
  } catch (e) {
    throw unreadable('the message key does not unwrap with the master key', e);
  }
  const b = sealed.blob;
  if (b.length < 1 + IV_BYTES + TAG_BYTES || b[0] !== BLOB_VERSION) throw unreadable('blob of unknown format');
  const contentKey = await crypto.subtle.importKey('raw', toArrayBuffer(raw), 'AES-GCM', false, ['decrypt']);
  raw.fill(0);
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: toArrayBuffer(b.subarray(1, 1 + IV_BYTES)), additionalData: aad(pickupId, 'blob') }, contentKey, toArrayBuffer(b.subarray(1 + IV_BYTES))));
  } catch (e) {
    throw unreadable('the blob was changed or belongs to another message', e);
  }
}

/** A fresh link token (256 bits, base64url). */
export function newToken(): string {
  return toBase64Url(randomBytes(TOKEN_BYTES));
}

/** Lower-case hex SHA-256 of a string (tokens are stored only like this). */
export async function sha256Hex(s: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', toArrayBuffer(utf8(s)))));
}

const PASSWORD_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ'; // no 0/O, 1/I/L
export const PASSWORD_GROUPS = 4;

/** An out-of-band password: 16 characters in groups of four (about 79 bits), easy to read out. */
export function newPassword(): string {
  const out: string[] = [];
  const n = PASSWORD_ALPHABET.length;
  const limit = 256 - (256 % n);
  while (out.length < PASSWORD_GROUPS * 4) {
    for (const b of randomBytes(32)) {
      if (b < limit && out.length < PASSWORD_GROUPS * 4) out.push(PASSWORD_ALPHABET[b % n]!);
    }
  }
  return out.join('').match(/.{4}/g)!.join('-');
}

/** What a person typed, in the form the password was hashed in: upper case, no separators or spaces. */
export function normalizePassword(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '');
}

// ------------------------------------------------------------------------------------------
// Session cookies
// ------------------------------------------------------------------------------------------

export type VerifiedBy = 'code' | 'password';

export interface PickupSession {
  pickupId: string;
  by: VerifiedBy;
  /** The mailbox challenge the code belonged to (by 'code'): the proof of the mailbox. */
  challengeId?: string;
  verifiedAt: Date;
  expiresAt: Date;
}

const SESSION_RE = /^([0-9a-f-]{36})\.(code|password)\.([0-9a-f-]{36}|-)\.(\d{1,15})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/;

function sessionPayload(s: PickupSession): string {
  return `${s.pickupId}.${s.by}.${s.challengeId ?? '-'}.${s.verifiedAt.getTime()}.${s.expiresAt.getTime()}`;
}

/** The cookie value for a verified recipient: the fields and their HMAC. */
export async function signSession(keys: PickupKeys, s: PickupSession): Promise<string> {
  const payload = sessionPayload(s);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', keys.sessionKey, toArrayBuffer(utf8(`pickup-session|${payload}`))));
  return `${payload}.${toBase64Url(mac)}`;
}

/** The session in a cookie value, or undefined when it is malformed, forged or expired. */
export async function readSession(keys: PickupKeys, value: string | undefined, now: Date): Promise<PickupSession | undefined> {
  const m = value ? SESSION_RE.exec(value) : null;
  if (!m) return undefined;
  const s: PickupSession = {
    pickupId: m[1]!,
    by: m[2] as VerifiedBy,
    ...(m[3] !== '-' ? { challengeId: m[3]! } : {}),
    verifiedAt: new Date(Number(m[4])),
    expiresAt: new Date(Number(m[5])),
  };
  const mac = fromBase64UrlSafe(m[6]!);
  if (!mac) return undefined;
  const ok = await crypto.subtle.verify('HMAC', keys.sessionKey, toArrayBuffer(mac), toArrayBuffer(utf8(`pickup-session|${sessionPayload(s)}`)));
  if (!ok || now.getTime() >= s.expiresAt.getTime()) return undefined;
  return s;
}

function fromBase64UrlSafe(s: string): Uint8Array | undefined {
  try {
    return fromBase64(s);
  } catch {
    return undefined;
  }
}
