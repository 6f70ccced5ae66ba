import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DbChallengeStore } from '../../src/db/challenge-store.js';
import { DbRateLimiter } from '../../src/db/rate-limit.js';
import { OutboxNotifier } from '../../src/db/outbox.js';
import { mailboxChallenges } from '../../src/db/schema.js';
import { MailboxProof, MAX_ATTEMPTS, LIMIT_PER_ADDRESS, normalizeCode, parseMailbox } from '../../src/proof/mailbox.js';
import { AppError } from '../../src/shared/errors.js';
import type { Clock } from '../../src/shared/clock.js';
import { postgresBinDir, requirePostgresOrSkip, startPostgres, type RunningPostgres } from '../support/postgres.js';

class TestClock implements Clock {
  t = Date.UTC(2026, 10, 22, 9, 0, 0);
  now() {
    return new Date(this.t);
  }
  advance(ms: number) {
    this.t += ms;
  }
}

const isErr = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;

function suite(name: string, open: () => Promise<{ database: Database; stop?: () => Promise<void> }>) {
  describe(`mailbox proof on ${name}`, () => {
    let database: Database;
    let stop: (() => Promise<void>) | undefined;
    let clock: TestClock;
    let outbox: OutboxNotifier;
    let proof: MailboxProof;
    before(async () => {
      ({ database, stop } = await open());
    });
    after(async () => {
      await database?.close();
      await stop?.();
    });
    const fresh = () => {
      clock = new TestClock();
      outbox = new OutboxNotifier(database.db);
      proof = new MailboxProof({ store: new DbChallengeStore(database.db), limiter: new DbRateLimiter(database.db, clock), notifier: outbox, clock, publicUrl: 'https://gw.example' });
    };
    const lastCode = async (to: string) => {
      const mail = (await outbox.recent(20)).find((m) => m.to === to)!;
      return { mail, code: /([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})/.exec(mail.text)![1]! };
    };

    test('mails a 120-bit code and link to the address only; stores only its hash', async () => {
      fresh();
      const { id } = await proof.start({ address: 'Alice@Example.COM', purpose: 'enroll', locale: 'en', clientIp: '192.0.2.1' });
      const { mail, code } = await lastCode('Alice@example.com');
      assert.equal(normalizeCode(code).length, 24); // 24 x 5 bits
      assert.ok(mail.text.includes(`https://gw.example/enroll?challenge=${id}&code=${encodeURIComponent(code)}`));
      const rows = await database.db.select().from(mailboxChallenges);
      const row = rows.find((r) => r.id === id)!;
      assert.equal(row.address, 'Alice@example.com');
      assert.ok(!JSON.stringify(row).includes(normalizeCode(code)));
      assert.match(row.codeHash, /^[0-9a-f]{64}$/);
    });

    test('a right code gives a 128-bit token that works once; the code cannot be reused', async () => {
      fresh();
      const { id } = await proof.start({ address: 'bob@example.com', purpose: 'enroll' });
      const { code } = await lastCode('bob@example.com');
      const v = await proof.verify(id, code.toLowerCase().replace(/-/g, ' '));
      assert.ok(v.token.length >= 22);
      assert.equal(v.address, 'bob@example.com');
      await assert.rejects(proof.verify(id, code), isErr('proof.used'));
      await assert.rejects(proof.redeem(v.token, 'upload'), isErr('proof.bad_token'));
      const r = await proof.redeem(v.token, 'enroll');
      assert.equal(r.address, 'bob@example.com');
      await assert.rejects(proof.redeem(v.token, 'enroll'), isErr('proof.token_used'));
    });

    test(`wrong codes count down and lock after ${MAX_ATTEMPTS}; then even the right code fails`, async () => {
      fresh();
      const { id } = await proof.start({ address: 'carol@example.com', purpose: 'enroll' });
      const { code } = await lastCode('carol@example.com');
      for (let i = 1; i < MAX_ATTEMPTS; i++) {
        await assert.rejects(proof.verify(id, 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA'), (e: unknown) => isErr('proof.wrong_code')(e) && (e as AppError).detail?.['attemptsLeft'] === MAX_ATTEMPTS - i);
      }
      await assert.rejects(proof.verify(id, 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA'), isErr('proof.locked'));
      await assert.rejects(proof.verify(id, code), isErr('proof.locked'));
    });

    test('codes expire after 24 hours; tokens after an hour', async () => {
      fresh();
      const a = await proof.start({ address: 'dave@example.com', purpose: 'enroll' });
      const { code } = await lastCode('dave@example.com');
      clock.advance(24 * 3600_000 + 1000);
      await assert.rejects(proof.verify(a.id, code), isErr('proof.expired'));
      const b = await proof.start({ address: 'dave2@example.com', purpose: 'enroll' });
      const v = await proof.verify(b.id, (await lastCode('dave2@example.com')).code);
      clock.advance(3600_000 + 1000);
      await assert.rejects(proof.redeem(v.token, 'enroll'), isErr('proof.token_expired'));
    });

    test('rate limits per address (and they reset after the window); unknown ids and bad addresses are clear errors', async () => {
      fresh();
      for (let i = 0; i < LIMIT_PER_ADDRESS; i++) await proof.start({ address: 'erin@example.com', purpose: 'enroll' });
      await assert.rejects(proof.start({ address: 'ERIN@example.com'.replace('ERIN', 'erin'), purpose: 'enroll' }), (e: unknown) => isErr('rate_limited')(e) && (e as AppError).status === 429);
      clock.advance(3600_000 + 1000);
      await proof.start({ address: 'erin@example.com', purpose: 'enroll' });
      await assert.rejects(proof.verify('00000000-0000-0000-0000-000000000000', 'x'), isErr('proof.not_found'));
      await assert.rejects(proof.verify('not-a-uuid', 'x'), isErr('proof.not_found'));
      for (const bad of ['', 'no-at-sign', 'a@b', 'a b@example.com', 'x'.repeat(70) + '@example.com', 42]) {
        await assert.rejects(proof.start({ address: bad as string, purpose: 'enroll' }), isErr('proof.bad_address'), String(bad));
      }
    });

    test('Japanese mail when the locale is ja', async () => {
      fresh();
      await proof.start({ address: 'yamada@example.jp', purpose: 'enroll', locale: 'ja' });
      const { mail } = await lastCode('yamada@example.jp');
      assert.match(mail.subject, /確認コード/);
      assert.match(mail.text, /一度だけ有効/);
    });
  });
}

suite('PGlite', async () => ({ database: await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true }) }));

if (postgresBinDir()) {
  let pg: RunningPostgres;
  suite('PostgreSQL', async () => {
    pg = await startPostgres();
    return { database: await openDatabase(loadConfig({ NODE_ENV: 'test', DATABASE_URL: pg.url })), stop: () => pg.stop() };
  });
} else {
  test('mailbox proof on PostgreSQL needs the server binaries', (t) => {
    requirePostgresOrSkip(t);
  });
}

test('parseMailbox keeps the local part and lower-cases the domain; SmtpUTF8 local parts are accepted', () => {
  assert.equal(parseMailbox(' Kim@Example.COM '), 'Kim@example.com');
  assert.equal(parseMailbox('山田@例え.jp'), '山田@例え.jp');
});
