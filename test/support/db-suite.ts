/**
 * Behaviour every database backend must show. Run against PGlite (test/db/pglite.test.ts) and a
 * throwaway PostgreSQL (test/db/postgres.test.ts). Call inside a describe() whose `before`
 * opened the database; `get()` returns it.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asc, eq } from 'drizzle-orm';
import { bigint, pgSchema, serial, text } from 'drizzle-orm/pg-core';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { DrizzleMessageLog } from '../../src/db/message-log.js';
import { drizzleQuery } from '../../src/db/raw.js';
import type { MessageLogEntry } from '../../src/mail/ports.js';
import { MIGRATIONS_FOLDER, type Database } from '../../src/db/connection.js';
import { auditLog, certificates, messageLog, settings } from '../../src/db/schema.js';
import { AppError } from '../../src/shared/errors.js';
import { fixedClock } from '../../src/shared/clock.js';

// Catalog and migrator tables described to drizzle, so that queries look the same on both drivers.
const infoSchema = pgSchema('information_schema');
export const infoTables = infoSchema.table('tables', {
  tableSchema: text('table_schema'),
  tableName: text('table_name'),
});
const drizzleSchema = pgSchema('drizzle');
export const drizzleMigrations = drizzleSchema.table('__drizzle_migrations', {
  id: serial('id'),
  hash: text('hash'),
  createdAt: bigint('created_at', { mode: 'number' }),
});
const pgCatalog = pgSchema('pg_catalog');
const pgConstraint = pgCatalog.table('pg_constraint', { conname: text('conname') });

export function migrationCountOnDisk(): number {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

/** Postgres error code (SQLSTATE) of an error thrown through drizzle, whichever driver. */
function sqlState(e: unknown): string | undefined {
  for (let cur: unknown = e, i = 0; cur && i < 5; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

async function rejectsWithSqlState(p: Promise<unknown>, state: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.equal(sqlState(e), state, `expected SQLSTATE ${state}, got ${sqlState(e)} (${String(e)})`);
    return;
  }
  assert.fail(`expected SQLSTATE ${state}, but the statement succeeded`);
}

const FP_A = 'a'.repeat(64);
const FP_B = 'b'.repeat(64);

export function databaseSuite(get: () => Database): void {
  it('applies every migration in drizzle/ and creates the tables', async () => {
    const { db } = get();
    const applied = await db.select().from(drizzleMigrations);
    assert.ok(migrationCountOnDisk() >= 1);
    assert.equal(applied.length, migrationCountOnDisk());
    assert.equal(readdirSync(MIGRATIONS_FOLDER).filter((f) => f.endsWith('.sql')).length, migrationCountOnDisk());

    const tables = await db.select({ name: infoTables.tableName }).from(infoTables).where(eq(infoTables.tableSchema, 'public'));
    const names = tables.map((t) => t.name).sort();
    for (const t of ['audit_log', 'certificates', 'settings']) assert.ok(names.includes(t), `missing table ${t}: ${names.join(',')}`);

    const constraints = (await db.select({ name: pgConstraint.conname }).from(pgConstraint)).map((c) => c.name);
    assert.ok(constraints.includes('certificates_fingerprint_sha256_unique'));
  });

  it('pings', async () => {
    await get().ping();
  });

  it('records audit entries and reads them back newest first', async () => {
    const { db } = get();
    const log = new DrizzleAuditLog(db, fixedClock('2024-05-01T10:00:00Z'));
    await log.record({ actor: 'system', action: 'test.first' });
    await log.record({
      actor: 'alice@example.com',
      action: 'test.second',
      subject: 'bob@example.com',
      detail: { reason: 'unit test', n: 2, nested: { ok: true }, text: 'üñï "quoted"' },
    });
    const recent = await log.recent(2);
    assert.equal(recent.length, 2);
    const [second, first] = recent;
    assert.equal(second!.action, 'test.second');
    assert.equal(second!.actor, 'alice@example.com');
    assert.equal(second!.subject, 'bob@example.com');
    assert.deepEqual(second!.detail, { reason: 'unit test', n: 2, nested: { ok: true }, text: 'üñï "quoted"' });
    assert.ok(second!.at instanceof Date);
    assert.equal(second!.at.toISOString(), '2024-05-01T10:00:00.000Z');
    assert.equal(first!.action, 'test.first');
    assert.equal(first!.subject, null);
    assert.equal(first!.detail, null);
    assert.ok(second!.id > first!.id);

    assert.equal((await log.recent(1))[0]!.action, 'test.second');
  });

  it('lets the database fill in the audit timestamp by default', async () => {
    const { db } = get();
    const before = Date.now();
    await db.insert(auditLog).values({ actor: 'system', action: 'test.default_at' });
    const [row] = await db.select().from(auditLog).where(eq(auditLog.action, 'test.default_at'));
    assert.ok(row);
    assert.ok(Math.abs(row.at.getTime() - before) < 60_000, `at=${row.at.toISOString()}`);
  });

  it('refuses bad audit input with AppErrors', async () => {
    const log = new DrizzleAuditLog(get().db);
    for (const limit of [0, -1, 1.5, 1001, Number.NaN]) {
      await assert.rejects(log.recent(limit), (e: unknown) => e instanceof AppError && e.code === 'audit.bad_limit');
    }
    await assert.rejects(
      log.record({ actor: '', action: 'x' }),
      (e: unknown) => e instanceof AppError && e.code === 'audit.bad_entry',
    );
  });

  it('stores a certificate with defaults, bytea and jsonb round-tripping', async () => {
    const { db } = get();
    const der = new Uint8Array([0x30, 0x82, 0x00, 0xff, 0x00, 0x7f, 0x80]);
    const [row] = await db
      .insert(certificates)
      .values({
        fingerprintSha256: FP_A,
        email: 'Alice.Smith@example.com',
        source: 'uploaded',
        der,
        notAfter: new Date('2030-01-01T00:00:00Z'),
        capabilities: { ciphers: ['aes256-gcm', 'aes128-cbc'] },
      })
      .returning();
    assert.ok(row);
    assert.match(row.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(row.status, 'active');
    assert.ok(row.createdAt instanceof Date);
    assert.ok(row.updatedAt instanceof Date);

    const [back] = await db.select().from(certificates).where(eq(certificates.fingerprintSha256, FP_A));
    assert.ok(back);
    assert.equal(back.email, 'Alice.Smith@example.com');
    assert.ok(back.der instanceof Uint8Array);
    assert.equal(Object.getPrototypeOf(back.der), Uint8Array.prototype);
    assert.deepEqual([...back.der], [...der]);
    assert.deepEqual(back.capabilities, { ciphers: ['aes256-gcm', 'aes128-cbc'] });
    assert.equal(back.notAfter?.toISOString(), '2030-01-01T00:00:00.000Z');
  });

  it('enforces the unique fingerprint', async () => {
    const { db } = get();
    await rejectsWithSqlState(
      db.insert(certificates).values({ fingerprintSha256: FP_A, email: 'other@example.com', source: 'issued' }),
      '23505',
    );
    const rows = await db.select().from(certificates).where(eq(certificates.fingerprintSha256, FP_A));
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.email, 'Alice.Smith@example.com');
  });

  it('enforces source, status, e-mail and fingerprint checks', async () => {
    const { db } = get();
    const ok = { fingerprintSha256: FP_B, email: 'b@example.com', source: 'harvested' as const };
    await rejectsWithSqlState(db.insert(certificates).values({ ...ok, source: 'stolen' as never }), '23514');
    await rejectsWithSqlState(db.insert(certificates).values({ ...ok, status: 'lost' as never }), '23514');
    await rejectsWithSqlState(db.insert(certificates).values({ ...ok, email: 'b@Example.COM' }), '23514');
    await rejectsWithSqlState(db.insert(certificates).values({ ...ok, email: 'no-at-sign' }), '23514');
    await rejectsWithSqlState(db.insert(certificates).values({ ...ok, fingerprintSha256: 'AB:CD' }), '23514');
    await db.insert(certificates).values(ok);
    const rows = await db.select().from(certificates).orderBy(asc(certificates.fingerprintSha256));
    assert.deepEqual(
      rows.map((r) => r.fingerprintSha256),
      [FP_A, FP_B],
    );
  });

  it('updates updated_at on update', async () => {
    const { db } = get();
    const [before] = await db.select().from(certificates).where(eq(certificates.fingerprintSha256, FP_B));
    await new Promise((r) => setTimeout(r, 20));
    const [after] = await db
      .update(certificates)
      .set({ status: 'revoked' })
      .where(eq(certificates.fingerprintSha256, FP_B))
      .returning();
    assert.equal(after!.status, 'revoked');
    assert.ok(after!.updatedAt.getTime() > before!.updatedAt.getTime());
  });

  it('stores settings as jsonb keyed by text', async () => {
    const { db } = get();
    await db.insert(settings).values({ key: 'policy', value: { encrypt: 'always', domains: ['example.com'] } });
    await rejectsWithSqlState(db.insert(settings).values({ key: 'policy', value: 1 }), '23505');
    await db
      .insert(settings)
      .values({ key: 'policy', value: { encrypt: 'never' } })
      .onConflictDoUpdate({ target: settings.key, set: { value: { encrypt: 'never' } } });
    const [row] = await db.select().from(settings).where(eq(settings.key, 'policy'));
    assert.deepEqual(row?.value, { encrypt: 'never' });
  });

  for (const via of ['the driver', 'drizzle'] as const) {
    it(`writes message-log rows in batches (through ${via}): ids in the entries' order, nulls, odd text and one-row batches kept exactly`, async () => {
      const { db } = get();
      const store = new DrizzleMessageLog(db, via === 'drizzle' ? drizzleQuery(db) : undefined);
      const odd = `quote ' double " back \\ slash, tab \t, ünïcödé 日本, emoji \u{1F4E7}, $1 and %s`;
      const entry = (i: number): MessageLogEntry => ({
        receivedAt: new Date(Date.UTC(2026, 11, 6, 9, 30, i, 123)),
        reference: i === 1 ? null : i === 3 ? 'NULL' : i === 4 ? `{a,"b"} \\ ${i}` : `ref-${i}`,
        sender: i === 2 ? '' : i === 5 ? `"odd\\"@int.test` : `s${i}@int.test`,
        recipients: [{ address: `r${i}@ext.test`, outcome: 'encrypted', fingerprint: FP_A, algorithms: 'aes256-cbc|rsa', reason: `${odd} ${i}` }],
        sizeIn: 100 + i,
        sizeOut: i === 3 ? null : 2000 + i,
        durationMs: i === 4 ? null : i,
        result: i === 5 ? 'tempfail' : 'accepted',
        smtpReply: i === 6 ? null : `250 2.6.0 Ok: ${odd} ${i}`,
      });
      const before = (await store.page({ limit: 1 }))[0]?.id ?? 0;
      await store.insertMany(Array.from({ length: 7 }, (_, i) => entry(i)));
      await store.insertMany([entry(7)]);
      await store.insertMany([]);
      const rows = (await store.page({ limit: 20 })).filter((r) => r.id > before).reverse();
      assert.equal(rows.length, 8);
      for (const [i, r] of rows.entries()) {
        const { id, ...stored } = r;
        assert.ok(id > before);
        assert.deepEqual(stored, entry(i), `row ${i}`);
      }
    });
  }

  it('stores a message-log entry once when its batch is written again (the same key), and keyless entries every time', async () => {
    const { db } = get();
    const store = new DrizzleMessageLog(db);
    const entry = (i: number, key?: string): MessageLogEntry => ({
      receivedAt: new Date(Date.UTC(2026, 11, 7, 1, 0, i)),
      reference: `retry-${i}`,
      sender: 'retry@int.test',
      recipients: [{ address: `r${i}@ext.test`, outcome: 'encrypted', reason: 'test' }],
      sizeIn: i,
      sizeOut: i,
      durationMs: i,
      result: 'accepted',
      smtpReply: '250 ok',
      ...(key ? { key } : {}),
    });
    const keys = Array.from({ length: 4 }, () => globalThis.crypto.randomUUID());
    const count = async () => (await db.select().from(messageLog).where(eq(messageLog.sender, 'retry@int.test'))).length;
    await store.insertMany([entry(0, keys[0]), entry(1, keys[1])]);
    // the same batch again (its first write committed, its reply was lost), then one that overlaps
    await store.insertMany([entry(0, keys[0]), entry(1, keys[1])]);
    await store.insertMany([entry(1, keys[1]), entry(2, keys[2]), entry(3, keys[3])]);
    assert.equal(await count(), 4);
    const rows = await db.select().from(messageLog).where(eq(messageLog.sender, 'retry@int.test')).orderBy(messageLog.id);
    assert.deepEqual(rows.map((r) => [r.reference, r.entryKey]), keys.map((k, i) => [`retry-${i}`, k]));
    // entries without a key (as written before keys existed) are not deduplicated
    await store.insertMany([entry(9), entry(9)]);
    assert.equal(await count(), 6);
  });
}
