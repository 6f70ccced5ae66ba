/**
 * The enrollment API end to end in-process: app.request() against PGlite in memory, the real
 * development CA, the dev outbox for the codes, and certificate requests made with `openssl req`.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { auditLog, certificates } from '../../src/db/schema.js';
import { DrizzleDirectoryStore } from '../../src/db/directory-store.js';
import { Directory } from '../../src/directory/directory.js';
import { MAX_ATTEMPTS, LIMIT_PER_ADDRESS, LIMIT_PER_CLIENT, CODE_TTL_MS } from '../../src/proof/mailbox.js';
import { requireTool } from '../helpers/clients.js';
import { opensslCsr, tamperCsrSignature } from '../enrollment/openssl-csr.js';
import { createEnrollmentStack, type EnrollmentStack } from '../enrollment/stack.js';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

let stack: EnrollmentStack;
let n = 0;
/** A fresh address per test (the rate limit per address is 5 an hour). */
const fresh = (name: string) => `${name}.${++n}@example.com`;

async function post(path: string, body: unknown, headers: Record<string, string> = JSON_HEADERS): Promise<Response> {
  return stack.app.request(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function start(email: string): Promise<{ id: string; code: string }> {
  const res = await post('/api/v1/enrollments', { email, locale: 'en' });
  assert.equal(res.status, 202, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  const { code, challenge } = await stack.lastCode(email);
  assert.equal(challenge, id);
  return { id, code };
}

async function verified(email: string): Promise<{ id: string; token: string }> {
  const { id, code } = await start(email);
  const res = await post(`/api/v1/enrollments/${id}/verify`, { code });
  assert.equal(res.status, 200, await res.clone().text());
  const { token } = (await res.json()) as { token: string };
  return { id, token };
}

function submitCsr(id: string, token: string | undefined, csrPem: string, type = 'application/x-pem-file'): Promise<Response> {
  return post(`/api/v1/enrollments/${id}/certificate`, csrPem, { 'Content-Type': type, ...(token ? { Authorization: `Bearer ${token}` } : {}) });
}

async function errorOf(res: Response): Promise<{ code: string; message: string; detail?: Record<string, unknown> }> {
  const body = (await res.json()) as { error: { code: string; message: string; detail?: Record<string, unknown> } };
  assert.ok(body.error, 'an error body');
  assert.ok(body.error.message.length > 10, 'a message a person can act on');
  return body.error;
}

async function issuedCount(): Promise<number> {
  return (await stack.database.db.select().from(certificates).where(eq(certificates.source, 'issued'))).length;
}

async function auditActions(subjectOrAddress?: string): Promise<Array<{ action: string; detail: Record<string, unknown> | null; subject: string | null; actor: string }>> {
  const rows = await stack.database.db.select().from(auditLog);
  return rows.filter((r) => !subjectOrAddress || r.subject === subjectOrAddress || r.actor === subjectOrAddress || JSON.stringify(r.detail ?? {}).includes(subjectOrAddress));
}

describe('enrollment API (PGlite, development CA, openssl-made requests)', () => {
  before(async () => {
    stack = await createEnrollmentStack();
  });
  after(async () => {
    await stack?.close();
  });

  it('issues a certificate for the proven address only, returns it with the chain, registers it at once, spends the token', async (t: TestContext) => {
    if (!(await requireTool(t, 'openssl'))) return;
    const email = fresh('alice');
    const { id, token } = await verified(email);
    const before = await issuedCount();
    const csr = await opensslCsr(email);
    const res = await submitCsr(id, token, csr.csrPem);
    assert.equal(res.status, 201, await res.clone().text());
    const body = (await res.json()) as { certificate: string; chain: string; address: string };
    assert.equal(body.address, email);
    const cert = new X509Certificate(body.certificate);
    assert.match(cert.subjectAltName ?? '', new RegExp(`email:${email.replace(/\./g, '\\.')}`));
    const chain = body.chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.equal(chain.length, 2, 'issuing CA and root');
    const [issuing, root] = chain.map((p) => new X509Certificate(p));
    assert.ok(cert.verify(issuing!.publicKey), 'signed by the issuing CA');
    assert.ok(issuing!.verify(root!.publicKey), 'issuing CA signed by the root');
    assert.ok(cert.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(csr.keyPem))), 'the key of the request');
    assert.equal(await issuedCount(), before + 1);

    // Registered in the recipient directory at once: the directory picks it for this address.
    const directory = new Directory({ store: new DrizzleDirectoryStore(stack.database.db), clock: stack.clock, cache: false });
    const entry = await directory.find(email);
    assert.ok(entry, 'the directory has a certificate for the address');
    assert.equal(entry.fingerprint.replace(/:/g, '').toLowerCase(), cert.fingerprint256.replace(/:/g, '').toLowerCase());

    const actions = (await auditActions(email)).map((a) => a.action);
    for (const a of ['enroll.code_sent', 'enroll.verified', 'cert.issued', 'enroll.certificate_issued']) assert.ok(actions.includes(a), `audit has ${a}: ${actions.join(',')}`);

    const again = await submitCsr(id, token, (await opensslCsr(email)).csrPem);
    assert.equal(again.status, 401);
    assert.equal((await errorOf(again)).code, 'proof.token_used');
    assert.equal(await issuedCount(), before + 1);
  });

  it('refuses bad requests with a clear 4xx, issues nothing, audits each, and keeps the token for a fixed request', async (t: TestContext) => {
    if (!(await requireTool(t, 'openssl'))) return;
    const email = fresh('bob');
    const { id, token } = await verified(email);
    const before = await issuedCount();
    const good = await opensslCsr(email);
    const cases: Array<[string, string, number, string]> = [
      ['another address', (await opensslCsr('mallory@example.com')).csrPem, 403, 'ca.csr_wrong_address'],
      ['RSA-1024', (await opensslCsr(email, { key: 'rsa:1024' })).csrPem, 400, 'ca.csr_weak_key'],
      ['SHA-1 signature', (await opensslCsr(email, { digest: 'sha1' })).csrPem, 400, 'ca.csr_weak_signature'],
      ['tampered signature', tamperCsrSignature(good.csrPem), 400, 'ca.csr_bad_signature'],
      ['garbage', 'this is not a certificate request', 400, 'ca.csr_malformed'],
      ['garbage PEM', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', 400, 'ca.csr_malformed'],
      ['empty', '', 400, 'ca.csr_malformed'],
    ];
    for (const [what, csrPem, status, code] of cases) {
      const res = await submitCsr(id, token, csrPem);
      assert.equal(res.status, status, `${what}: ${await res.clone().text()}`);
      assert.equal((await errorOf(res)).code, code, what);
    }
    assert.equal(await issuedCount(), before, 'nothing issued');
    const refused = (await auditActions()).filter((a) => a.action === 'enroll.certificate_refused' && a.subject === id);
    assert.deepEqual(
      refused.map((a) => a.detail?.code),
      cases.map((c) => c[3]),
      'every refusal audited with its reason',
    );

    const res = await submitCsr(id, token, good.csrPem);
    assert.equal(res.status, 201, 'the token still works for a fixed request');
    assert.equal(await issuedCount(), before + 1);
  });

  it('one token, one certificate: of two concurrent requests exactly one is issued', async (t: TestContext) => {
    if (!(await requireTool(t, 'openssl'))) return;
    const email = fresh('twice');
    const { id, token } = await verified(email);
    const before = await issuedCount();
    const [a, b] = await Promise.all([opensslCsr(email), opensslCsr(email)]);
    const results = await Promise.all([submitCsr(id, token, a.csrPem), submitCsr(id, token, b.csrPem)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 401]);
    assert.equal(await issuedCount(), before + 1);
  });

  it('a key the CA already certified for the address is refused before the token is spent', async (t: TestContext) => {
    if (!(await requireTool(t, 'openssl'))) return;
    const email = fresh('rekey');
    const csr = await opensslCsr(email);
    const first = await verified(email);
    assert.equal((await submitCsr(first.id, first.token, csr.csrPem)).status, 201);
    const second = await verified(email);
    const before = await issuedCount();
    const res = await submitCsr(second.id, second.token, csr.csrPem);
    assert.equal(res.status, 409);
    assert.equal((await errorOf(res)).code, 'ca.key_reused');
    const refused = (await auditActions()).filter((a) => a.action === 'enroll.certificate_refused' && a.subject === second.id);
    assert.deepEqual(refused.map((a) => a.detail?.code), ['ca.key_reused']);
    assert.equal(await issuedCount(), before);
    assert.equal((await submitCsr(second.id, second.token, (await opensslCsr(email)).csrPem)).status, 201, 'a new key with the same token');
  });

  it('accepts a DER request as application/pkcs10 and an EC P-256 key', async (t: TestContext) => {
    if (!(await requireTool(t, 'openssl'))) return;
    const email = fresh('carol');
    const { id, token } = await verified(email);
    const csr = await opensslCsr(email, { key: 'ec' });
    const der = Buffer.from(csr.csrPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const res = await stack.app.request(`/api/v1/enrollments/${id}/certificate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/pkcs10', Authorization: `Bearer ${token}` },
      body: der,
    });
    assert.equal(res.status, 201, await res.clone().text());
  });

  it('refuses a token of another enrollment, a missing or malformed token, and an unknown id', async (t: TestContext) => {
    if (!(await requireTool(t, 'openssl'))) return;
    const a = await verified(fresh('dave'));
    const email = fresh('erin');
    const b = await verified(email);
    const csr = (await opensslCsr(email)).csrPem;
    const before = await issuedCount();

    let res = await submitCsr(a.id, b.token, csr);
    assert.equal(res.status, 403);
    assert.equal((await errorOf(res)).code, 'enroll.mismatch');
    res = await submitCsr(b.id, undefined, csr);
    assert.equal(res.status, 401);
    assert.equal((await errorOf(res)).code, 'enroll.no_token');
    res = await post(`/api/v1/enrollments/${b.id}/certificate`, csr, { 'Content-Type': 'text/plain', Authorization: 'Basic Zm9vOmJhcg==' });
    assert.equal(res.status, 401);
    res = await submitCsr(b.id, 'A'.repeat(22), csr);
    assert.equal(res.status, 401);
    assert.equal((await errorOf(res)).code, 'proof.bad_token');
    res = await post('/api/v1/enrollments/not-an-id/verify', { code: 'x' });
    assert.equal(res.status, 404);
    res = await post('/api/v1/enrollments/00000000-0000-4000-8000-000000000000/verify', { code: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' });
    assert.equal(res.status, 404);
    assert.equal(await issuedCount(), before);
    assert.equal((await submitCsr(b.id, b.token, csr)).status, 201, 'the right token still works');
  });

  it('wrong codes count down and lock; a reused code is refused; everything is audited', async () => {
    const email = fresh('frank');
    const { id, code } = await start(email);
    for (let i = 1; i < MAX_ATTEMPTS; i++) {
      const res = await post(`/api/v1/enrollments/${id}/verify`, { code: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' });
      assert.equal(res.status, 403);
      const err = await errorOf(res);
      assert.equal(err.code, 'proof.wrong_code');
      assert.equal(err.detail?.attemptsLeft, MAX_ATTEMPTS - i);
    }
    let res = await post(`/api/v1/enrollments/${id}/verify`, { code: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' });
    assert.equal((await errorOf(res)).code, 'proof.locked');
    res = await post(`/api/v1/enrollments/${id}/verify`, { code });
    assert.equal(res.status, 403);
    assert.equal((await errorOf(res)).code, 'proof.locked', 'even the right code fails once locked');
    const refused = (await auditActions()).filter((a) => a.action === 'enroll.verify_refused' && a.subject === id);
    assert.equal(refused.length, MAX_ATTEMPTS + 1);

    const other = await start(fresh('grace'));
    res = await post(`/api/v1/enrollments/${other.id}/verify`, { code: other.code.toLowerCase() });
    assert.equal(res.status, 200);
    res = await post(`/api/v1/enrollments/${other.id}/verify`, { code: other.code });
    assert.equal(res.status, 409);
    assert.equal((await errorOf(res)).code, 'proof.used');

    res = await post(`/api/v1/enrollments/${other.id}/verify`, { code: 42 });
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'enroll.bad_code');
  });

  it('an expired code is refused (24 hours)', async () => {
    const { id, code } = await start(fresh('heidi'));
    stack.clock.advance(CODE_TTL_MS + 1000);
    try {
      const res = await post(`/api/v1/enrollments/${id}/verify`, { code });
      assert.equal(res.status, 403);
      assert.equal((await errorOf(res)).code, 'proof.expired');
    } finally {
      stack.clock.advance(-(CODE_TTL_MS + 1000));
    }
  });

  it('limits codes per address (429 with a message) and audits the refusal', async () => {
    const email = fresh('ivan');
    for (let i = 0; i < LIMIT_PER_ADDRESS; i++) assert.equal((await post('/api/v1/enrollments', { email })).status, 202);
    const res = await post('/api/v1/enrollments', { email });
    assert.equal(res.status, 429);
    const err = await errorOf(res);
    assert.equal(err.code, 'rate_limited');
    assert.match(err.message, /Too many codes .* this address; try again in \d+ minutes?/);
    const audited = (await auditActions()).filter((a) => a.action === 'enroll.start_refused' && a.detail?.email === email);
    assert.equal(audited.length, 1);
  });

  it('refuses wrong content types (415), oversized bodies (413), bad JSON and bad input (400)', async () => {
    let res = await post('/api/v1/enrollments', 'email=a@example.com', { 'Content-Type': 'application/x-www-form-urlencoded' });
    assert.equal(res.status, 415);
    assert.equal((await errorOf(res)).code, 'http.unsupported_media_type');
    res = await post('/api/v1/enrollments', '{"email": "x@example.com"', JSON_HEADERS);
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'http.bad_json');
    res = await post('/api/v1/enrollments', '[1]', JSON_HEADERS);
    assert.equal(res.status, 400);
    res = await post('/api/v1/enrollments', { email: 'x@example.com', pad: 'x'.repeat(5000) });
    assert.equal(res.status, 413);
    res = await post('/api/v1/enrollments', { email: 'not an address' });
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'proof.bad_address');
    res = await post('/api/v1/enrollments', { email: 'x@example.com', locale: 'fr' });
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'enroll.bad_locale');

    const { id, token } = await verified(fresh('judy'));
    res = await post(`/api/v1/enrollments/${id}/certificate`, JSON.stringify({ csr: 'x' }), { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` });
    assert.equal(res.status, 415);
    res = await submitCsr(id, token, 'A'.repeat(17 * 1024));
    assert.equal(res.status, 413);
  });

  it('mails the code in the language asked for, else from Accept-Language', async () => {
    const a = fresh('kenji');
    await post('/api/v1/enrollments', { email: a, locale: 'ja' });
    assert.match((await stack.lastCode(a)).text, /確認コード: /);
    const b = fresh('yuki');
    await post('/api/v1/enrollments', { email: b }, { ...JSON_HEADERS, 'Accept-Language': 'ja-JP,ja;q=0.9,en;q=0.5' });
    assert.match((await stack.lastCode(b)).text, /確認コード: /);
    const c = fresh('lee');
    await post('/api/v1/enrollments', { email: c }, { ...JSON_HEADERS, 'Accept-Language': 'de-DE, en;q=0.5' });
    assert.match((await stack.lastCode(c)).text, /^To get your S\/MIME certificate/);
  });

  it('limits codes per client (429)', async () => {
    const client = { ...JSON_HEADERS, 'X-Test-Client-Ip': '198.51.100.7' };
    for (let i = 0; i < LIMIT_PER_CLIENT; i++) {
      assert.equal((await post('/api/v1/enrollments', { email: fresh('many') }, client)).status, 202);
    }
    const res = await post('/api/v1/enrollments', { email: fresh('one-more') }, client);
    assert.equal(res.status, 429);
    assert.match((await errorOf(res)).message, /from your network/);
    assert.equal((await post('/api/v1/enrollments', { email: fresh('elsewhere') })).status, 202, 'other clients are not limited');
  });
});
