/**
 * The web service on Cloudflare Workers (workerd): the same `createApp(deps)` as under Node, composed
 * by src/entry/web.ts. What differs is only here, at the edge of the code:
 * - Database: postgres-js over TCP (a Hyperdrive binding `HYPERDRIVE`, or DATABASE_URL). A Worker may
 *   not reuse a socket across requests, so each request (and each Cron run) opens its own client and
 *   runs inside a scope the services reach through requestScopedDb(); the client is closed after
 *   the response. Migrations are not applied here: `smimegw db migrate` (or any server start) does.
 * - Secrets (CA_KEY_PASSPHRASE, ADMIN_SECRET_KEY, PICKUP_MASTER_KEY, ...) are Worker secrets; plain
 *   settings are [vars]; both arrive in `env` and go through the same loadConfig() as on Node.
 * - Mail: a Worker has no SMTP. Codes and reminders are queued in the `outbox` table, which a server
 *   process with NOTIFY_SMTP_URL (npm start or smimegw worker) relays.
 * - No long-lived timers: CRL refresh, renewal reminders and pickup expiry run from the Cron Trigger.
 * - No filesystem: the browser bundles are built into dist/client/assets.mjs by wrangler's [build]
 *   command and imported; a development CA lives only in the database.
 * - The client's address is CF-Connecting-IP.
 * The CA keys are decrypted once per isolate (the services are built once and cached); the signer
 * port (AuthorityOptions.signerFor) is where a remote signer would plug in instead.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import clientAssets from 'smimegw-client-assets';
import { loadConfig, redactUrl, type Config, type Env as ConfigEnv } from '../config/index.js';
import type { Db } from '../db/connection.js';
import { OutboxNotifier } from '../db/outbox.js';
import { pingDb } from '../db/ping.js';
import { requestScopedDb } from '../db/request-scoped.js';
import * as schema from '../db/schema.js';
import { AppError, isAppError } from '../shared/errors.js';
import { composeWebService, type Log, type WebService } from './web.js';

/** The bindings: Hyperdrive (optional), plain vars and secrets (strings). */
export interface WorkerEnv {
  HYPERDRIVE?: { connectionString: string };
  [name: string]: unknown;
}

type ExecutionContext = import('hono').ExecutionContext;

interface ScheduledController {
  cron: string;
  scheduledTime: number;
}

const log: Log = (level, message) => {
  const line = `smimegw ${level}: ${message}`;
  if (level === 'error' || level === 'warn') console.error(line);
  else console.log(line);
};

/** The configuration from the Worker's vars and secrets; DATABASE_URL from Hyperdrive when bound. */
export function workerConfig(env: WorkerEnv): Config {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') vars[k] = v;
  if (env.HYPERDRIVE?.connectionString) vars.DATABASE_URL = env.HYPERDRIVE.connectionString;
  if (!vars.DATABASE_URL) {
    throw new AppError('config.invalid', 'The Worker needs a database: bind Hyperdrive as HYPERDRIVE (wrangler.toml) or set DATABASE_URL', { kind: 'internal' });
  }
  return loadConfig(vars as ConfigEnv);
}

const scope = new AsyncLocalStorage<Db>();
const scopedDb = requestScopedDb({ current: () => scope.getStore() });

function connect(config: Config): { db: Db; where: string; close(): Promise<void> } {
  if (config.database.kind !== 'postgres') throw new AppError('config.invalid', 'The Worker needs DATABASE_URL or a Hyperdrive binding', { kind: 'internal' });
  // fetch_types off: no custom array types in the schema, and it saves a round trip per connection.
  const client = postgres(config.database.url, { max: 5, fetch_types: false, connect_timeout: 10, onnotice: () => {} });
  return { db: drizzle({ client, schema }) as unknown as Db, where: redactUrl(config.database.url), close: () => client.end({ timeout: 5 }) };
}

let cached: { env: WorkerEnv; service: Promise<WebService> } | undefined;

/** The composed service for this isolate, built on first use (inside a request scope). */
function serviceFor(env: WorkerEnv, config: Config): Promise<WebService> {
  if (cached?.env === env) return cached.service;
  const service = composeWebService({
    config,
    database: { db: scopedDb, kind: 'postgres', ping: () => pingDb(scopedDb) },
    // No SMTP on Workers: mail is queued for a server's relay (and shown on /dev/outbox outside production).
    notifier: new OutboxNotifier(scopedDb, { relay: true }),
    assets: clientAssets,
    clientIp: (c) => c.req.header('cf-connecting-ip') ?? undefined,
    log,
  });
  cached = { env, service };
  // A failed start (database down, CA not set up) is retried by the next request.
  service.catch(() => {
    if (cached?.service === service) cached = undefined;
  });
  return service;
}

function unavailable(e: unknown): Response {
  const err = isAppError(e) ? e : new AppError('service.unavailable', 'The service is starting or its database does not answer; try again shortly', { kind: 'temporary', cause: e });
  log('error', `${err.code}: ${err.message}${e instanceof Error && !isAppError(e) ? ` (${e.message})` : ''}`);
  // What the operator must do (e.g. ca.not_initialized) is shown; internal errors only as "not available".
  const body = isAppError(e) && e.kind !== 'internal' ? err.toJSON() : { error: { code: 'service.unavailable', message: 'The service is not available right now; try again later' } };
  return Response.json(body, { status: 503, headers: { 'Retry-After': '30' } });
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    let config: Config;
    try {
      config = workerConfig(env);
    } catch (e) {
      return unavailable(e);
    }
    const conn = connect(config);
    try {
      return await scope.run(conn.db, async () => {
        let service: WebService;
        try {
          service = await serviceFor(env, config);
        } catch (e) {
          return unavailable(e);
        }
        return service.app.fetch(request, env, ctx);
      });
    } finally {
      ctx.waitUntil(conn.close().catch((e: unknown) => log('warn', `closing the database connection to ${conn.where}: ${String(e)}`)));
    }
  },

  /** The Cron Trigger (hourly in wrangler.toml): CRLs, renewal reminders, pickup expiry. */
  async scheduled(_controller: ScheduledController, env: WorkerEnv, ctx: ExecutionContext): Promise<void> {
    const config = workerConfig(env);
    const conn = connect(config);
    try {
      await scope.run(conn.db, async () => {
        const service = await serviceFor(env, config);
        if (!(await service.jobs.runAll())) throw new Error('a scheduled job failed (see the log)');
      });
    } finally {
      ctx.waitUntil(conn.close().catch(() => {}));
    }
  },
};
