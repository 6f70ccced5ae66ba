/**
 * Proof that a person controls a mailbox (cert-profile.md, "Proving control of the mailbox"):
 * a random code of 120 bits, mailed only to that address together with a link that carries it,
 * valid 24 hours, usable once, at most MAX_ATTEMPTS wrong tries before the challenge locks. A
 * confirmed code is exchanged for a bearer token (128 bits) that authorises one action (issue a
 * certificate, activate an upload, revoke, renew, open a pickup) and is then spent.
 *
 * Only SHA-256 hashes of codes and tokens are stored. Runtime-agnostic (WebCrypto).
 */
import { AppError } from '../shared/errors.js';
import { toArrayBuffer, toHex, toBase64Url, utf8 } from '../shared/bytes.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { enforceRateLimits, type RateLimiter } from '../shared/rate-limit.js';
import type { Notifier } from '../notify/index.js';
import { challengeMail, type Locale } from './messages.js';

export type ChallengePurpose = 'enroll' | 'upload' | 'revoke' | 'renew' | 'pickup';

export interface ChallengeRow {
  id: string;
  address: string;
  purpose: ChallengePurpose;
  codeHash: string;
  tokenHash: string | null;
  locale: string | null;
  attempts: number;
  expiresAt: Date;
  verifiedAt: Date | null;
  tokenExpiresAt: Date | null;
  usedAt: Date | null;
  payload: Record<string, unknown> | null;
}

/** Storage port (drizzle implementation: src/db/challenge-store.ts). */
export interface ChallengeStore {
  create(row: { address: string; purpose: ChallengePurpose; codeHash: string; locale: string | null; expiresAt: Date; clientIp: string | null; payload: Record<string, unknown> | null }): Promise<string>;
  get(id: string): Promise<ChallengeRow | undefined>;
  /** Increments attempts and returns the new count. */
  addAttempt(id: string): Promise<number>;
  /** Sets the token if the challenge was not verified yet; false if it was (a race or a reuse). */
  markVerified(id: string, tokenHash: string, verifiedAt: Date, tokenExpiresAt: Date): Promise<boolean>;
  findByToken(tokenHash: string): Promise<ChallengeRow | undefined>;
  /** Marks the token spent if it was not; false if it was. */
  markUsed(id: string, usedAt: Date): Promise<boolean>;
}

export const CODE_TTL_MS = 24 * 3600_000;
/** How long a completed check may be reused for another purpose (cert-profile.md: up to 30 days). */
export const PROOF_REUSE_MS = 30 * 24 * 3600_000;
/** Lifetime of a code handed over directly by reuse() (it is never mailed). */
export const REUSED_CODE_TTL_MS = 3600_000;
export const TOKEN_TTL_MS = 3600_000;
export const MAX_ATTEMPTS = 5;
/** Codes mailed per address per hour, and per client per hour. */
export const LIMIT_PER_ADDRESS = 5;
export const LIMIT_PER_CLIENT = 30;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_CHARS = 24; // 24 x 5 bits = 120 bits

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

/** A 120-bit code in Crockford base32, grouped for reading: XXXX-XXXX-XXXX-XXXX-XXXX-XXXX. */
export function newCode(): string {
  const bytes = randomBytes(15); // 120 bits
  let bits = 0;
  let acc = 0;
  let out = '';
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31];
    }
  }
  return out.slice(0, CODE_CHARS).match(/.{4}/g)!.join('-');
}

/** Canonical form of what a person typed: upper case, no separators, Crockford look-alikes mapped. */
export function normalizeCode(input: string): string {
  return input
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
}

