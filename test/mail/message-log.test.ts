/** The message log: entries written in the background, in batches, kept and retried while the database is away. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DrizzleMessageLog } from '../../src/db/message-log.js';
import { BackgroundMessageLog, type MessageLogStore } from '../../src/mail/message-log.js';
import type { MessageLogEntry } from '../../src/mail/ports.js';

let database: Database;
before(async () => {
  database = await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true });
});
after(async () => {
  await database?.close();
});

const entry = (sender: string, i = 0): MessageLogEntry => ({
  receivedAt: new Date(Date.UTC(2026, 11, 6, 12, 0, 0, i)),
  reference: `ref-${sender}`,
  sender,
  recipients: [{ address: 'bob@ext.test', outcome: 'encrypted', fingerprint: 'ab'.repeat(32), reason: 'test' }],
  sizeIn: 100 + i,
  sizeOut: 1000 + i,
  durationMs: i,
  result: 'accepted',
  smtpReply: `250 2.6.0 Ok ${i}`,
});

/** A store that counts statements and fails while `down`. */
function flaky(inner: MessageLogStore) {
  const s = {
    down: false,
    statements: 0,
    rows: [] as number[],
    async insertMany(e: MessageLogEntry[]) {
      s.statements++;
      if (s.down) throw new Error('connection refused');
      s.rows.push(e.length);
      await inner.insertMany(e);
    },
  };
  return s;
}

const memory = (): MessageLogStore & { stored: MessageLogEntry[] } => {
  const stored: MessageLogEntry[] = [];
  return { stored, insertMany: async (e) => void stored.push(...e) };
};

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('message log', () => {
  it('entries recorded within the flush interval go in one statement, each stored exactly (time of receipt included)', async () => {
    const table = new DrizzleMessageLog(database.db);
    const store = flaky(table);
    const log = new BackgroundMessageLog(store, { warn: (m) => assert.fail(m), flushMs: 30 });
    const senders = Array.from({ length: 50 }, (_, i) => `s${i}@int.test`);
    senders.forEach((s, i) => log.record(entry(s, i)));
    assert.equal(store.statements, 0, 'nothing is written on the reply path');
    await wait(300);
    assert.deepEqual(store.rows, [50]);
    const rows = await table.page({ limit: 100 });
    for (const [i, s] of senders.entries()) {
      const r = rows.find((x) => x.sender === s)!;
      const { id, ...stored } = r;
      assert.ok(id > 0);
      assert.deepEqual(stored, entry(s, i));
    }
    // ids follow the order of recording
    const ids = senders.map((s) => rows.find((x) => x.sender === s)!.id);
    assert.deepEqual([...ids].sort((a, b) => a - b), ids);
  });

  it('record() neither waits nor fails while a statement hangs; flush() waits for it; batches are at most batchMax rows', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    const store: MessageLogStore = {
      async insertMany(e) {
        seen.push(e.length);
        await gate;
      },
    };
    const log = new BackgroundMessageLog(store, { warn: () => {}, flushMs: 1, batchMax: 4 });
    for (let i = 0; i < 3; i++) log.record(entry(`a${i}@int.test`));
    await wait(20); // the first statement (3 rows) is in flight and hangs
    for (let i = 0; i < 6; i++) assert.equal(log.record(entry(`b${i}@int.test`)), undefined);
    let flushed = false;
    const f = log.flush().then(() => (flushed = true));
    await wait(20);
    assert.equal(flushed, false);
    release();
    await f;
    assert.deepEqual(seen, [3, 4, 2]);
    assert.equal(log.size, 0);
  });

  it('while the database is away the entries are kept and retried; when it is back they are written once, in order', async () => {
    const mem = memory();
    const store = flaky(mem);
    const warnings: string[] = [];
    const infos: string[] = [];
    const log = new BackgroundMessageLog(store, { warn: (m) => warnings.push(m), info: (m) => infos.push(m), flushMs: 5, retryDelayMs: () => 20 });
    store.down = true;
    log.record(entry('x1@int.test'));
    log.record(entry('x2@int.test'));
    await wait(100);
    assert.ok(store.statements >= 2, `retried: ${store.statements} attempts`);
    assert.equal(log.size, 2);
    assert.match(warnings[0]!, /message log: 2 entries not written yet \(connection refused\); retrying in 0 s/);
    log.record(entry('x3@int.test'));
    store.down = false;
    await wait(100);
    assert.deepEqual(mem.stored.map((e) => e.sender), ['x1@int.test', 'x2@int.test', 'x3@int.test']);
    assert.equal(log.size, 0);
    assert.match(infos.at(-1)!, /written again after \d+ failed attempt/);
    await log.close();
  });

  it('a write that committed although its reply was lost is retried and stored once (each entry has its own key)', async () => {
    const table = new DrizzleMessageLog(database.db);
    let calls = 0;
    const store: MessageLogStore = {
      async insertMany(e) {
        calls++;
        await table.insertMany(e);
        if (calls === 1) throw new Error('connection lost while committing');
      },
    };
    const warnings: string[] = [];
    const log = new BackgroundMessageLog(store, { warn: (m) => warnings.push(m), flushMs: 5, retryDelayMs: () => 20 });
    const recorded = [entry('lost1@int.test', 1), entry('lost2@int.test', 2)];
    for (const e of recorded) log.record(e);
    assert.match(recorded[0]!.key ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(recorded[0]!.key, recorded[1]!.key);
    await wait(150);
    assert.equal(log.size, 0);
    assert.ok(calls >= 2, `retried (${calls} statements)`);
    assert.match(warnings[0]!, /connection lost while committing/);
    const rows = (await table.page({ limit: 100 })).filter((r) => r.sender.startsWith('lost'));
    assert.deepEqual(rows.map((r) => r.sender).sort(), ['lost1@int.test', 'lost2@int.test']);
    await log.close();
  });

  it('above pendingMax the oldest entries go to the diagnostic log (addresses, no content), so memory stays bounded', async () => {
    const store = flaky(memory());
    store.down = true;
    const warnings: string[] = [];
    const log = new BackgroundMessageLog(store, { warn: (m) => warnings.push(m), flushMs: 60_000, pendingMax: 3 });
    for (let i = 0; i < 5; i++) log.record(entry(`o${i}@int.test`));
    assert.equal(log.size, 3);
    const spilled = warnings.filter((w) => w.startsWith('message log entry not stored'));
    assert.equal(spilled.length, 2);
    assert.match(spilled[0]!, /more than 3 entries waiting for the database\): \{"receivedAt":"2026-12-06T12:00:00.000Z","reference":"ref-o0@int.test","sender":"o0@int.test"/);
    await log.close();
  });

  it('close() makes a last attempt; what the database still refuses goes to the diagnostic log, none silently', async () => {
    const store = flaky(memory());
    store.down = true;
    const warnings: string[] = [];
    const log = new BackgroundMessageLog(store, { warn: (m) => warnings.push(m), flushMs: 60_000 });
    log.record(entry('c1@int.test'));
    log.record(entry('c2@int.test'));
    await log.close();
    assert.equal(store.statements, 1);
    assert.equal(log.size, 0);
    const spilled = warnings.filter((w) => w.startsWith('message log entry not stored (the worker stopped while the database did not take it)'));
    assert.deepEqual(spilled.map((w) => JSON.parse(w.slice(w.indexOf('{'))).sender), ['c1@int.test', 'c2@int.test']);
  });
});
