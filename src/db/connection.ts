/**
 * Opens the database the configuration names and brings its schema up to date:
 * - DATABASE_URL unset: embedded PGlite stored in `${DATA_DIR}/pglite` (or in memory, for tests);
 * - DATABASE_URL set: PostgreSQL through postgres-js.
 * The migrations generated into drizzle/ (at the package root) are applied before this returns.
 *
 * This is a Node adapter (it uses node:fs and node:path); the layers above only see `Db`.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { redactUrl, type Config } from '../config/index.js';
import { AppError } from '../shared/errors.js';
import { pingDb } from './ping.js';
import * as schema from './schema.js';

/** A drizzle database over either driver. Code above the adapters uses only this type. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseKind = 'pglite' | 'postgres';

export interface Database {
  db: Db;
  kind: DatabaseKind;
  /** Runs `select 1`; throws AppError `db.unavailable` if the database does not answer. */
  ping(): Promise<void>;
  /** Closes the connection pool or the embedded database. Safe to call twice. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** With PGlite: keep everything in memory and ignore the data folder (for tests). */
  inMemory?: boolean;
}

/** The drizzle/ folder at the package root, wherever the process was started from. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle/', import.meta.url));

/** Arbitrary but fixed key for pg_advisory_lock, so concurrent starts migrate one at a time. */
const MIGRATION_LOCK_KEY = 0x736d696d; // "smim"

export async function openDatabase(
  config: Pick<Config, 'database'>,
  options: OpenDatabaseOptions = {},
): Promise<Database> {
  return config.database.kind === 'postgres'
    ? openPostgres(config.database.url)
    : openPglite(options.inMemory ? undefined : config.database.dataDir);
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  let client: PGlite;
  try {
    if (dataDir === undefined) {
      client = new PGlite();
    } else {
      const dir = resolve(dataDir);
      mkdirSync(dir, { recursive: true });
      client = new PGlite(dir);
    }
    await client.waitReady;
  } catch (e) {
    throw new AppError('db.unavailable', `Cannot open the embedded database${dataDir ? ` in ${dataDir}` : ''}`, {
      kind: 'temporary',
      cause: e,
    });
  }
  const db = drizzlePglite({ client, schema });
  try {
    await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER });
  } catch (e) {
    await client.close().catch(() => {});
    throw migrationFailed(e);
  }
  let closed = false;
  return {
    db,
    kind: 'pglite',
    ping: () => pingDb(db),
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

async function openPostgres(url: string): Promise<Database> {
  const options = { onnotice: () => {}, connect_timeout: 10 } as const;

  // Migrate over one dedicated connection holding an advisory lock, so that several processes
  // starting against the same database do not apply the same migration twice.
  const migrationClient = postgres(url, { ...options, max: 1 });
  try {
    try {
      await migrationClient`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    } catch (e) {
      throw new AppError('db.unavailable', `Cannot connect to PostgreSQL at ${redactUrl(url)}: ${messageOf(e)}`, {
        kind: 'temporary',
        cause: e,
      });
    }
    try {
      await migratePostgres(drizzlePostgres({ client: migrationClient, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
    } catch (e) {
      throw migrationFailed(e);
    }
  } finally {
    await migrationClient.end({ timeout: 5 }).catch(() => {}); // also releases the advisory lock
  }

  const client = postgres(url, { ...options, max: 10 });
  const db = drizzlePostgres({ client, schema });
  let closed = false;
  return {
    db,
    kind: 'postgres',
    ping: () => pingDb(db),
    async close() {
      if (closed) return;
      closed = true;
      await client.end({ timeout: 5 });
    },
  };
}

function migrationFailed(e: unknown): AppError {
  return new AppError('db.migration_failed', `Applying database migrations failed: ${messageOf(e)}`, {
    kind: 'internal',
    cause: e,
  });
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
