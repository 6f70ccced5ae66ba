/**
 * `npm start`: the web service on Node. Loads the configuration, opens the database (applying
 * migrations), serves the Hono app on HTTP_LISTEN and shuts down cleanly on SIGINT/SIGTERM.
 * This is the only place that wires concrete pieces together.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { startAuthority, type DevCaFile } from '../ca/bootstrap.js';
import { sendRenewalReminders } from '../ca/reminders.js';
import { DrizzleAuditLog } from '../db/audit.js';
import { createAuthority } from '../db/ca-store.js';
import { formatListenAddress, loadConfig, LOG_LEVELS, type Config, type LogLevel } from '../config/index.js';
import { openDatabase, type Database } from '../db/connection.js';
import { isAppError } from '../shared/errors.js';
import { createApp } from '../web/app.js';
import { DbChallengeStore } from '../db/challenge-store.js';
import { DbRateLimiter } from '../db/rate-limit.js';
import { OutboxNotifier } from '../db/outbox.js';
import { authorityIssuer } from '../enrollment/ca-issuer.js';
import { EnrollmentService } from '../enrollment/service.js';
import { createSmtpNotifier } from '../notify/smtp.js';
import { MailboxProof } from '../proof/mailbox.js';
import { DrizzleDirectoryStore } from '../db/directory-store.js';
import { Directory } from '../directory/directory.js';
import { createPickupService, startMailWorker, type MailWorkerHandle } from './mail.js';
import { deriveAdminKeys } from '../admin/keys.js';
import type { CertificateRevoker } from '../admin/ports.js';
import { AdminService } from '../admin/service.js';
import { DrizzleCertificateQueries, DrizzleEnrollmentQueries } from '../db/admin-queries.js';
import { DrizzleAdminStore } from '../db/admin-store.js';

function makeLog(threshold: LogLevel) {
  const min = LOG_LEVELS.indexOf(threshold);
  return (level: LogLevel, message: string): void => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    const line = `smimegw ${level}: ${message}`;
    if (level === 'error' || level === 'warn') console.error(line);
    else console.log(line);
  };
}

async function writeDevCaFiles(dir: string, files: DevCaFile[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const f of files) {
    const path = join(dir, f.name);
    await writeFile(path, f.content, { mode: f.secret ? 0o600 : 0o644 });
    await chmod(path, f.secret ? 0o600 : 0o644);
  }
  return dir;
}

/** The browser bundles from dist/client/ (npm run build:client, run by prestart), else built now. */
async function loadClientAssets(log: (level: LogLevel, message: string) => void): Promise<Record<string, string>> {
  const { buildClient, CLIENT_ENTRIES, CLIENT_OUT_DIR } = await import('../../scripts/build-client.js');
  try {
    const names = Object.keys(CLIENT_ENTRIES);
    const sources = await Promise.all(names.map((n) => readFile(join(CLIENT_OUT_DIR, n), 'utf8')));
    return Object.fromEntries(names.map((n, i) => [n, sources[i]!]));
  } catch {
    log('info', 'dist/client/ is missing: bundling the browser code now (npm run build:client does it ahead)');
    return buildClient();
  }
}

