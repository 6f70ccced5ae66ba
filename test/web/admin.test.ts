/**
 * The admin console over HTTP (app.request, cookies carried by hand) against PGlite in memory:
 * sign-in with password and TOTP (codes computed by an independent RFC 6238 implementation),
 * sessions (rotation, idle and absolute expiry on an injected clock), CSRF, roles, rate limits,
 * the pages, the PEM download, and that every refusal lands in the audit log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { and, desc, eq, gt } from 'drizzle-orm';
import { AdminService, SESSION_IDLE_MS } from '../../src/admin/service.js';
import { deriveAdminKeys, type AdminKeys } from '../../src/admin/keys.js';
import type { CertificateRevoker, RevocationReason } from '../../src/admin/ports.js';
import { loadConfig } from '../../src/config/index.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { DrizzleCertificateQueries, DrizzleEnrollmentQueries } from '../../src/db/admin-queries.js';
import { DrizzleAdminStore } from '../../src/db/admin-store.js';
import { insertCertificateRow } from '../../src/db/certificate-rows.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DbRateLimiter } from '../../src/db/rate-limit.js';
import { adminSessions, adminUsers, auditLog, certificates, mailboxChallenges } from '../../src/db/schema.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { decodePemAll } from '../../src/shared/bytes.js';
import type { Clock } from '../../src/shared/clock.js';
import { createApp } from '../../src/web/app.js';
import { createTestPki, type IssuedCert, type TestPki } from '../helpers/pki.js';
import { base32ToBytes, totpAt } from '../admin/totp-code.js';

const T0 = Date.parse('2025-03-03T09:00:00Z');
let now = T0;
const clock: Clock = { now: () => new Date(now) };

/** A cookie jar for app.request: keeps what Set-Cookie gives, drops what it expires. */
class Jar {
  readonly cookies = new Map<string, string>();
  readonly raw: string[] = [];
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      this.raw.push(line);
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  clone(): Jar {
    const j = new Jar();
    for (const [k, v] of this.cookies) j.cookies.set(k, v);
    return j;
  }
}

let database: Database;
let keys: AdminKeys;
let pki: TestPki;
let bob: IssuedCert;
let app: ReturnType<typeof createApp>;
let service: AdminService;
let audit: DrizzleAuditLog;
const revoked: Array<{ serialHex: string; reason: RevocationReason; actor: string }> = [];
let bobId: string;
let uploadedId: string;
const passwords: Record<string, string> = {};
const totpSecrets: Record<string, Buffer> = {};

const config = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: 'http://127.0.0.1:8080' });

async function request(path: string, o: { jar?: Jar; method?: string; form?: Record<string, string>; headers?: Record<string, string>; html?: boolean } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'x-test-ip': '192.0.2.1', ...(o.html === false ? {} : { accept: 'text/html' }), ...o.headers };
  if (o.jar && o.jar.cookies.size) headers.cookie = o.jar.header();
  let body: string | undefined;
  if (o.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(o.form).toString();
  }
  const res = await app.request(`http://127.0.0.1:8080${path}`, { method: o.method ?? (o.form ? 'POST' : 'GET'), headers, ...(body !== undefined ? { body } : {}) });
  o.jar?.take(res);
  return res;
}

function csrfOf(htmlText: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(htmlText);
  assert.ok(m, 'the page has a CSRF field');
  return m[1]!;
}