async function sha256Hex(s: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', toArrayBuffer(utf8(s)))));
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

const ADDRESS_RE = /^[^\s@<>()\[\],;:"]{1,64}@[^\s@<>()\[\],;:"]{1,253}$/u;

/** Checks and normalises a mailbox typed by a person (domain lower-cased, local part kept). */
export function parseMailbox(input: unknown): string {
  if (typeof input !== 'string' || !ADDRESS_RE.test(input.trim())) {
    throw new AppError('proof.bad_address', 'Enter a valid e-mail address, like name@example.com', { detail: { field: 'email' } });
  }
  const s = input.trim();
  const at = s.lastIndexOf('@');
  const domain = s.slice(at + 1).toLowerCase();
  if (!domain.includes('.') && domain !== 'localhost') {
    throw new AppError('proof.bad_address', 'Enter a valid e-mail address, like name@example.com', { detail: { field: 'email' } });
  }
  return s.slice(0, at) + '@' + domain;
}

export interface MailboxProofDeps {
  store: ChallengeStore;
  limiter: RateLimiter;
  notifier: Notifier;
  clock?: Clock;
  /** The service's public URL, for the link in the mail. */
  publicUrl: string;
}

export interface StartInput {
  address: string;
  purpose: ChallengePurpose;
  locale?: Locale;
  clientIp?: string;
  payload?: Record<string, unknown>;
  /** Path of the page the link opens (default by purpose, e.g. /enroll). */
  linkPath?: string;
}

export interface VerifiedChallenge {
  token: string;
  address: string;
  purpose: ChallengePurpose;
  payload: Record<string, unknown> | null;
  tokenExpiresAt: Date;
}

const LINK_PATHS: Record<ChallengePurpose, string> = {
  enroll: '/enroll',
  upload: '/directory/upload',
  revoke: '/revoke',
  renew: '/enroll',
  pickup: '/pickup',
};

export class MailboxProof {
  private readonly clock: Clock;

  constructor(private readonly deps: MailboxProofDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  /** Mails a fresh code for `purpose` to `address`. Rate-limited per address and per client. */
  async start(input: StartInput): Promise<{ id: string; expiresAt: Date }> {
    const address = parseMailbox(input.address);
    const hour = 3600_000;
    await enforceRateLimits(this.deps.limiter, [
      { key: `proof:addr:${address.toLowerCase()}`, limit: LIMIT_PER_ADDRESS, windowMs: hour, message: 'Too many codes were requested for this address' },
      ...(input.clientIp ? [{ key: `proof:ip:${input.clientIp}`, limit: LIMIT_PER_CLIENT, windowMs: hour, message: 'Too many codes were requested from your network' }] : []),
    ]);
    const code = newCode();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + CODE_TTL_MS);
    const locale: Locale = input.locale ?? 'en';
    const id = await this.deps.store.create({
      address,
      purpose: input.purpose,
      codeHash: await sha256Hex(normalizeCode(code)),
      locale,
      expiresAt,
      clientIp: input.clientIp ?? null,
      payload: input.payload ?? null,
    });
    const link = `${this.deps.publicUrl}${input.linkPath ?? LINK_PATHS[input.purpose]}?challenge=${encodeURIComponent(id)}&code=${encodeURIComponent(code)}`;
    await this.deps.notifier.send(challengeMail({ to: address, purpose: input.purpose, locale, code, link, expiresAt }));
    return { id, expiresAt };
  }

  /**
   * A new challenge for the address that the completed challenge `provenBy` proved (its code was
   * confirmed at most PROOF_REUSE_MS ago), without mailing anything: the code is returned for the
   * caller to hand to the person who completed that check (e.g. the pickup page starting an
   * enrollment). The new challenge's payload records the proof it reuses.
   */
  async reuse(input: { provenBy: string; purpose: ChallengePurpose; locale?: Locale; clientIp?: string; payload?: Record<string, unknown> }): Promise<{ id: string; code: string; address: string; expiresAt: Date; provenAt: Date }> {
    const proven = /^[0-9a-f-]{36}$/i.test(input.provenBy) ? await this.deps.store.get(input.provenBy) : undefined;
    if (!proven || !proven.verifiedAt) throw new AppError('proof.not_proven', 'This address was not confirmed yet; confirm it with a code first', { kind: 'forbidden' });
    const now = this.clock.now();
    if (now.getTime() - proven.verifiedAt.getTime() > PROOF_REUSE_MS) {
      throw new AppError('proof.proof_too_old', 'This address was confirmed more than 30 days ago; confirm it again', { kind: 'forbidden' });
    }
    if (input.clientIp) {
      await enforceRateLimits(this.deps.limiter, [{ key: `proof:ip:${input.clientIp}`, limit: LIMIT_PER_CLIENT, windowMs: 3600_000, message: 'Too many codes were requested from your network' }]);
    }
    const code = newCode();
    const expiresAt = new Date(now.getTime() + REUSED_CODE_TTL_MS);
    const id = await this.deps.store.create({
      address: proven.address,
      purpose: input.purpose,
      codeHash: await sha256Hex(normalizeCode(code)),
      locale: input.locale ?? proven.locale ?? 'en',
      expiresAt,
      clientIp: input.clientIp ?? null,
      payload: { ...input.payload, provenBy: proven.id, provenAt: proven.verifiedAt.toISOString() },
    });
    return { id, code, address: proven.address, expiresAt, provenAt: proven.verifiedAt };
  }

  /** Checks a code; on success returns the one-use bearer token for the purpose. */
  async verify(id: string, code: string): Promise<VerifiedChallenge> {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await this.deps.store.get(id) : undefined;
    if (!row) throw new AppError('proof.not_found', 'This verification request does not exist; request a new code', { kind: 'not_found' });
    const now = this.clock.now();
    if (row.verifiedAt) throw new AppError('proof.used', 'This code was already used; request a new code', { kind: 'conflict' });
    if (now > row.expiresAt) throw new AppError('proof.expired', 'This code has expired (codes are valid for 24 hours); request a new code', { kind: 'forbidden' });
    if (row.attempts >= MAX_ATTEMPTS) throw new AppError('proof.locked', 'Too many wrong codes; this request is locked. Request a new code', { kind: 'forbidden' });
    const ok = constantTimeEqual(await sha256Hex(normalizeCode(String(code ?? ''))), row.codeHash);
    if (!ok) {
      const attempts = await this.deps.store.addAttempt(row.id);
      const left = MAX_ATTEMPTS - attempts;
      throw new AppError(
        left > 0 ? 'proof.wrong_code' : 'proof.locked',
        left > 0 ? `That code is not right; ${left} ${left === 1 ? 'try' : 'tries'} left` : 'Too many wrong codes; this request is locked. Request a new code',
        { kind: 'forbidden', detail: { attemptsLeft: Math.max(0, left) } },
      );
    }
    const token = toBase64Url(randomBytes(16));
    const tokenExpiresAt = new Date(now.getTime() + TOKEN_TTL_MS);
    if (!(await this.deps.store.markVerified(row.id, await sha256Hex(token), now, tokenExpiresAt))) {
      throw new AppError('proof.used', 'This code was already used; request a new code', { kind: 'conflict' });
    }
    return { token, address: row.address, purpose: row.purpose, payload: row.payload, tokenExpiresAt };
  }

  /** Looks a token up without spending it (e.g. to show a form). */
  async check(token: string, purpose: ChallengePurpose): Promise<ChallengeRow> {
    const row = typeof token === 'string' && token.length >= 16 && token.length <= 64 ? await this.deps.store.findByToken(await sha256Hex(token)) : undefined;
    if (!row || row.purpose !== purpose) throw new AppError('proof.bad_token', 'The authorisation is not valid; confirm your address again', { kind: 'unauthorized' });
    if (row.usedAt) throw new AppError('proof.token_used', 'This authorisation was already used; confirm your address again', { kind: 'unauthorized' });
    if (!row.tokenExpiresAt || this.clock.now() > row.tokenExpiresAt) throw new AppError('proof.token_expired', 'The authorisation has expired; confirm your address again', { kind: 'unauthorized' });
    return row;
  }

  /** Spends a token: it authorises exactly one action. */
  async redeem(token: string, purpose: ChallengePurpose): Promise<{ id: string; address: string; payload: Record<string, unknown> | null }> {
    const row = await this.check(token, purpose);
    if (!(await this.deps.store.markUsed(row.id, this.clock.now()))) {
      throw new AppError('proof.token_used', 'This authorisation was already used; confirm your address again', { kind: 'unauthorized' });
    }
    return { id: row.id, address: row.address, payload: row.payload };
  }
}
