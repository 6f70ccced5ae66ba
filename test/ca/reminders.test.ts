/** Renewal reminders 30 and 7 days before expiry, once each, through the notifier port. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DAY_MS } from '../../src/ca/build.js';
import { dueReminder } from '../../src/ca/authority.js';
import { renewalLink, sendRenewalReminders, type ReminderNotifier } from '../../src/ca/reminders.js';
import { OutboxNotifier } from '../../src/db/outbox.js';
import type { Clock } from '../../src/shared/clock.js';
import { AppError } from '../../src/shared/errors.js';
import { caFixture, opensslCsr, PUBLIC_URL, type CaFixture } from './helpers.js';

describe('ca renewal reminders', () => {
  let f: CaFixture;
  const start = new Date();
  let now = new Date(start);
  const clock: Clock = { now: () => new Date(now) };
  before(async () => {
    f = await caFixture({ clock });
  });
  after(async () => {
    await f.close();
  });

  async function issue(address: string, days: number) {
    const csr = await opensslCsr(f.dir, { key: 'p256', subject: `/CN=${address}` });
    return f.authority.issue({ csr: csr.csrPem, authorizedAddress: address, validityDays: days, actor: 't' });
  }

  const at = (d: Date) => ({ clock: { now: () => d } });

  it('dueReminder: 30 days, then 7 days, then nothing; nothing after expiry', () => {
    const notAfter = new Date(start.getTime() + 40 * DAY_MS);
    const none = { notAfter, reminded30At: null, reminded7At: null };
    assert.equal(dueReminder(none, start), undefined);
    assert.equal(dueReminder(none, new Date(notAfter.getTime() - 30 * DAY_MS)), 30);
    assert.equal(dueReminder({ ...none, reminded30At: start }, new Date(notAfter.getTime() - 20 * DAY_MS)), undefined);
    assert.equal(dueReminder({ ...none, reminded30At: start }, new Date(notAfter.getTime() - 7 * DAY_MS)), 7);
    assert.equal(dueReminder(none, new Date(notAfter.getTime() - 3 * DAY_MS)), 7, 'a missed 30-day reminder gives way to the 7-day one');
    assert.equal(dueReminder({ ...none, reminded7At: start }, new Date(notAfter.getTime() - 3 * DAY_MS)), undefined);
    assert.equal(dueReminder(none, new Date(notAfter.getTime() + 1000)), undefined);
  });

  it('mails each holder twice (30 and 7 days before), in the outbox, with the renewal link; renewed, revoked and failed ones are handled', async () => {
    const kept = await issue('kate@example.com', 60);
    const renewed = await issue('liam@example.com', 60);
    const revoked = await issue('mia@example.com', 60);
    await f.authority.revoke({ serialHex: revoked.certificate.serialHex, reason: 'superseded', actor: 't' });
    const outbox = new OutboxNotifier(f.database.db);
    const run = (d: Date, notifier: ReminderNotifier = outbox) => sendRenewalReminders({ authority: f.authority, notifier, publicUrl: PUBLIC_URL, ...at(d) });

    assert.deepEqual((await run(start)).sent, [], 'nothing due 60 days out');

    // 29 days before expiry: liam renewed meanwhile (re-keyed); only kate is reminded.
    await issue('liam@example.com', 365);
    now = new Date(kept.certificate.notAfter.getTime() - 29 * DAY_MS);
    const failing: ReminderNotifier = { send: async () => { throw new AppError('notify.failed', 'smtp down', { kind: 'temporary' }); } };
    const failed = await run(now, failing);
    assert.deepEqual(failed.failed.map((r) => [r.email, r.which]), [['kate@example.com', 30]]);
    const first = await run(now);
    assert.deepEqual(first.sent.map((r) => [r.email, r.which]), [['kate@example.com', 30]], 'retried after the failure, sent once');
    assert.deepEqual((await run(now)).sent, [], 'not twice');
    assert.ok(!first.sent.some((r) => r.email === renewed.certificate.emails[0]));

    const mails = await outbox.recent(10);
    assert.equal(mails.length, 1);
    const mail = mails[0]!;
    assert.equal(mail.to, 'kate@example.com');
    assert.match(mail.subject, /有効期限/);
    assert.match(mail.subject, new RegExp(`expires on ${kept.certificate.notAfter.toISOString().slice(0, 10)}`));
    assert.ok(mail.text.includes(renewalLink(PUBLIC_URL, 'kate@example.com')));
    assert.equal(renewalLink(PUBLIC_URL, 'kate@example.com'), 'https://smime.example.test/enroll?renew=kate%40example.com');
    assert.match(mail.text, new RegExp(kept.certificate.serialHex));
    assert.match(mail.text, /Keep your old certificate and key/);

    now = new Date(kept.certificate.notAfter.getTime() - 6 * DAY_MS);
    assert.deepEqual((await run(now)).sent.map((r) => [r.email, r.which]), [['kate@example.com', 7]]);
    assert.deepEqual((await run(now)).sent, []);
    now = new Date(kept.certificate.notAfter.getTime() + DAY_MS);
    assert.deepEqual((await run(now)).sent, [], 'expired: no more reminders');
    assert.equal((await outbox.recent(10)).length, 2);
  });
});
