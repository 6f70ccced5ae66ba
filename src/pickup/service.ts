/**
 * Secure pickup: the download-link fallback of the mail worker (the FallbackLinks port), and what
 * the pickup pages do.
 *
 *   deposit        the worker hands over a message for a recipient without a certificate: it is
 *                  encrypted (per-message AES-256-GCM key, wrapped by the master key), stored (blob
 *                  + row, durable before the worker answers 250), the sender's notice is re-injected,
 *                  and the recipient's notice is returned for the worker to send instead.
 *   requestCode    a one-time code mailed to the recipient's address (MailboxProof, purpose pickup)
 *   verifyCode     the code, or in the out-of-band mode verifyPassword: a signed session (30 min)
 *   read / attachment / original / html   the content, for a verified session only
 *   status / revoke / extend / unlock     the sender's status page (sender token)
 *   startEnrollment                       "Get a certificate" for the proven address
 *   purge          deletes the content of expired and revoked pickups (run hourly)
 *
 * Wrong codes and passwords are counted per pickup; at MAX_FAILED_ATTEMPTS the pickup locks (the
 * sender can unlock it). Every view and download is written to the pickup's access log.
 * Runtime-agnostic (WebCrypto); storage, password hashing and delivery are ports.
 */
import { AppError, isAppError } from '../shared/errors.js';
import { toBase64 } from '../shared/bytes.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { enforceRateLimits, type RateLimiter } from '../shared/rate-limit.js';
import { collect, type ByteSource } from '../smime/index.js';
import type { FallbackLinks } from '../mail/ports.js';
import type { MailboxProof } from '../proof/mailbox.js';
import type { Locale } from '../proof/messages.js';
import { parseEntity } from '../mime/split.js';
import type { HeaderField } from '../mime/index.js';
import {
  newPassword,
  newToken,
  normalizePassword,
  openMessage,
  readSession,
  sealMessage,
  sha256Hex,
  signSession,
  TOKEN_RE,
  type PickupKeys,
  type PickupSession,
} from './crypto.js';
import { displayName, recipientNotice, senderNotice, type NoticeContext } from './notice.js';
import { readMessage, headerText, type MessagePart, type ReadMessage } from './message.js';
import { sanitizedDocument } from './sanitize.js';
import type { AccessEntry, BlobStore, PasswordHasher, PickupMode, PickupRecord, PickupStore, SenderNotices } from './ports.js';
import { purgeExpired } from './expiry.js';

export const DAY_MS = 24 * 3600_000;
/** A verified recipient's session. */
export const SESSION_TTL_MS = 30 * 60_000;
/** Wrong codes or passwords before the pickup locks. */
export const MAX_FAILED_ATTEMPTS = 10;
/** No pickup lives longer than this after its deposit, extensions included. */
export const MAX_LIFETIME_DAYS = 90;
/** Code and password checks per client per hour. */
export const VERIFY_LIMIT_PER_CLIENT = 60;

export type PickupState = 'active' | 'expired' | 'revoked' | 'deleted' | 'locked';

export interface PickupOptions {
  /** PUBLIC_URL (links in the notices). */
  publicUrl: string;
  /** Days a deposit stays available (PICKUP_EXPIRY_DAYS). */
  expiryDays: number;
  /** 'code' (default) or 'password' (out-of-band). */
  mode: PickupMode;
  /** Whether the recipient's notice names the subject. */
  showSubject: boolean;
  /** From of the sender's notice. */
  noticeFrom: string;
}

/** Enrollment as pickup sees it (EnrollmentService implements it). */
export interface EnrollmentStarter {
  start(input: { email: unknown; locale?: Locale }, client?: { ip?: string }): Promise<{ id: string; expiresAt: Date }>;
  startFromProof(input: { provenBy: string; locale?: Locale; via: string; reference?: string }, client?: { ip?: string }): Promise<{ id: string; code: string; address: string; expiresAt: Date }>;
}