async function lastAudit(action?: string) {
  const rows = await database.db
    .select()
    .from(auditLog)
    .where(action ? eq(auditLog.action, action) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(1);
  return rows[0];
}

async function auditCount(): Promise<number> {
  return (await database.db.select({ id: auditLog.id }).from(auditLog)).length;
}

/** Password step; returns the response of the POST. */
async function postPassword(jar: Jar, username: string, password: string, ip = '192.0.2.1'): Promise<Response> {
  const page = await request('/admin/login', { jar, headers: { 'x-test-ip': ip } });
  assert.equal(page.status, 200);
  return request('/admin/login', { jar, form: { _csrf: csrfOf(await page.text()), username, password }, headers: { 'x-test-ip': ip } });
}

/** Full sign-in (enrolling TOTP on the first one); moves the clock 31 s on so each code is new. */
async function signIn(username: string): Promise<{ jar: Jar; csrf: string }> {
  now += 31_000;
  const jar = new Jar();
  const res = await postPassword(jar, username, passwords[username]!);
  assert.equal(res.status, 303);
  const page = await request('/admin/totp', { jar });
  const text = await page.text();
  if (!totpSecrets[username]) {
    const m = /id="totp-secret">([A-Z2-7 ]+)</.exec(text);
    assert.ok(m, 'the setup page shows the secret');
    totpSecrets[username] = base32ToBytes(m[1]!.replace(/ /g, ''));
  }
  const code = totpAt(totpSecrets[username]!, now / 1000);
  const done = await request('/admin/totp', { jar, form: { _csrf: csrfOf(text), code } });
  assert.equal(done.status, 303, await done.clone().text());
  assert.equal(done.headers.get('location'), '/admin/certificates');
  const list = await request('/admin/certificates', { jar });
  assert.equal(list.status, 200);
  return { jar, csrf: csrfOf(await list.text()) };
}

before(async () => {
  database = await openDatabase(config, { inMemory: true });
  keys = await deriveAdminKeys('test-admin-secret-key-with-enough-length');
  audit = new DrizzleAuditLog(database.db, clock);
  service = new AdminService({ store: new DrizzleAdminStore(database.db), audit, limiter: new DbRateLimiter(database.db, clock), keys, clock });
  const revoker: CertificateRevoker = {
    async revoke(input) {
      revoked.push(input);
      await database.db.update(certificates).set({ status: 'revoked', revokedAt: clock.now(), revocationReason: input.reason }).where(eq(certificates.serialHex, input.serialHex));
    },
  };
  app = createApp({
    db: database,
    config,
    clientIp: (c) => c.req.header('x-test-ip'),
    admin: { service, certificates: new DrizzleCertificateQueries(database.db), enrollments: new DrizzleEnrollmentQueries(database.db), audit, revoker, clock },
  });

  pki = await createTestPki();
  bob = await pki.issue({ email: 'bob@example.com', key: 'rsa2048' });
  const carol = await pki.issue({ email: 'carol@example.org', key: 'p256' });
  bobId = (await insertCertificateRow(database.db, { certificate: parseCertificate(new Uint8Array(bob.x509.raw)), source: 'issued', authorityId: 'issuing' })).id;
  uploadedId = (await insertCertificateRow(database.db, { certificate: parseCertificate(new Uint8Array(carol.x509.raw)), source: 'uploaded' })).id;

  for (const [email, role] of [
    ['root@corp.example', 'admin'],
    ['audrey@corp.example', 'auditor'],
    ['second@corp.example', 'admin'],
  ] as const) {
    const created = await service.createAdmin({ email, role, actor: 'test' });
    passwords[email] = created.password;
  }
});

after(async () => {
  await database?.close();
  await pki?.cleanup();
});

describe('admin console: without a session', () => {
  it('pages answer 401 (browsers are sent to the sign-in form), the API 401 JSON; each attempt audited as anonymous', async () => {
    const before = await auditCount();
    const plain = await request('/admin/certificates', { html: false });
    assert.equal(plain.status, 401);
    assert.match(await plain.text(), /Sign-in required/);
    assert.deepEqual(
      { actor: (await lastAudit())!.actor, action: (await lastAudit())!.action, subject: (await lastAudit())!.subject },
      { actor: 'anonymous', action: 'admin.denied', subject: '/admin/certificates' },
    );

    const browser = await request(`/admin/certificates/${bobId}`);
    assert.equal(browser.status, 303);
    assert.equal(browser.headers.get('location'), '/admin/login');

    const api = await request('/admin/api/certificates', { html: false });
    assert.equal(api.status, 401);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'admin.unauthenticated');

    const audits = await request('/admin/audit');
    assert.equal(audits.status, 303);
    assert.equal(await auditCount(), before + 4, 'one admin.denied entry per refused request');
    const rows = await database.db.select().from(auditLog).where(gt(auditLog.id, 0)).orderBy(desc(auditLog.id)).limit(4);
    assert.deepEqual(rows.map((r) => r.subject).reverse(), ['/admin/certificates', `/admin/certificates/${bobId}`, '/admin/api/certificates', '/admin/audit']);
    assert.ok(rows.every((r) => r.action === 'admin.denied' && r.actor === 'anonymous' && (r.detail as { reason: string }).reason === 'no_session'));
  });

  it('a revoke POST without a session is refused with 401, nothing revoked, audited', async () => {
    const res = await request(`/admin/certificates/${bobId}/revoke`, { form: { reason: 'keyCompromise', confirm: 'yes', _csrf: 'x' } });
    assert.equal(res.status, 401);
    assert.equal(revoked.length, 0);
    const a = await lastAudit();
    assert.equal(a!.action, 'admin.denied');
    assert.equal(a!.subject, `/admin/certificates/${bobId}/revoke`);
    const [row] = await database.db.select().from(certificates).where(eq(certificates.id, bobId));
    assert.equal(row!.status, 'active');
  });

  it('a forged session cookie is no session', async () => {
    const jar = new Jar();
    jar.cookies.set('smimegw_admin', 'A'.repeat(43));
    const res = await request('/admin/api/certificates', { jar, html: false });
    assert.equal(res.status, 401);
  });

  it('serves the login page and the stylesheet without a session', async () => {
    const res = await request('/admin/login');
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /<form method="post" action="\/admin\/login"/);
    assert.doesNotMatch(text, /<script/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const css = await request('/admin/assets/admin.css');
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  });
});

