/**
 * The admin console's authentication: password (scrypt) then TOTP, sessions, and the first admin.
 *
 * - A password check opens a half session (10 minutes, second factor outstanding). A valid TOTP
 *   code (or, on the first login, enrolling TOTP with one valid code) replaces it by a full session
 *   with a new id and a new CSRF token: 8 hours at most, ended earlier after 30 idle minutes.
 * - The cookie carries 256 random bits; only its SHA-256 is stored.
 * - Logins are rate limited per username and per client address; so are TOTP attempts per user.
 * - Everything is audited: logins (ok and failed), logouts, TOTP enrollment, admin creation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { toBase64Url } from '../shared/bytes.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { enforceRateLimits, type RateLimiter } from '../shared/rate-limit.js';
import { openTotpSecret, sealTotpSecret, setupTotpSecret, type AdminKeys } from './keys.js';
import { dummyVerify, generatePassword, hashPassword, verifyPassword } from './password.js';
import { ADMIN_ROLES, type AdminRole, type AdminSessionRow, type AdminStore, type AdminUser } from './ports.js';
import { base32Encode, matchTotp, otpauthUri } from './totp.js';

export const SESSION_ABSOLUTE_MS = 8 * 3600_000;
export const SESSION_IDLE_MS = 30 * 60_000;
/** Between the password and the second factor. */
export const HALF_SESSION_MS = 10 * 60_000;
/** Idle expiry is pushed forward at most this often (one write per minute per session). */
const TOUCH_GRANULARITY_MS = 60_000;

export const LOGIN_LIMIT_PER_USER = 10;
export const LOGIN_LIMIT_PER_CLIENT = 50;
export const TOTP_LIMIT_PER_USER = 10;
export const LIMIT_WINDOW_MS = 15 * 60_000;

/** The audit port as this module uses it (src/db/audit.ts DrizzleAuditLog implements it). */
export interface AdminAudit {
  record(entry: { actor: string; action: string; subject?: string | null; detail?: Record<string, unknown> | null }): Promise<void>;
}

export interface AdminServiceDeps {
  store: AdminStore;
  audit: AdminAudit;
  limiter: RateLimiter;
  keys: AdminKeys;
  clock?: Clock;
  /** Shown in authenticator apps. */
  totpIssuer?: string;
}

/** A session as the web layer sees it. */
export interface AdminSession {
  idHash: string;
  userId: string;
  username: string;
  role: AdminRole;
  csrfToken: string;
  /** Password and second factor both done. */
  full: boolean;
  /** The user has a TOTP secret (false: the half session must enrol one). */
  totpEnrolled: boolean;
  expiresAt: Date;
}

export interface TotpEnrollment {
  /** base32, for typing into an authenticator app. */
  secret: string;
  uri: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** 256 random bits, base64url (43 characters). */
export function newToken(): string {
  return toBase64Url(randomBytes(32));
}

/** Admin usernames are e-mail addresses, compared case-insensitively. */
export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase();
}

const USERNAME_RE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export function isValidAdminUsername(u: string): boolean {
  return USERNAME_RE.test(u) && u.length <= 320;
}

const badCredentials = () =>
  new AppError('admin.bad_credentials', 'Wrong e-mail address or password', { kind: 'unauthorized' });

export class AdminService {
  private readonly clock: Clock;
  private readonly issuer: string;

  constructor(private readonly deps: AdminServiceDeps) {
    this.clock = deps.clock ?? systemClock;
    this.issuer = deps.totpIssuer ?? 'smimegw';
  }

