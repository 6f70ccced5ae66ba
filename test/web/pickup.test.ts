/**
 * The secure-pickup pages over app.request() on PGlite: the code flow from the link to the message
 * (wrong-code, locked, expired and revoked pages in English and Japanese), the session cookie, the
 * sandboxed HTML frame and its CSP, attachments and the .eml byte for byte with safe names, the
 * sender's status page (downloads, access log, revoke, extend, unlock), "Get a certificate" without
 * a new code, cross-site POSTs refused, and 10,000 random tokens: nothing found, throttled.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Context } from 'hono';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { DbChallengeStore } from '../../src/db/challenge-store.js';
import { DbRateLimiter } from '../../src/db/rate-limit.js';
import { OutboxNotifier } from '../../src/db/outbox.js';
import { blobs, rateLimits } from '../../src/db/schema.js';
import { EnrollmentService } from '../../src/enrollment/service.js';
import { MAX_FAILED_ATTEMPTS, type PickupService } from '../../src/pickup/service.js';
import { MailboxProof } from '../../src/proof/mailbox.js';
import type { Clock } from '../../src/shared/clock.js';
import { createApp } from '../../src/web/app.js';
import { CollectedNotices, createPickup, PNG_1x1, sampleMessage, SECRET_TEXT, source } from '../pickup/stack.js';

const DAY = 86_400_000;
const BASE = 'http://127.0.0.1:8080';
const CODE_RE = /([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})/;

class TestClock implements Clock {
  t = Date.UTC(2026, 2, 3, 0, 0, 0);
  now() {
    return new Date(this.t);
  }
}

interface Req {
  method?: string;
  form?: Record<string, string>;
  cookie?: string;
  lang?: 'en' | 'ja';
  ip?: string;
  origin?: string | null;
}

describe('secure pickup pages', () => {
  let database: Database;
  const clock = new TestClock();
  let app: ReturnType<typeof createApp>;
  let service: PickupService;
  let passwordService: PickupService;
  let outbox: OutboxNotifier;
  let notices: CollectedNotices;
  const guesses = { limit: 25, windowMs: 10 * 60_000 };

  before(async () => {
    const config = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: BASE });
    database = await openDatabase(config, { inMemory: true });
    outbox = new OutboxNotifier(database.db);
    notices = new CollectedNotices();
    const limiter = new DbRateLimiter(database.db, clock);
    const proof = new MailboxProof({ store: new DbChallengeStore(database.db), limiter, notifier: outbox, clock, publicUrl: BASE });
    const refuse = async () => {
      throw new Error('not used');
    };
    const enrollment = new EnrollmentService({ proof, issuer: { check: refuse, issue: refuse }, audit: new DrizzleAuditLog(database.db, clock), limiter });
    const made = await createPickup({ database, clock, publicUrl: BASE, senderNotices: notices, proof, enrollment, limiter });
    service = made.service;
    passwordService = (await createPickup({ database, clock, publicUrl: BASE, senderNotices: notices, masterKey: made.masterKey, mode: 'password' })).service;
    app = createApp({
      db: database,
      config,
      enrollment,
      pickup: { pickup: service, limiter, guesses, enrollment: true },
      clientIp: (c: Context) => c.req.header('x-test-client-ip') ?? '192.0.2.10',
    });
  });
  after(async () => {
    await database?.close();
  });

  async function request(path: string, o: Req = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/html', 'accept-language': o.lang === 'ja' ? 'ja' : 'en', 'x-test-client-ip': o.ip ?? '192.0.2.10' };
    if (o.cookie) headers.cookie = o.cookie;
    let body: string | undefined;
    if (o.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(o.form).toString();
      if (o.origin !== null) headers.origin = o.origin ?? BASE;
    }
    return app.request(`${BASE}${path}`, { method: o.method ?? (o.form ? 'POST' : 'GET'), headers, ...(body !== undefined ? { body } : {}) });
  }

  async function deposit(s: PickupService = service, o: Parameters<typeof sampleMessage>[0] = {}, recipient = 'bob@ext.test') {
    const m = sampleMessage(o);
    const r = await s.deposit({ message: source(m.bytes), sender: 'taro@int.test', recipient, subject: '見積書の送付 (Q3)' });
    return { ...r, ...m };
  }

  /** Requests a code, reads it from the outbox, and verifies; returns the session cookie. */
  async function verify(token: string, lang: 'en' | 'ja' = 'en'): Promise<string> {
    const sent = await request(`/pickup/${token}/code`, { form: {}, lang });
    assert.equal(sent.status, 303);
    const challenge = /challenge=([0-9a-f-]{36})/.exec(sent.headers.get('location')!)![1]!;
    const mail = (await outbox.recent(10)).find((x) => x.text.includes(challenge))!;
    const code = CODE_RE.exec(mail.text)![1]!;
    const ok = await request(`/pickup/${token}/verify`, { form: { challenge, code }, lang });
    assert.equal(ok.status, 303, await ok.text());
    return ok.headers.getSetCookie()[0]!.split(';')[0]!;
  }

  it('an unknown link shows a 404 page in both languages', async () => {
    for (const [lang, text] of [['en', /Link not found/], ['ja', /リンクが見つかりません/]] as const) {
      const res = await request(`/pickup/${randomBytes(32).toString('base64url')}`, { lang, ip: `198.51.100.${lang === 'en' ? 1 : 2}` });
      assert.equal(res.status, 404);
      const html = await res.text();
      assert.match(html, text);
      assert.match(html, new RegExp(`<html lang="${lang}"`));
    }
    assert.equal((await request('/pickup/not-a-token', { ip: '198.51.100.3' })).status, 404);
  });

  it('the code flow: link -> code by mail -> wrong code (both languages) -> message, with the session cookie', async () => {
    const r = await deposit();
    const landing = await request(`/pickup/${r.token}`, { lang: 'ja' });
    assert.equal(landing.status, 200);
    const lhtml = await landing.text();
    assert.match(lhtml, /確認コードを送る/);
    assert.match(lhtml, /b\*\*\*@ext\.test|b\*@ext\.test|b@ext\.test|b\w*\*+\w*@ext\.test/);
    assert.ok(!lhtml.includes(SECRET_TEXT.slice(0, 10)), 'nothing of the content before verification');

    const sent = await request(`/pickup/${r.token}/code`, { form: {}, lang: 'en' });
    assert.equal(sent.status, 303);
    const challenge = /challenge=([0-9a-f-]{36})/.exec(sent.headers.get('location')!)![1]!;
    const mail = (await outbox.recent(10)).find((x) => x.to === 'bob@ext.test' && x.text.includes(challenge))!;
    assert.ok(mail.text.includes(`${BASE}/pickup/${r.token}?challenge=${challenge}&code=`), 'the code mail links back to this pickup');
    const code = CODE_RE.exec(mail.text)![1]!;
    const form = await request(`/pickup/${r.token}?challenge=${challenge}&code=${code}`);
    assert.match(await form.text(), new RegExp(`value="${code}"`), 'the mailed link prefills the code');

    const wrongEn = await request(`/pickup/${r.token}/verify`, { form: { challenge, code: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' }, lang: 'en' });
    assert.equal(wrongEn.status, 403);
    assert.match(await wrongEn.text(), /That code is not right; 4 tries left/);
    const wrongJa = await request(`/pickup/${r.token}/verify`, { form: { challenge, code: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAB' }, lang: 'ja' });
    assert.equal(wrongJa.status, 403);
    const wjHtml = await wrongJa.text();
    assert.match(wjHtml, /コードが正しくありません。あと 3 回試せます。/);
    assert.match(wjHtml, new RegExp(`name="challenge" value="${challenge}"`), 'the code form stays');

    const ok = await request(`/pickup/${r.token}/verify`, { form: { challenge, code } });
    assert.equal(ok.status, 303);
    const setCookie = ok.headers.getSetCookie()[0]!;
    assert.match(setCookie, /^pickup_session=/);
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Strict/i);
    assert.match(setCookie, new RegExp(`Path=/pickup/${r.token}`));
    assert.match(setCookie, /Max-Age=1800/);
    const cookie = setCookie.split(';')[0]!;

    const page = await request(`/pickup/${r.token}`, { cookie });
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /frame-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /見積書の送付 \(Q3\)/);
    assert.match(html, /山田 太郎/);
    assert.ok(html.includes(SECRET_TEXT), 'the text body');
    const frame = /<iframe[^>]*>/.exec(html)![0];
    assert.match(frame, new RegExp(`src="/pickup/${r.token}/html"`));
    assert.match(frame, /sandbox="allow-popups allow-popups-to-escape-sandbox"/);
    assert.doesNotMatch(frame, /allow-scripts|allow-same-origin/);
    assert.match(html, /id="get-certificate"/);

    // another pickup does not accept this cookie
    const other = await deposit();
    const otherPage = await request(`/pickup/${other.token}`, { cookie });
    assert.match(await otherPage.text(), /send-code-form/);
  });

  it('the HTML body: sanitised, in a frame policy that runs no script and loads nothing remote', async () => {
    const r = await deposit();
    const cookie = await verify(r.token);
    const res = await request(`/pickup/${r.token}/html`, { cookie });
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy')!;
    assert.ok(csp.startsWith("default-src 'none'; style-src 'unsafe-inline'; img-src data:"), csp);
    assert.match(csp, /sandbox allow-popups/);
    assert.doesNotMatch(csp, /script-src|allow-scripts|allow-same-origin/);
    assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
    const doc = await res.text();
    assert.ok(doc.includes(SECRET_TEXT));
    for (const bad of [/<script/i, /alert\(/, /onclick/i, /tracker\.example/, /<form/i, /<input/i, /phish\.example/, /javascript:/i]) assert.doesNotMatch(doc, bad);
    assert.ok(doc.includes(`src="data:image/png;base64,${PNG_1x1.toString('base64')}"`), 'the inline cid: image is embedded');
    assert.match(doc, /href="https:\/\/example\.com\/more" target="_blank" rel="noopener noreferrer"/);
    assert.equal((await request(`/pickup/${r.token}/html`)).status, 404, 'not without a session');
  });

  it('attachments and the .eml download byte for byte, under safe names, as passive types', async () => {
    const r = await deposit();
    const cookie = await verify(r.token);
    const page = await (await request(`/pickup/${r.token}`, { cookie })).text();
    const i = Number(/href="\/pickup\/[^/]+\/attachments\/(\d+)"[^>]*download="見積書fdp\.exe"/.exec(page)?.[1]);
    assert.ok(Number.isInteger(i), 'the attachment is listed under its cleaned name');
    const res = await request(`/pickup/${r.token}/attachments/${i}`, { cookie });
    assert.equal(res.status, 200);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), r.attachment);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const cd = res.headers.get('content-disposition')!;
    assert.match(cd, /^attachment; filename="[^"/\\]+"; filename\*=UTF-8''/);
    assert.equal(decodeURIComponent(/filename\*=UTF-8''(\S+)/.exec(cd)![1]!), '見積書fdp.exe', 'no path, no right-to-left override');
    assert.match(/filename="([^"]*)"/.exec(cd)![1]!, /^[\x20-\x7e]+$/);
    assert.match(res.headers.get('content-security-policy')!, /^default-src 'none'/);

    const eml = await request(`/pickup/${r.token}/message.eml`, { cookie });
    assert.equal(eml.status, 200);
    assert.deepEqual(new Uint8Array(await eml.arrayBuffer()), r.bytes);
    assert.equal(eml.headers.get('content-type'), 'message/rfc822');
    assert.match(decodeURIComponent(/filename\*=UTF-8''(\S+)/.exec(eml.headers.get('content-disposition')!)![1]!), /^見積書の送付 \(Q3\)\.eml$/);

    assert.equal((await request(`/pickup/${r.token}/attachments/99`, { cookie })).status, 404);
    const noSession = await request(`/pickup/${r.token}/attachments/${i}`);
    assert.equal(noSession.status, 303, 'without a session: back to the link');
  });

  it('the sender sees downloads and the access log, and can extend and revoke; a revoked link serves nothing (both languages)', async () => {
    const r = await deposit();
    const cookie = await verify(r.token);
    await request(`/pickup/${r.token}`, { cookie, ip: '203.0.113.5' });
    await request(`/pickup/${r.token}/message.eml`, { cookie, ip: '203.0.113.5' });
    await request(`/pickup/${r.token}/attachments/1`, { cookie, ip: '203.0.113.5' });
    const statusPath = `/pickup/status/${r.senderToken}`;
    let html = await (await request(statusPath)).text();
    assert.match(html, /id="downloads">2</);
    assert.match(html, /data-state="active"/);
    assert.match(html, /data-action="eml_downloaded"[\s\S]*?Recipient confirmed: yes · Client address: 203\.0\.113\.5/);
    assert.match(html, /data-action="verified"/);
    assert.match(html, /data-action="created"/);

    const extended = await request(`${statusPath}/extend`, { form: {} });
    assert.equal(extended.status, 200);
    assert.match(await extended.text(), /Now available until/);

    const revoked = await request(`${statusPath}/revoke`, { form: {}, lang: 'ja' });
    assert.match(await revoked.text(), /リンクを取り消し、内容を削除しました/);
    html = await (await request(statusPath)).text();
    assert.match(html, /data-state="revoked"/);
    assert.doesNotMatch(html, /id="revoke"/);

    for (const [lang, text] of [['en', /The sender withdrew this message/], ['ja', /送信者がこのメッセージを取り消しました/]] as const) {
      const res = await request(`/pickup/${r.token}`, { cookie, lang });
      assert.equal(res.status, 410);
      assert.match(await res.text(), text);
    }
    for (const path of [`/pickup/${r.token}/attachments/1`, `/pickup/${r.token}/message.eml`, `/pickup/${r.token}/html`]) {
      const res = await request(path, { cookie });
      assert.equal(res.status, 410, path);
      assert.doesNotMatch(await res.text(), /Das Angebot/);
    }
  });

  it('an expired link shows a clear page in both languages and its content is gone', async () => {
    const r = await deposit();
    const p = (await service.find(r.token))!;
    const saved = clock.t;
    clock.t = p.expiresAt.getTime() + 1;
    for (const [lang, text] of [['en', /This message has expired/], ['ja', /受け取り期限が過ぎました/]] as const) {
      const res = await request(`/pickup/${r.token}`, { lang });
      assert.equal(res.status, 410);
      const html = await res.text();
      assert.match(html, text);
      assert.match(html, /2026/, 'names the expiry date');
    }
    assert.equal((await database.db.select().from(blobs).where(eq(blobs.key, p.blobKey!))).length, 0, 'opening it deleted the content');
    const status = await (await request(`/pickup/status/${r.senderToken}`)).text();
    assert.match(status, /data-state="expired"/);
    assert.match(await (await request(`/pickup/status/${r.senderToken}/extend`, { form: {} })).text(), /expired/);
    clock.t = saved;
  });

  it('wrong passwords lock the link (locked page in both languages) until the sender unlocks it', async () => {
    const r = await deposit(passwordService);
    const landing = await (await request(`/pickup/${r.token}`, { lang: 'en' })).text();
    assert.match(landing, /id="password-form"/);
    let last: Response | undefined;
    for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) last = await request(`/pickup/${r.token}/verify`, { form: { password: `WRONG-${i}` }, lang: i % 2 ? 'ja' : 'en' });
    assert.equal(last!.status, 403);
    for (const [lang, text] of [['en', /This message is locked/], ['ja', /このメッセージはロックされています/]] as const) {
      const res = await request(`/pickup/${r.token}`, { lang });
      assert.equal(res.status, 403);
      assert.match(await res.text(), text);
    }
    const status = await (await request(`/pickup/status/${r.senderToken}`)).text();
    assert.match(status, /data-state="locked"/);
    assert.match(status, new RegExp(`id="failed">${MAX_FAILED_ATTEMPTS}<`));
    await request(`/pickup/status/${r.senderToken}/unlock`, { form: {} });
    const ok = await request(`/pickup/${r.token}/verify`, { form: { password: r.password! } });
    assert.equal(ok.status, 303);
    const page = await (await request(`/pickup/${r.token}`, { cookie: ok.headers.getSetCookie()[0]!.split(';')[0]! })).text();
    assert.ok(page.includes(SECRET_TEXT));
  });

  it('code brute force: a code locks after 5 wrong tries, the link after 10 (pages in both languages)', async () => {
    const r = await deposit(service, {}, 'carol@ext.test');
    const newChallenge = async () => /challenge=([0-9a-f-]{36})/.exec((await request(`/pickup/${r.token}/code`, { form: {} })).headers.get('location')!)![1]!;
    const first = await newChallenge();
    const wrong = (challenge: string, i: number, lang: 'en' | 'ja' = 'en') => request(`/pickup/${r.token}/verify`, { form: { challenge, code: `AAAA-AAAA-AAAA-AAAA-AAAA-AA${String(i).padStart(2, 'A')}` }, lang });
    for (let i = 0; i < 4; i++) assert.equal((await wrong(first, i)).status, 403);
    const fifth = await wrong(first, 4, 'ja');
    assert.match(await fifth.text(), /誤ったコードが多すぎたため、このリクエストはロックされました/);
    const sixth = await wrong(first, 5, 'en');
    assert.match(await sixth.text(), /Too many wrong codes; this request is locked/);
    // the right code of a locked challenge no longer opens anything
    const lockedCode = CODE_RE.exec((await outbox.recent(50)).find((m) => m.text.includes(first))!.text)![1]!;
    assert.equal((await request(`/pickup/${r.token}/verify`, { form: { challenge: first, code: lockedCode } })).status, 403);
    const second = await newChallenge();
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) last = await wrong(second, 10 + i);
    assert.equal(last!.status, 403);
    for (const [lang, text] of [['en', /This message is locked/], ['ja', /このメッセージはロックされています/]] as const) {
      const res = await request(`/pickup/${r.token}`, { lang });
      assert.equal(res.status, 403);
      assert.match(await res.text(), text);
    }
    const p = (await service.find(r.token))!;
    assert.ok(p.lockedAt);
    assert.equal(p.failedAttempts, MAX_FAILED_ATTEMPTS);
  });

  it('"Get a certificate" starts an enrollment for the proven address without mailing a new code', async () => {
    const r = await deposit();
    const cookie = await verify(r.token);
    const mails = (await outbox.recent(500)).length;
    const res = await request(`/pickup/${r.token}/enroll?lang=ja`, { form: {}, cookie, lang: 'ja' });
    assert.equal(res.status, 303);
    const loc = new URL(res.headers.get('location')!, BASE);
    assert.equal(loc.pathname, '/enroll');
    assert.equal(loc.searchParams.get('lang'), 'ja');
    assert.equal((await outbox.recent(500)).length, mails, 'no mail');
    // the enrollment page's own API accepts the handed-over code for the proven address
    const v = await app.request(`${BASE}/api/v1/enrollments/${loc.searchParams.get('challenge')}/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: loc.searchParams.get('code') }),
    });
    assert.equal(v.status, 200);
    assert.equal(((await v.json()) as { address: string }).address, 'bob@ext.test');
    assert.equal((await request(`/pickup/${r.token}/enroll`, { form: {} })).status, 303, 'without a session: back to the link');
  });

  it('refuses form posts from other sites', async () => {
    const r = await deposit();
    const res = await request(`/pickup/${r.token}/code`, { form: {}, origin: 'https://evil.example' });
    assert.equal(res.status, 403);
    const revoke = await request(`/pickup/status/${r.senderToken}/revoke`, { form: {}, origin: 'https://evil.example' });
    assert.equal(revoke.status, 403);
    assert.equal(service.state((await service.find(r.token))!), 'active');
  });

  it('10,000 random tokens find nothing and are throttled; other clients and the window are not affected', async () => {
    const attacker = '198.51.100.77';
    const real = await deposit();
    const counts: Record<number, number> = {};
    let retryAfter: string | null = null;
    for (let i = 0; i < 10_000; i++) {
      const token = randomBytes(32).toString('base64url');
      const res = await app.request(`${BASE}/pickup/${i % 2 ? 'status/' : ''}${token}`, { headers: { 'x-test-client-ip': attacker } });
      counts[res.status] = (counts[res.status] ?? 0) + 1;
      if (res.status === 429) retryAfter ??= res.headers.get('retry-after');
      await res.body?.cancel();
    }
    assert.deepEqual(counts, { 404: guesses.limit, 429: 10_000 - guesses.limit }, 'nothing found, then only 429');
    assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= guesses.windowMs / 1000, `Retry-After ${retryAfter}`);
    const [row] = await database.db.select().from(rateLimits).where(eq(rateLimits.key, `pickup:miss:ip:${attacker}`));
    assert.ok(row && row.count > guesses.limit, 'counted in the shared rate_limits table');
    // the throttled client gets 429 even for a real link; everyone else is served
    assert.equal((await request(`/pickup/${real.token}`, { ip: attacker })).status, 429);
    assert.equal((await request(`/pickup/${real.token}`, { ip: '198.51.100.78' })).status, 200);
    const ja = await request(`/pickup/${randomBytes(32).toString('base64url')}`, { ip: attacker, lang: 'ja' });
    assert.match(await ja.text(), /試行回数が多すぎます/);
    clock.t += guesses.windowMs + 1000;
    assert.equal((await request(`/pickup/${real.token}`, { ip: attacker })).status, 200, 'after the window');
  });
});
