import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { createApp } from '../../src/web/app.js';

describe('web app over a real database', () => {
  const config = loadConfig({ NODE_ENV: 'test' });
  let database: Database | undefined;
  before(async () => {
    database = await openDatabase(config, { inMemory: true });
  });
  after(async () => {
    await database?.close();
  });

  it('GET /healthz pings PGlite, and answers 503 once it is closed', async () => {
    const app = createApp({ db: database!, config });
    const ok = await app.request('/healthz');
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'ok', db: 'pglite' });

    await database!.close();
    const down = await app.request('/healthz');
    assert.equal(down.status, 503);
  });
});