  /** Creates an admin with a random initial password (returned once). Audited. */
  async createAdmin(input: { email: string; role?: AdminRole; actor: string }): Promise<{ username: string; role: AdminRole; password: string }> {
    const username = normalizeUsername(input.email);
    if (!isValidAdminUsername(username)) {
      throw new AppError('admin.bad_email', `'${input.email}' is not an e-mail address`);
    }
    const role = input.role ?? 'admin';
    if (!ADMIN_ROLES.includes(role)) throw new AppError('admin.bad_role', `role must be ${ADMIN_ROLES.join(' or ')}, got '${String(role)}'`);
    if (await this.deps.store.findUserByUsername(username)) {
      throw new AppError('admin.exists', `An admin ${username} already exists`, { kind: 'conflict' });
    }
    const password = generatePassword(20);
    const user = await this.deps.store.createUser({ username, passwordHash: await hashPassword(password), role, createdAt: this.clock.now() });
    await this.deps.audit.record({ actor: input.actor, action: 'admin.user_created', subject: user.username, detail: { role } });
    return { username: user.username, role, password };
  }

  /**
   * Checks the password and opens a half session. Throws 429 past the rate limits and 401 for a
   * wrong password, an unknown or disabled user (the same answer, after the same work).
   */
  async login(input: { username: string; password: string; clientIp: string }): Promise<{ token: string; session: AdminSession }> {
    const username = normalizeUsername(input.username).slice(0, 320);
    try {
      await enforceRateLimits(this.deps.limiter, [
        { key: `admin.login:user:${username}`, limit: LOGIN_LIMIT_PER_USER, windowMs: LIMIT_WINDOW_MS, message: 'Too many sign-in attempts for this account' },
        { key: `admin.login:ip:${input.clientIp}`, limit: LOGIN_LIMIT_PER_CLIENT, windowMs: LIMIT_WINDOW_MS, message: 'Too many sign-in attempts from your network' },
      ]);
    } catch (e) {
      await this.deps.audit.record({ actor: username || 'anonymous', action: 'admin.login_failed', subject: username || null, detail: { reason: 'rate_limited', clientIp: input.clientIp } });
      throw e;
    }
    const user = username ? await this.deps.store.findUserByUsername(username) : undefined;
    let ok = false;
    if (user) ok = await verifyPassword(input.password, user.passwordHash);
    else await dummyVerify(input.password);
    if (!user || !ok || user.disabled) {
      const reason = !user ? 'unknown_user' : !ok ? 'wrong_password' : 'disabled';
      await this.deps.audit.record({ actor: username || 'anonymous', action: 'admin.login_failed', subject: username || null, detail: { reason, clientIp: input.clientIp } });
      throw badCredentials();
    }
    const now = this.clock.now();
    await this.deps.store.deleteExpiredSessions(now);
    const { token, row } = newSession(user.id, now, false, input.clientIp);
    await this.deps.store.createSession(row);
    await this.deps.audit.record({ actor: user.username, action: 'admin.password_ok', subject: user.username, detail: { clientIp: input.clientIp, totpEnrolled: user.totpSecretEncrypted !== null } });
    return { token, session: view(row, user) };
  }

  /** The live session for a cookie value, its idle expiry pushed forward; undefined if none. */
  async session(token: string | undefined): Promise<AdminSession | undefined> {
    if (!token || token.length > 200) return undefined;
    const idHash = hashToken(token);
    const row = await this.deps.store.getSession(idHash);
    if (!row) return undefined;
    const now = this.clock.now();
    if (row.expiresAt.getTime() <= now.getTime()) {
      await this.deps.store.deleteSession(idHash);
      return undefined;
    }
    const user = await this.deps.store.findUserById(row.userId);
    if (!user || user.disabled) {
      await this.deps.store.deleteSession(idHash);
      return undefined;
    }
    if (row.secondFactorAt) {
      const next = new Date(Math.min(row.createdAt.getTime() + SESSION_ABSOLUTE_MS, now.getTime() + SESSION_IDLE_MS));
      if (next.getTime() - row.expiresAt.getTime() >= TOUCH_GRANULARITY_MS) {
        await this.deps.store.setSessionExpiry(idHash, next);
        row.expiresAt = next;
      }
    }
    return view(row, user);
  }

  /** The secret to enrol (half session of a user without TOTP only). */
  async totpEnrollment(session: AdminSession): Promise<TotpEnrollment> {
    if (session.full || session.totpEnrolled) {
      throw new AppError('admin.totp_enrolled', 'An authenticator is already set up for this account', { kind: 'conflict' });
    }
    const secret = setupTotpSecret(this.deps.keys, session.userId, session.idHash);
    return { secret: base32Encode(secret), uri: otpauthUri({ issuer: this.issuer, account: session.username, secret }) };
  }

