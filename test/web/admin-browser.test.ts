/**
 * The admin console in a real browser (Debian chromium driven by playwright-core) over a real
 * listening server, PGlite in memory and the real development CA: first sign-in with TOTP
 * enrollment (codes from an independent RFC 6238 implementation), search, detail, PEM download,
 * revocation through the CA (status, CRL, audit), an auditor without the revoke form, a forged
 * form refused, the audit page's chain status. It proves the browser's own headers (Origin: null
 * under Referrer-Policy no-referrer, Sec-Fetch-Site, SameSite=Strict cookies) work with the checks.
 *
 * Without /usr/bin/chromium: skipped with a warning locally, a failure under CI=true.
 * E2E_SCREENSHOT_DIR=dir keeps a screenshot of every page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { eq } from 'drizzle-orm';
import { chromium, type Browser, type Page } from 'playwright-core';
import { deriveAdminKeys } from '../../src/admin/keys.js';
import { AdminService } from '../../src/admin/service.js';
import type { Authority } from '../../src/ca/authority.js';
import { loadConfig } from '../../src/config/index.js';
import { DrizzleCertificateQueries, DrizzleEnrollmentQueries } from '../../src/db/admin-queries.js';
import { DrizzleAdminStore } from '../../src/db/admin-store.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { createAuthority } from '../../src/db/ca-store.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DbRateLimiter } from '../../src/db/rate-limit.js';
import { auditLog, certificates } from '../../src/db/schema.js';
import { createApp } from '../../src/web/app.js';
import { base32ToBytes, totpAt } from '../admin/totp-code.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('admin console in a real browser (chromium)', { timeout: 300_000 }, () => {
  let database: Database;
  let authority: Authority;
  let server: Server;
  let browser: Browser;
  let base: string;
  let work: string;
  const passwords: Record<string, string> = {};
  const issued: Record<string, { id: string; serialHex: string }> = {};
  const screenshotDir = process.env.E2E_SCREENSHOT_DIR;

  before(async () => {
    if (!existsSync(CHROMIUM)) return;
    work = await mkdtemp(join(tmpdir(), 'smimegw-admin-e2e-'));
    let fetchApp: (req: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
    server = serve({ fetch: (req) => fetchApp(req), hostname: '127.0.0.1', port: 0 }) as Server;
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: base });
    database = await openDatabase(config, { inMemory: true });
    authority = createAuthority(database.db, config);
    await authority.init({ passphrase: config.caKeyPassphrase, development: true });
    for (const who of ['alice', 'bob']) {
      const key = join(work, `${who}.key`);
      const csr = execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', `/CN=${who}@example.com`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const r = await authority.issue({ csr, authorizedAddress: `${who}@example.com`, actor: 'test' });
      issued[who] = { id: r.id, serialHex: r.certificate.serialHex };
    }
    const audit = new DrizzleAuditLog(database.db);
    const service = new AdminService({ store: new DrizzleAdminStore(database.db), audit, limiter: new DbRateLimiter(database.db), keys: await deriveAdminKeys(config.adminSecretKey) });
    for (const [email, role] of [['root@corp.example', 'admin'], ['audrey@corp.example', 'auditor']] as const) {
      passwords[email] = (await service.createAdmin({ email, role, actor: 'test' })).password;
    }
    const app = createApp({
      db: database,
      config,
      authority,
      clientIp: () => '127.0.0.1',
      admin: {
        service,
        certificates: new DrizzleCertificateQueries(database.db),
        enrollments: new DrizzleEnrollmentQueries(database.db),
        audit,
        revoker: { revoke: async (r) => void (await authority.revoke(r)) },
      },
    });
    fetchApp = (req) => app.fetch(req);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    if (screenshotDir) await mkdir(screenshotDir, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await database?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function shot(page: Page, name: string): Promise<void> {
    if (screenshotDir) await page.screenshot({ path: join(screenshotDir, `admin-${name}.png`), fullPage: true });
  }

  /** First sign-in: password, then the TOTP setup page; returns the signed-in page. */
  async function firstSignIn(username: string, prefix?: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(`${base}/admin/certificates`);
    assert.equal(new URL(page.url()).pathname, '/admin/login', 'no session: sent to the sign-in form');
    if (prefix) await shot(page, `${prefix}-login`);
    await page.fill('#username', username);
    await page.fill('#password', 'not the password');
    await page.click('form[action="/admin/login"] button[type=submit]');
    await page.waitForSelector('p.error');
    assert.match((await page.textContent('p.error')) ?? '', /Wrong e-mail address or password/);
    await page.fill('#password', passwords[username]!);
    await page.click('form[action="/admin/login"] button[type=submit]');
    await page.waitForURL(/\/admin\/totp$/);
    if (prefix) await shot(page, `${prefix}-totp-setup`);
    const secret = base32ToBytes(((await page.textContent('#totp-secret')) ?? '').replace(/\s/g, ''));
    assert.equal(secret.length, 20);
    await page.fill('#code', totpAt(secret, Date.now() / 1000));
    await page.click('form[action="/admin/totp"] button[type=submit]');
    await page.waitForURL(/\/admin\/certificates$/);
    return page;
  }

  it('signs in, searches, shows and downloads a certificate, revokes it through the CA, shows the audit chain', async (t) => {
    if (!existsSync(CHROMIUM)) {
      const msg = `${CHROMIUM} is missing (apt-get install chromium)`;
      if (process.env.CI === 'true') throw new Error(msg);
      console.warn(`WARNING: skipping the browser test: ${msg}`);
      t.skip(msg);
      return;
    }
    const page = await firstSignIn('root@corp.example', '01');
    assert.match((await page.textContent('#result-count')) ?? '', /1–2 of 2 certificates/);
    await shot(page, '02-certificates');

    await page.fill('#q', 'BOB');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/q=BOB/);
    assert.deepEqual(await page.locator('table#certificates tbody tr td:first-child').allTextContents(), ['bob@example.com']);
    await page.click('table#certificates tbody a');
    await page.waitForURL(new RegExp(`/admin/certificates/${issued.bob!.id}$`));
    const facts = (await page.textContent('#facts')) ?? '';
    assert.match(facts, new RegExp(issued.bob!.serialHex));
    assert.match(facts, /RSA 2048 bits/);
    assert.match((await page.textContent('#extensions')) ?? '', /S\/MIME mailbox-validated, strict/);
    await shot(page, '03-detail');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="/pem"]')]);
    const pem = await readFile((await download.path())!, 'utf8');
    assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
    assert.match(execFileSync('openssl', ['x509', '-noout', '-serial'], { input: pem, encoding: 'utf8' }), new RegExp(issued.bob!.serialHex, 'i'));

    await page.selectOption('#reason', 'keyCompromise');
    await page.check('input[name=confirm]');
    await page.click('#revoke button[type=submit]');
    await page.waitForURL(/revoked=1$/);
    assert.match((await page.textContent('p.notice')) ?? '', /The certificate was revoked/);
    await shot(page, '04-revoked');
    const [row] = await database.db.select().from(certificates).where(eq(certificates.id, issued.bob!.id));
    assert.deepEqual([row!.status, row!.revocationReason], ['revoked', 'keyCompromise']);
    const crl = await (await fetch(`${base}/crl/issuing.crl`)).arrayBuffer();
    const crlText = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: Buffer.from(crl), encoding: 'utf8' });
    assert.match(crlText.replace(/\s/g, ''), new RegExp(`SerialNumber:${issued.bob!.serialHex}`, 'i'));
    const revokedEntry = (await database.db.select().from(auditLog).where(eq(auditLog.action, 'cert.revoked')))[0];
    assert.equal(revokedEntry!.actor, 'root@corp.example');

    await page.click('nav.admin a[href="/admin/enrollments"]');
    await page.waitForURL(/\/admin\/enrollments$/);
    await shot(page, '05-enrollments');
    await page.click('nav.admin a[href="/admin/audit"]');
    await page.waitForURL(/\/admin\/audit$/);
    assert.match((await page.textContent('#chain-status')) ?? '', /Hash chain intact/);
    await shot(page, '06-audit');

    // A form with a forged token, posted from the page itself: 403, nothing changed.
    await page.goto(`${base}/admin/certificates/${issued.alice!.id}`);
    await page.evaluate(() => {
      const input = document.querySelector<HTMLInputElement>('#revoke input[name="_csrf"]')!;
      input.value = 'forged';
      document.querySelector<HTMLInputElement>('#revoke input[name=confirm]')!.checked = true;
      document.querySelector<HTMLFormElement>('#revoke')!.submit();
    });
    await page.waitForSelector('h1:has-text("Request refused")');
    assert.match((await page.textContent('p.error')) ?? '', /CSRF token does not match/);
    await shot(page, '07-csrf-refused');
    const [alice] = await database.db.select().from(certificates).where(eq(certificates.id, issued.alice!.id));
    assert.equal(alice!.status, 'active');

    // Sign out with the form in the header.
    await page.goto(`${base}/admin/certificates`);
    await page.click('.who button[type=submit]');
    await page.waitForURL(/\/admin\/login$/);
    await page.goto(`${base}/admin/audit`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
  });

  it('an auditor sees the certificate without a revoke form', async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} is missing`);
      return;
    }
    const page = await firstSignIn('audrey@corp.example');
    await page.goto(`${base}/admin/certificates/${issued.alice!.id}`);
    assert.equal(await page.locator('#revoke').count(), 0);
    assert.match((await page.content()) ?? '', /Auditors can view certificates but not revoke them/);
    await shot(page, '08-auditor');
  });
});
