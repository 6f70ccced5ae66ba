/**
 * The HTTP application (Hono). Runtime-agnostic: no node: imports; the entry point decides how it
 * is served. It sees the database only through the small interface below.
 */
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Config } from '../config/index.js';
import type { EnrollmentService } from '../enrollment/service.js';
import { AppError, toAppError } from '../shared/errors.js';
import { securityHeaders } from './middleware/security.js';
import { ErrorPage } from './pages/error.js';
import { renderDocument } from './pages/layout.js';
import { otherLocaleHref, requestLocale } from './pages/locale.js';
import { APP_CSS } from './pages/styles.js';
import { adminRoutes, type AdminRoutesDeps } from './routes/admin.js';
import { devOutboxAllowed, devRoutes, type DevOutbox } from './routes/dev.js';
import { directoryPages, directoryRoutes, type DirectoryService } from './routes/directory.js';
import { enrollRoutes } from './routes/enroll.js';
import { pkiRoutes, type PkiAuthority } from './routes/pki.js';
import { pickupRoutes, type PickupRoutesDeps } from './routes/pickup.js';

export interface AppDatabase {
  kind: 'pglite' | 'postgres';
  /** Resolves when the database answers; rejects otherwise. */
  ping(): Promise<void>;
}

export interface AppDeps {
  db: AppDatabase;
  config: Config;
  /** The CA: CRLs, CA certificates and OCSP at /crl, /ca, /ocsp; not mounted when absent. */
  authority?: PkiAuthority;
  /** Recipient enrollment (API and pages); not mounted when absent. */
  enrollment?: EnrollmentService;
  /** The development outbox (shown at /dev/outbox only outside production and without NOTIFY_SMTP_URL). */
  outbox?: DevOutbox;
  /** Browser bundles by file name, served at /assets/<name> (e.g. 'enroll.js'); the entry point builds them. */
  assets?: Readonly<Record<string, string>>;
  /** The client's IP address as the runtime knows it (rate limits, audit). */
  clientIp?: (c: Context) => string | undefined;
  /** The recipient-certificate directory at /api/v1/directory (and its upload form at /directory/upload); not mounted when absent. */
  directory?: DirectoryService;
  /** The admin console at /admin; not mounted when absent. */
  admin?: Omit<AdminRoutesDeps, 'publicUrl' | 'clientIp'>;
  /** Secure pickup at /pickup (recipient pages and the sender's status page); not mounted when absent. */
  pickup?: Omit<PickupRoutesDeps, 'publicUrl' | 'clientIp'>;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.use('*', securityHeaders({ hsts: deps.config.publicUrl.startsWith('https:') }));

  app.get('/healthz', async (c) => {
    try {
      await deps.db.ping();
    } catch {
      return c.json({ status: 'error', db: deps.db.kind }, 503);
    }
    return c.json({ status: 'ok', db: deps.db.kind });
  });

  app.get('/assets/app.css', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(APP_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' });
  });
  app.get('/assets/:name{[a-z0-9-]+\\.js}', (c) => {
    const source = deps.assets?.[c.req.param('name')];
    if (source === undefined) throw new AppError('http.not_found', 'Not found', { kind: 'not_found' });
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(source, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
  if (deps.authority) app.route('/', pkiRoutes({ authority: deps.authority }));
  if (deps.enrollment) app.route('/', enrollRoutes({ enrollment: deps.enrollment, ...(deps.clientIp ? { clientIp: deps.clientIp } : {}) }));
  if (deps.directory) {
    const directoryDeps = { directory: deps.directory, ...(deps.clientIp ? { clientIp: deps.clientIp } : {}) };
    app.route('/api/v1/directory', directoryRoutes(directoryDeps));
    app.route('/', directoryPages(directoryDeps));
  }
  if (deps.pickup) app.route('/', pickupRoutes({ ...deps.pickup, publicUrl: deps.config.publicUrl, ...(deps.clientIp ? { clientIp: deps.clientIp } : {}) }));
  if (deps.admin) app.route('/admin', adminRoutes({ ...deps.admin, publicUrl: deps.config.publicUrl, ...(deps.clientIp ? { clientIp: deps.clientIp } : {}) }));
  if (deps.outbox && devOutboxAllowed(deps.config)) app.route('/', devRoutes({ outbox: deps.outbox, config: deps.config }));

  app.notFound((c) => c.json(new AppError('http.not_found', `Not found: nothing is served at ${c.req.method} ${c.req.path}; check the address`, { kind: 'not_found' }).toJSON(), 404));

  app.onError((err, c) => {
    const e = toAppError(err);
    if (e.kind === 'internal') console.error(`${c.req.method} ${c.req.path}:`, err);
    if (c.req.method === 'GET' && !c.req.path.startsWith('/api/') && (c.req.header('accept') ?? '').includes('text/html')) {
      const locale = requestLocale(c);
      return c.html(renderDocument(ErrorPage({ locale, switchHref: otherLocaleHref(c, locale), message: e.message })), e.status as ContentfulStatusCode);
    }
    return c.json(e.toJSON(), e.status as ContentfulStatusCode);
  });

  return app;
}
