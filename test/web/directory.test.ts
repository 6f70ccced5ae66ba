/**
 * /api/v1/directory over a real Directory on PGlite, with the real mailbox proof (codes "mailed" to
 * the development outbox table): lookups (JSON, list, .p7c), the upload -> code -> active flow in
 * every body form, harvest, and the error answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { createApp } from '../../src/web/app.js';
import type { Hono } from 'hono';
import { signMessage } from '../../src/smime/index.js';
import { utf8 } from '../../src/shared/bytes.js';
import { createTestPki, type IssuedCert, type TestPki } from '../helpers/pki.js';
import { runOk } from '../helpers/exec.js';
import { tamper } from '../helpers/clients.js';
import { party } from '../smime/fixtures.js';
import { cert, DAY, EE_EXT, installAsOurCa, issueCustom, openTestDirectory, realProof, registerIssued, tempDir, type TestDirectory } from '../directory/helpers.js';

const config = loadConfig({ NODE_ENV: 'test' });
let pki: TestPki;
let tmp: { path: string; remove(): Promise<void> };
let t: TestDirectory;
let app: Hono;
let mail: ReturnType<typeof realProof>;
let alice: IssuedCert;

before(async () => {
  [pki, tmp] = await Promise.all([createTestPki(), tempDir()]);
  t = await openTestDirectory();
  mail = realProof(t);
  t.directory = t.make({ proof: mail.proof });
  await installAsOurCa(t, pki); // our CA: its root is trusted, uploads chain to it
  alice = await pki.issue({ email: 'alice@example.com', key: 'rsa2048' });
  await registerIssued(t, alice.certPem);
  app = createApp({ db: t.database, config, directory: t.directory });
});
after(async () => {
  await t?.close();
  await Promise.all([pki?.cleanup(), tmp?.remove()]);
});

const enc = encodeURIComponent;

async function json(res: Response): Promise<Record<string, any>> {
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return (await res.json()) as Record<string, any>;
}

describe('GET /api/v1/directory', () => {
  it('/{address}: the chosen certificate with fingerprint, algorithms, source and reason', async () => {
    const res = await app.request(`/api/v1/directory/${enc('alice@Example.COM')}`);
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.address, 'alice@example.com');
    assert.equal(body.certificate, alice.certPem);
    assert.equal(body.fingerprint, cert(alice.certPem).fingerprint256);
    assert.deepEqual(body.algorithms, { content: 'aes256-cbc', keyTransport: 'rsa-pkcs1' });
    assert.equal(body.source, 'issued');
    assert.equal(typeof body.reason, 'string');
    assert.ok(!body.reason.includes('\n'));
  });

  it('/{address}: 404 with the candidates and their reasons; 400 for something that is not an address', async () => {
    const none = await app.request(`/api/v1/directory/${enc('nobody@example.com')}`);
    assert.equal(none.status, 404);
    const b = await json(none);
    assert.equal(b.error.code, 'directory.not_found');
    assert.deepEqual(b.error.detail.candidates, []);
    const bad = await app.request(`/api/v1/directory/${enc('not an address')}`);
    assert.equal(bad.status, 400);
    assert.equal((await json(bad)).error.code, 'directory.bad_address');
  });

  it('/{address}/certificates lists every certificate with its status', async () => {
    const res = await app.request(`/api/v1/directory/${enc('alice@example.com')}/certificates`);
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.certificates.length, 1);
    assert.equal(body.certificates[0].status, 'active');
    assert.deepEqual(body.certificates[0].reasons, []);
  });

  it('/{address}.p7c: certs-only PKCS#7 that openssl reads', async () => {
    const res = await app.request(`/api/v1/directory/${enc('alice@example.com')}.p7c`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/pkcs7-mime; smime-type=certs-only/);
    assert.match(res.headers.get('content-disposition') ?? '', /filename="alice@example.com.p7c"/);
    const path = join(tmp.path, 'alice.p7c');
    await writeFile(path, new Uint8Array(await res.arrayBuffer()));
    const out = (await runOk('openssl', ['pkcs7', '-inform', 'DER', '-in', path, '-print_certs', '-noout'])).stdout.toString();
    assert.match(out, /subject=CN = alice@example.com/);
    assert.match(out, /subject=CN = smimegw Test Issuing CA/);
    assert.equal((await app.request(`/api/v1/directory/${enc('nobody@example.com')}.p7c`)).status, 404);
  });
});

describe('POST /api/v1/directory/certificates (upload) and /verify', () => {
  it('raw PEM with its chain -> 202 pending (not served) -> wrong code 403 -> mailed code 200 -> served', async () => {
    // a certificate from "another CA" under our root: the issuing CA comes with the upload
    const bobCert = await pki.issue({ email: 'bob@example.com', key: 'rsa2048' });
    const up = await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'application/x-pem-file' }, body: bobCert.certPem + bobCert.chainPem });
    assert.equal(up.status, 202);
    const u = await json(up);
    assert.equal(u.status, 'pending');
    assert.equal(u.address, 'bob@example.com');
    assert.match(u.challengeId, /^[0-9a-f-]{36}$/);

    const pending = await app.request(`/api/v1/directory/${enc('bob@example.com')}`);
    assert.equal(pending.status, 404);
    const p = await json(pending);
    assert.equal(p.error.detail.candidates[0].status, 'pending');
    assert.equal(p.error.detail.candidates[0].reasons[0].code, 'cert.pending');

    const wrong = await app.request(`/api/v1/directory/certificates/${u.id}/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF' }) });
    assert.equal(wrong.status, 403);
    assert.equal((await json(wrong)).error.code, 'proof.wrong_code');

    const code = await mail.lastCode('bob@example.com');
    const ok = await app.request(`/api/v1/directory/certificates/${u.id}/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    assert.equal(ok.status, 200);
    assert.deepEqual(await json(ok), { id: u.id, status: 'active', address: 'bob@example.com', fingerprint: cert(bobCert.certPem).fingerprint256 });
    const served = await json(await app.request(`/api/v1/directory/${enc('bob@example.com')}`));
    assert.equal(served.source, 'uploaded');
    // the code was used
    const again = await app.request(`/api/v1/directory/certificates/${u.id}/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    assert.equal(again.status, 409);
  });

  it('multipart form (DER file) and JSON (base64 DER); a certificate with two addresses needs the one to confirm, and only that one is served', async () => {
    const der = cert((await pki.issue({ email: 'carol@example.com', key: 'p256' })).certPem).der;
    const form = new FormData();
    form.set('certificate', new Blob([new Uint8Array(der)]), 'carol.cer');
    const r1 = await app.request('/api/v1/directory/certificates', { method: 'POST', body: form });
    assert.equal(r1.status, 202, JSON.stringify(await r1.clone().json()));
    const u1 = await json(r1);
    const ok = await app.request(`/api/v1/directory/certificates/${u1.id}/verify`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${enc(await mail.lastCode('carol@example.com'))}&challengeId=${u1.challengeId}` });
    assert.equal(ok.status, 200);

    const two = await issueCustom(tmp.path, { cn: 'two', ext: EE_EXT('email:dan@example.com,email:daniel@example.org'), issuer: { certPath: pki.intermediate.certPath, keyPath: pki.intermediate.keyPath } });
    const b64 = Buffer.from(cert(two.certPem).der).toString('base64');
    const missing = await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ certificate: b64 }) });
    assert.equal(missing.status, 400);
    assert.equal((await json(missing)).error.code, 'upload.address_required');
    const notIn = await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ certificate: b64, address: 'eve@example.com' }) });
    assert.equal((await json(notIn)).error.code, 'cert.address_mismatch');
    const r2 = await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ certificate: b64, address: 'daniel@EXAMPLE.org' }) });
    assert.equal(r2.status, 202);
    const u2 = await json(r2);
    assert.equal(u2.address, 'daniel@example.org');
    const v2 = await app.request(`/api/v1/directory/certificates/${u2.id}/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: await mail.lastCode('daniel@example.org') }) });
    assert.equal(v2.status, 200);
    assert.equal((await app.request(`/api/v1/directory/${enc('daniel@example.org')}`)).status, 200);
    assert.equal((await app.request(`/api/v1/directory/${enc('dan@example.com')}`)).status, 404, 'the unconfirmed address is not served');
  });

  it('a certs-only .p7c (openssl crl2pkcs7) as application/pkcs7-mime', async () => {
    const gil = await pki.issue({ email: 'gil@example.com', key: 'rsa2048' });
    const p7 = (await runOk('openssl', ['crl2pkcs7', '-nocrl', '-certfile', gil.certPath, '-certfile', gil.chainPath, '-outform', 'DER'])).stdout;
    const up = await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'application/pkcs7-mime' }, body: new Uint8Array(p7) });
    assert.equal(up.status, 202);
    const u = await json(up);
    const ok = await app.request(`/api/v1/directory/certificates/${u.id}/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: await mail.lastCode('gil@example.com') }) });
    assert.equal(ok.status, 200);
    assert.equal((await json(await app.request(`/api/v1/directory/${enc('gil@example.com')}`))).fingerprint, cert(gil.certPem).fingerprint256);
  });

  it('refusals: expired 400 with reasons, garbage 400, wrong media type 415, too large 413, unknown id 404', async () => {
    const old = await pki.issue({ email: 'old@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
    const r = await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'application/x-pem-file' }, body: old.certPem });
    assert.equal(r.status, 400);
    const b = await json(r);
    assert.equal(b.error.code, 'cert.expired');
    assert.equal(b.error.detail.reasons[0].code, 'cert.expired');
    const g = await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'application/pkix-cert' }, body: new Uint8Array([0x30, 0x82, 0x10, 0x00, 1, 2, 3]) });
    assert.equal(g.status, 400);
    assert.equal((await json(g)).error.code, 'cert.malformed');
    assert.equal((await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'x' })).status, 415);
    assert.equal((await app.request('/api/v1/directory/certificates', { method: 'POST', headers: { 'content-type': 'application/pkix-cert' }, body: new Uint8Array(300 * 1024) })).status, 413);
    const unknown = await app.request('/api/v1/directory/certificates/00000000-0000-4000-8000-000000000000/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'x' }) });
    assert.equal(unknown.status, 404);
    // still serving
    assert.equal((await app.request(`/api/v1/directory/${enc('alice@example.com')}`)).status, 200);
  });
});

describe('POST /api/v1/directory/harvest', () => {
  it('201 for a new certificate, 200 when known, 400 for a forged signature', async () => {
    const erin = await party(pki, { email: 'erin@partner.example', key: 'rsa2048' });
    const msg = await signMessage(utf8('From: erin@partner.example\r\nTo: us@corp.example\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n'), { certificate: erin.certificate, key: erin.key, chain: erin.chain });
    const post = (body: Uint8Array) => app.request('/api/v1/directory/harvest', { method: 'POST', headers: { 'content-type': 'message/rfc822' }, body: new Uint8Array(body) });
    const r1 = await post(msg);
    assert.equal(r1.status, 201);
    assert.equal((await json(r1)).fingerprint, erin.certificate.fingerprint256);
    assert.equal((await post(msg)).status, 200);
    const forged = await post(new Uint8Array(tamper(Buffer.from(msg), 'content')));
    assert.equal(forged.status, 400);
    assert.equal((await json(forged)).error.code, 'smime.bad_signature');
    assert.equal((await app.request(`/api/v1/directory/${enc('erin@partner.example')}`)).status, 200);
  });
});

describe('the upload form (/directory/upload)', () => {
  it('form upload -> code page -> confirm; the mailed link opens a confirm form; refusals are shown on a page', async () => {
    const page = await app.request('/directory/upload?lang=en');
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<form method="post" action="\/directory\/upload" enctype="multipart\/form-data">/);
    assert.doesNotMatch(html, /<script/);

    const fay = await pki.issue({ email: 'fay@example.com', key: 'rsa2048' });
    const form = new FormData();
    form.set('certificate', new Blob([fay.certPem]), 'fay.pem');
    const sent = await app.request('/directory/upload?lang=en', { method: 'POST', body: form });
    assert.equal(sent.status, 202);
    const sentHtml = await sent.text();
    assert.match(sentHtml, /We sent a code to fay@example.com/);
    const challenge = /name="challenge" value="([0-9a-f-]{36})"/.exec(sentHtml)![1]!;

    // the mailed link (what MailboxProof puts in the mail) shows a form with the code filled in
    const mailText = (await mail.outbox.recent(5)).find((m) => m.to === 'fay@example.com')!.text;
    const link = new URL(/http:\/\/\S+/.exec(mailText)![0]);
    assert.equal(link.pathname, '/directory/upload');
    const confirmPage = await (await app.request(`${link.pathname}${link.search}&lang=en`)).text();
    const code = await mail.lastCode('fay@example.com');
    assert.ok(confirmPage.includes(`value="${code}"`));
    assert.ok(confirmPage.includes(`value="${challenge}"`));

    const wrong = await app.request('/directory/upload/confirm?lang=en', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `challenge=${challenge}&code=WRONG` });
    assert.equal(wrong.status, 403);
    assert.match(await wrong.text(), /<p class="error">That code is not right/);

    const done = await app.request('/directory/upload/confirm?lang=en', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `challenge=${challenge}&code=${enc(code)}` });
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Mail to fay@example.com will now be encrypted to this certificate/);
    assert.equal((await json(await app.request(`/api/v1/directory/${enc('fay@example.com')}`))).source, 'uploaded');

    const bad = new FormData();
    bad.set('certificate', new Blob(['not a certificate']), 'x.pem');
    const refused = await app.request('/directory/upload?lang=ja', { method: 'POST', body: bad });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /<p class="error">upload: /);
  });
});
