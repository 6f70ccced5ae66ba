/**
 * PickupService over PGlite and a throwaway PostgreSQL: what lands in the database is encrypted (no plaintext in the blob or
 * the row), a wrong master key cannot open it, revoking and the expiry job really delete the blob
 * row (injected clock), wrong passwords lock, a code proves the mailbox and that proof starts an
 * enrollment without a new code (MailboxProof.reuse, audited, at most 30 days), extensions are
 * capped, and a deposit that cannot notify the sender leaves nothing behind.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { DbChallengeStore } from '../../src/db/challenge-store.js';
import { DbRateLimiter } from '../../src/db/rate-limit.js';
import { OutboxNotifier } from '../../src/db/outbox.js';
import { blobs, pickupAccessLog, pickups } from '../../src/db/schema.js';
import { EnrollmentService } from '../../src/enrollment/service.js';
import { MAX_FAILED_ATTEMPTS, MAX_LIFETIME_DAYS, type PickupService } from '../../src/pickup/service.js';
import { purgeExpired } from '../../src/pickup/expiry.js';
import { DbBlobStore } from '../../src/db/blob-store.js';
import { DrizzlePickupStore } from '../../src/db/pickup-store.js';
import { postgresBinDir, requirePostgresOrSkip, startPostgres, type RunningPostgres } from '../support/postgres.js';
import { MailboxProof, PROOF_REUSE_MS } from '../../src/proof/mailbox.js';
import { AppError } from '../../src/shared/errors.js';
import type { Clock } from '../../src/shared/clock.js';
import { CollectedNotices, createPickup, noticeText, sampleMessage, SECRET_TEXT, source } from './stack.js';

const DAY = 86_400_000;
class TestClock implements Clock {
  t = Date.UTC(2026, 2, 3, 0, 0, 0);
  now() {
    return new Date(this.t);
  }
}
const isErr = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;
const CODE_RE = /([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})/;

function suite(name: string, open: () => Promise<{ database: Database; stop?: () => Promise<void> }>): void {
  describe(`pickup service on ${name}`, () => {
    let database: Database;
    let stop: (() => Promise<void>) | undefined;
    const clock = new TestClock();
    let notices: CollectedNotices;
    let service: PickupService;
    let masterKey: Uint8Array;
    let outbox: OutboxNotifier;
    let proof: MailboxProof;
    let audit: DrizzleAuditLog;

    before(async () => {
      ({ database, stop } = await open());
      notices = new CollectedNotices();
      outbox = new OutboxNotifier(database.db);
      const limiter = new DbRateLimiter(database.db, clock);
      proof = new MailboxProof({ store: new DbChallengeStore(database.db), limiter, notifier: outbox, clock, publicUrl: 'https://gw.example' });
      audit = new DrizzleAuditLog(database.db, clock);
      const refuse = async () => {
        throw new Error('not used');
      };
      const enrollment = new EnrollmentService({ proof, issuer: { check: refuse, issue: refuse }, audit, limiter });
      ({ service, masterKey } = await createPickup({ database, clock, senderNotices: notices, proof, enrollment, limiter }));
    });
    after(async () => {
      await database?.close();
      await stop?.();
    });

    const deposit = (s = service, o: Parameters<typeof sampleMessage>[0] = {}) => {
      const m = sampleMessage(o);
      return s.deposit({ message: source(m.bytes), sender: 'taro@int.test', recipient: 'bob@ext.test', subject: '見積書の送付 (Q3)' }).then((r) => ({ ...r, ...m }));
    };

    it('stores the message encrypted: neither the blob nor the row holds any of it; the notices carry links, not content', async () => {
      const r = await deposit();
      const [row] = await database.db.select().from(pickups).where(eq(pickups.id, r.pickupId));
      const [blob] = await database.db.select().from(blobs).where(eq(blobs.key, row!.blobKey!));
      assert.ok(blob, 'the blob row exists');
      const stored = Buffer.concat([Buffer.from(blob!.data), Buffer.from(JSON.stringify({ ...row, wrappedKey: Buffer.from(row!.wrappedKey!).toString('hex') }))]);
      for (const needle of [Buffer.from(SECRET_TEXT), Buffer.from('Das Angebot'), Buffer.from(r.attachment.subarray(0, 32)), Buffer.from(r.bytes.subarray(0, 40)), Buffer.from(r.token), Buffer.from(r.senderToken)]) {
        assert.ok(!stored.includes(needle), `no plaintext or token in storage: ${needle.toString('utf8', 0, 30)}`);
      }
      assert.equal(blob!.data.length, r.bytes.length + 29, 'version, IV, ciphertext, tag');
      assert.equal(row!.wrappedKey!.length, 65);
      assert.match(row!.tokenHash, /^[0-9a-f]{64}$/);
      assert.equal(row!.sizeBytes, r.bytes.length);
      assert.equal(row!.expiresAt.getTime(), clock.t + 7 * DAY);

      const notice = Buffer.from(r.noticeMessage).toString('latin1');
      assert.ok(!notice.includes('Das Angebot') && !noticeText(notice).includes('Das Angebot'));
      assert.ok(noticeText(notice).includes(`https://gw.example/pickup/${r.token}`));
      assert.match(notice, /^From: =\?UTF-8\?B\?/m, 'the original From');
      assert.match(notice, /^To: bob@ext\.test\r$/m);
      assert.match(noticeText(notice), /山田 太郎 さんから/);
      assert.match(noticeText(notice), /Subject: 見積書の送付 \(Q3\)/);
      assert.ok(/^[\x00-\x7f]*$/.test(notice), 'the notice is 7-bit');
      const sent = notices.sent.at(-1)!;
      assert.equal(sent.to, 'taro@int.test');
      assert.ok(noticeText(sent.message).includes(`https://gw.example/pickup/status/${r.senderToken}`));
      assert.ok(!noticeText(sent.message).includes(r.token), 'the sender does not get the recipient link');
      assert.deepEqual(await service.status((await service.find(r.token))!).then((s) => s.log.map((e) => e.action)), ['created']);
    });

    it('hides the subject from the recipient notice by policy (never from the sender)', async () => {
      const { service: hidden } = await createPickup({ database, clock, senderNotices: notices, masterKey, showSubject: false });
      const r = await deposit(hidden);
      const text = noticeText(Buffer.from(r.noticeMessage).toString('latin1'));
      assert.ok(!text.includes('見積書'), text);
      assert.match(text, /山田 太郎 さんから/);
      assert.match(Buffer.from(r.noticeMessage).toString('latin1'), /^Subject: =\?UTF-8\?B\?/m);
      assert.ok(noticeText(notices.sent.at(-1)!.message).includes('見積書の送付 (Q3)'));
    });

    it('opens only with the right master key', async () => {
      const r = await deposit();
      const p = (await service.find(r.token))!;
      const session = { pickupId: p.id, by: 'password' as const, verifiedAt: clock.now(), expiresAt: new Date(clock.t + 60_000) };
      const m = await service.read(p, session);
      assert.equal(m.text?.trim(), SECRET_TEXT);
      const { service: wrong } = await createPickup({ database, clock });
      await assert.rejects(wrong.read(p, session), isErr('pickup.master_key_mismatch'));
      await assert.rejects(service.read(p, undefined), isErr('pickup.not_verified'));
      await assert.rejects(service.read(p, { ...session, pickupId: '00000000-0000-4000-8000-000000000000' }), isErr('pickup.not_verified'));
    });

    it('revoking deletes the blob row and the wrapped key at once', async () => {
      const r = await deposit();
      const p = (await service.find(r.token))!;
      await service.revoke(p, { ip: '192.0.2.7' });
      assert.equal((await database.db.select().from(blobs).where(eq(blobs.key, p.blobKey!))).length, 0, 'blob row gone');
      const after = (await service.find(r.token))!;
      assert.equal(after.blobKey, null);
      assert.equal(after.wrappedKey, null);
      assert.ok(after.deletedAt && after.revokedAt);
      assert.equal(service.state(after), 'revoked');
      const session = { pickupId: p.id, by: 'password' as const, verifiedAt: clock.now(), expiresAt: new Date(clock.t + 60_000) };
      await assert.rejects(service.read(after, session), isErr('pickup.revoked'));
      await assert.rejects(service.original(p, session), isErr('pickup.revoked'), 'also with the row as it was before the revoke');
      const log = (await service.status(after)).log.map((e) => `${e.action}:${e.clientIp ?? ''}`);
      assert.ok(log.includes('revoked:192.0.2.7') && log.includes('deleted:'), log.join(' '));
    });

    it('the expiry job (purgeExpired, called directly) deletes expired content, and only that (injected clock)', async () => {
      const purge = () => purgeExpired({ store: new DrizzlePickupStore(database.db), blobs: new DbBlobStore(database.db), clock });
      const start = clock.t;
      const a = await deposit();
      clock.t += DAY;
      const b = await deposit();
      const keyOf = async (token: string) => (await service.find(token))!.blobKey!;
      const [ka, kb] = [await keyOf(a.token), await keyOf(b.token)];
      const blobExists = async (k: string) => (await database.db.select({ k: blobs.key }).from(blobs).where(eq(blobs.key, k))).length === 1;
      clock.t = start + 7 * DAY - 1;
      await purge();
      assert.ok((await blobExists(ka)) && (await blobExists(kb)), 'nothing expired yet');
      clock.t = start + 7 * DAY;
      assert.ok((await purge()) >= 1);
      assert.equal(await blobExists(ka), false, 'the first is deleted');
      assert.equal(await blobExists(kb), true, 'the second is not due');
      const pa = (await service.find(a.token))!;
      assert.equal(service.state(pa), 'expired');
      assert.equal(pa.wrappedKey, null);
      assert.ok((await service.status(pa)).log.some((e) => e.action === 'deleted' && e.detail?.reason === 'expired'));
      clock.t = start + 8 * DAY;
      await service.purge();
      assert.equal(await blobExists(kb), false);
      assert.equal(await purge(), 0, 'nothing left to do');
      clock.t = start;
    });

    it('out-of-band password: wrong tries are counted and lock the pickup; the sender unlocks', async () => {
      const { service: pw } = await createPickup({ database, clock, senderNotices: notices, masterKey, mode: 'password' });
      const r = await deposit(pw);
      assert.match(r.password!, /^[2-9A-Z]{4}(-[2-9A-Z]{4}){3}$/);
      assert.ok(noticeText(notices.sent.at(-1)!.message).includes(r.password!), 'the sender gets the password');
      assert.ok(!Buffer.from(r.noticeMessage).toString('latin1').includes(r.password!.slice(0, 4) + '-'), 'the recipient does not');
      assert.match(noticeText(Buffer.from(r.noticeMessage).toString('latin1')), /パスワード/);
      let p = (await pw.find(r.token))!;
      await assert.rejects(pw.verifyPassword(p, 'AAAA-BBBB-CCCC-DDDD'), (e) => isErr('pickup.wrong_password')(e) && (e as AppError).detail?.attemptsLeft === MAX_FAILED_ATTEMPTS - 1);
      for (let i = 1; i < MAX_FAILED_ATTEMPTS - 1; i++) await assert.rejects(pw.verifyPassword((await pw.find(r.token))!, 'wrong'), isErr('pickup.wrong_password'));
      await assert.rejects(pw.verifyPassword((await pw.find(r.token))!, 'wrong'), isErr('pickup.locked'));
      p = (await pw.find(r.token))!;
      assert.equal(pw.state(p), 'locked');
      await assert.rejects(pw.verifyPassword(p, r.password!), isErr('pickup.locked'), 'even the right password');
      await pw.unlock(p);
      p = (await pw.find(r.token))!;
      const s = await pw.verifyPassword(p, r.password!.toLowerCase().replace(/-/g, ' '));
      assert.equal(s.by, 'password');
      assert.equal((await pw.read(p, s)).text?.trim(), SECRET_TEXT);
      const actions = (await pw.status(p)).log.map((e) => e.action);
      assert.equal(actions.filter((a) => a === 'verify_failed').length, MAX_FAILED_ATTEMPTS);
      assert.ok(actions.includes('unlocked') && actions.includes('verified') && actions.includes('viewed'));
    });

    it('a mailed code proves the mailbox; that proof starts an enrollment without a new code (audited, 30 days at most)', async () => {
      const r = await deposit();
      const p = (await service.find(r.token))!;
      const { challengeId } = await service.requestCode(p, r.token, { ip: '192.0.2.8', locale: 'ja' });
      const mail = (await outbox.recent(5)).find((m) => m.to === 'bob@ext.test')!;
      assert.ok(mail.text.includes(`https://gw.example/pickup/${r.token}?challenge=${challengeId}&code=`), mail.text);
      const code = CODE_RE.exec(mail.text)![1]!;
      await assert.rejects(service.verifyCode(p, challengeId, 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA'), isErr('proof.wrong_code'));
      assert.equal((await service.find(r.token))!.failedAttempts, 1);
      const session = await service.verifyCode(p, challengeId, code.toLowerCase(), { ip: '192.0.2.8' });
      assert.equal(session.challengeId, challengeId);
      await assert.rejects(service.verifyCode(p, challengeId, code), isErr('proof.used'), 'a code works once');

      const before = (await outbox.recent(100)).length;
      const href = await service.startEnrollment(p, session, { ip: '192.0.2.8', locale: 'ja' });
      const m = /^\/enroll\?challenge=([0-9a-f-]{36})&code=([A-Z0-9-]+)&lang=ja$/.exec(href);
      assert.ok(m, href);
      assert.equal((await outbox.recent(100)).length, before, 'no new code was mailed');
      const v = await proof.verify(m[1]!, decodeURIComponent(m[2]!));
      assert.equal(v.purpose, 'enroll');
      assert.equal(v.address, 'bob@ext.test');
      assert.equal(v.payload?.provenBy, challengeId);
      const entry = (await audit.recent(20)).find((e) => e.action === 'enroll.started_from_proof')!;
      assert.equal(entry.subject, m[1]);
      assert.equal(entry.detail?.via, 'pickup');
      assert.equal(entry.detail?.reference, p.id);
      assert.equal(entry.detail?.provenBy, challengeId);

      // an unconfirmed challenge proves nothing; an old proof is not reused
      const { challengeId: unconfirmed } = await service.requestCode(p, r.token);
      await assert.rejects(proof.reuse({ provenBy: unconfirmed, purpose: 'enroll' }), isErr('proof.not_proven'));
      await assert.rejects(service.startEnrollment(p, { ...session, challengeId: unconfirmed }), isErr('proof.not_proven'));
      const saved = clock.t;
      clock.t += PROOF_REUSE_MS + 1000;
      await assert.rejects(proof.reuse({ provenBy: challengeId, purpose: 'enroll' }), isErr('proof.proof_too_old'));
      clock.t = saved;
      assert.ok((await audit.recent(20)).some((e) => e.action === 'enroll.start_refused' && e.detail?.code === 'proof.not_proven'));
    });

    it('extends by the expiry period, never beyond the maximum lifetime; expired and revoked links cannot be extended', async () => {
      const r = await deposit();
      let p = (await service.find(r.token))!;
      const created = p.createdAt.getTime();
      const next = await service.extend(p);
      assert.equal(next.getTime(), created + 14 * DAY);
      for (let i = 0; i < 20; i++) {
        p = (await service.find(r.token))!;
        try {
          await service.extend(p);
        } catch (e) {
          assert.ok(isErr('pickup.max_lifetime')(e));
          break;
        }
      }
      p = (await service.find(r.token))!;
      assert.equal(p.expiresAt.getTime(), created + MAX_LIFETIME_DAYS * DAY);
      await service.revoke(p);
      await assert.rejects(service.extend((await service.find(r.token))!), isErr('pickup.revoked'));
    });

    it('a deposit whose sender notice cannot be delivered leaves nothing behind (the worker answers 451)', async () => {
      const count = async () => [
        (await database.db.select({ id: pickups.id }).from(pickups)).length,
        (await database.db.select({ k: blobs.key }).from(blobs)).length,
        (await database.db.select({ id: pickupAccessLog.id }).from(pickupAccessLog)).length,
      ];
      const before = await count();
      notices.fail = true;
      await assert.rejects(deposit(), /re-injection refused/);
      notices.fail = false;
      assert.deepEqual(await count(), before);
    });

    it('unknown and malformed tokens find nothing', async () => {
      assert.equal(await service.find('A'.repeat(43)), undefined);
      assert.equal(await service.find('short'), undefined);
      assert.equal(await service.find(`${'A'.repeat(42)}.`), undefined);
      assert.equal(await service.findBySenderToken(randomBytes(32).toString('base64url')), undefined);
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
  test('pickup service on PostgreSQL needs the server binaries', (t) => {
    requirePostgresOrSkip(t);
  });
}
