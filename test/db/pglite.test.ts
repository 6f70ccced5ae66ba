import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { databaseSuite, drizzleMigrations, migrationCountOnDisk } from '../support/db-suite.js';

describe('database: PGlite in memory', () => {
  let database: Database | undefined;
  before(async () => {
    database = await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true });
  });
  after(async () => {
    await database?.close();
  });

  it('is the pglite kind', () => {
    assert.equal(database!.kind, 'pglite');
  });
  databaseSuite(() => database!);
});

describe('database: PGlite in a data folder', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smimegw-pglite-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('creates ${DATA_DIR}/pglite, and a reopen keeps data without re-applying migrations', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir });
    assert.equal(config.database.kind, 'pglite');

    const first = await openDatabase(config);
    try {
      await new DrizzleAuditLog(first.db).record({ actor: 'system', action: 'test.persisted', detail: { n: 1 } });
    } finally {
      await first.close();
    }
    assert.ok(existsSync(join(dataDir, 'pglite', 'PG_VERSION')), 'PGlite files in DATA_DIR/pglite');

    const second = await openDatabase(config);
    try {
      const entries = await new DrizzleAuditLog(second.db).recent(10);
      assert.deepEqual(
        entries.map((e) => [e.action, e.detail]),
        [['test.persisted', { n: 1 }]],
      );
      const applied = await second.db.select().from(drizzleMigrations);
      assert.equal(applied.length, migrationCountOnDisk());
    } finally {
      await second.close();
      await second.close(); // closing twice is harmless
    }
  });
});
