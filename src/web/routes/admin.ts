/**
 * The admin console, mounted at /admin. Server-rendered pages (no scripts) and a small JSON API.
 *
 *   GET  /admin/login, POST /admin/login         e-mail + password (form CSRF token in a cookie)
 *   GET  /admin/totp,  POST /admin/totp          TOTP: enrol on the first sign-in, else verify
 *   POST /admin/logout
 *   GET  /admin/certificates?q=&status=&expiry=&sort=&dir=&page=
 *   GET  /admin/certificates/:id                 detail; GET .../pem downloads it
 *   POST /admin/certificates/:id/revoke          role admin; reason, confirm=yes
 *   GET  /admin/enrollments?view=pending|failed&page=
 *   GET  /admin/audit?before=<id>                newest first, with the hash chain's status
 *   GET  /admin/api/certificates?..., GET /admin/api/audit/chain   JSON
 *
 * Every request but the sign-in form needs a session; every page but the TOTP step and sign-out
 * needs the second factor too. Refusals are audited as `admin.denied` (actor: the user or
 * "anonymous", subject: the path): no session -> 401 (browsers asking for a page are sent to the
 * sign-in form instead), wrong role or CSRF failure -> 403 with a page saying why.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { describeCertificate, type CertificateView } from '../../admin/certificate-view.js';
import {
  CERT_SORTS,
  CERT_STATUSES,
  EXPIRY_FILTERS,
  REVOCATION_REASONS,
  type AuditReader,
  type CertificateQueries,
  type CertificateRecord,
  type CertificateRevoker,
  type EnrollmentQueries,
  type RevocationReason,
} from '../../admin/ports.js';
import type { AdminAudit, AdminService, AdminSession } from '../../admin/service.js';
import { encodePem } from '../../shared/bytes.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { AppError, isAppError, toAppError } from '../../shared/errors.js';
import { crossSiteReason, CSRF_FIELD, randomToken, tokenMismatchReason } from '../middleware/csrf.js';
import { readBodyText, requireMediaType } from '../middleware/security.js';
import { adminCookies, clearCookie, readCookie, writeCookie } from '../middleware/session.js';
import { LoginPage, RefusalPage, TotpSetupPage, TotpVerifyPage } from '../pages/admin/auth.js';
import { CertificatePage, CertificatesPage, type CertificateListParams } from '../pages/admin/certificates.js';
import type { AdminUserInfo } from '../pages/admin/layout.js';
import { AuditPage, EnrollmentsPage } from '../pages/admin/lists.js';
import { ADMIN_CSS } from '../pages/admin/styles.js';
import { renderDocument } from '../pages/layout.js';

export interface AdminRoutesDeps {
  service: AdminService;
  certificates: CertificateQueries;
  enrollments: EnrollmentQueries;
  audit: AdminAudit & AuditReader;
  /** The CA's revocation (it audits `cert.revoked` itself); without it the console cannot revoke. */
  revoker?: CertificateRevoker;
  /** PUBLIC_URL: decides the cookie names (https: __Host-, Secure) and the allowed Origin. */
  publicUrl: string;
  clock?: Clock;
  clientIp?: (c: Context) => string | undefined;
}

type AdminEnv = { Variables: { session: AdminSession | undefined; form: URLSearchParams | undefined } };
type C = Context<AdminEnv>;

export const ADMIN_PAGE_SIZE = 50;
export const AUDIT_PAGE_SIZE = 50;
const MAX_FORM_BYTES = 16 * 1024;
/** Paths (below /admin) open without a session. */
const PUBLIC_PATHS = new Set(['/login', '/assets/admin.css']);
/** Paths a half session (password done, TOTP outstanding) may use. */
const HALF_SESSION_PATHS = new Set(['/totp', '/logout']);
const LOGIN_FORM_TTL_SECONDS = 3600;

function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

function relPath(c: Context): string {
  return c.req.path.replace(/^\/admin(?=\/|$)/, '') || '/';
}

function wantsHtml(c: Context): boolean {
  return (c.req.header('accept') ?? '').includes('text/html');
}

function isApi(c: Context): boolean {
  return relPath(c).startsWith('/api/');
}

function userInfo(s: AdminSession): AdminUserInfo {
  return { username: s.username, role: s.role, csrfToken: s.csrfToken };
}

function html(c: Context, node: unknown, status: ContentfulStatusCode = 200): Response {
  return c.html(renderDocument(node), status);
}

function oneOf<T extends string>(allowed: readonly T[], v: string | undefined): T | undefined {
  return (allowed as readonly string[]).includes(v ?? '') ? (v as T) : undefined;
}