describe('admin console: signing in', () => {
  it('refuses a wrong password and an unknown user with the same 401 message; audited; no session', async () => {
    for (const username of ['root@corp.example', 'nobody@corp.example']) {
      const jar = new Jar();
      const res = await postPassword(jar, username, 'wrong-password', '192.0.2.10');
      assert.equal(res.status, 401);
      assert.match(await res.text(), /Wrong e-mail address or password/);
      assert.equal(jar.cookies.has('smimegw_admin'), false);
      const a = await lastAudit('admin.login_failed');
      assert.equal(a!.subject, username);
      assert.equal((a!.detail as { reason: string }).reason, username.startsWith('root') ? 'wrong_password' : 'unknown_user');
    }
  });

  it('right password: a half session (cookie HttpOnly, SameSite=Strict, Path=/, no Secure over http) that only reaches the TOTP step', async () => {
    now += 31_000;
    const jar = new Jar();
    const res = await postPassword(jar, 'root@corp.example', passwords['root@corp.example']!);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/admin/totp');
    const cookie = jar.raw.find((l) => l.startsWith('smimegw_admin='))!;
    assert.ok(cookie, jar.raw.join('\n'));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    assert.doesNotMatch(cookie, /Secure/);
    assert.match(jar.cookies.get('smimegw_admin')!, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url');

    const blocked = await request('/admin/certificates', { jar });
    assert.equal(blocked.status, 303);
    assert.equal(blocked.headers.get('location'), '/admin/totp');
    assert.equal((await lastAudit())!.action, 'admin.denied');
    assert.equal(((await lastAudit())!.detail as { reason: string }).reason, 'second_factor_missing');
    const api = await request('/admin/api/certificates', { jar, html: false });
    assert.equal(api.status, 401);

    // First sign-in: the TOTP setup page with the secret and the otpauth URI.
    const setup = await request('/admin/totp', { jar });
    const text = await setup.text();
    assert.match(text, /Set up your authenticator/);
    const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(text)![1]!.replace(/ /g, '');
    assert.equal(secret.length, 32, '160-bit secret');
    assert.match(text, new RegExp(`otpauth://totp/smimegw:root%40corp\\.example\\?secret=${secret}&amp;issuer=smimegw`));
    // The offer is stable across reloads of the same half session.
    assert.match(await (await request('/admin/totp', { jar })).text(), new RegExp(secret));

    const csrf = csrfOf(text);
    const wrong = await request('/admin/totp', { jar, form: { _csrf: csrf, code: String((Number(totpAt(base32ToBytes(secret), now / 1000)) + 1) % 1_000_000).padStart(6, '0') } });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /Wrong authenticator code/);
    assert.equal(((await lastAudit('admin.login_failed'))!.detail as { reason: string }).reason, 'wrong_totp');
    const [u0] = await database.db.select().from(adminUsers).where(eq(adminUsers.username, 'root@corp.example'));
    assert.equal(u0!.totpSecretEncrypted, null, 'nothing stored before a valid code');

    const half = jar.cookies.get('smimegw_admin')!;
    const ok = await request('/admin/totp', { jar, form: { _csrf: csrf, code: totpAt(base32ToBytes(secret), now / 1000) } });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/admin/certificates');
    totpSecrets['root@corp.example'] = base32ToBytes(secret);
    const full = jar.cookies.get('smimegw_admin')!;
    assert.notEqual(full, half, 'the session id changes with the second factor');
    const stale = new Jar();
    stale.cookies.set('smimegw_admin', half);
    assert.equal((await request('/admin/api/certificates', { jar: stale, html: false })).status, 401, 'the half session is gone');

    const [u1] = await database.db.select().from(adminUsers).where(eq(adminUsers.username, 'root@corp.example'));
    assert.ok(u1!.totpSecretEncrypted && u1!.totpSecretEncrypted.length > 20);
    assert.ok(!Buffer.from(u1!.totpSecretEncrypted).includes(base32ToBytes(secret)), 'the secret is stored encrypted');
    const sessions = await database.db.select().from(adminSessions).where(eq(adminSessions.userId, u1!.id));
    assert.ok(sessions.every((s) => s.idHash !== full && /^[0-9a-f]{64}$/.test(s.idHash)), 'only the SHA-256 of the cookie is stored');
    assert.ok(sessions.some((s) => s.idHash === createHash('sha256').update(full).digest('hex')));

    assert.equal((await lastAudit('admin.login'))!.actor, 'root@corp.example');
    assert.equal((await lastAudit('admin.totp_enrolled'))!.subject, 'root@corp.example');
    const page = await request('/admin/certificates', { jar });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /root@corp\.example \(admin\)/);
  });

  it('a TOTP code is accepted once: the same step cannot sign in again', async () => {
    const jar = new Jar();
    assert.equal((await postPassword(jar, 'root@corp.example', passwords['root@corp.example']!)).status, 303);
    const text = await (await request('/admin/totp', { jar })).text();
    assert.match(text, /Authenticator code/, 'an enrolled user is asked for a code, not shown a secret');
    assert.doesNotMatch(text, /otpauth:/);
    const code = totpAt(totpSecrets['root@corp.example']!, now / 1000); // same 30 s step as the last sign-in
    const res = await request('/admin/totp', { jar, form: { _csrf: csrfOf(text), code } });
    assert.equal(res.status, 401);
    assert.match(await res.text(), /already used/);
    assert.equal(((await lastAudit('admin.login_failed'))!.detail as { reason: string }).reason, 'totp_reused');
    now += 30_000;
    const next = await request('/admin/totp', { jar, form: { _csrf: csrfOf(text), code: totpAt(totpSecrets['root@corp.example']!, now / 1000) } });
    assert.equal(next.status, 303);
  });

  it('accepts a code from the previous step (clock drift) but not from two steps back', async () => {
    now += 90_000;
    const jar = new Jar();
    await postPassword(jar, 'root@corp.example', passwords['root@corp.example']!);
    const csrf = csrfOf(await (await request('/admin/totp', { jar })).text());
    const old = await request('/admin/totp', { jar, form: { _csrf: csrf, code: totpAt(totpSecrets['root@corp.example']!, now / 1000 - 60) } });
    assert.equal(old.status, 401);
    const prev = await request('/admin/totp', { jar, form: { _csrf: csrf, code: totpAt(totpSecrets['root@corp.example']!, now / 1000 - 30) } });
    assert.equal(prev.status, 303);
  });

  it('rate limits sign-in per account (429 even with the right password) and per client address', async () => {
    const user = 'second@corp.example';
    for (let i = 0; i < 10; i++) {
      const r = await postPassword(new Jar(), user, 'nope', `198.51.100.${i}`);
      assert.equal(r.status, 401);
    }
    const limited = await postPassword(new Jar(), user, passwords[user]!, '198.51.100.99');
    assert.equal(limited.status, 429);
    assert.match(await limited.text(), /Too many sign-in attempts for this account/);
    const a = await lastAudit('admin.login_failed');
    assert.equal((a!.detail as { reason: string }).reason, 'rate_limited');

    for (let i = 0; i < 50; i++) assert.equal((await postPassword(new Jar(), `x${i}@corp.example`, 'nope', '203.0.113.7')).status, 401);
    const byIp = await postPassword(new Jar(), 'audrey@corp.example', passwords['audrey@corp.example']!, '203.0.113.7');
    assert.equal(byIp.status, 429);
    assert.match(await byIp.text(), /from your network/);

    now += 15 * 60_000 + 1000; // the window passes
    assert.equal((await postPassword(new Jar(), user, passwords[user]!, '198.51.100.99')).status, 303);
  });
});

