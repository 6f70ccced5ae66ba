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
import type { DevCaFile } from '../ca/bootstrap.js';
import { formatListenAddress, loadConfig, LOG_LEVELS, type Config, type LogLevel } from '../config/index.js';
import { openDatabase, type Database } from '../db/connection.js';
import { isAppError } from '../shared/errors.js';
import { createSmtpNotifier } from '../notify/smtp.js';
import { startMailWorker, type MailWorkerHandle } from './mail.js';
import { composeWebService, serviceMailFrom, type WebService } from './web.js';

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

  // Enrollment codes and reminders go out by SMTP, or in development without NOTIFY_SMTP_URL to the
  // outbox page. With NOTIFY_SMTP_URL this process also relays mail that a Worker deployment queued.
  const smtpNotifier = config.notifySmtpUrl ? createSmtpNotifier({ url: config.notifySmtpUrl, from: serviceMailFrom(config.publicUrl) }) : undefined;

  // The CA (loaded, or outside production a development one created: files in certs-dev/, under
  // NODE_ENV=test in DATA_DIR/certs-dev so test runs never overwrite a developer's CA) and every
  // part of the web service. Production without a CA stops.
  let web: WebService;
  try {
    web = await composeWebService({
      config,
      database,
      ...(smtpNotifier ? { notifier: smtpNotifier } : {}),
      assets: await loadClientAssets(log),
      clientIp: (c) => getConnInfo(c).remote.address,
      log,
      writeDevFiles: (files) => writeDevCaFiles(config.nodeEnv === 'test' ? join(config.dataDir, 'certs-dev') : fileURLToPath(new URL('../../certs-dev/', import.meta.url)), files),
    });
  } catch (e) {
    log('error', `${e instanceof Error ? e.message : String(e)}`);
    await database.close().catch(() => {});
    process.exit(1);
  }
  if (config.adminSecretKeyIsDevDefault) log('warn', 'ADMIN_SECRET_KEY is not set: TOTP secrets of the admin console are protected by the development default');
  if (web.outbox) log('info', `no NOTIFY_SMTP_URL: mail goes to the development outbox at ${config.publicUrl}/dev/outbox`);
  if (!web.pickup) log('warn', 'PICKUP_MASTER_KEY is not set: secure pickup (the download-link fallback) is off');
  else if (config.pickupMasterKeyIsDevDefault) log('warn', 'PICKUP_MASTER_KEY is not set: messages waiting for pickup are protected by the development default key');

  // Hourly: CRLs, renewal reminders, expired pickup content (web.ts jobs, which log their outcome).
  // Expired pickups also go at start.
  void web.jobs.purgePickups();
  const hourlyTimer = setInterval(() => void web.jobs.runAll(), 3_600_000);
  hourlyTimer.unref();
  const app = web.app;
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
  startMailWorker({ config, database, directory: web.directory, log, ...(smtpNotifier ? { notifier: smtpNotifier } : {}) }).then(
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
