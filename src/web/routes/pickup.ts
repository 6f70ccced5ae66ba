/**
 * Secure pickup over HTTP (pages only, plain forms, no script):
 *
 *   GET  /pickup/:token                 the link: verify (code or password), or the message once verified
 *   POST /pickup/:token/code            mail a one-time code to the recipient   -> 303 ?challenge=
 *   POST /pickup/:token/verify          code (+challenge) or password           -> 303, session cookie
 *   GET  /pickup/:token/html            the HTML body, sanitised, for the sandboxed frame (own CSP)
 *   GET  /pickup/:token/attachments/:i  one attachment, byte for byte, as a download
 *   GET  /pickup/:token/message.eml     the original message
 *   POST /pickup/:token/enroll          "Get a certificate"                      -> 303 /enroll?...
 *   GET  /pickup/status/:senderToken    the sender's status page
 *   POST /pickup/status/:senderToken/{revoke,extend,unlock}
 *
 * Unknown tokens get a 404 page; every miss counts against the client's address (DbRateLimiter),
 * and past the limit the client gets 429 for every pickup URL until the window ends (remembered in
 * this process too, so a guessing run costs no more database work). The session after
 * verification is a signed cookie (HttpOnly, SameSite=Strict, Path=/pickup/<token>, 30 minutes).
 * Every POST must come from this site (Origin / Sec-Fetch-Site).
 */
import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError, isAppError, toAppError } from '../../shared/errors.js';
import type { RateLimiter } from '../../shared/rate-limit.js';
import { contentDisposition, downloadContentType, fallbackName, safeFileName } from '../../pickup/filename.js';
import type { PickupRecord } from '../../pickup/ports.js';
import { MAX_LIFETIME_DAYS, SESSION_TTL_MS, type Client, type PickupService } from '../../pickup/service.js';
import type { PickupSession } from '../../pickup/crypto.js';
import { errorText, type Locale } from '../i18n.js';
import { crossSiteReason } from '../middleware/csrf.js';
import { CONTENT_SECURITY_POLICY, readBodyText, requireMediaType } from '../middleware/security.js';
import { renderDocument } from '../pages/layout.js';
import { otherLocaleHref, requestLocale } from '../pages/locale.js';
import { fill, pickupMessages, PickupStatePage, when, type PickupStateKind } from '../pages/pickup/common.js';
import { MessagePage } from '../pages/pickup/message.js';
import { StatusPage } from '../pages/pickup/status.js';
import { VerifyPage } from '../pages/pickup/verify.js';

/** The frame's policy: no script, nothing remote (images only inline data:), only framed by our pages. */
export const HTML_FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox";
/** The message page may frame /pickup/<token>/html, nothing else. */
export const MESSAGE_PAGE_CSP = `${CONTENT_SECURITY_POLICY}; frame-src 'self'`;
/**
 * Downloads never render (attachment disposition, nosniff) and would load nothing if they did. No
 * `sandbox` here: Chromium refuses downloads from a sandboxed response.
 */
export const DOWNLOAD_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
export const SESSION_COOKIE = 'pickup_session';
/** Unknown tokens per client address before 429 (per hour by default). */
export const GUESS_LIMIT = 30;
export const GUESS_WINDOW_MS = 3600_000;
const MAX_FORM_BYTES = 4096;
const MAX_BLOCKED = 10_000;

export interface PickupRoutesDeps {
  pickup: PickupService;
  /** Counts unknown tokens per client (DbRateLimiter in production). */
  limiter: RateLimiter;
  publicUrl: string;
  clientIp?: (c: Context) => string | undefined;
  /** Unknown-token lookups allowed per client and window (default GUESS_LIMIT per hour). */
  guesses?: { limit: number; windowMs: number };
  /** Whether "Get a certificate" is offered (the service has enrollment wired). */
  enrollment?: boolean;
}

class Refusal extends Error {
  constructor(
    readonly kind: PickupStateKind,
    readonly status: ContentfulStatusCode,
    readonly retryAfterMs?: number,
    readonly expiredAt?: Date,
  ) {
    super(kind);
  }
}

/**
 * Renders a page in the request's language. The link to the other language is this URL for a GET;
 * after a form post it is the page the form belongs to (plus `keep` parameters), never the POST URL.
 */
function page(c: Context, make: (l: { locale: Locale; switchHref: string }) => unknown, status: ContentfulStatusCode = 200, keep: Record<string, string> = {}): Response {
  const locale = requestLocale(c);
  let switchHref = otherLocaleHref(c, locale);
  if (c.req.method !== 'GET') {
    const q = new URLSearchParams({ ...keep, lang: locale === 'ja' ? 'en' : 'ja' });
    switchHref = `${c.req.path.replace(/\/(code|verify|enroll|revoke|extend|unlock)$/, '')}?${q.toString()}`;
  }
  return c.html(renderDocument(make({ locale, switchHref })), status);
}

