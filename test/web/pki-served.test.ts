/** The OCSP responder and CRL served over HTTP on 127.0.0.1, queried by `openssl ocsp -url` (with a nonce). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { loadConfig } from '../../src/config/index.js';
import { createApp } from '../../src/web/app.js';
import { caFixture, opensslCsr, opensslRun, type CaFixture } from '../ca/helpers.js';

describe('web pki over HTTP with openssl ocsp -url', () => {
  let f: CaFixture;
  let server: Server;
  let base: string;
  before(async () => {
    f = await caFixture();
    const app = createApp({ db: f.database, config: loadConfig({ NODE_ENV: 'test' }), authority: f.authority });
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => {
        base = `http://127.0.0.1:${info.port}`;
        resolve();
      }) as Server;
    });
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await f.close();
  });

  it('good, revoked and unknown, each response verified against the root and its nonce checked', async () => {
    const certs: Record<string, string> = {};
    for (const name of ['good', 'revoked']) {
      const csr = await opensslCsr(f.dir, { key: 'rsa2048', subject: `/CN=${name}@example.com` });
      const r = await f.authority.issue({ csr: csr.csrPem, authorizedAddress: `${name}@example.com`, actor: 't' });
      certs[name] = join(f.dir, `${name}.pem`);
      await writeFile(certs[name]!, r.pem);
      if (name === 'revoked') await f.authority.revoke({ serialHex: r.certificate.serialHex, reason: 'superseded', actor: 'admin' });
    }
    const r = await opensslRun(['ocsp', '-url', `${base}/ocsp`, '-issuer', f.issuingPath, '-cert', certs['good']!, '-cert', certs['revoked']!, '-serial', '0x7fffffffffffffff01', '-CAfile', f.rootPath, '-timeout', '20']);
    const out = r.stdout.toString() + r.stderr;
    assert.equal(r.code, 0, out);
    assert.match(out, /Response verify OK/);
    assert.doesNotMatch(out, /nonce/i, 'nonce echoed and checked by openssl');
    assert.match(out, new RegExp(`${certs['good']}: good`));
    assert.match(out, new RegExp(`${certs['revoked']}: revoked[\\s\\S]*Reason: superseded`));
    assert.match(out, /0x7fffffffffffffff01: unknown/);
  });

  it('the CRL at the URL in the certificate (host swapped for the test server) lists the revocation', async () => {
    const res = await fetch(`${base}/crl/issuing.crl`);
    assert.equal(res.status, 200);
    const path = join(f.dir, 'served.crl');
    await writeFile(path, new Uint8Array(await res.arrayBuffer()));
    const t = await opensslRun(['crl', '-inform', 'DER', '-in', path, '-noout', '-text', '-CAfile', f.chainPath]);
    assert.match(t.stderr, /verify OK/);
    assert.match(t.stdout.toString(), /Superseded/);
  });
});
