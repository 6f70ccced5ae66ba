import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { createApp, type AppDatabase } from '../../src/web/app.js';

const config = loadConfig({ NODE_ENV: 'test' });

function fakeDb(kind: AppDatabase['kind'], up: boolean): AppDatabase {
  return {
    kind,
    ping: async () => {
      if (!up) throw new Error('connection refused');
    },
  };
}

describe('web app', () => {
  it('GET /healthz answers 200 {status: ok, db: kind}', async () => {
    for (const kind of ['pglite', 'postgres'] as const) {
      const res = await createApp({ db: fakeDb(kind, true), config }).request('/healthz');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await res.json(), { status: 'ok', db: kind });
    }
  });

  it('GET /healthz answers 503 when the database does not answer', async () => {
    const res = await createApp({ db: fakeDb('postgres', false), config }).request('/healthz');
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: 'error', db: 'postgres' });
  });

  it('answers unknown paths with a JSON 404', async () => {
    const res = await createApp({ db: fakeDb('pglite', true), config }).request('/nope');
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: { code: 'http.not_found', message: 'Not found: nothing is served at GET /nope; check the address' } });
  });
});