export interface PickupDeps {
  store: PickupStore;
  blobs: BlobStore;
  keys: PickupKeys;
  passwords: PasswordHasher;
  /** Re-injects the sender's notice (the worker side). */
  senderNotices?: SenderNotices;
  /** Mails codes (the web side). */
  proof?: MailboxProof;
  enrollment?: EnrollmentStarter;
  limiter?: RateLimiter;
  clock?: Clock;
}

export interface Client {
  ip?: string;
  locale?: Locale;
}

export interface DepositResult {
  noticeMessage: Uint8Array;
  pickupId: string;
  token: string;
  senderToken: string;
  password?: string;
}

function gone(code: 'pickup.expired' | 'pickup.revoked', message: string): AppError {
  return new AppError(code, message, { kind: 'not_found', status: 410 });
}

export class PickupService implements FallbackLinks {
  private readonly clock: Clock;

  constructor(
    private readonly deps: PickupDeps,
    readonly options: PickupOptions,
  ) {
    this.clock = deps.clock ?? systemClock;
  }

  now(): Date {
    return this.clock.now();
  }

  linkFor(token: string): string {
    return `${this.options.publicUrl}/pickup/${token}`;
  }

  statusLinkFor(senderToken: string): string {
    return `${this.options.publicUrl}/pickup/status/${senderToken}`;
  }

  // ----------------------------------------------------------------------------------------
  // Deposit (the worker)
  // ----------------------------------------------------------------------------------------

  async deposit(input: { message: ByteSource; sender: string; recipient: string; subject: string | undefined }): Promise<DepositResult> {
    const bytes = await collect(input.message.chunks());
    const id = crypto.randomUUID();
    const token = newToken();
    const senderToken = newToken();
    const mode = this.options.mode;
    const password = mode === 'password' ? newPassword() : undefined;
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.options.expiryDays * DAY_MS);
    const sealed = await sealMessage(this.deps.keys, id, bytes);
    const blobKey = `pickup/${id}`;
    const [tokenHash, senderTokenHash, passwordHash] = await Promise.all([
      sha256Hex(token),
      sha256Hex(senderToken),
      password ? this.deps.passwords.hash(normalizePassword(password)) : Promise.resolve(null),
    ]);

    // Both notices first (nothing stored yet if the message makes them fail), then the content,
    // then the sender's notice: any failure undoes the deposit and the worker answers 451.
    let headers: HeaderField[] = [];
    try {
      headers = parseEntity(bytes, true).headers;
    } catch {
      /* a header the worker accepted but we cannot split: the notice gets minimal fields */
    }
    const ctx: NoticeContext = {
      senderName: displayName(headerText(headers.find((h) => h.lname === 'from')), input.sender),
      senderAddress: input.sender,
      recipient: input.recipient,
      subject: this.options.showSubject ? (input.subject ?? '') : undefined,
      link: this.linkFor(token),
      statusLink: this.statusLinkFor(senderToken),
      expiresAt,
      mode,
      ...(password ? { password } : {}),
      sizeBytes: bytes.length,
      now,
      host: new URL(this.options.publicUrl).hostname,
      noticeFrom: this.options.noticeFrom,
    };
    const noticeMessage = recipientNotice(ctx, headers);
    // the sender's notice carries the subject whatever the policy: it is the sender's own mail
    const forSender = this.deps.senderNotices && input.sender.includes('@') ? senderNotice({ ...ctx, subject: input.subject ?? '' }) : undefined;