/** "smimegw <no-reply@host>" for the service's own mail, from PUBLIC_URL's host. */
function notifyFrom(publicUrl: string): string {
  const host = new URL(publicUrl).hostname;
  return `smimegw <no-reply@${/^[\d.]+$|:/.test(host) ? `[${host.replace(/^\[|\]$/g, '')}]` : host}>`;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    console.error(`smimegw error: ${isAppError(e) ? e.message : String(e)}`);
    process.exit(1);
  }
  const log = makeLog(config.logLevel);
  if (config.nodeEnv === 'production' && config.notifySmtpUrl === undefined) {
    log('error', 'NOTIFY_SMTP_URL is required when NODE_ENV=production: the service mails verification codes through it (smtp://host:port)');
    process.exit(1);
  }

  let database: Database;
  try {
    database = await openDatabase(config);
  } catch (e) {
    log('error', `${e instanceof Error ? e.message : String(e)}`);
    if (config.logLevel === 'debug' && e instanceof Error && e.cause) console.error(e.cause);
    process.exit(1);
  }

  // The CA: load it, or create the development one (files in certs-dev/; under NODE_ENV=test in
  // DATA_DIR/certs-dev so test runs never overwrite a developer's CA). Production without a CA stops.
  const authority = createAuthority(database.db, config);
  try {
    await startAuthority({
      authority,
      passphrase: config.caKeyPassphrase,
      production: config.nodeEnv === 'production',
      writeDevFiles: (files) => writeDevCaFiles(config.nodeEnv === 'test' ? join(config.dataDir, 'certs-dev') : fileURLToPath(new URL('../../certs-dev/', import.meta.url)), files),
      log,
    });
  } catch (e) {
    log('error', `${e instanceof Error ? e.message : String(e)}`);
    await database.close().catch(() => {});
    process.exit(1);
  }
  // CRLs are also regenerated on demand; this keeps the stored ones fresh when nobody asks.
  const crlTimer = setInterval(() => void authority.refreshCrls().catch((e: unknown) => log('warn', `CRL refresh: ${String(e)}`)), 3_600_000);
  crlTimer.unref();

  // Enrollment: codes go out by SMTP, or in development without NOTIFY_SMTP_URL to the outbox page.
  const smtpNotifier = config.notifySmtpUrl ? createSmtpNotifier({ url: config.notifySmtpUrl, from: notifyFrom(config.publicUrl) }) : undefined;
  const outbox = smtpNotifier ? undefined : new OutboxNotifier(database.db);
  // Renewal reminders 30 and 7 days before expiry (each sent once; a failed one is retried next hour).
  const remindTimer = setInterval(() => {
    void sendRenewalReminders({ authority, notifier: smtpNotifier ?? outbox!, publicUrl: config.publicUrl, onError: (r, e) => log('warn', `renewal reminder to ${r.email}: ${String(e)}`) })
      .then((r) => r.sent.length && log('info', `sent ${r.sent.length} renewal reminder(s)`))
      .catch((e: unknown) => log('warn', `renewal reminders: ${String(e)}`));
  }, 3_600_000);
  remindTimer.unref();
  const limiter = new DbRateLimiter(database.db);
  const proof = new MailboxProof({ store: new DbChallengeStore(database.db), limiter, notifier: smtpNotifier ?? outbox!, publicUrl: config.publicUrl });
  const enrollment = new EnrollmentService({ proof, issuer: authorityIssuer(authority), audit: new DrizzleAuditLog(database.db), limiter });
  const directory = new Directory({ store: new DrizzleDirectoryStore(database.db), proof, audit: new DrizzleAuditLog(database.db), crlPolicy: config.directoryCrlPolicy });
  const assets = await loadClientAssets(log);

  // The admin console at /admin (first user: smimegw admin create --email E). The CA revokes and audits.
  const adminAudit = new DrizzleAuditLog(database.db);
  const revoker: CertificateRevoker = { revoke: async (r) => void (await authority.revoke(r)) };
  const admin = {
    service: new AdminService({ store: new DrizzleAdminStore(database.db), audit: adminAudit, limiter, keys: await deriveAdminKeys(config.adminSecretKey) }),
    certificates: new DrizzleCertificateQueries(database.db),
    enrollments: new DrizzleEnrollmentQueries(database.db),
    audit: adminAudit,
    revoker,
  };
  if (config.adminSecretKeyIsDevDefault) log('warn', 'ADMIN_SECRET_KEY is not set: TOTP secrets of the admin console are protected by the development default');
  if (outbox) log('info', `no NOTIFY_SMTP_URL: mail goes to the development outbox at ${config.publicUrl}/dev/outbox`);

  // Secure pickup (the worker's download-link fallback): the pages, and the hourly deletion of
  // expired and revoked content. Off in production without PICKUP_MASTER_KEY.
  const pickup = await createPickupService(config, database, { proof, enrollment, limiter });
  if (!pickup) log('warn', 'PICKUP_MASTER_KEY is not set: secure pickup (the download-link fallback) is off');
  else if (config.pickupMasterKeyIsDevDefault) log('warn', 'PICKUP_MASTER_KEY is not set: messages waiting for pickup are protected by the development default key');
  const purgePickups = (): void =>
    void pickup
      ?.purge()
      .then((n) => n > 0 && log('info', `secure pickup: deleted the content of ${n} expired or revoked message${n === 1 ? '' : 's'}`))
      .catch((e: unknown) => log('warn', `secure pickup expiry: ${String(e)}`));
  purgePickups();
  const pickupTimer = setInterval(purgePickups, 3_600_000);
  pickupTimer.unref();

  const app = createApp({
    db: database,
    config,
    authority,
    enrollment,
    directory,
    admin,
    ...(pickup ? { pickup: { pickup, limiter, enrollment: true } } : {}),
    ...(outbox ? { outbox } : {}),
    assets,
    clientIp: (c) => getConnInfo(c).remote.address,
  });
  const server = serve(
    { fetch: app.fetch, hostname: config.httpListen.host, port: config.httpListen.port },
    (info: AddressInfo) => {
      const url = `http://${formatListenAddress({ host: config.httpListen.host, port: info.port })}`;
      log('info', `listening on ${url} (db: ${database.kind}, public URL: ${config.publicUrl})`);
    },
  ) as Server;

  let stopping = false;
  let mailWorker: MailWorkerHandle | undefined;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => server.closeAllConnections(), 5000);
    force.unref();
    await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), mailWorker?.close()]);
    clearTimeout(force);
    smtpNotifier?.close();
    await database.close().catch((e: unknown) => log('warn', `closing the database: ${String(e)}`));
    log('info', 'stopped');
    process.exit(code);
  };

  server.on('error', (e: NodeJS.ErrnoException) => {
    log('error', `cannot listen on ${formatListenAddress(config.httpListen)}: ${e.code ?? e.message}`);
    void stop(1);
  });

  // The content-filter worker (FILTER_LISTEN -> REINJECT_SMTP_URL) runs in the same process;
  // `smimegw worker` runs it alone. Messages in progress finish before the database closes.
  startMailWorker({ config, database, directory, log }).then(
    (w) => {
      mailWorker = w;
      if (stopping) void w.close();
    },
    (e: unknown) => {
      log('error', e instanceof Error ? e.message : String(e));
      void stop(1);
    },
  );

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        log('warn', `${signal} again: exiting now`);
        process.exit(1);
      }
      log('info', `${signal}: shutting down`);
      void stop(0);
    });
  }
}

await main();