describe('admin console: sessions', () => {
  it('ends after 30 idle minutes, and after 8 hours however busy', async () => {
    const { jar } = await signIn('root@corp.example');
    now += SESSION_IDLE_MS - 60_000;
    assert.equal((await request('/admin/certificates', { jar })).status, 200, 'still alive before the idle limit');
    now += SESSION_IDLE_MS + 1000;
    const idle = await request('/admin/certificates', { jar });
    assert.equal(idle.status, 303);
    assert.equal(idle.headers.get('location'), '/admin/login');
    assert.equal(((await lastAudit())!.detail as { reason: string }).reason, 'no_session');

    const busy = await signIn('root@corp.example');
    const started = now;
    while (now - started < 8 * 3600_000 - 20 * 60_000) {
      now += 20 * 60_000;
      assert.equal((await request('/admin/certificates', { jar: busy.jar })).status, 200, `alive at +${(now - started) / 60_000} min`);
    }
    now = started + 8 * 3600_000 + 1000;
    assert.equal((await request('/admin/certificates', { jar: busy.jar })).status, 303, 'absolute limit');
  });

  it('logout needs the CSRF token, then ends the session and clears the cookie', async () => {
    const { jar, csrf } = await signIn('root@corp.example');
    const noToken = await request('/admin/logout', { jar, form: {} });
    assert.equal(noToken.status, 403);
    assert.match(await noToken.text(), /CSRF token missing/);
    assert.equal((await request('/admin/certificates', { jar })).status, 200, 'still signed in');
    const out = await request('/admin/logout', { jar, form: { _csrf: csrf } });
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/admin/login');
    assert.equal(jar.cookies.has('smimegw_admin'), false);
    assert.equal((await lastAudit('admin.logout'))!.actor, 'root@corp.example');
  });

  it('uses the __Host- cookie with Secure when PUBLIC_URL is https', async () => {
    const https = createApp({
      db: database,
      config: loadConfig({ NODE_ENV: 'test', PUBLIC_URL: 'https://gw.example.com' }),
      admin: { service, certificates: new DrizzleCertificateQueries(database.db), enrollments: new DrizzleEnrollmentQueries(database.db), audit, clock },
    });
    const page = await https.request('https://gw.example.com/admin/login');
    const [cookie] = page.headers.getSetCookie();
    assert.match(cookie!, /^__Host-smimegw_admin_login=[A-Za-z0-9_-]{43}; Max-Age=3600; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    now += 31_000;
    const res = await https.request('https://gw.example.com/admin/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie!.split(';')[0]!, origin: 'https://gw.example.com' },
      body: new URLSearchParams({ _csrf: cookie!.split(';')[0]!.split('=')[1]!, username: 'second@corp.example', password: passwords['second@corp.example']! }).toString(),
    });
    assert.equal(res.status, 303);
    assert.ok(res.headers.getSetCookie().some((l) => /^__Host-smimegw_admin=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/.test(l)), res.headers.getSetCookie().join('\n'));
  });
});

