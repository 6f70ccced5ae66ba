/**
 * The enrollment pages, the language choice, the security headers and the development outbox,
 * through app.request() (no browser; test/e2e/enroll.test.ts drives the real one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { createApp, type AppDatabase } from '../../src/web/app.js';
import { MESSAGES, errorText, parseAcceptLanguage, pickLocale } from '../../src/web/i18n.js';
import { CONTENT_SECURITY_POLICY } from '../../src/web/middleware/security.js';
import { createEnrollmentStack, type EnrollmentStack } from '../enrollment/stack.js';

const escapeHtml = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const fakeDb: AppDatabase = { kind: 'pglite', ping: async () => undefined };

describe('language choice', () => {
  it('reads Accept-Language with q-values; explicit choice, then cookie, then header, then English', () => {
    assert.equal(parseAcceptLanguage('ja-JP,ja;q=0.9,en-US;q=0.8'), 'ja');
    assert.equal(parseAcceptLanguage('en-GB, ja;q=0.5'), 'en');
    assert.equal(parseAcceptLanguage('fr-FR, ja;q=0.3, en;q=0.2'), 'ja');
    assert.equal(parseAcceptLanguage('ja;q=0, en;q=0.1'), 'en');
    assert.equal(parseAcceptLanguage('de, fr'), undefined);
    assert.equal(parseAcceptLanguage(''), undefined);
    assert.equal(pickLocale({ query: 'en', cookie: 'ja', acceptLanguage: 'ja' }), 'en');
    assert.equal(pickLocale({ query: 'xx', cookie: 'ja', acceptLanguage: 'en' }), 'ja');
    assert.equal(pickLocale({ acceptLanguage: 'ja-JP' }), 'ja');
    assert.equal(pickLocale({}), 'en');
  });

  it('has every text in both languages, and Japanese texts for the API errors a person meets', () => {
    const keys = (o: unknown, prefix = ''): string[] =>
      typeof o === 'object' && o !== null && !Array.isArray(o) ? Object.entries(o).flatMap(([k, v]) => (k === 'errors' ? [] : keys(v, `${prefix}${k}.`))) : [prefix];
    assert.deepEqual(keys(MESSAGES.ja), keys(MESSAGES.en));
    for (const code of ['proof.wrong_code', 'proof.expired', 'proof.locked', 'proof.used', 'rate_limited', 'ca.csr_wrong_address', 'ca.csr_weak_key', 'ca.csr_weak_signature', 'ca.csr_bad_signature', 'ca.csr_malformed']) {
      assert.ok(MESSAGES.ja.errors[code], `ja text for ${code}`);
    }
    assert.equal(errorText('ja', { code: 'proof.wrong_code', message: 'x', detail: { attemptsLeft: 3 } }), 'コードが正しくありません。あと 3 回試せます。');
    assert.equal(errorText('ja', { code: 'rate_limited', message: 'x', detail: { retryAfterSeconds: 125 } }), '試行回数が多すぎます。3 分ほど待ってからもう一度お試しください。');
    assert.equal(errorText('en', { code: 'proof.wrong_code', message: 'That code is not right; 3 tries left' }), 'That code is not right; 3 tries left');
    assert.equal(errorText('ja', { code: 'unknown.code', message: 'Server text' }), 'Server text');
  });
});

describe('enrollment pages', () => {
  let stack: EnrollmentStack;
  before(async () => {
    stack = await createEnrollmentStack({ assets: { 'enroll.js': 'console.log("bundle")' } });
  });
  after(async () => {
    await stack?.close();
  });

  it('GET /enroll follows Accept-Language, with the strict CSP, no inline script or style, and no caching', async () => {
    const ja = await stack.app.request('/enroll', { headers: { 'Accept-Language': 'ja,en;q=0.5' } });
    assert.equal(ja.status, 200);
    const html = await ja.text();
    assert.match(html, /^<!doctype html><html lang="ja">/);
    assert.ok(html.includes(MESSAGES.ja.enroll.title));
    assert.ok(html.includes('href="/enroll?lang=en"'), 'a link to the English page');
    assert.equal(ja.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    for (const d of ["script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) {
      assert.ok(CONTENT_SECURITY_POLICY.includes(d), d);
    }
    assert.equal(ja.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(ja.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(ja.headers.get('cache-control'), 'no-store');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
    assert.doesNotMatch(html, /\son[a-z]+=|style=|<style/i, 'no inline handlers or styles');
    assert.match(html, /<script type="module" src="\/assets\/enroll.js"><\/script>/);

    const en = await stack.app.request('/enroll', { headers: { 'Accept-Language': 'en-US' } });
    assert.match(await en.text(), /<html lang="en">[\s\S]*Get your S\/MIME certificate/);
  });

  it('?lang= switches the language and is remembered in a cookie', async () => {
    const res = await stack.app.request('/enroll?lang=ja', { headers: { 'Accept-Language': 'en' } });
    assert.match(await res.text(), /<html lang="ja">/);
    const cookie = res.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^lang=ja;/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    const again = await stack.app.request('/enroll/guide', { headers: { 'Accept-Language': 'en', Cookie: 'lang=ja' } });
    assert.match(await again.text(), /<html lang="ja">[\s\S]*証明書の取り込み方/);
  });

  it('the mailed link opens the code step prefilled; a malformed challenge falls back to the address step', async () => {
    const id = '3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f';
    const html = await (await stack.app.request(`/enroll?challenge=${id}&code=ABCD-EFGH-JKMN-PQRS-TVWX-YZ01`)).text();
    assert.match(html, new RegExp(`data-challenge="${id}"`));
    assert.match(html, /id="code"[^>]*value="ABCD-EFGH-JKMN-PQRS-TVWX-YZ01"/);
    assert.match(html, /<section class="card" id="step-address" hidden=""/);
    const bad = await (await stack.app.request('/enroll?challenge=%22%3E%3Cscript%3E&code=x')).text();
    assert.match(bad, /data-challenge=""/);
    assert.doesNotMatch(bad, /<script>/);
  });

  it('the import guides cover Outlook, Thunderbird, Apple Mail and iPhone in both languages', async () => {
    for (const lang of ['en', 'ja'] as const) {
      const html = await (await stack.app.request(`/enroll/guide?lang=${lang}`)).text();
      for (const s of MESSAGES[lang].guide.sections) {
        assert.ok(html.includes(`id="${s.id}"`), `${lang} ${s.id}`);
        assert.ok(s.steps.length >= 3);
        for (const step of s.steps) assert.ok(html.includes(escapeHtml(step)), `${lang}: ${step}`);
      }
      assert.deepEqual(MESSAGES[lang].guide.sections.map((s) => s.id), ['outlook', 'thunderbird', 'apple-mail', 'iphone']);
    }
  });

  it('serves the stylesheet and the browser bundle; unknown assets are 404', async () => {
    const css = await stack.app.request('/assets/app.css');
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    const js = await stack.app.request('/assets/enroll.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal(await js.text(), 'console.log("bundle")');
    assert.equal((await stack.app.request('/assets/other.js')).status, 404);
    assert.equal((await stack.app.request('/assets/..%2Fetc.js')).status, 404);
  });

  it('the development outbox lists the mailed codes', async () => {
    await stack.app.request('/api/v1/enrollments', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'outbox@example.com', locale: 'en' }) });
    const res = await stack.app.request('/dev/outbox');
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(html.includes('outbox@example.com'));
    assert.match(html, /Verification code: [0-9A-Z]{4}-/);
  });

  it('the development outbox is 404 in production and whenever NOTIFY_SMTP_URL is set', async () => {
    const outbox = { recent: async () => [{ id: 1, to: 'a@example.com', subject: 's', text: 'secret code', createdAt: new Date() }] };
    const cases = [
      loadConfig({ NODE_ENV: 'production', CA_KEY_PASSPHRASE: 'a-production-passphrase-000', ADMIN_SECRET_KEY: 'x'.repeat(40), NOTIFY_SMTP_URL: 'smtp://127.0.0.1:25' }),
      loadConfig({ NODE_ENV: 'development', NOTIFY_SMTP_URL: 'smtp://127.0.0.1:25' }),
    ];
    for (const config of cases) {
      const res = await createApp({ db: fakeDb, config, outbox }).request('/dev/outbox');
      assert.equal(res.status, 404, config.nodeEnv);
      assert.doesNotMatch(await res.text(), /secret code/);
    }
    const dev = await createApp({ db: fakeDb, config: loadConfig({ NODE_ENV: 'development' }), outbox }).request('/dev/outbox');
    assert.equal(dev.status, 200);
  });

  it('security headers are on every response, JSON errors too; HSTS only for an https public URL', async () => {
    const res = await stack.app.request('/nope');
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('strict-transport-security'), null);
    const https = createApp({ db: fakeDb, config: loadConfig({ NODE_ENV: 'test', PUBLIC_URL: 'https://gw.example' }) });
    assert.match((await https.request('/healthz')).headers.get('strict-transport-security') ?? '', /max-age=\d+/);
  });

  it('without enrollment wired, its routes do not exist', async () => {
    const res = await createApp({ db: fakeDb, config: loadConfig({ NODE_ENV: 'test' }) }).request('/api/v1/enrollments', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 404);
  });
});