function positiveInt(v: string | undefined, max: number): number | undefined {
  if (!v || !/^\d{1,9}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 1 && n <= max ? n : undefined;
}

/**
 * Why a state-changing request is not from our own form (cross-site, or the token does not match
 * `expected`), or undefined. A body that is not a readable form counts as a missing token.
 */
async function forgeryReason(c: C, publicUrl: string, expected: string | undefined): Promise<string | undefined> {
  const crossSite = crossSiteReason(c, publicUrl);
  if (crossSite) return crossSite;
  let form: URLSearchParams;
  try {
    form = await readForm(c);
  } catch (e) {
    if (isAppError(e) && (e.status === 413 || e.status === 415)) return `CSRF token missing: ${e.message}`;
    throw e;
  }
  return tokenMismatchReason(expected, form.get(CSRF_FIELD));
}

async function readForm(c: C): Promise<URLSearchParams> {
  const cached = c.get('form');
  if (cached) return cached;
  requireMediaType(c, ['application/x-www-form-urlencoded']);
  const form = new URLSearchParams(await readBodyText(c, MAX_FORM_BYTES));
  c.set('form', form);
  return form;
}

export function adminRoutes(deps: AdminRoutesDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const cookies = adminCookies(deps.publicUrl);
  const clock = deps.clock ?? systemClock;
  const ip = (c: Context): string => deps.clientIp?.(c) ?? 'unknown';

  /** Audits a refusal and answers it: JSON for the API, a redirect or a page for browsers. */
  const deny = async (c: C, o: { status: 401 | 403; reason: string; message: string; session?: AdminSession; redirect?: string }): Promise<Response> => {
    await deps.audit.record({
      actor: o.session?.username ?? 'anonymous',
      action: 'admin.denied',
      subject: c.req.path,
      detail: { reason: o.reason, method: c.req.method, clientIp: ip(c), ...(o.session ? { role: o.session.role } : {}) },
    });
    const code = o.status === 401 ? 'admin.unauthenticated' : o.reason === 'csrf' ? 'admin.csrf' : 'admin.forbidden';
    if (isApi(c)) return c.json(new AppError(code, o.message, { kind: o.status === 401 ? 'unauthorized' : 'forbidden' }).toJSON(), o.status);
    if (o.redirect && c.req.method === 'GET' && wantsHtml(c)) return c.redirect(o.redirect, 303);
    const title = o.status === 401 ? 'Sign-in required' : o.reason === 'csrf' ? 'Request refused' : 'Not allowed';
    const full = o.session?.full ? o.session : undefined;
    return html(c, RefusalPage({ title, message: o.message, ...(full ? { user: userInfo(full) } : {}) }), o.status);
  };

  app.onError((err, c) => {
    const e = toAppError(err);
    if (e.kind === 'internal') console.error(`${c.req.method} ${c.req.path}:`, err);
    const status = e.status as ContentfulStatusCode;
    if (isApi(c)) return c.json(e.toJSON(), status);
    const s = (c as C).get('session');
    return html(c, RefusalPage({ title: e.kind === 'not_found' ? 'Not found' : 'Something went wrong', message: e.message, ...(s?.full ? { user: userInfo(s) } : {}) }), status);
  });

  const gate: MiddlewareHandler<AdminEnv> = async (c, next) => {
    const rel = relPath(c);
    if (PUBLIC_PATHS.has(rel)) return next();
    const session = await deps.service.session(readCookie(c, cookies.session));
    if (!session) {
      return deny(c, { status: 401, reason: 'no_session', message: 'This page is for administrators: sign in first.', redirect: '/admin/login' });
    }
    c.set('session', session);
    if (!session.full && !HALF_SESSION_PATHS.has(rel)) {
      return deny(c, { status: 401, reason: 'second_factor_missing', message: 'Enter the code from your authenticator app first.', session, redirect: '/admin/totp' });
    }
    if (isStateChanging(c.req.method)) {
      const why = await forgeryReason(c, deps.publicUrl, session.csrfToken);
      if (why) {
        return deny(c, { status: 403, reason: 'csrf', session, message: `This form could not be accepted (${why}). Reload the page and try again; nothing was changed.` });
      }
    }
    return next();
  };
  app.use('*', gate);

  app.get('/assets/admin.css', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(ADMIN_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' });
  });

  // --- sign-in -------------------------------------------------------------------------------

  const loginPage = (c: C, o: { status?: ContentfulStatusCode; error?: string; username?: string } = {}) => {
    const token = readCookie(c, cookies.login) ?? randomToken();
    writeCookie(c, cookies, cookies.login, token, LOGIN_FORM_TTL_SECONDS);
    return html(c, LoginPage({ csrfToken: token, ...(o.error ? { error: o.error } : {}), ...(o.username ? { username: o.username } : {}) }), o.status ?? 200);
  };

  app.get('/login', async (c) => {
    const s = await deps.service.session(readCookie(c, cookies.session));
    if (s?.full) return c.redirect('/admin/certificates', 303);
    if (s) return c.redirect('/admin/totp', 303);
    return loginPage(c);
  });

  app.post('/login', async (c) => {
    const why = await forgeryReason(c, deps.publicUrl, readCookie(c, cookies.login));
    if (why) {
      return deny(c, { status: 403, reason: 'csrf', message: `The sign-in form could not be accepted (${why}). Open the sign-in page again.` });
    }
    const form = await readForm(c);
    const username = (form.get('username') ?? '').slice(0, 320);
    try {
      const { token } = await deps.service.login({ username, password: form.get('password') ?? '', clientIp: ip(c) });
      writeCookie(c, cookies, cookies.session, token);
      clearCookie(c, cookies, cookies.login);
      return c.redirect('/admin/totp', 303);
    } catch (e) {
      if (isAppError(e) && (e.kind === 'unauthorized' || e.kind === 'rate_limited')) {
        return loginPage(c, { status: e.status as ContentfulStatusCode, error: e.message, username });
      }
      throw e;
    }
  });

  app.get('/totp', async (c) => {
    const s = c.get('session')!;
    if (s.full) return c.redirect('/admin/certificates', 303);
    if (s.totpEnrolled) return html(c, TotpVerifyPage({ csrfToken: s.csrfToken, username: s.username }));
    const e = await deps.service.totpEnrollment(s);
    return html(c, TotpSetupPage({ csrfToken: s.csrfToken, username: s.username, secret: e.secret, uri: e.uri }));
  });

  app.post('/totp', async (c) => {
    const s = c.get('session')!;
    if (s.full) return c.redirect('/admin/certificates', 303);
    const form = await readForm(c);
    try {
      const { token } = await deps.service.completeSecondFactor(s, (form.get('code') ?? '').slice(0, 20), ip(c));
      writeCookie(c, cookies, cookies.session, token);
      return c.redirect('/admin/certificates', 303);
    } catch (e) {
      if (isAppError(e) && (e.kind === 'unauthorized' || e.kind === 'rate_limited')) {
        const status = e.status as ContentfulStatusCode;
        if (s.totpEnrolled) return html(c, TotpVerifyPage({ csrfToken: s.csrfToken, username: s.username, error: e.message }), status);
        const en = await deps.service.totpEnrollment(s);
        return html(c, TotpSetupPage({ csrfToken: s.csrfToken, username: s.username, secret: en.secret, uri: en.uri, error: e.message }), status);
      }
      throw e;
    }
  });

  app.post('/logout', async (c) => {
    await deps.service.logout(c.get('session')!);
    clearCookie(c, cookies, cookies.session);
    return c.redirect('/admin/login', 303);
  });

  // --- certificates ----------------------------------------------------------------------------

  const listParams = (c: C): CertificateListParams => ({
    q: (c.req.query('q') ?? '').trim().slice(0, 200),
    status: oneOf(CERT_STATUSES, c.req.query('status')),
    expiry: oneOf(EXPIRY_FILTERS, c.req.query('expiry')),
    sort: oneOf(CERT_SORTS, c.req.query('sort')) ?? 'notAfter',
    dir: c.req.query('dir') === 'asc' ? 'asc' : 'desc',
    page: positiveInt(c.req.query('page'), 100_000) ?? 1,
  });

  const search = (p: CertificateListParams, now: Date) =>
    deps.certificates.search({
      ...(p.q ? { address: p.q } : {}),
      ...(p.status ? { status: p.status } : {}),
      ...(p.expiry ? { expiry: p.expiry } : {}),
      sort: p.sort,
      direction: p.dir,
      limit: ADMIN_PAGE_SIZE,
      offset: (p.page - 1) * ADMIN_PAGE_SIZE,
      now,
    });

  for (const path of ['/', '/certificates/']) app.get(path, (c) => c.redirect('/admin/certificates', 303));

  app.get('/certificates', async (c) => {
    const params = listParams(c);
    const now = clock.now();
    const { rows, total } = await search(params, now);
    return html(c, CertificatesPage({ user: userInfo(c.get('session')!), params, rows, total, pageSize: ADMIN_PAGE_SIZE, now }));
  });

  app.get('/api/certificates', async (c) => {
    const params = listParams(c);
    const { rows, total } = await search(params, clock.now());
    return c.json({ total, page: params.page, pageSize: ADMIN_PAGE_SIZE, certificates: rows });
  });

  const findCertificate = async (c: C): Promise<CertificateRecord> => {
    const r = await deps.certificates.get(c.req.param('id') ?? '');
    if (!r) throw new AppError('admin.not_found', 'There is no certificate with this id', { kind: 'not_found' });
    return r;
  };

  /** Why this session cannot revoke this certificate, or undefined if it can. */
  const revokeBlocker = (s: AdminSession, r: CertificateRecord): string | undefined => {
    if (s.role !== 'admin') return 'Auditors can view certificates but not revoke them.';
    if (r.status === 'revoked') return 'This certificate is revoked.';
    if (r.source !== 'issued' || !r.serialHex) return `This certificate was not issued by this CA (source: ${r.source}); only its issuer can revoke it.`;
    if (!deps.revoker) return 'The certificate authority is not available in this service, so certificates cannot be revoked here.';
    return undefined;
  };

  app.get('/certificates/:id', async (c) => {
    const s = c.get('session')!;
    const record = await findCertificate(c);
    let view: CertificateView | undefined;
    let parseError: string | undefined;
    if (record.der) {
      try {
        view = describeCertificate(record.der);
      } catch (e) {
        parseError = isAppError(e) ? e.message : String(e);
      }
    }
    const blocker = revokeBlocker(s, record);
    return html(
      c,
      CertificatePage({
        user: userInfo(s),
        record,
        view,
        ...(parseError ? { parseError } : {}),
        canRevoke: blocker === undefined,
        ...(blocker ? { revokeUnavailable: blocker } : {}),
        ...(c.req.query('revoked') === '1' && record.status === 'revoked' ? { notice: 'The certificate was revoked. The CRL has been updated.' } : {}),
      }),
    );
  });

  app.get('/certificates/:id/pem', async (c) => {
    const record = await findCertificate(c);
    if (!record.der) throw new AppError('admin.no_der', 'No certificate data is stored for this entry', { kind: 'not_found' });
    const name = `${record.email.replace(/[^A-Za-z0-9._@-]/g, '_')}-${(record.serialHex ?? record.fingerprintSha256.slice(0, 16)).slice(0, 40)}.pem`;
    return c.body(encodePem('CERTIFICATE', record.der), 200, {
      'Content-Type': 'application/x-pem-file',
      'Content-Disposition': `attachment; filename="${name}"`,
    });
  });

  app.post('/certificates/:id/revoke', async (c) => {
    const s = c.get('session')!;
    if (s.role !== 'admin') {
      return deny(c, { status: 403, reason: 'role', session: s, message: `Revoking needs the admin role; you are signed in as ${s.role}. Nothing was revoked.` });
    }
    const record = await findCertificate(c);
    const form = await readForm(c);
    const reason = oneOf<RevocationReason>(REVOCATION_REASONS, form.get('reason') ?? undefined);
    if (!reason) throw new AppError('admin.bad_reason', `Choose a reason: ${REVOCATION_REASONS.join(', ')}`);
    if (form.get('confirm') !== 'yes') throw new AppError('admin.not_confirmed', 'Tick the confirmation box to revoke; nothing was revoked');
    const blocker = revokeBlocker(s, record);
    if (blocker) throw new AppError('admin.cannot_revoke', blocker, { kind: 'conflict' });
    await deps.revoker!.revoke({ serialHex: record.serialHex!, reason, actor: s.username });
    return c.redirect(`/admin/certificates/${record.id}?revoked=1`, 303);
  });

  // --- enrollments and audit ----------------------------------------------------------------

  app.get('/enrollments', async (c) => {
    const view = c.req.query('view') === 'failed' ? 'failed' : 'pending';
    const page = positiveInt(c.req.query('page'), 100_000) ?? 1;
    const { rows, total } = await deps.enrollments.list({ view, now: clock.now(), limit: ADMIN_PAGE_SIZE, offset: (page - 1) * ADMIN_PAGE_SIZE });
    return html(c, EnrollmentsPage({ user: userInfo(c.get('session')!), view, rows, total, page, pageSize: ADMIN_PAGE_SIZE }));
  });

  app.get('/audit', async (c) => {
    const before = positiveInt(c.req.query('before'), Number.MAX_SAFE_INTEGER);
    const [entries, chain] = await Promise.all([deps.audit.page({ ...(before ? { before } : {}), limit: AUDIT_PAGE_SIZE }), deps.audit.verifyChain()]);
    const last = entries[entries.length - 1];
    return html(
      c,
      AuditPage({
        user: userInfo(c.get('session')!),
        entries,
        chain,
        ...(entries.length === AUDIT_PAGE_SIZE && last ? { olderHref: `/admin/audit?before=${last.id}` } : {}),
        ...(before ? { newestHref: '/admin/audit' } : {}),
      }),
    );
  });

  app.get('/api/audit/chain', async (c) => c.json(await deps.audit.verifyChain()));

  return app;
}
