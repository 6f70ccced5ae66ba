/**
 * `npm start`: the web service on Node. Loads the configuration, opens the database (applying
 * migrations), serves the Hono app on HTTP_LISTEN and shuts down cleanly on SIGINT/SIGTERM.
 * This is the only place that wires concrete pieces together.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Authority } from '../ca/authority.js';
import { startAuthority, type DevCaFile } from '../ca/bootstrap.js';
import { DrizzleAuditLog } from '../db/audit.js';
import { DrizzleCaStore } from '../db/ca-store.js';
import { formatListenAddress, loadConfig, LOG_LEVELS, type Config, type LogLevel } from '../config/index.js';
import { openDatabase, type Database } from '../db/connection.js';
import { isAppError } from '../shared/errors.js';
import { createApp } from '../web/app.js';

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

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    console.error(`smimegw error: ${isAppError(e) ? e.message : String(e)}`);
    process.exit(1);
  }
  const log = makeLog(config.logLevel);

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
  const authority = new Authority({
    store: new DrizzleCaStore(database.db),
    audit: new DrizzleAuditLog(database.db),
    publicUrl: config.publicUrl,
    validityDays: config.caValidityDays,
    production: config.nodeEnv === 'production',
  });
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

  const app = createApp({ db: database, config, authority });
  const server = serve(
    { fetch: app.fetch, hostname: config.httpListen.host, port: config.httpListen.port },
    (info: AddressInfo) => {
      const url = `http://${formatListenAddress({ host: config.httpListen.host, port: info.port })}`;
      log('info', `listening on ${url} (db: ${database.kind}, public URL: ${config.publicUrl})`);
    },
  ) as Server;

  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => server.closeAllConnections(), 5000);
    force.unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(force);
    await database.close().catch((e: unknown) => log('warn', `closing the database: ${String(e)}`));
    log('info', 'stopped');
    process.exit(code);
  };

  server.on('error', (e: NodeJS.ErrnoException) => {
    log('error', `cannot listen on ${formatListenAddress(config.httpListen)}: ${e.code ?? e.message}`);
    void stop(1);
  });

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
