/** requestScopedDb: each scope reaches its own connection; outside a scope it refuses. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { openDatabase } from '../../src/db/connection.js';
import { DrizzleDirectoryStore } from '../../src/db/directory-store.js';
import { requestScopedDb } from '../../src/db/request-scoped.js';
import { directoryVersion, outbox } from '../../src/db/schema.js';
import type { Db } from '../../src/db/connection.js';

describe('requestScopedDb', () => {
  it('routes every use to the scope’s database, including stores built before any scope, and refuses outside one', async () => {
    const a = await openDatabase({ database: { kind: 'pglite', dataDir: '' } }, { inMemory: true });
    const b = await openDatabase({ database: { kind: 'pglite', dataDir: '' } }, { inMemory: true });
    try {
      const scope = new AsyncLocalStorage<Db>();
      const db = requestScopedDb({ current: () => scope.getStore() });
      const store = new DrizzleDirectoryStore(db); // built once, like the Worker's services
      await b.db.update(directoryVersion).set({ version: 41 });

      assert.equal(await scope.run(a.db, () => store.version()), 0);
      assert.equal(await scope.run(b.db, () => store.version()), 41);
      await scope.run(a.db, () => db.insert(outbox).values({ to: 'x@example.jp', subject: 's', text: 't' }));
      assert.equal((await a.db.select().from(outbox)).length, 1);
      assert.equal((await b.db.select().from(outbox)).length, 0);
      // transactions run on the scope's database too
      await scope.run(b.db, () => db.transaction(async (tx) => void (await tx.insert(outbox).values({ to: 'y@example.jp', subject: 's', text: 't' }))));
      assert.equal((await b.db.select().from(outbox)).length, 1);

      assert.throws(() => db.select(), /outside a request scope/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