export function pickupRoutes(deps: PickupRoutesDeps): Hono {
  const app = new Hono();
  const service = deps.pickup;
  const guesses = deps.guesses ?? { limit: GUESS_LIMIT, windowMs: GUESS_WINDOW_MS };
  /** Client address -> blocked until (ms). */
  const blocked = new Map<string, number>();

  const ipOf = (c: Context): string | undefined => deps.clientIp?.(c);
  const client = (c: Context, locale?: Locale): Client => {
    const ip = ipOf(c);
    return { ...(ip ? { ip } : {}), ...(locale ? { locale } : {}) };
  };
  const secure = (c: Context) => new URL(c.req.url).protocol === 'https:' || deps.publicUrl.startsWith('https:');

  function block(ip: string, until: number, now: number): void {
    if (blocked.size >= MAX_BLOCKED) {
      for (const [k, v] of blocked) if (v <= now) blocked.delete(k);
      while (blocked.size >= MAX_BLOCKED) blocked.delete(blocked.keys().next().value!);
    }
    blocked.set(ip, until);
  }

  /** The pickup a URL names, throttling clients that try unknown tokens. */
  async function lookup(c: Context, kind: 'recipient' | 'sender'): Promise<PickupRecord> {
    const ip = ipOf(c) ?? 'unknown';
    const now = service.now().getTime();
    const until = blocked.get(ip);
    if (until !== undefined) {
      if (until > now) throw new Refusal('too_many', 429, until - now);
      blocked.delete(ip);
    }
    const token = c.req.param('token') ?? '';
    const p = kind === 'recipient' ? await service.find(token) : await service.findBySenderToken(token);
    if (p) return p;
    const r = await deps.limiter.hit(`pickup:miss:ip:${ip}`, guesses.limit, guesses.windowMs);
    if (!r.allowed) {
      block(ip, now + r.retryAfterMs, now);
      throw new Refusal('too_many', 429, r.retryAfterMs);
    }
    throw new Refusal('not_found', 404);
  }

  /** Renders refusals and the service's state errors as pages; anything else goes to the app's handler. */
  function statePage(c: Context, e: unknown): Response {
    let r: Refusal | undefined = e instanceof Refusal ? e : undefined;
    if (!r && isAppError(e)) {
      if (e.code === 'pickup.expired') r = new Refusal('expired', 410);
      else if (e.code === 'pickup.revoked') r = new Refusal('revoked', 410);
      else if (e.code === 'pickup.locked') r = new Refusal('locked', 403);
      else if (e.code === 'rate_limited') r = new Refusal('too_many', 429, Number(e.detail?.retryAfterSeconds ?? 3600) * 1000);
    }
    if (!r) throw e;
    if (r.retryAfterMs !== undefined) c.header('Retry-After', String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))));
    const refusal = r;
    return page(
      c,
      (l) =>
        PickupStatePage({
          ...l,
          kind: refusal.kind,
          ...(refusal.expiredAt ? { expiredAt: refusal.expiredAt } : {}),
          ...(refusal.retryAfterMs !== undefined ? { minutes: Math.max(1, Math.ceil(refusal.retryAfterMs / 60_000)) } : {}),
        }),
      refusal.status,
    );
  }

  /** Runs a handler; state errors become pages (the expired page names the expiry date). */
  const guarded =
    (kind: 'recipient' | 'sender', handler: (c: Context, p: PickupRecord) => Promise<Response>) =>
    async (c: Context): Promise<Response> => {
      let p: PickupRecord | undefined;
      try {
        p = await lookup(c, kind);
        return await handler(c, p);
      } catch (e) {
        if (p && isAppError(e) && e.code === 'pickup.expired') return statePage(c, new Refusal('expired', 410, undefined, p.expiresAt));
        return statePage(c, e);
      }
    };

  async function form(c: Context): Promise<URLSearchParams> {
    const reason = crossSiteReason(c, deps.publicUrl);
    if (reason) throw new AppError('pickup.cross_site', `Refused: ${reason}. Use the form on this site`, { kind: 'forbidden' });
    requireMediaType(c, ['application/x-www-form-urlencoded']);
    return new URLSearchParams(await readBodyText(c, MAX_FORM_BYTES));
  }

  async function session(c: Context, p: PickupRecord): Promise<PickupSession | undefined> {
    return service.session(p, getCookie(c, SESSION_COOKIE));
  }

  function verifyPage(c: Context, p: PickupRecord, extra: { challenge?: string; code?: string; error?: string; notice?: string }, status: ContentfulStatusCode = 200): Response {
    return page(c, (l) => VerifyPage({ ...l, token: c.req.param('token')!, sender: p.sender, recipient: p.recipient, expiresAt: p.expiresAt, mode: p.mode, ...extra }), status, extra.challenge ? { challenge: extra.challenge } : {});
  }

  const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  // ---------------------------------------------------------------------------------------
  // The sender's status page (registered first: "status" is not a token)
  // ---------------------------------------------------------------------------------------

  async function renderStatus(c: Context, p: PickupRecord, flash?: { kind: 'notice' | 'error'; text: string }, status: ContentfulStatusCode = 200): Promise<Response> {
    const fresh = (await service.findBySenderToken(c.req.param('token')!)) ?? p;
    const { state, log } = await service.status(fresh);
    return page(
      c,
      (l) =>
        StatusPage({
          ...l,
          senderToken: c.req.param('token')!,
          recipient: fresh.recipient,
          subject: fresh.subject,
          createdAt: fresh.createdAt,
          expiresAt: fresh.expiresAt,
          sizeBytes: fresh.sizeBytes,
          downloads: fresh.downloads,
          failedAttempts: fresh.failedAttempts,
          mode: fresh.mode,
          state,
          log,
          extendDays: service.options.expiryDays,
          maxDays: MAX_LIFETIME_DAYS,
          ...(flash ? { flash } : {}),
        }),
      status,
    );
  }

  app.get(
    '/pickup/status/:token',
    guarded('sender', (c, p) => renderStatus(c, p)),
  );

  app.post(
    '/pickup/status/:token/:action{revoke|extend|unlock}',
    guarded('sender', async (c, p) => {
      const locale = requestLocale(c);
      const m = pickupMessages(locale);
      try {
        await form(c);
        const action = c.req.param('action');
        if (action === 'revoke') {
          await service.revoke(p, client(c));
          return renderStatus(c, p, { kind: 'notice', text: m.revokedDone });
        }
        if (action === 'unlock') {
          await service.unlock(p, client(c));
          return renderStatus(c, p, { kind: 'notice', text: m.unlockedDone });
        }
        const until = await service.extend(p, client(c));
        return renderStatus(c, p, { kind: 'notice', text: fill(m.extendedDone, { date: when(until, locale) }) });
      } catch (e) {
        const err = toAppError(e);
        if (err.kind === 'internal') throw e;
        return renderStatus(c, p, { kind: 'error', text: errorText(locale, err) }, err.status as ContentfulStatusCode);
      }
    }),
  );

  // ---------------------------------------------------------------------------------------
  // The recipient's pages
  // ---------------------------------------------------------------------------------------

  app.get(
    '/pickup/:token',
    guarded('recipient', async (c, p) => {
      await service.assertActive(p, client(c));
      const s = await session(c, p);
      if (!s) {
        await service.opened(p, client(c));
        const challenge = c.req.query('challenge');
        const code = c.req.query('code');
        const hadCookie = getCookie(c, SESSION_COOKIE) !== undefined;
        return verifyPage(c, p, {
          ...(challenge && UUID_RE.test(challenge) && p.mode === 'code' ? { challenge, ...(code && code.length <= 64 ? { code } : {}) } : {}),
          ...(hadCookie ? { notice: pickupMessages(requestLocale(c)).reconfirm } : {}),
        });
      }
      const m = await service.read(p, s, client(c));
      c.header('Content-Security-Policy', MESSAGE_PAGE_CSP);
      const message = {
        ...m,
        hasHtml: m.html !== undefined,
        attachments: m.attachments.map((a) => ({ index: a.index, filename: a.filename, contentType: a.contentType, size: a.data.length, inline: a.inline })),
      };
      const certificate = deps.enrollment ? (s.by === 'code' ? ('proven' as const) : ('code' as const)) : undefined;
      return page(c, (l) => MessagePage({ ...l, token: c.req.param('token')!, recipient: p.recipient, expiresAt: p.expiresAt, message, certificate }));
    }),
  );

  app.post(
    '/pickup/:token/code',
    guarded('recipient', async (c, p) => {
      const locale = requestLocale(c);
      try {
        await form(c);
        const r = await service.requestCode(p, c.req.param('token')!, client(c, locale));
        return c.redirect(`/pickup/${c.req.param('token')}?challenge=${r.challengeId}&lang=${locale}`, 303);
      } catch (e) {
        const err = toAppError(e);
        if (err.kind === 'internal' || err.code.startsWith('pickup.expired') || err.code === 'pickup.revoked' || err.code === 'pickup.locked') throw e;
        return verifyPage(c, p, { error: errorText(locale, err) }, err.status as ContentfulStatusCode);
      }
    }),
  );

  app.post(
    '/pickup/:token/verify',
    guarded('recipient', async (c, p) => {
      const locale = requestLocale(c);
      let challenge: string | undefined;
      try {
        const f = await form(c);
        challenge = f.get('challenge') ?? undefined;
        const s =
          p.mode === 'password'
            ? await service.verifyPassword(p, f.get('password') ?? '', client(c, locale))
            : await service.verifyCode(p, challenge ?? '', f.get('code') ?? '', client(c, locale));
        setCookie(c, SESSION_COOKIE, await service.sessionCookie(s), {
          path: `/pickup/${c.req.param('token')}`,
          httpOnly: true,
          sameSite: 'Strict',
          secure: secure(c),
          maxAge: Math.floor(SESSION_TTL_MS / 1000),
        });
        return c.redirect(`/pickup/${c.req.param('token')}?lang=${locale}`, 303);
      } catch (e) {
        const err = toAppError(e);
        if (err.kind === 'internal' || err.code === 'pickup.expired' || err.code === 'pickup.revoked' || err.code === 'pickup.locked' || err.code === 'rate_limited') throw e;
        // a used, expired or locked code: start again with a new code
        const keep = err.code === 'proof.wrong_code' || err.code === 'pickup.bad_code';
        return verifyPage(c, p, { ...(keep && challenge && UUID_RE.test(challenge) ? { challenge } : {}), error: errorText(locale, err) }, err.status as ContentfulStatusCode);
      }
    }),
  );

  /** A verified session or the verify page's URL. */
  async function requireSession(c: Context, p: PickupRecord): Promise<PickupSession> {
    const s = await session(c, p);
    if (!s) throw new AppError('pickup.not_verified', 'Confirm with the code or password first', { kind: 'unauthorized' });
    return s;
  }
  const toVerify = (c: Context, e: unknown): Response => {
    if (isAppError(e) && e.code === 'pickup.not_verified') return c.redirect(`/pickup/${c.req.param('token')}`, 303);
    throw e;
  };

  app.get(
    '/pickup/:token/html',
    guarded('recipient', async (c, p) => {
      let doc: string | undefined;
      try {
        doc = await service.html(p, await requireSession(c, p), client(c));
      } catch (e) {
        if (isAppError(e) && e.code === 'pickup.not_verified') throw new AppError('http.not_found', 'Not found', { kind: 'not_found' });
        throw e;
      }
      if (doc === undefined) throw new AppError('http.not_found', 'Not found', { kind: 'not_found' });
      c.header('Content-Security-Policy', HTML_FRAME_CSP);
      c.header('X-Frame-Options', 'SAMEORIGIN');
      return c.html(doc);
    }),
  );

  app.get(
    '/pickup/:token/attachments/:index{[0-9]{1,4}}',
    guarded('recipient', async (c, p) => {
      let part;
      try {
        part = await service.attachment(p, await requireSession(c, p), Number(c.req.param('index')), client(c));
      } catch (e) {
        return toVerify(c, e);
      }
      return download(c, part.data, downloadContentType(part.contentType), contentDisposition(part.filename, fallbackName(part.index, part.contentType)));
    }),
  );

  app.get(
    '/pickup/:token/message.eml',
    guarded('recipient', async (c, p) => {
      let eml;
      try {
        eml = await service.original(p, await requireSession(c, p), client(c));
      } catch (e) {
        return toVerify(c, e);
      }
      const name = safeFileName(eml.subject ? `${eml.subject}.eml` : undefined, 'message.eml');
      return download(c, eml.bytes, 'message/rfc822', contentDisposition(name.endsWith('.eml') ? name : `${name}.eml`, 'message.eml'));
    }),
  );

  app.post(
    '/pickup/:token/enroll',
    guarded('recipient', async (c, p) => {
      const locale = requestLocale(c);
      await form(c);
      let href: string;
      try {
        href = await service.startEnrollment(p, await requireSession(c, p), client(c, locale));
      } catch (e) {
        return toVerify(c, e);
      }
      return c.redirect(href, 303);
    }),
  );

  return app;
}

function download(c: Context, data: Uint8Array, type: string, disposition: string): Response {
  c.header('Content-Type', type);
  c.header('Content-Disposition', disposition);
  c.header('Content-Security-Policy', DOWNLOAD_CSP);
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Cache-Control', 'no-store');
  c.header('Content-Length', String(data.length));
  return c.body(data as Uint8Array<ArrayBuffer>, 200);
}
