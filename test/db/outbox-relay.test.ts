/**
 * The outbox relay: mail a Workers deployment queued (relay = true) is sent by a server process
 * through a real SMTP server (smtp-server on loopback), once; failures are retried later; development
 * rows and stale rows are never sent; two relays running at once do not send a row twice.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { OutboxNotifier, OutboxRelay } from '../../src/db/outbox.js';
import { outbox } from '../../src/db/schema.js';
import { createSmtpNotifier } from '../../src/notify/smtp.js';
import type { Notifier } from '../../src/notify/index.js';
import { postgresBinDir, POSTGRES_MISSING_MESSAGE, startPostgres } from '../support/postgres.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

const backends: Array<{ name: string; open(): Promise<{ database: Database; stop(): Promise<void> }> }> = [
  {
    name: 'PGlite',
    open: async () => {
      const database = await openDatabase({ database: { kind: 'pglite', dataDir: '' } }, { inMemory: true });
      return { database, stop: () => database.close() };
    },
  },
  {
    name: 'PostgreSQL 15',
    open: async () => {
      const pg = await startPostgres();
      const database = await openDatabase({ database: { kind: 'postgres', url: pg.url } });
      return { database, stop: async () => (await database.close(), await pg.stop()) };
    },
  },
];

const pgMissing = postgresBinDir() ? undefined : POSTGRES_MISSING_MESSAGE;
if (pgMissing && process.env.CI === 'true') throw new Error(`${pgMissing}: required when CI=true`);
if (pgMissing) console.warn(`WARNING: ${pgMissing}`);

for (const backend of backends) describe(`OutboxRelay (${backend.name}, a real SMTP server)`, { skip: backend.name === 'PGlite' ? false : (pgMissing ?? false) }, () => {
  let database: Database;
  let stopDb: () => Promise<void> = async () => {};
  let sink: SmtpSink;
  let smtp: Notifier & { close(): void };
  let now: Date;

  before(async () => {
    ({ database, stop: stopDb } = await backend.open());
    sink = await startSmtpSink();
    smtp = createSmtpNotifier({ url: sink.url, from: 'smimegw <no-reply@gw.example>' });
  });
  after(async () => {
    smtp?.close();
    await sink?.close();
    await stopDb();
  });
  beforeEach(async () => {
    await database.db.delete(outbox);
    sink.mails.length = 0;
    sink.refuse = false;
    now = new Date();
  });

  const relay = (notifier: Notifier = smtp) => new OutboxRelay(database.db, notifier, { now: () => now });

  it('sends queued rows once, marks them sent, and leaves development rows alone', async () => {
    await new OutboxNotifier(database.db, { relay: true }).send({ to: 'hanako@example.jp', subject: 'Your code', text: 'Code: ABCD-EFGH' });
    await new OutboxNotifier(database.db).send({ to: 'dev@example.jp', subject: 'dev only', text: 'not for the wire' });

    assert.deepEqual(await relay().runOnce(), { sent: 1, failed: 0 });
    assert.equal(sink.mails.length, 1);
    assert.deepEqual(sink.mails[0]!.to, ['hanako@example.jp']);
    assert.match(sink.mails[0]!.raw.toString('utf8'), /Subject: Your code/);
    assert.match(sink.mails[0]!.raw.toString('utf8'), /Code: ABCD-EFGH/);
    const rows = await database.db.select().from(outbox);
    const queued = rows.find((r) => r.relay)!;
    assert.ok(queued.sentAt, 'marked sent');
    assert.equal(rows.find((r) => !r.relay)!.sentAt, null);

    now = new Date(now.getTime() + 3_600_000 / 2);
    assert.deepEqual(await relay().runOnce(), { sent: 0, failed: 0 }, 'nothing twice');
    assert.equal(sink.mails.length, 1);
  });

  it('a refused send is retried after a backoff, with the error kept', async () => {
    await new OutboxNotifier(database.db, { relay: true }).send({ to: 'taro@example.jp', subject: 'Reminder', text: 'Renew' });
    sink.refuse = true;
    assert.deepEqual(await relay().runOnce(), { sent: 0, failed: 1 });
    const [row] = await database.db.select().from(outbox);
    assert.equal(row!.attempts, 1);
    assert.match(row!.lastError ?? '', /could not be sent/);
    assert.ok(row!.nextAttemptAt && row!.nextAttemptAt.getTime() > now.getTime(), 'not due again at once');

    sink.refuse = false;
    assert.deepEqual(await relay().runOnce(), { sent: 0, failed: 0 }, 'still backing off');
    now = new Date(row!.nextAttemptAt!.getTime() + 1);
    assert.deepEqual(await relay().runOnce(), { sent: 1, failed: 0 });
    assert.equal(sink.mails.length, 1);
    const [sent] = await database.db.select().from(outbox);
    assert.equal(sent!.attempts, 2);
    assert.ok(sent!.sentAt);
    assert.equal(sent!.lastError, null);
  });

  it('gives up on stale rows and after too many attempts', async () => {
    await new OutboxNotifier(database.db, { relay: true }).send({ to: 'old@example.jp', subject: 'old', text: 'old' });
    await database.db.update(outbox).set({ createdAt: new Date(now.getTime() - 2 * 3_600_000) });
    await new OutboxNotifier(database.db, { relay: true }).send({ to: 'tried@example.jp', subject: 'tried', text: 'tried' });
    await database.db.update(outbox).set({ attempts: 8 }).where(eq(outbox.to, 'tried@example.jp'));
    assert.deepEqual(await relay().runOnce(), { sent: 0, failed: 0 });
    assert.equal(sink.mails.length, 0);
  });

  it('two relays at once: each row goes out exactly once', async () => {
    for (let i = 0; i < 30; i++) await new OutboxNotifier(database.db, { relay: true }).send({ to: `r${i}@example.jp`, subject: `m${i}`, text: 'x' });
    const slow: Notifier = { send: async (m) => (await new Promise((r) => setTimeout(r, 5)), smtp.send(m)) };
    const results = await Promise.all([relay(slow).runOnce(), relay(slow).runOnce(), relay(slow).runOnce()]);
    assert.equal(results.reduce((a, r) => a + r.sent, 0), 30, 'every row sent in this round (3 relays x batch 20)');
    const addresses = sink.mails.flatMap((m) => m.to);
    assert.equal(addresses.length, 30);
    assert.equal(new Set(addresses).size, 30, 'no row sent twice');
    assert.deepEqual(await relay().runOnce(), { sent: 0, failed: 0 });
  });
});