describe('admin console: CSRF and roles', () => {
  it('a revoke with a missing or wrong token, or from another origin, is 403 with a page; nothing revoked; audited', async () => {
    const { jar, csrf } = await signIn('root@corp.example');
    const cases: Array<[Record<string, string>, Record<string, string>, RegExp]> = [
      [{ reason: 'keyCompromise', confirm: 'yes' }, {}, /CSRF token missing/],
      [{ reason: 'keyCompromise', confirm: 'yes', _csrf: csrf.slice(0, -2) + 'xx' }, {}, /CSRF token does not match/],
      [{ reason: 'keyCompromise', confirm: 'yes', _csrf: csrf }, { origin: 'https://evil.example' }, /Origin https:\/\/evil\.example is not this site/],
      [{ reason: 'keyCompromise', confirm: 'yes', _csrf: csrf }, { 'sec-fetch-site': 'cross-site' }, /Sec-Fetch-Site cross-site/],
      // Opaque origin (what browsers send under Referrer-Policy no-referrer): Sec-Fetch-Site decides.
      [{ reason: 'keyCompromise', confirm: 'yes', _csrf: csrf }, { origin: 'null', 'sec-fetch-site': 'cross-site' }, /Sec-Fetch-Site cross-site/],
    ];
    for (const [form, headers, re] of cases) {
      const res = await request(`/admin/certificates/${bobId}/revoke`, { jar, form, headers });
      assert.equal(res.status, 403);
      const text = await res.text();
      assert.match(text, /Request refused/);
      assert.match(text, re);
      assert.match(text, /nothing was changed/);
      const a = await lastAudit();
      assert.equal(a!.action, 'admin.denied');
      assert.equal(a!.actor, 'root@corp.example');
      assert.equal(a!.subject, `/admin/certificates/${bobId}/revoke`);
      assert.equal((a!.detail as { reason: string }).reason, 'csrf');
    }
    assert.equal(revoked.length, 0);
    const [row] = await database.db.select().from(certificates).where(eq(certificates.id, bobId));
    assert.equal(row!.status, 'active');
  });

  it('accepts a form post with Origin null when the browser says it is same-origin (Referrer-Policy no-referrer)', async () => {
    const { jar, csrf } = await signIn('root@corp.example');
    const res = await request('/admin/logout', { jar, form: { _csrf: csrf }, headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } });
    assert.equal(res.status, 303);
  });

  it('a state-changing request that is not a form is refused as a forgery (403, audited), not just a 415', async () => {
    const { jar } = await signIn('root@corp.example');
    const res = await app.request(`http://127.0.0.1:8080/admin/certificates/${bobId}/revoke`, {
      method: 'POST',
      headers: { cookie: jar.header(), 'content-type': 'text/plain', accept: 'text/html' },
      body: 'reason=keyCompromise&confirm=yes',
    });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /CSRF token missing: Send the body as application\/x-www-form-urlencoded/);
    assert.equal(((await lastAudit())!.detail as { reason: string }).reason, 'csrf');
    assert.equal(revoked.length, 0);
  });

  it('the sign-in form needs its own token (cookie + field)', async () => {
    const res = await request('/admin/login', { form: { username: 'root@corp.example', password: passwords['root@corp.example']! } });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /no CSRF token issued/);
    assert.equal((await lastAudit())!.action, 'admin.denied');
  });

  it('an auditor reads everything but a revoke POST is 403, audited, nothing revoked', async () => {
    const { jar, csrf } = await signIn('audrey@corp.example');
    const detail = await request(`/admin/certificates/${bobId}`, { jar });
    assert.equal(detail.status, 200);
    const text = await detail.text();
    assert.doesNotMatch(text, /action="\/admin\/certificates\/[^"]+\/revoke"/, 'no revoke form for an auditor');
    assert.match(text, /Auditors can view certificates but not revoke them/);
    for (const path of ['/admin/enrollments', '/admin/audit', '/admin/certificates']) assert.equal((await request(path, { jar })).status, 200, path);

    const res = await request(`/admin/certificates/${bobId}/revoke`, { jar, form: { _csrf: csrf, reason: 'keyCompromise', confirm: 'yes' } });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /Revoking needs the admin role; you are signed in as auditor/);
    const a = await lastAudit();
    assert.deepEqual([a!.action, a!.actor, a!.subject, (a!.detail as { reason: string }).reason], ['admin.denied', 'audrey@corp.example', `/admin/certificates/${bobId}/revoke`, 'role']);
    assert.equal(revoked.length, 0);
  });
});

