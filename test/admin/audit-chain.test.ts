/**
 * The audit log's hash chain (src/db/audit.ts): intact after sequential and concurrent writes,
 * and broken at the right entry after an UPDATE, a DELETE or an INSERT behind its back.
 * Runs on PGlite in memory and on a throwaway PostgreSQL 15.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { asc, eq, sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config/index.js';
import { auditEntryHash, canonicalJson, DrizzleAuditLog, GENESIS_HASH } from '../../src/db/audit.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { auditLog } from '../../src/db/schema.js';
import { fixedClock } from '../../src/shared/clock.js';
import { postgresBinDir, requirePostgresOrSkip, startPostgres, type RunningPostgres } from '../support/postgres.js';

describe('canonicalJson', () => {
  it('sorts keys recursively and normalises like a JSON column', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    assert.equal(canonicalJson({ a: undefined, d: new Date('2024-01-01T00:00:00Z') }), '{"d":"2024-01-01T00:00:00.000Z"}');
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson(undefined), 'null');
  });

  it('hash = SHA-256(prev || canonical JSON), checked with an independent computation', () => {
    const at = new Date('2024-05-01T10:00:00Z');
    const h = auditEntryHash(GENESIS_HASH, { at, actor: 'a', action: 'x.y', subject: null, detail: { k: 'v' } });
    const want = createHash('sha256')
      .update(GENESIS_HASH + '{"action":"x.y","actor":"a","at":"2024-05-01T10:00:00.000Z","detail":{"k":"v"},"subject":null}')
      .digest('hex');
    assert.equal(h, want);
  });
});

function chainSuite(get: () => Database): void {
  it('chains entries and verifies an intact log', async () => {
    const log = new DrizzleAuditLog(get().db, fixedClock('2024-05-01T10:00:00.123Z'));
    assert.deepEqual(await log.verifyChain(), { ok: true, entries: 0 });
    await log.record({ actor: 'system', action: 'test.one' });
    await log.record({ actor: 'alice@example.com', action: 'test.two', subject: 'bob@example.com', detail: { z: 1, a: [1, 'ü'], nested: { y: true, x: null } } });
    const rows = await get().db.select().from(auditLog).orderBy(asc(auditLog.id));
    assert.equal(rows.length, 2);
    assert.equal(rows[0]!.prevHash, GENESIS_HASH);
    assert.equal(rows[1]!.prevHash, rows[0]!.hash);
    assert.match(rows[1]!.hash!, /^[0-9a-f]{64}$/);
    assert.deepEqual(await log.verifyChain(), { ok: true, entries: 2 });
  });

  it('keeps the chain intact under concurrent writers', async () => {
    const log = new DrizzleAuditLog(get().db);
    await Promise.all(Array.from({ length: 25 }, (_, i) => log.record({ actor: `w${i}`, action: 'test.concurrent', detail: { i } })));
    const status = await log.verifyChain();
    assert.deepEqual(status, { ok: true, entries: 27 });
    const page = await log.page({ limit: 5 });
    assert.equal(page.length, 5);
    assert.ok(page[0]!.id > page[4]!.id, 'newest first');
    const older = await log.page({ before: page[4]!.id, limit: 1000 });
    assert.equal(older.length, 22);
  });

  it('shows an UPDATE of an old entry as a break at that entry', async () => {
    const { db } = get();
    const log = new DrizzleAuditLog(db);
    const [second] = await db.select().from(auditLog).orderBy(asc(auditLog.id)).offset(1).limit(1);
    await db.update(auditLog).set({ detail: { z: 2, a: [1, 'ü'], nested: { y: true, x: null } } }).where(eq(auditLog.id, second!.id));
    const status = await log.verifyChain();
    assert.equal(status.ok, false);
    assert.ok(!status.ok && status.brokenAt === second!.id, JSON.stringify(status));
    assert.ok(!status.ok && /changed/.test(status.reason));
    // Putting the original content back heals it (the hash covers the content, nothing else).
    await db.update(auditLog).set({ detail: second!.detail }).where(eq(auditLog.id, second!.id));
    assert.equal((await log.verifyChain()).ok, true);
  });

  it('shows a DELETE as a break at the next entry, and a row written around record() as a break', async () => {
    const { db } = get();
    const log = new DrizzleAuditLog(db);
    const rows = await db.select().from(auditLog).orderBy(asc(auditLog.id));
    const victim = rows[5]!;
    await db.delete(auditLog).where(eq(auditLog.id, victim.id));
    const status = await log.verifyChain();
    assert.ok(!status.ok && status.brokenAt === rows[6]!.id, JSON.stringify(status));
    await db.insert(auditLog).values({ ...victim }); // restore the same row (same id)
    assert.equal((await log.verifyChain()).ok, true);

    // Even a re-hashed changed entry breaks the link of its successor.
    const target = rows[3]!;
    const forged = { ...target, actor: 'mallory' };
    await db.update(auditLog).set({ actor: 'mallory', hash: auditEntryHash(target.prevHash!, forged) }).where(eq(auditLog.id, target.id));
    const s2 = await log.verifyChain();
    assert.ok(!s2.ok && s2.brokenAt === rows[4]!.id, JSON.stringify(s2));
    await db.update(auditLog).set({ actor: target.actor, hash: target.hash }).where(eq(auditLog.id, target.id));

    await db.insert(auditLog).values({ actor: 'intruder', action: 'test.sneaked' });
    const [sneaked] = await db.select().from(auditLog).where(eq(auditLog.action, 'test.sneaked'));
    const s3 = await log.verifyChain();
    assert.ok(!s3.ok && s3.brokenAt === sneaked!.id && /no hash/.test(s3.reason), JSON.stringify(s3));
    await db.execute(sql`delete from audit_log where action = 'test.sneaked'`);
    assert.equal((await log.verifyChain()).ok, true);
  });
}

describe('audit chain: PGlite in memory', () => {
  let database: Database | undefined;
  before(async () => {
    database = await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true });
  });
  after(async () => {
    await database?.close();
  });
  chainSuite(() => database!);
});

if (!postgresBinDir()) {
  describe('audit chain: PostgreSQL 15', () => {
    it('needs the PostgreSQL server binaries', (t) => {
      requirePostgresOrSkip(t);
    });
  });
} else {
  describe('audit chain: PostgreSQL 15', () => {
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
    chainSuite(() => database!);
  });
}
