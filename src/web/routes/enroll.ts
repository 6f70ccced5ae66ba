/**
 * Recipient enrollment over HTTP: the JSON API (scripts, tests and the page's own script use it)
 * and the pages.
 *
 *   POST /api/v1/enrollments                  {email, locale?}            -> 202 {id, expiresAt}
 *   POST /api/v1/enrollments/{id}/verify      {code}                      -> 200 {token, address, expiresAt}
 *   POST /api/v1/enrollments/{id}/certificate Authorization: Bearer <token>, body: PEM CSR
 *        (text/plain, application/x-pem-file or application/pkcs10; PEM or DER)
 *                                                                         -> 201 {certificate, chain, address}
 *   GET  /enroll[?challenge=&code=]   the page (address step, or code step from the mailed link)
 *   GET  /enroll/guide                import guides
 *
 * Errors are JSON {error:{code,message,detail?}} with a 4xx status: 400 bad input, 401 bad token,
 * 403 wrong/expired code or locked, 404 unknown enrollment, 409 code reused, 413 too large,
 * 415 wrong content type, 429 rate limited.
 */
import { Hono, type Context } from 'hono';
import type { ClientInfo, EnrollmentService } from '../../enrollment/service.js';
import { AppError } from '../../shared/errors.js';
import { encodePem, looksLikePem, fromUtf8 } from '../../shared/bytes.js';
import { isLocale } from '../i18n.js';
import { EnrollPage } from '../pages/enroll.js';
import { GuidePage } from '../pages/guide.js';
import { renderDocument } from '../pages/layout.js';
import { otherLocaleHref, requestLocale } from '../pages/locale.js';
import { readBodyBytes, readJsonObject, requireMediaType } from '../middleware/security.js';

export interface EnrollRoutesDeps {
  enrollment: EnrollmentService;
  /** The client's IP address (the runtime adapter knows it); used for rate limits and the audit log. */
  clientIp?: (c: Context) => string | undefined;
}

/** Largest JSON body accepted by the start and verify endpoints. */
export const MAX_JSON_BYTES = 4 * 1024;
/** Largest certificate request accepted (an RSA-8192 request is about 2.5 KB in PEM). */
export const MAX_CSR_BODY_BYTES = 16 * 1024;
export const CSR_MEDIA_TYPES = ['application/pkcs10', 'application/x-pem-file', 'text/plain'] as const;

const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function enrollmentId(c: Context): string {
  const id = c.req.param('id') ?? '';
  if (!ID_RE.test(id)) throw new AppError('proof.not_found', 'This verification request does not exist; request a new code', { kind: 'not_found' });
  return id;
}

function bearerToken(c: Context): string | undefined {
  const m = /^Bearer\s+([A-Za-z0-9_-]{16,64})\s*$/i.exec(c.req.header('authorization') ?? '');
  if (!m && c.req.header('authorization')) {
    throw new AppError('enroll.bad_authorization', 'The Authorization header must be "Bearer <token>" with the token from the verify step', { kind: 'unauthorized' });
  }
  return m?.[1];
}

export function enrollRoutes(deps: EnrollRoutesDeps): Hono {
  const app = new Hono();
  const client = (c: Context): ClientInfo => {
    const ip = deps.clientIp?.(c);
    return ip ? { ip } : {};
  };

  app.post('/api/v1/enrollments', async (c) => {
    const body = await readJsonObject(c, MAX_JSON_BYTES);
    if (body.locale !== undefined && !isLocale(body.locale)) {
      throw new AppError('enroll.bad_locale', 'locale must be "ja" or "en"', { detail: { field: 'locale' } });
    }
    const locale = isLocale(body.locale) ? body.locale : requestLocale(c);
    const r = await deps.enrollment.start({ email: body.email, locale }, client(c));
    return c.json({ id: r.id, expiresAt: r.expiresAt.toISOString() }, 202);
  });

  app.post('/api/v1/enrollments/:id/verify', async (c) => {
    const id = enrollmentId(c);
    const body = await readJsonObject(c, MAX_JSON_BYTES);
    const v = await deps.enrollment.verify(id, body.code, client(c));
    return c.json({ token: v.token, address: v.address, expiresAt: v.expiresAt.toISOString() }, 200);
  });

  app.post('/api/v1/enrollments/:id/certificate', async (c) => {
    const id = enrollmentId(c);
    const type = requireMediaType(c, CSR_MEDIA_TYPES);
    const token = bearerToken(c);
    const bytes = await readBodyBytes(c, MAX_CSR_BODY_BYTES);
    // DER is accepted as application/pkcs10 (RFC 5967); the CA reads PEM.
    const csrPem = type === 'application/pkcs10' && bytes.length > 0 && !looksLikePem(bytes) ? encodePem('CERTIFICATE REQUEST', bytes) : fromUtf8(bytes);
    const r = await deps.enrollment.issue(id, token, csrPem, client(c));
    return c.json({ certificate: r.certificatePem, chain: r.chainPem, address: r.address }, 201);
  });

  app.get('/enroll', (c) => {
    const locale = requestLocale(c);
    const challenge = c.req.query('challenge');
    const code = c.req.query('code');
    const props = {
      locale,
      switchHref: otherLocaleHref(c, locale),
      ...(challenge && ID_RE.test(challenge) ? { challenge, ...(code && code.length <= 64 ? { code } : {}) } : {}),
    };
    return c.html(renderDocument(EnrollPage(props)));
  });

  app.get('/enroll/guide', (c) => {
    const locale = requestLocale(c);
    c.header('Cache-Control', 'no-cache');
    return c.html(renderDocument(GuidePage({ locale, switchHref: otherLocaleHref(c, locale) })));
  });

  return app;
}