describe('admin console: pages', () => {
  let jar: Jar;
  let csrf: string;
  before(async () => {
    ({ jar, csrf } = await signIn('root@corp.example'));
    // Synthetic rows for search, filter and sort (dates relative to the clock).
    const day = 86400_000;
    const rows: Array<[string, string, number, number]> = [
      ['alice@alpha.example', 'active', -100, 200],
      ['zed@alpha.example', 'active', -300, 10],
      ['mike@beta.example', 'revoked', -50, 100],
      ['old@beta.example', 'superseded', -400, -5],
      ['Pend@Gamma.example', 'pending', -1, 365],
    ];
    for (const [i, [email, status, nb, na]] of rows.entries()) {
      await database.db.insert(certificates).values({
        fingerprintSha256: createHash('sha256').update(email).digest('hex'),
        email: email.replace(/@(.*)$/, (_, d: string) => `@${d.toLowerCase()}`),
        serialHex: `0${i + 1}`,
        source: 'imported',
        status: status as 'active',
        notBefore: new Date(now + nb * day),
        notAfter: new Date(now + na * day),
      });
    }
  });

  async function api(query: string): Promise<{ total: number; certificates: Array<{ email: string; status: string }> }> {
    const res = await request(`/admin/api/certificates?${query}`, { jar, html: false });
    assert.equal(res.status, 200);
    return (await res.json()) as never;
  }

  it('searches by address (case-insensitive, any SAN), filters by status and expiry, sorts', async () => {
    assert.equal((await api('')).total, 7);
    assert.deepEqual((await api('q=ALPHA&sort=address&dir=asc')).certificates.map((c) => c.email), ['alice@alpha.example', 'zed@alpha.example']);
    assert.deepEqual((await api('q=bob@')).certificates.map((c) => c.email), ['bob@example.com']);
    assert.deepEqual((await api('q=%25')).total, 0, 'LIKE wildcards are literal');
    assert.deepEqual((await api('status=revoked')).certificates.map((c) => c.email), ['mike@beta.example']);
    assert.deepEqual((await api('expiry=expiring')).certificates.map((c) => c.email), ['zed@alpha.example']);
    assert.deepEqual((await api('expiry=expired')).certificates.map((c) => c.email), ['old@beta.example']);
    assert.deepEqual((await api('q=beta&status=superseded&expiry=expired')).total, 1);
    const byNotAfter = (await api('q=.example&sort=notAfter&dir=asc')).certificates.map((c) => c.email);
    assert.deepEqual(byNotAfter.filter((e) => !e.endsWith('example.com') && !e.endsWith('example.org')), ['old@beta.example', 'zed@alpha.example', 'mike@beta.example', 'alice@alpha.example', 'Pend@gamma.example']);
    const byNotBeforeDesc = (await api('q=a.example&sort=notBefore&dir=desc')).certificates.map((c) => c.email);
    assert.deepEqual(byNotBeforeDesc, ['Pend@gamma.example', 'mike@beta.example', 'alice@alpha.example', 'zed@alpha.example', 'old@beta.example']);
    assert.deepEqual((await api('sort=nonsense&status=bogus&page=-3')).total, 7, 'bad parameters fall back to the defaults');
  });

  it('renders the list page with the filters kept, sortable headers and no script', async () => {
    const res = await request('/admin/certificates?q=alpha&status=active&sort=address&dir=asc', { jar });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /1–2 of 2 certificates/);
    assert.ok(text.indexOf('alice@alpha.example') < text.indexOf('zed@alpha.example'));
    assert.match(text, /<option value="active" selected="">active<\/option>|<option value="active" selected>active<\/option>/);
    assert.match(text, /href="\/admin\/certificates\?q=alpha&amp;status=active&amp;sort=address&amp;dir=desc"/);
    assert.doesNotMatch(text, /<script/);
  });

  it('shows a certificate in detail: subject, SAN, serial, fingerprints, validity, key, extensions, revoke form', async () => {
    const res = await request(`/admin/certificates/${bobId}`, { jar });
    assert.equal(res.status, 200);
    const text = await res.text();
    const x = new X509Certificate(bob.certPem);
    assert.ok(text.includes(x.fingerprint256), 'SHA-256 fingerprint as node prints it');
    assert.ok(text.includes(x.fingerprint), 'SHA-1 fingerprint');
    assert.ok(text.includes(x.serialNumber.toLowerCase().replace(/^0+/, '')), 'serial');
    assert.match(text, /CN=bob@example\.com/);
    assert.match(text, /RSA 2048 bits/);
    assert.match(text, /Subject alternative name/);
    assert.match(text, /email: bob@example\.com/);
    assert.match(text, /Extended key usage/);
    assert.match(text, /emailProtection/);
    assert.match(text, /Key usage/);
    assert.match(text, new RegExp(`action="/admin/certificates/${bobId}/revoke"`));
    assert.match(text, /<option value="keyCompromise">keyCompromise<\/option>/);
    assert.match(text, /href="\/admin\/certificates\/[^"]+\/pem"/);

    const other = await request(`/admin/certificates/${uploadedId}`, { jar });
    const otherText = await other.text();
    assert.match(otherText, /EC P-256/);
    assert.match(otherText, /not issued by this CA \(source: uploaded\)/);
    assert.doesNotMatch(otherText, /\/revoke"/);

    assert.equal((await request('/admin/certificates/00000000-0000-4000-8000-000000000000', { jar })).status, 404);
    assert.equal((await request('/admin/certificates/not-a-uuid', { jar })).status, 404);
  });

  it('downloads the PEM with its content type; it parses back to the same certificate', async () => {
    const res = await request(`/admin/certificates/${bobId}/pem`, { jar });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-pem-file');
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="bob@example\.com-[0-9a-f]+\.pem"$/);
    const body = await res.text();
    assert.match(body, /^-----BEGIN CERTIFICATE-----\n/);
    const [block] = decodePemAll(body);
    assert.deepEqual(Buffer.from(block!.der), Buffer.from(new X509Certificate(bob.certPem).raw));
  });

  it('revokes with a reason after confirmation; refuses bad input, other sources and a second revocation', async () => {
    const path = `/admin/certificates/${bobId}/revoke`;
    const noConfirm = await request(path, { jar, form: { _csrf: csrf, reason: 'keyCompromise' } });
    assert.equal(noConfirm.status, 400);
    assert.match(await noConfirm.text(), /Tick the confirmation box/);
    const badReason = await request(path, { jar, form: { _csrf: csrf, reason: 'privilegeWithdrawn', confirm: 'yes' } });
    assert.equal(badReason.status, 400);
    const uploaded = await request(`/admin/certificates/${uploadedId}/revoke`, { jar, form: { _csrf: csrf, reason: 'keyCompromise', confirm: 'yes' } });
    assert.equal(uploaded.status, 409);
    assert.equal(revoked.length, 0);

    const ok = await request(path, { jar, form: { _csrf: csrf, reason: 'keyCompromise', confirm: 'yes' } });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), `/admin/certificates/${bobId}?revoked=1`);
    assert.deepEqual(revoked, [{ serialHex: parseCertificate(new Uint8Array(bob.x509.raw)).serialHex, reason: 'keyCompromise', actor: 'root@corp.example' }]);
    const page = await (await request(`/admin/certificates/${bobId}?revoked=1`, { jar })).text();
    assert.match(page, /The certificate was revoked/);
    assert.match(page, /This certificate is revoked/);
    const again = await request(path, { jar, form: { _csrf: csrf, reason: 'keyCompromise', confirm: 'yes' } });
    assert.equal(again.status, 409);
    assert.equal(revoked.length, 1);
  });

  it('lists pending and failed enrollments', async () => {
    const hour = 3600_000;
    const base = { purpose: 'enroll' as const, codeHash: 'x'.repeat(64) };
    await database.db.insert(mailboxChallenges).values([
      { ...base, address: 'waiting@example.net', expiresAt: new Date(now + hour), createdAt: new Date(now - hour), clientIp: '192.0.2.50' },
      { ...base, address: 'locked@example.net', attempts: 5, expiresAt: new Date(now + hour) },
      { ...base, address: 'expired@example.net', expiresAt: new Date(now - hour) },
      { ...base, address: 'done@example.net', expiresAt: new Date(now + hour), verifiedAt: new Date(now) },
      { ...base, purpose: 'upload', address: 'upload@example.net', expiresAt: new Date(now + hour) },
    ]);
    const pending = await (await request('/admin/enrollments', { jar })).text();
    assert.match(pending, /waiting@example\.net/);
    assert.match(pending, /192\.0\.2\.50/);
    for (const a of ['locked@', 'expired@', 'done@', 'upload@']) assert.ok(!pending.includes(a), a);
    const failed = await (await request('/admin/enrollments?view=failed', { jar })).text();
    assert.match(failed, /locked@example\.net[\s\S]*badge locked|badge locked[\s\S]*locked@example\.net/);
    assert.match(failed, /expired@example\.net/);
    for (const a of ['waiting@', 'done@', 'upload@']) assert.ok(!failed.includes(a), a);
  });

  it('shows the audit log newest first with the chain intact, and BROKEN after an UPDATE behind its back', async () => {
    const res = await request('/admin/audit', { jar });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /Hash chain intact: all \d+ entries/);
    const ids = [...text.matchAll(/<tr><td>(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(ids.length === 50, `one page of 50, got ${ids.length}`);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    assert.match(text, /href="\/admin\/audit\?before=\d+"/);
    const older = await (await request(`/admin/audit?before=${ids[49]}`, { jar })).text();
    assert.ok([...older.matchAll(/<tr><td>(\d+)/g)].every((m) => Number(m[1]) < ids[49]!));

    const [victim] = await database.db.select().from(auditLog).where(and(eq(auditLog.action, 'admin.login_failed'))).limit(1);
    await database.db.update(auditLog).set({ detail: { reason: 'nothing to see' } }).where(eq(auditLog.id, victim!.id));
    const broken = await (await request('/admin/audit', { jar })).text();
    assert.match(broken, new RegExp(`Hash chain BROKEN at entry #${victim!.id}: content does not match its hash`));
    const chain = (await (await request('/admin/api/audit/chain', { jar, html: false })).json()) as { ok: boolean; brokenAt: number };
    assert.deepEqual([chain.ok, chain.brokenAt], [false, victim!.id]);
    await database.db.update(auditLog).set({ detail: victim!.detail }).where(eq(auditLog.id, victim!.id));
    assert.match(await (await request('/admin/audit', { jar })).text(), /Hash chain intact/);
  });
});
