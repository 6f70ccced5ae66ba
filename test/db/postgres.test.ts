import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { AppError } from '../../src/shared/errors.js';
import { databaseSuite, drizzleMigrations, migrationCountOnDisk } from '../support/db-suite.js';
import { postgresBinDir, requirePostgresOrSkip, startPostgres, type RunningPostgres } from '../support/postgres.js';

if (!postgresBinDir()) {
  describe('database: PostgreSQL 15', () => {
    it('needs the PostgreSQL server binaries', (t) => {
      requirePostgresOrSkip(t); // fails under CI=true, skips loudly elsewhere
    });
  });
} else {
  describe('database: PostgreSQL 15', () => {
    let pg: RunningPostgres | undefined;
    let database: Database | undefined;
    before(async () => {
      pg = await startPostgres();
      database = await openDatabase(loadConfig({ NODE_ENV: 'test', DATABASE_URL: pg.url }));
    });
    after(async () => {
      await database?.close();
      await pg?.stop();
    });

    it('is the postgres kind', () => {
      assert.equal(database!.kind, 'postgres');
    });
    databaseSuite(() => database!);

    it('opens again (and concurrently) without re-applying migrations, and keeps data', async () => {
      const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: pg!.url });
      const [a, b] = await Promise.all([openDatabase(config), openDatabase(config)]);
      try {
        for (const d of [a, b]) {
          assert.equal((await d.db.select().from(drizzleMigrations)).length, migrationCountOnDisk());
        }
        const entries = await new DrizzleAuditLog(a.db).recent(1000);
        assert.ok(entries.some((e) => e.action === 'test.first'));
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('reports an unreachable server as db.unavailable without leaking the password', async () => {
      const url = new URL(pg!.url);
      url.password = 'hunter2';
      url.port = '1'; // nothing listens there
      await assert.rejects(
        openDatabase(loadConfig({ NODE_ENV: 'test', DATABASE_URL: url.href })),
        (e: unknown) =>
          e instanceof AppError && e.code === 'db.unavailable' && e.kind === 'temporary' && !e.message.includes('hunter2'),
      );
    });
  });
}
