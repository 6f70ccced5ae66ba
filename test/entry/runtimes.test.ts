/**
 * The same web service, the same assertions, two runtimes: Node (src/entry/node.ts) and workerd
 * (`wrangler dev` with src/entry/worker.ts), each against its own database in one throwaway
 * PostgreSQL 15 cluster. The workerd database is brought up to date with `smimegw db migrate`, as a
 * deployment does. Every exchange goes over real HTTP; certificates, CRLs and OCSP answers are
 * checked with OpenSSL.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { desc, eq } from 'drizzle-orm';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { blobs, crls, outbox, pickups } from '../../src/db/schema.js';
import { createPickupService } from '../../src/entry/web.js';
import { base32ToBytes, totpAt } from '../admin/totp-code.js';
import { requireTool } from '../helpers/clients.js';
import { run, runOk } from '../helpers/exec.js';
import { opensslCsr, tamperCsrSignature } from '../enrollment/openssl-csr.js';
import { CODE_RE } from '../enrollment/stack.js';
import { sampleMessage, SECRET_TEXT, source } from '../pickup/stack.js';
import { postgresBinDir, POSTGRES_MISSING_MESSAGE, startPostgres, type RunningPostgres } from '../support/postgres.js';
import { startSmtpSink } from '../support/smtp-sink.js';
import { ROOT, SHARED_SETTINGS, startNode, startWorkerd, wranglerAvailable, type Runtime, type Target } from './targets.js';

const JSON_HEADERS = { 'content-type': 'application/json' };

function missing(): string | undefined {
  if (!postgresBinDir()) return POSTGRES_MISSING_MESSAGE;
  if (!wranglerAvailable()) return 'wrangler is not installed (npm ci installs it): the workerd runtime cannot be tested';
  return undefined;
}

const why = missing();
if (why && process.env.CI === 'true') throw new Error(`${why}: required when CI=true`);
if (why) console.warn(`WARNING: skipping the runtime tests: ${why}`);

let pg: RunningPostgres | undefined;

before(async () => {
  if (!why) pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
});

/** A database of its own in the cluster for one runtime. */
async function createDatabase(name: string): Promise<string> {
  const postgres = (await import('postgres')).default;
  const sql = postgres(pg!.url, { max: 1, onnotice: () => {} });
  await sql.unsafe(`create database ${name}`);
  await sql.end();
  const u = new URL(pg!.url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** `smimegw db migrate`, the deployment step (a Worker does not migrate). */
function migrate(url: string) {
  return runOk(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli.ts'), 'db', 'migrate'], { env: { ...process.env, DATABASE_URL: url }, cwd: ROOT, timeoutMs: 60_000 });
}

for (const runtime of ['node', 'workerd'] as const satisfies readonly Runtime[]) {
  describe(`the web service under ${runtime}`, { skip: why, timeout: 300_000 }, () => {
    let target: Target;
    let db: Database;
    let dbUrl = '';
    let n = 0;
    const fresh = (name: string) => `${name}.${runtime}.${++n}@example.jp`;
    let enrolled: { address: string; certPem: string; chainPem: string; keyPem: string; serial: string } | undefined;
    const work = mkdtempSync(join(tmpdir(), `smimegw-rt-${runtime}-`));

    before(async () => {
      const url = await createDatabase(`smimegw_${runtime}`);
      dbUrl = url;
      if (runtime === 'workerd') {
        // the deployment step: a Worker does not migrate
        const r = await migrate(url);
        assert.match(r.stderr, /schema in .* is up to date/);
      }
      target = runtime === 'node' ? await startNode(url) : await startWorkerd(url);
      db = await openDatabase({ database: { kind: 'postgres', url } });
    });
    after(async () => {
      await target?.stop();
      await db?.close();
      rmSync(work, { recursive: true, force: true });
    });

    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${target.base}${path}`, { headers, redirect: 'manual' });
    const post = (path: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = JSON_HEADERS) =>
      fetch(`${target.base}${path}`, { method: 'POST', headers, body, redirect: 'manual' });
    const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
      post(path, new URLSearchParams(fields).toString(), { 'content-type': 'application/x-www-form-urlencoded', origin: target.base, accept: 'text/html', ...headers });

    /** The pickup service as the mail worker runs it (same master key and database as the target). */
    async function pickupService() {
      const config = loadConfig({ ...SHARED_SETTINGS, DATABASE_URL: 'postgres://unused@127.0.0.1/unused', PUBLIC_URL: target.base });
      return (await createPickupService(config, db.db))!;
    }

    async function mailTo(address: string, containing?: string): Promise<{ text: string; relay: boolean }> {
      for (let i = 0; i < 50; i++) {
        const rows = await db.db.select().from(outbox).where(eq(outbox.to, address)).orderBy(desc(outbox.id)).limit(5);
        const row = rows.find((r) => !containing || r.text.includes(containing));
        if (row) return row;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no mail to ${address} in the outbox`);
    }

    async function errorOf(res: Response): Promise<{ code: string; message: string }> {
      const body = (await res.json()) as { error?: { code: string; message: string } };
      assert.ok(body.error, `an error body (status ${res.status})`);
      assert.ok(body.error.message.length > 10, `a message a person can act on: ${body.error.message}`);
      return body.error;
    }

    it('answers /healthz from PostgreSQL', async () => {
      const res = await get('/healthz');
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok', db: 'postgres' });
    });

    it('enrollment API: proof of the mailbox by code, a certificate that OpenSSL verifies against the CA', async (t: TestContext) => {
      if (!(await requireTool(t, 'openssl'))) return;
      const address = fresh('hanako');
      const started = await post('/api/v1/enrollments', JSON.stringify({ email: address, locale: 'ja' }));
      assert.equal(started.status, 202, await started.clone().text());
      const { id } = (await started.json()) as { id: string };
      const mail = await mailTo(address, id);
      // a Worker cannot send mail: its mail is queued for a server's relay
      assert.equal(mail.relay, runtime === 'workerd');
      const code = CODE_RE.exec(mail.text)?.[1];
      assert.ok(code, 'the mail carries the code');

      const wrong = await post(`/api/v1/enrollments/${id}/verify`, JSON.stringify({ code: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' }));
      assert.equal(wrong.status, 403);
      const verified = await post(`/api/v1/enrollments/${id}/verify`, JSON.stringify({ code }));
      assert.equal(verified.status, 200, await verified.clone().text());
      const { token } = (await verified.json()) as { token: string };
      assert.match(token, /^[A-Za-z0-9_-]{22,}$/, 'a token of at least 128 bits');

      const csr = await opensslCsr(address);
      const issued = await post(`/api/v1/enrollments/${id}/certificate`, csr.csrPem, { 'content-type': 'application/x-pem-file', authorization: `Bearer ${token}` });
      assert.equal(issued.status, 201, await issued.clone().text());
      const body = (await issued.json()) as { certificate: string; chain: string[] | string; address: string };
      assert.equal(body.address, address);
      const chainPem = Array.isArray(body.chain) ? body.chain.join('') : body.chain;

      const root = await get('/ca/root.crt');
      assert.equal(root.status, 200);
      assert.equal(root.headers.get('content-type'), 'application/pkix-cert');
      writeFileSync(join(work, 'root.der'), new Uint8Array(await root.arrayBuffer()));
      await runOk('openssl', ['x509', '-inform', 'DER', '-in', join(work, 'root.der'), '-out', join(work, 'root.pem')]);
      writeFileSync(join(work, 'chain.pem'), chainPem);
      writeFileSync(join(work, 'cert.pem'), body.certificate);
      const v = await run('openssl', ['verify', '-purpose', 'smimeencrypt', '-CAfile', join(work, 'root.pem'), '-untrusted', join(work, 'chain.pem'), join(work, 'cert.pem')]);
      assert.equal(v.code, 0, `${v.stdout.toString()}${v.stderr}`);
      const text = (await runOk('openssl', ['x509', '-in', join(work, 'cert.pem'), '-noout', '-ext', 'subjectAltName', '-serial'])).stdout.toString();
      assert.match(text, new RegExp(`email:${address.replace(/\./g, '\\.')}`));
      const serial = /serial=([0-9A-F]+)/.exec(text)![1]!;
      enrolled = { address, certPem: body.certificate, chainPem, keyPem: csr.keyPem, serial };

      // the token is spent
      const again = await post(`/api/v1/enrollments/${id}/certificate`, csr.csrPem, { 'content-type': 'application/x-pem-file', authorization: `Bearer ${token}` });
      assert.equal(again.status, 401);
    });

    it('the directory answers for the enrolled address: JSON and a certs-only .p7c', async (t: TestContext) => {
      if (!(await requireTool(t, 'openssl'))) return;
      assert.ok(enrolled, 'the enrollment test ran first');
      const res = await get(`/api/v1/directory/${encodeURIComponent(enrolled.address)}`);
      if (res.status !== 200) await new Promise((r) => setTimeout(r, 1000));
      assert.equal(res.status, 200, `${await res.clone().text()}\n${target.output().slice(-3000)}`);
      const entry = (await res.json()) as { address: string; certificate: string; fingerprint: string; algorithms: { content: string } };
      assert.equal(entry.address, enrolled.address);
      assert.equal(entry.certificate.replace(/\r?\n/g, ''), enrolled.certPem.replace(/\r?\n/g, ''));
      assert.match(entry.fingerprint, /^[0-9a-f]{64}$/);

      const p7c = await get(`/api/v1/directory/${encodeURIComponent(enrolled.address)}.p7c`);
      assert.equal(p7c.status, 200);
      assert.match(p7c.headers.get('content-type') ?? '', /^application\/pkcs7-mime; smime-type=certs-only/);
      writeFileSync(join(work, 'certs.p7c'), new Uint8Array(await p7c.arrayBuffer()));
      const printed = (await runOk('openssl', ['pkcs7', '-inform', 'DER', '-in', join(work, 'certs.p7c'), '-print_certs', '-noout'])).stdout.toString();
      assert.match(printed, new RegExp(`subject=CN ?= ?${enrolled.address.replace(/\./g, '\\.')}`));

      const none = await get(`/api/v1/directory/${encodeURIComponent(fresh('nobody'))}`);
      assert.equal(none.status, 404);
      assert.equal((await errorOf(none)).code, 'directory.not_found');
    });

    it('CRL and OCSP: the CRL downloads and parses, OCSP answers good for the issued certificate', async (t: TestContext) => {
      if (!(await requireTool(t, 'openssl'))) return;
      assert.ok(enrolled, 'the enrollment test ran first');
      for (const file of ['issuing.crl', 'root.crl']) {
        const res = await get(`/crl/${file}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'application/pkix-crl');
        writeFileSync(join(work, file), new Uint8Array(await res.arrayBuffer()));
      }
      const crl = (await runOk('openssl', ['crl', '-inform', 'DER', '-in', join(work, 'issuing.crl'), '-noout', '-issuer', '-nextupdate'])).stdout.toString();
      assert.match(crl, /issuer=.*Issuing CA/);
      // the CRL's signature checks out against the issuing CA of the chain
      const issuingPem = enrolled.chainPem.split(/(?<=-----END CERTIFICATE-----\r?\n?)/)[0]!;
      writeFileSync(join(work, 'issuing.pem'), issuingPem);
      const verifyCrl = await run('openssl', ['crl', '-inform', 'DER', '-in', join(work, 'issuing.crl'), '-noout', '-CAfile', join(work, 'issuing.pem')]);
      assert.match(`${verifyCrl.stdout.toString()}${verifyCrl.stderr}`, /verify OK/);

      const ocsp = await run('openssl', [
        'ocsp', '-issuer', join(work, 'issuing.pem'), '-cert', join(work, 'cert.pem'), '-url', `${target.base}/ocsp`,
        '-CAfile', join(work, 'root.pem'), '-verify_other', join(work, 'chain.pem'), '-no_nonce',
      ], { timeoutMs: 30_000 });
      const ocspOut = `${ocsp.stdout.toString()}${ocsp.stderr}`;
      assert.equal(ocsp.code, 0, ocspOut);
      assert.match(ocspOut, /Response verify OK/);
      assert.match(ocspOut, /cert\.pem: good/);
    });

    it('a pickup link opens; a code by mail; the message reads', async () => {
      const service = await pickupService();
      const recipient = fresh('bob');
      const m = sampleMessage({ to: recipient });
      const deposited = await service.deposit({ message: source(m.bytes), sender: 'taro@int.test', recipient, subject: 'Q3 quotation' });
      assert.ok(deposited.token.length >= 22);
      const link = `/pickup/${deposited.token}`;

      const landing = await get(link, { accept: 'text/html', 'accept-language': 'ja' });
      assert.equal(landing.status, 200);
      const lhtml = await landing.text();
      assert.match(lhtml, /確認コードを送る/);
      assert.ok(!lhtml.includes(SECRET_TEXT.slice(0, 10)), 'nothing of the content before verification');

      const sent = await form(`${link}/code`, {});
      assert.equal(sent.status, 303, await sent.clone().text());
      const challenge = /challenge=([0-9a-f-]{36})/.exec(sent.headers.get('location') ?? '')?.[1];
      assert.ok(challenge);
      const code = CODE_RE.exec((await mailTo(recipient, challenge)).text)?.[1];
      assert.ok(code);
      const ok = await form(`${link}/verify`, { challenge, code });
      assert.equal(ok.status, 303, await ok.clone().text());
      const cookie = ok.headers.getSetCookie()[0]!.split(';')[0]!;
      const page = await get(link, { cookie, accept: 'text/html' });
      assert.equal(page.status, 200);
      assert.ok((await page.text()).includes(SECRET_TEXT), 'the message is shown after verification');
    });

    it('pages render: enrollment form and import guide in both languages, the admin sign-in', async () => {
      const login = await get('/admin/login', { accept: 'text/html' });
      assert.equal(login.status, 200);
      assert.match(await login.text(), /name="_csrf" value="[A-Za-z0-9_-]{40,}"/);
      for (const [lang, re] of [['en', /<html lang="en"/], ['ja', /<html lang="ja"/]] as const) {
        for (const path of ['/enroll', '/enroll/guide']) {
          const res = await get(`${path}?lang=${lang}`, { accept: 'text/html', 'accept-language': lang });
          assert.equal(res.status, 200, `${path} ${lang}`);
          assert.match(await res.text(), re, `${path} ${lang}`);
        }
      }
      const js = await get('/assets/enroll.js');
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
      assert.ok((await js.text()).length > 1000, 'the browser bundle is served');
    });

    it('refuses bad input the same way: status and error code', async (t: TestContext) => {
      if (!(await requireTool(t, 'openssl'))) return;
      const address = fresh('mallory');
      const started = await post('/api/v1/enrollments', JSON.stringify({ email: address }));
      assert.equal(started.status, 202);
      const { id } = (await started.json()) as { id: string };
      const code = CODE_RE.exec((await mailTo(address, id)).text)![1]!;
      const { token } = (await (await post(`/api/v1/enrollments/${id}/verify`, JSON.stringify({ code }))).json()) as { token: string };
      const auth = { authorization: `Bearer ${token}` };
      const tampered = tamperCsrSignature((await opensslCsr(address)).csrPem);
      const otherAddress = (await opensslCsr(fresh('eve'))).csrPem;

      const cases: Array<{ what: string; res: () => Promise<Response>; status: number; code: string | RegExp }> = [
        { what: 'not JSON', res: () => post('/api/v1/enrollments', '{"email":'), status: 400, code: /^(http|enroll|request)\./ },
        { what: 'no email', res: () => post('/api/v1/enrollments', '{}'), status: 400, code: /\./ },
        { what: 'not an address', res: () => post('/api/v1/enrollments', JSON.stringify({ email: 'not-an-address' })), status: 400, code: /\./ },
        { what: 'wrong media type', res: () => post('/api/v1/enrollments', JSON.stringify({ email: address }), { 'content-type': 'text/plain' }), status: 415, code: /\./ },
        { what: 'unknown enrollment', res: () => post(`/api/v1/enrollments/${crypto.randomUUID()}/verify`, JSON.stringify({ code })), status: 404, code: 'proof.not_found' },
        { what: 'bad token', res: () => post(`/api/v1/enrollments/${id}/certificate`, 'x', { 'content-type': 'text/plain', authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAA' }), status: 401, code: /\./ },
        { what: 'garbage CSR', res: () => post(`/api/v1/enrollments/${id}/certificate`, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', { 'content-type': 'application/x-pem-file', ...auth }), status: 400, code: /^(csr|enroll|ca)\./ },
        { what: 'CSR signature tampered', res: () => post(`/api/v1/enrollments/${id}/certificate`, tampered, { 'content-type': 'application/x-pem-file', ...auth }), status: 400, code: /^(csr|enroll|ca)\./ },
        { what: 'CSR for another address', res: () => post(`/api/v1/enrollments/${id}/certificate`, otherAddress, { 'content-type': 'application/x-pem-file', ...auth }), status: 403, code: 'ca.csr_wrong_address' },
        { what: 'CSR too large', res: () => post(`/api/v1/enrollments/${id}/certificate`, 'A'.repeat(64 * 1024), { 'content-type': 'text/plain', ...auth }), status: 413, code: /\./ },
        { what: 'directory: not an address', res: () => get('/api/v1/directory/not-an-address'), status: 400, code: /^directory\./ },
        { what: 'unknown path', res: () => get('/no/such/page'), status: 404, code: 'http.not_found' },
        { what: 'unknown CRL', res: () => get('/crl/other.crl'), status: 404, code: 'http.not_found' },
        { what: 'unknown pickup link', res: () => get(`/pickup/${randomBytes(32).toString('base64url')}`), status: 404, code: /\./ },
        { what: 'admin sign-in without CSRF token', res: () => form('/admin/login', { username: 'x', password: 'y' }), status: 403, code: /\./ },
      ];
      for (const c of cases) {
        const res = await c.res();
        assert.equal(res.status, c.status, `${c.what}: ${await res.clone().text()}`);
        if (!(res.headers.get('content-type') ?? '').includes('json')) continue; // HTML error pages for the browser
        const e = await errorOf(res);
        if (typeof c.code === 'string') assert.equal(e.code, c.code, c.what);
        else assert.match(e.code, c.code, c.what);
      }
      // OCSP never answers an HTTP error: malformedRequest inside a 200
      const ocsp = await post('/ocsp', new Uint8Array([1, 2, 3]), { 'content-type': 'application/ocsp-request' });
      assert.equal(ocsp.status, 200);
      assert.deepEqual([...new Uint8Array(await ocsp.arrayBuffer())], [0x30, 0x03, 0x0a, 0x01, 0x01]);
    });

    it('admin console: sign-in with password and TOTP, revoke the enrolled certificate; the CRL lists it and OCSP says revoked', async (t: TestContext) => {
      if (!(await requireTool(t, 'openssl'))) return;
      assert.ok(enrolled, 'the enrollment test ran first');
      const created = await runOk(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli.ts'), 'admin', 'create', '--email', `root.${runtime}@corp.example`], {
        env: { ...process.env, ...SHARED_SETTINGS, DATABASE_URL: dbUrl },
        cwd: ROOT,
        timeoutMs: 60_000,
      });
      const password = /Initial password \(shown only now\): (\S+)/.exec(created.stdout.toString())?.[1];
      assert.ok(password, created.stdout.toString());

      const cookies = new Map<string, string>();
      const send = async (path: string, fields?: Record<string, string>): Promise<Response> => {
        const headers: Record<string, string> = { accept: 'text/html' };
        if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
        const res = fields ? await form(path, fields, headers) : await get(path, headers);
        for (const line of res.headers.getSetCookie()) {
          const [pair] = line.split(';');
          const i = pair!.indexOf('=');
          if (/max-age=0/i.test(line)) cookies.delete(pair!.slice(0, i));
          else cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
        }
        return res;
      };
      const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

      const loginPage = await send('/admin/login');
      const pw = await send('/admin/login', { _csrf: csrfOf(await loginPage.text()), username: `root.${runtime}@corp.example`, password });
      assert.equal(pw.status, 303, await pw.clone().text());
      const setup = await (await send('/admin/totp')).text();
      const secret = base32ToBytes(/id="totp-secret">([A-Z2-7 ]+)</.exec(setup)![1]!.replace(/ /g, ''));
      const done = await send('/admin/totp', { _csrf: csrfOf(setup), code: totpAt(secret, Date.now() / 1000) });
      assert.equal(done.status, 303, await done.clone().text());
      assert.equal(done.headers.get('location'), '/admin/certificates');

      const list = await send(`/admin/certificates?address=${encodeURIComponent(enrolled.address)}`);
      assert.equal(list.status, 200);
      const listHtml = await list.text();
      const id = new RegExp(`/admin/certificates/([0-9a-f-]{36})`).exec(listHtml)?.[1];
      assert.ok(id, 'the list links the enrolled certificate');
      const revoked = await send(`/admin/certificates/${id}/revoke`, { _csrf: csrfOf(listHtml), reason: 'keyCompromise', confirm: 'yes' });
      assert.equal(revoked.status, 303, await revoked.clone().text());

      const crl = await get('/crl/issuing.crl');
      writeFileSync(join(work, 'after.crl'), new Uint8Array(await crl.arrayBuffer()));
      const crlText = (await runOk('openssl', ['crl', '-inform', 'DER', '-in', join(work, 'after.crl'), '-noout', '-text'])).stdout.toString();
      assert.match(crlText, new RegExp(`Serial Number: 0*${enrolled.serial.replace(/^0+/, '')}\\s+Revocation Date:[^\\n]+\\n\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Key Compromise`, 'i'));
      const ocsp = await run('openssl', [
        'ocsp', '-issuer', join(work, 'issuing.pem'), '-cert', join(work, 'cert.pem'), '-url', `${target.base}/ocsp`,
        '-CAfile', join(work, 'root.pem'), '-verify_other', join(work, 'chain.pem'), '-no_nonce',
      ], { timeoutMs: 30_000 });
      const out = `${ocsp.stdout.toString()}${ocsp.stderr}`;
      assert.match(out, /Response verify OK/);
      assert.match(out, /cert\.pem: revoked/);
      assert.match(out, /Reason: keyCompromise/);
      // the directory no longer offers it
      const gone = await get(`/api/v1/directory/${encodeURIComponent(enrolled.address)}`);
      assert.equal(gone.status, 404);
      // the audit chain is intact and names the admin's action
      const chain = await send('/admin/api/audit/chain');
      assert.equal(chain.status, 200);
      assert.equal(((await chain.json()) as { ok: boolean }).ok, true);
    });

    if (runtime === 'workerd') {
      it('the Cron Trigger runs the hourly jobs: an expired pickup loses its content, the CRL stays fresh', async () => {
        const service = await pickupService();
        const recipient = fresh('carol');
        const d = await service.deposit({ message: source(sampleMessage({ to: recipient }).bytes), sender: 'taro@int.test', recipient, subject: 'old' });
        await db.db.update(pickups).set({ expiresAt: new Date(Date.now() - 60_000) }).where(eq(pickups.id, d.pickupId));
        const [before] = await db.db.select().from(pickups).where(eq(pickups.id, d.pickupId));
        assert.ok(before?.blobKey, 'stored before the run');

        const res = await get(`/__scheduled?cron=${encodeURIComponent('17 * * * *')}`);
        assert.equal(res.status, 200, await res.clone().text());
        const [afterRun] = await db.db.select().from(pickups).where(eq(pickups.id, d.pickupId));
        assert.equal(afterRun?.blobKey, null, 'the content is deleted');
        assert.ok(afterRun?.deletedAt);
        assert.equal((await db.db.select().from(blobs).where(eq(blobs.key, before.blobKey))).length, 0);
        const stored = await db.db.select().from(crls);
        assert.ok(stored.length >= 1 && stored.every((c) => c.nextUpdate.getTime() > Date.now() + 24 * 3600_000), 'CRLs on file, valid beyond the next run');
        assert.doesNotMatch(target.output(), /a scheduled job failed/);

        // the link now says so
        const gone = await get(`/pickup/${d.token}`, { accept: 'text/html' });
        assert.equal(gone.status, 410);
      });

      it('the server side relays what the Worker queued: `smimegw worker` with NOTIFY_SMTP_URL sends the code, which then verifies', async () => {
        const sink = await startSmtpSink();
        const dataDir = mkdtempSync(join(tmpdir(), 'smimegw-rt-relay-'));
        const server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli.ts'), 'worker'], {
          cwd: ROOT,
          env: { ...process.env, ...SHARED_SETTINGS, DATABASE_URL: dbUrl, PUBLIC_URL: target.base, NOTIFY_SMTP_URL: sink.url, FILTER_LISTEN: '127.0.0.1:0', DATA_DIR: dataDir },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let serverOut = '';
        server.stdout.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
        server.stderr.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
        try {
          const address = fresh('relayed');
          const started = await post('/api/v1/enrollments', JSON.stringify({ email: address }));
          assert.equal(started.status, 202);
          const { id } = (await started.json()) as { id: string };
          const end = Date.now() + 60_000;
          let mail: { to: string[]; raw: Buffer } | undefined;
          while (!(mail = sink.mails.find((m) => m.to.includes(address))) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
          assert.ok(mail, `the relay delivered the mail:\n${serverOut}`);
          const decoded = mail.raw.toString('utf8').replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
          const code = CODE_RE.exec(decoded)?.[1];
          assert.ok(code, 'the relayed mail carries the code');
          const verified = await post(`/api/v1/enrollments/${id}/verify`, JSON.stringify({ code }));
          assert.equal(verified.status, 200);
          const [row] = await db.db.select().from(outbox).where(eq(outbox.to, address));
          assert.ok(row?.sentAt, 'marked sent');
          assert.equal(sink.mails.filter((m) => m.to.includes(address)).length, 1, 'sent once');
        } finally {
          server.kill('SIGTERM');
          await new Promise((r) => server.once('exit', r));
          await sink.close();
          rmSync(dataDir, { recursive: true, force: true });
        }
      });

      it('without a CA in production it answers 503 with what the operator must do, not a crash', async () => {
        const url = await createDatabase('smimegw_workerd_empty');
        await migrate(url);
        const prod = await startWorkerd(url, { NODE_ENV: 'production' }, { expectHealthy: false });
        try {
          const res = await fetch(`${prod.base}/enroll`);
          assert.equal(res.status, 503);
          const body = (await res.json()) as { error: { code: string; message: string } };
          assert.equal(body.error.code, 'ca.not_initialized');
          assert.match(body.error.message, /smimegw ca init/);
          assert.equal(res.headers.get('retry-after'), '30');
        } finally {
          await prod.stop();
        }
      });
    }
  });
}