    await this.deps.blobs.put(blobKey, sealed.blob);
    try {
      await this.deps.store.insert({
        id,
        tokenHash,
        senderTokenHash,
        sender: input.sender,
        recipient: input.recipient,
        subject: input.subject ?? null,
        mode,
        passwordHash,
        blobKey,
        wrappedKey: sealed.wrappedKey,
        sizeBytes: bytes.length,
        locale: null,
        expiresAt,
        createdAt: now,
      });
    } catch (e) {
      await this.deps.blobs.delete(blobKey).catch(() => undefined);
      throw new AppError('pickup.store_failed', 'The message could not be stored for pickup', { kind: 'temporary', cause: e });
    }
    try {
      if (forSender) await this.deps.senderNotices!.send(input.sender, forSender);
      await this.log(id, { action: 'created', verified: false, clientIp: null, detail: { size: bytes.length, mode } });
    } catch (e) {
      await this.deps.blobs.delete(blobKey).catch(() => undefined);
      await this.deps.store.remove(id).catch(() => undefined);
      throw e;
    }
    return { noticeMessage, pickupId: id, token, senderToken, ...(password ? { password } : {}) };
  }

  // ----------------------------------------------------------------------------------------
  // Lookup and state
  // ----------------------------------------------------------------------------------------

  /** The pickup a link token names, or undefined (also for a token of the wrong shape). */
  async find(token: string): Promise<PickupRecord | undefined> {
    if (!TOKEN_RE.test(token)) return undefined;
    return this.deps.store.byTokenHash(await sha256Hex(token));
  }

  async findBySenderToken(token: string): Promise<PickupRecord | undefined> {
    if (!TOKEN_RE.test(token)) return undefined;
    return this.deps.store.bySenderTokenHash(await sha256Hex(token));
  }

  state(p: PickupRecord): PickupState {
    if (p.revokedAt) return 'revoked';
    if (p.deletedAt || !p.blobKey || !p.wrappedKey) return p.expiresAt.getTime() <= this.clock.now().getTime() ? 'expired' : 'deleted';
    if (p.expiresAt.getTime() <= this.clock.now().getTime()) return 'expired';
    if (p.lockedAt) return 'locked';
    return 'active';
  }

  /** Throws the error page's AppError unless the pickup can be opened. Expired content is deleted now. */
  async assertActive(p: PickupRecord, client: Client = {}): Promise<void> {
    const state = this.state(p);
    if (state === 'active') return;
    await this.log(p.id, { action: 'refused', verified: false, clientIp: client.ip ?? null, detail: { state } });
    if (state === 'expired' && !p.deletedAt) await this.deleteContent(p, 'expired');
    if (state === 'revoked' || state === 'deleted') throw gone('pickup.revoked', 'The sender withdrew this message; it is no longer available');
    if (state === 'expired') throw gone('pickup.expired', 'This message has expired and was deleted; ask the sender to send it again');
    throw new AppError('pickup.locked', 'Too many wrong codes or passwords: this message is locked. Ask the sender to unlock it', { kind: 'forbidden' });
  }

  /** Notes that the link was opened (before any verification). */
  async opened(p: PickupRecord, client: Client = {}): Promise<void> {
    await this.log(p.id, { action: 'opened', verified: false, clientIp: client.ip ?? null, detail: null });
  }

  // ----------------------------------------------------------------------------------------
  // Verification
  // ----------------------------------------------------------------------------------------

  async requestCode(p: PickupRecord, token: string, client: Client = {}): Promise<{ challengeId: string; expiresAt: Date }> {
    await this.assertActive(p, client);
    if (p.mode !== 'code') throw new AppError('pickup.wrong_mode', 'This message is opened with a password from the sender', { kind: 'conflict' });
    if (!this.deps.proof) throw new AppError('pickup.unavailable', 'Codes cannot be sent from this service', { kind: 'internal' });
    const r = await this.deps.proof.start({
      address: p.recipient,
      purpose: 'pickup',
      ...(client.locale ? { locale: client.locale } : {}),
      ...(client.ip ? { clientIp: client.ip } : {}),
      payload: { pickupId: p.id },
      linkPath: `/pickup/${token}`,
    });
    await this.log(p.id, { action: 'code_sent', verified: false, clientIp: client.ip ?? null, detail: null });
    return { challengeId: r.id, expiresAt: r.expiresAt };
  }

  private async limitVerify(client: Client): Promise<void> {
    if (!this.deps.limiter || !client.ip) return;
    await enforceRateLimits(this.deps.limiter, [{ key: `pickup:verify:ip:${client.ip}`, limit: VERIFY_LIMIT_PER_CLIENT, windowMs: 3600_000, message: 'Too many checks from your network' }]);
  }

  /** Counts a failure; throws the lock error when this one locked the pickup. Returns the failures so far. */
  private async failed(p: PickupRecord, client: Client, detail: Record<string, unknown>): Promise<number> {
    const r = await this.deps.store.addFailedAttempt(p.id, MAX_FAILED_ATTEMPTS, this.clock.now());
    await this.log(p.id, { action: 'verify_failed', verified: false, clientIp: client.ip ?? null, detail: { ...detail, failedAttempts: r.failedAttempts } });
    if (r.locked) throw new AppError('pickup.locked', 'Too many wrong codes or passwords: this message is locked. Ask the sender to unlock it', { kind: 'forbidden' });
    return r.failedAttempts;
  }

  async verifyCode(p: PickupRecord, challengeId: string, code: string, client: Client = {}): Promise<PickupSession> {
    await this.assertActive(p, client);
    if (p.mode !== 'code' || !this.deps.proof) throw new AppError('pickup.wrong_mode', 'This message is opened with a password from the sender', { kind: 'conflict' });
    await this.limitVerify(client);
    if (typeof code !== 'string' || code.trim() === '' || code.length > 100) throw new AppError('pickup.bad_code', 'Enter the code from the mail', { detail: { field: 'code' } });
    let verified;
    try {
      verified = await this.deps.proof.verify(challengeId, code);
    } catch (e) {
      if (isAppError(e) && (e.code === 'proof.wrong_code' || e.code === 'proof.locked')) await this.failed(p, client, { reason: e.code });
      throw e;
    }
    if (verified.purpose !== 'pickup' || verified.payload?.pickupId !== p.id) {
      throw new AppError('proof.not_found', 'This verification request does not exist; request a new code', { kind: 'not_found' });
    }
    await this.deps.proof.redeem(verified.token, 'pickup');
    return this.verified(p, 'code', client, challengeId);
  }

  async verifyPassword(p: PickupRecord, password: string, client: Client = {}): Promise<PickupSession> {
    await this.assertActive(p, client);
    if (p.mode !== 'password' || !p.passwordHash) throw new AppError('pickup.wrong_mode', 'This message is opened with a code sent to your address', { kind: 'conflict' });
    await this.limitVerify(client);
    const typed = typeof password === 'string' ? normalizePassword(password) : '';
    if (typed === '' || typed.length > 100) throw new AppError('pickup.bad_password', 'Enter the password the sender gave you', { detail: { field: 'password' } });
    if (!(await this.deps.passwords.verify(typed, p.passwordHash))) {
      const left = Math.max(0, MAX_FAILED_ATTEMPTS - (await this.failed(p, client, { reason: 'wrong_password' })));
      throw new AppError('pickup.wrong_password', `That password is not right; ${left} ${left === 1 ? 'try' : 'tries'} left`, { kind: 'forbidden', detail: { attemptsLeft: left } });
    }
    return this.verified(p, 'password', client);
  }

  private async verified(p: PickupRecord, by: 'code' | 'password', client: Client, challengeId?: string): Promise<PickupSession> {
    const now = this.clock.now();
    await this.log(p.id, { action: 'verified', verified: true, clientIp: client.ip ?? null, detail: { by } });
    return { pickupId: p.id, by, ...(challengeId ? { challengeId } : {}), verifiedAt: now, expiresAt: new Date(now.getTime() + SESSION_TTL_MS) };
  }

  sessionCookie(s: PickupSession): Promise<string> {
    return signSession(this.deps.keys, s);
  }

  /** The verified session a cookie value carries for this pickup, if any. */
  async session(p: PickupRecord, cookie: string | undefined): Promise<PickupSession | undefined> {
    const s = await readSession(this.deps.keys, cookie, this.clock.now());
    return s && s.pickupId === p.id ? s : undefined;
  }

  // ----------------------------------------------------------------------------------------
  // Content (verified sessions only)
  // ----------------------------------------------------------------------------------------

  private async plaintext(p: PickupRecord): Promise<Uint8Array> {
    const blob = p.blobKey ? await this.deps.blobs.get(p.blobKey) : undefined;
    if (!blob || !p.wrappedKey) throw gone('pickup.revoked', 'The sender withdrew this message; it is no longer available');
    return openMessage(this.deps.keys, p.id, { blob, wrappedKey: p.wrappedKey });
  }

  private async authorised(p: PickupRecord, session: PickupSession | undefined, client: Client): Promise<void> {
    await this.assertActive(p, client);
    if (!session || session.pickupId !== p.id) throw new AppError('pickup.not_verified', 'Confirm with the code or password first', { kind: 'unauthorized' });
  }

  /** The message as the page shows it; logged as a view. */
  async read(p: PickupRecord, session: PickupSession | undefined, client: Client = {}): Promise<ReadMessage> {
    await this.authorised(p, session, client);
    const m = readMessage(await this.plaintext(p));
    await this.log(p.id, { action: 'viewed', verified: true, clientIp: client.ip ?? null, detail: null });
    return m;
  }

  /** The sanitised HTML body as a complete document (for the sandboxed frame), or undefined. */
  async html(p: PickupRecord, session: PickupSession | undefined, client: Client = {}): Promise<string | undefined> {
    await this.authorised(p, session, client);
    const m = readMessage(await this.plaintext(p));
    if (m.html === undefined) return undefined;
    const images = new Map<string, MessagePart>();
    for (const a of m.attachments) if (a.contentId && a.contentType.startsWith('image/')) images.set(a.contentId, a);
    return sanitizedDocument(m.html, {
      resolveCid: (cid) => {
        const part = images.get(cid);
        return part ? `data:${part.contentType};base64,${toBase64(part.data)}` : undefined;
      },
    }).document;
  }

  async attachment(p: PickupRecord, session: PickupSession | undefined, index: number, client: Client = {}): Promise<MessagePart> {
    await this.authorised(p, session, client);
    const m = readMessage(await this.plaintext(p));
    const part = Number.isInteger(index) ? m.attachments[index] : undefined;
    if (!part) throw new AppError('pickup.no_attachment', 'There is no such attachment', { kind: 'not_found' });
    await this.deps.store.countDownload(p.id);
    await this.log(p.id, { action: 'downloaded', verified: true, clientIp: client.ip ?? null, detail: { index, name: part.filename ?? null, size: part.data.length } });
    return part;
  }

  /** The original message (.eml), byte for byte as deposited. */
  async original(p: PickupRecord, session: PickupSession | undefined, client: Client = {}): Promise<{ bytes: Uint8Array; subject: string | undefined }> {
    await this.authorised(p, session, client);
    const bytes = await this.plaintext(p);
    await this.deps.store.countDownload(p.id);
    await this.log(p.id, { action: 'eml_downloaded', verified: true, clientIp: client.ip ?? null, detail: { size: bytes.length } });
    return { bytes, subject: p.subject ?? undefined };
  }

  /** "Get a certificate": where to send the browser (the enrollment page, address already proven by a code). */
  async startEnrollment(p: PickupRecord, session: PickupSession | undefined, client: Client = {}): Promise<string> {
    await this.authorised(p, session, client);
    if (!this.deps.enrollment) throw new AppError('pickup.unavailable', 'Certificates cannot be requested on this service', { kind: 'not_found' });
    const lang = client.locale ? `&lang=${client.locale}` : '';
    const ip = client.ip ? { ip: client.ip } : {};
    const locale = client.locale ? { locale: client.locale } : {};
    if (session!.by === 'code' && session!.challengeId) {
      const r = await this.deps.enrollment.startFromProof({ provenBy: session!.challengeId, via: 'pickup', reference: p.id, ...locale }, ip);
      await this.log(p.id, { action: 'enroll_started', verified: true, clientIp: client.ip ?? null, detail: { enrollment: r.id, codeMailed: false } });
      return `/enroll?challenge=${encodeURIComponent(r.id)}&code=${encodeURIComponent(r.code)}${lang}`;
    }
    // out-of-band password: the mailbox itself is not proven yet, so a code goes to it
    const r = await this.deps.enrollment.start({ email: p.recipient, ...locale }, ip);
    await this.log(p.id, { action: 'enroll_started', verified: true, clientIp: client.ip ?? null, detail: { enrollment: r.id, codeMailed: true } });
    return `/enroll?challenge=${encodeURIComponent(r.id)}${lang}`;
  }

  // ----------------------------------------------------------------------------------------
  // The sender's status page
  // ----------------------------------------------------------------------------------------

  async status(p: PickupRecord): Promise<{ state: PickupState; log: AccessEntry[] }> {
    return { state: this.state(p), log: await this.deps.store.accessLog(p.id, 200) };
  }

  /** Withdraws the link and deletes the content now. */
  async revoke(p: PickupRecord, client: Client = {}): Promise<void> {
    const now = this.clock.now();
    if (await this.deps.store.revoke(p.id, now)) {
      await this.log(p.id, { action: 'revoked', verified: false, clientIp: client.ip ?? null, detail: { by: 'sender' } });
    }
    await this.deleteContent({ ...p, revokedAt: p.revokedAt ?? now }, 'revoked');
  }

  /** Adds PICKUP_EXPIRY_DAYS (from now or the current expiry, whichever is later), at most MAX_LIFETIME_DAYS after the deposit. */
  async extend(p: PickupRecord, client: Client = {}): Promise<Date> {
    const state = this.state(p);
    if (state === 'revoked' || state === 'deleted') throw gone('pickup.revoked', 'This link was revoked; it cannot be extended');
    if (state === 'expired') throw gone('pickup.expired', 'This link has expired and its content was deleted; it cannot be extended');
    const now = this.clock.now().getTime();
    const cap = p.createdAt.getTime() + MAX_LIFETIME_DAYS * DAY_MS;
    const wanted = Math.max(now, p.expiresAt.getTime()) + this.options.expiryDays * DAY_MS;
    const next = new Date(Math.min(wanted, cap));
    if (next.getTime() <= p.expiresAt.getTime()) {
      throw new AppError('pickup.max_lifetime', `A link can stay available at most ${MAX_LIFETIME_DAYS} days after it was sent`, { kind: 'conflict' });
    }
    await this.deps.store.setExpiry(p.id, next);
    await this.log(p.id, { action: 'extended', verified: false, clientIp: client.ip ?? null, detail: { expiresAt: next.toISOString() } });
    return next;
  }

  async unlock(p: PickupRecord, client: Client = {}): Promise<void> {
    await this.deps.store.unlock(p.id);
    await this.log(p.id, { action: 'unlocked', verified: false, clientIp: client.ip ?? null, detail: { by: 'sender' } });
  }

  // ----------------------------------------------------------------------------------------
  // Deletion
  // ----------------------------------------------------------------------------------------

  private async deleteContent(p: PickupRecord, reason: 'expired' | 'revoked'): Promise<void> {
    if (p.blobKey) await this.deps.blobs.delete(p.blobKey);
    if (!p.deletedAt) {
      await this.deps.store.markDeleted(p.id, this.clock.now());
      await this.log(p.id, { action: 'deleted', verified: false, clientIp: null, detail: { reason } });
    }
  }

  /** Deletes the content of every expired or revoked pickup (the hourly job). Returns how many. */
  purge(batch?: number): Promise<number> {
    return purgeExpired({ store: this.deps.store, blobs: this.deps.blobs, clock: this.clock }, batch);
  }

  private async log(pickupId: string, e: Omit<AccessEntry, 'at'>): Promise<void> {
    await this.deps.store.logAccess(pickupId, { at: this.clock.now(), ...e });
  }
}