  /**
   * Checks a TOTP code in a half session (enrolling the offered secret on the first login) and
   * replaces the half session by a full one with a new id. Throws 401 for a wrong or reused code,
   * 429 past the limit.
   */
  async completeSecondFactor(session: AdminSession, code: string, clientIp: string): Promise<{ token: string; session: AdminSession }> {
    const { store, audit, keys } = this.deps;
    if (session.full) throw new AppError('admin.already_signed_in', 'You are already signed in', { kind: 'conflict' });
    try {
      await enforceRateLimits(this.deps.limiter, [
        { key: `admin.totp:user:${session.userId}`, limit: TOTP_LIMIT_PER_USER, windowMs: LIMIT_WINDOW_MS, message: 'Too many authenticator codes tried' },
      ]);
    } catch (e) {
      await audit.record({ actor: session.username, action: 'admin.login_failed', subject: session.username, detail: { reason: 'totp_rate_limited', clientIp } });
      throw e;
    }
    const user = await store.findUserById(session.userId);
    if (!user || user.disabled) throw badCredentials();
    const enrolling = user.totpSecretEncrypted === null;
    const secret = enrolling ? setupTotpSecret(keys, user.id, session.idHash) : openTotpSecret(keys, user.id, user.totpSecretEncrypted!);
    const now = this.clock.now();
    const step = matchTotp(secret, code, now);
    const fail = async (reason: string): Promise<never> => {
      await audit.record({ actor: user.username, action: 'admin.login_failed', subject: user.username, detail: { reason, clientIp } });
      throw new AppError('admin.bad_totp', reason === 'totp_reused' ? 'That code was already used; wait for the next one' : 'Wrong authenticator code', {
        kind: 'unauthorized',
      });
    };
    if (step === undefined) return fail('wrong_totp');
    if (!(await store.claimTotpStep(user.id, step))) return fail('totp_reused');
    if (enrolling) {
      if (!(await store.setTotpSecret(user.id, sealTotpSecret(keys, user.id, secret)))) return fail('totp_enrolled_meanwhile');
      await audit.record({ actor: user.username, action: 'admin.totp_enrolled', subject: user.username });
    }
    await store.deleteSession(session.idHash);
    const { token, row } = newSession(user.id, now, true, clientIp);
    await store.createSession(row);
    await audit.record({ actor: user.username, action: 'admin.login', subject: user.username, detail: { clientIp, role: user.role } });
    return { token, session: view(row, { ...user, totpSecretEncrypted: user.totpSecretEncrypted ?? new Uint8Array(1) }) };
  }

  async logout(session: AdminSession): Promise<void> {
    await this.deps.store.deleteSession(session.idHash);
    await this.deps.audit.record({ actor: session.username, action: 'admin.logout', subject: session.username });
  }
}

/** A new session id (the cookie value) and its row: half (10 min) or full (idle limit first). */
function newSession(userId: string, now: Date, full: boolean, clientIp: string): { token: string; row: AdminSessionRow } {
  const token = newToken();
  const ttl = full ? Math.min(SESSION_IDLE_MS, SESSION_ABSOLUTE_MS) : HALF_SESSION_MS;
  const row: AdminSessionRow = {
    idHash: hashToken(token),
    userId,
    csrfToken: newToken(),
    secondFactorAt: full ? now : null,
    expiresAt: new Date(now.getTime() + ttl),
    createdAt: now,
    clientIp,
  };
  return { token, row };
}

function view(row: AdminSessionRow, user: AdminUser): AdminSession {
  return {
    idHash: row.idHash,
    userId: user.id,
    username: user.username,
    role: user.role,
    csrfToken: row.csrfToken,
    full: row.secondFactorAt !== null,
    totpEnrolled: user.totpSecretEncrypted !== null,
    expiresAt: row.expiresAt,
  };
}
