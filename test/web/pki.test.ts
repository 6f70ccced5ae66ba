/** The PKI HTTP endpoints: CRLs, CA certificates and OCSP (POST and GET) through the Hono app. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { toBase64, toBase64Url } from '../../src/shared/bytes.js';
import { createApp } from '../../src/web/app.js';
import { caFixture, opensslCsr, opensslRun, type CaFixture } from '../ca/helpers.js';

describe('web pki routes', () => {
  let f: CaFixture;
  let app: ReturnType<typeof createApp>;
  let certPath: string;
  let serialHex: string;
  let n = 0;
  before(async () => {
    f = await caFixture();
    app = createApp({ db: f.database, config: loadConfig({ NODE_ENV: 'test' }), authority: f.authority });
    const csr = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=web@example.com' });
    const r = await f.authority.issue({ csr: csr.csrPem, authorizedAddress: 'web@example.com', actor: 't' });
    certPath = join(f.dir, 'web.pem');
    serialHex = r.certificate.serialHex;
    await writeFile(certPath, r.pem);
  });
  after(async () => {
    await f.close();
  });

  async function save(res: Response): Promise<string> {
    const path = join(f.dir, `web-${++n}.der`);
    await writeFile(path, new Uint8Array(await res.arrayBuffer()));
    return path;
  }

  it('GET /crl/issuing.crl and /crl/root.crl: DER CRLs OpenSSL verifies', async () => {
    await f.authority.revoke({ serialHex, reason: 'cessationOfOperation', actor: 'admin' });
    for (const id of ['issuing', 'root']) {
      const res = await app.request(`/crl/${id}.crl`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/pkix-crl');
      assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
      const path = await save(res);
      const r = await opensslRun(['crl', '-inform', 'DER', '-in', path, '-noout', '-text', '-CAfile', f.chainPath]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /verify OK/);
      if (id === 'issuing') assert.match(r.stdout.toString(), new RegExp(`Serial Number: ${serialHex.toUpperCase()}[\\s\\S]*Cessation Of Operation`));
    }
  });

  it('GET /ca/root.crt and /ca/issuing.crt: the DER certificates the AIA points to', async () => {
    for (const id of ['root', 'issuing'] as const) {
      const res = await app.request(`/ca/${id}.crt`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/pkix-cert');
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), f.authority.caCertificate(id).der);
    }
    const text = (await opensslRun(['x509', '-in', certPath, '-noout', '-ext', 'authorityInfoAccess,crlDistributionPoints'])).stdout.toString();
    assert.match(text, /CA Issuers - URI:http:\/\/smime\.example\.test\/ca\/issuing\.crt/);
    assert.match(text, /URI:http:\/\/smime\.example\.test\/crl\/issuing\.crl/);
  });

  it('unknown CAs and files are 404', async () => {
    for (const path of ['/crl/other.crl', '/ca/other.crt', '/crl/issuing.pem', '/ca/']) {
      assert.equal((await app.request(path)).status, 404, path);
    }
  });

  it('POST /ocsp and GET /ocsp/<base64>: the same signed answer for an openssl request', async () => {
    const req = join(f.dir, 'web.req');
    await opensslRun(['ocsp', '-issuer', f.issuingPath, '-cert', certPath, '-no_nonce', '-reqout', req]);
    const body = new Uint8Array(await readFile(req));
    const responses = [
      await app.request('/ocsp', { method: 'POST', body, headers: { 'content-type': 'application/ocsp-request' } }),
      await app.request(`/ocsp/${encodeURIComponent(toBase64(body))}`),
      await app.request(`/ocsp/${toBase64(body)}`),
      await app.request(`/ocsp/${toBase64Url(body)}`),
    ];
    for (const res of responses) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/ocsp-response');
      const path = await save(res);
      const r = await opensslRun(['ocsp', '-respin', path, '-issuer', f.issuingPath, '-cert', certPath, '-no_nonce', '-CAfile', f.rootPath]);
      assert.match(r.stdout.toString() + r.stderr, /Response verify OK/);
      assert.match(r.stdout.toString(), /: revoked\n[\s\S]*Reason: cessationOfOperation/);
    }
    assert.match(responses[1]!.headers.get('cache-control') ?? '', /max-age=300/);
  });

  it('malformed OCSP requests get a malformedRequest OCSPResponse (HTTP 200)', async () => {
    const attempts = [
      app.request('/ocsp', { method: 'POST', body: 'hello', headers: { 'content-type': 'application/ocsp-request' } }),
      app.request('/ocsp', { method: 'POST', body: new Uint8Array(0) }),
      app.request('/ocsp', { method: 'POST', body: new Uint8Array(20_000) }),
      app.request('/ocsp/not*base64'),
      app.request('/ocsp/%E0%A4%A'),
      app.request('/ocsp/MAMCAQA='),
    ];
    for (const res of await Promise.all(attempts)) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/ocsp-response');
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x01));
    }
  });

  it('without an authority the routes are not mounted', async () => {
    const bare = createApp({ db: f.database, config: loadConfig({ NODE_ENV: 'test' }) });
    assert.equal((await bare.request('/crl/issuing.crl')).status, 404);
  });
});
