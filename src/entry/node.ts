/**
 * `npm start`: the web service on Node. Loads the configuration, opens the database (applying
 * migrations), serves the Hono app on HTTP_LISTEN and shuts down cleanly on SIGINT/SIGTERM.
 * This is the only place that wires concrete pieces together.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
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

  const app = createApp({ db: database, config });
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
