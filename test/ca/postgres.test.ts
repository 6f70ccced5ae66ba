/** The CA store against a real PostgreSQL 15 (issuance, revocation, CRL numbering, reminders, concurrent init). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { sql } from 'drizzle-orm';
import { join } from 'node:path';
import { Authority } from '../../src/ca/authority.js';
import { DAY_MS } from '../../src/ca/build.js';
import { loadConfig } from '../../src/config/index.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { DrizzleCaStore } from '../../src/db/ca-store.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { AppError } from '../../src/shared/errors.js';
import { postgresBinDir, requirePostgresOrSkip, startPostgres, type RunningPostgres } from '../support/postgres.js';
import { caFixture, opensslCsr, opensslRun, PASSPHRASE, type CaFixture } from './helpers.js';

if (!postgresBinDir()) {
  describe('ca store: PostgreSQL 15', () => {
    it('needs the PostgreSQL server binaries', (t) => {
      requirePostgresOrSkip(t);
    });
  });
} else {
  describe('ca store: PostgreSQL 15', () => {
    let pg: RunningPostgres;
    let database: Database;
    let f: CaFixture;
    before(async () => {
      pg = await startPostgres();
      database = await openDatabase(loadConfig({ NODE_ENV: 'test', DATABASE_URL: pg.url }));
      f = await caFixture({ database });
    });
    after(async () => {
      await f?.close();
      await database?.close();
      await pg?.stop();
    });

    it('is PostgreSQL', () => {
      assert.equal(database.kind, 'postgres');
    });

    it('issues, revokes and lists the revocation on the CRL', async () => {
      const csr = await opensslCsr(f.dir, { key: 'rsa2048', subject: '/CN=pg@example.com' });
      const r = await f.authority.issue({ csr: csr.csrPem, authorizedAddress: 'pg@example.com', actor: 't' });
      assert.equal((await f.authority.findIssued(r.certificate.serialHex))?.status, 'active');
      await f.authority.revoke({ serialHex: r.certificate.serialHex, reason: 'affiliationChanged', actor: 'admin' });
      const path = join(f.dir, 'pg.crl');
      await writeFile(path, await f.authority.crl());
      const text = (await opensslRun(['crl', '-inform', 'DER', '-in', path, '-noout', '-text'])).stdout.toString();
      assert.match(text, new RegExp(`Serial Number: ${r.certificate.serialHex.toUpperCase()}[\\s\\S]*Affiliation Changed`));
    });

    it('CRL numbers stay unique under concurrent regeneration', async () => {
      const store = new DrizzleCaStore(database.db);
      const numbers = await Promise.all(Array.from({ length: 20 }, () => store.nextCrlNumber('issuing')));
      assert.equal(new Set(numbers).size, 20);
      await Promise.all(Array.from({ length: 5 }, () => f.authority.crl('issuing', { force: true })));
      const latest = await store.latestCrl('issuing');
      assert.equal(latest?.number, Math.max(...numbers) + 5);
    });

    it('reminder candidates: due ones only, not after a renewal', async () => {
      const store = new DrizzleCaStore(database.db);
      const csr = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=remind@example.com' });
      const r = await f.authority.issue({ csr: csr.csrPem, authorizedAddress: 'remind@example.com', validityDays: 20, actor: 't' });
      const due = await f.authority.remindersDue(new Date());
      assert.deepEqual(due.filter((d) => d.email === 'remind@example.com').map((d) => d.which), [30]);
      await f.authority.markReminded(r.id, 30);
      assert.deepEqual((await f.authority.remindersDue(new Date())).filter((d) => d.email === 'remind@example.com'), []);
      const later = new Date(r.certificate.notAfter.getTime() - 3 * DAY_MS);
      assert.deepEqual((await store.reminderCandidates(later, 30)).filter((d) => d.email === 'remind@example.com').length, 1);
      const csr2 = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=remind@example.com' });
      await f.authority.issue({ csr: csr2.csrPem, authorizedAddress: 'remind@example.com', actor: 't' });
      assert.deepEqual((await store.reminderCandidates(later, 30)).filter((d) => d.email === 'remind@example.com'), [], 'renewed');
    });

    it('two concurrent inits on an empty database: exactly one wins', async () => {
      // The shared database already has a CA: race on a second, empty one.
      await database.db.execute(sql.raw('create database ca_race'));
      const race = await openDatabase(loadConfig({ NODE_ENV: 'test', DATABASE_URL: pg.url.replace(/\/postgres$/, '/ca_race') }));
      try {
        const make = () => new Authority({ store: new DrizzleCaStore(race.db), audit: new DrizzleAuditLog(race.db), publicUrl: 'http://x.example' });
        const results = await Promise.allSettled([make().init({ passphrase: PASSPHRASE, development: false, rootKey: 'p256', issuingKey: 'p256' }), make().init({ passphrase: PASSPHRASE, development: false, rootKey: 'p256', issuingKey: 'p256' })]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.ok(failure.reason instanceof AppError && failure.reason.code === 'ca.exists', String(failure.reason));
      } finally {
        await race.close();
      }
    });
  });
}
