/**
 * External CRLs served by a local HTTP server (openssl ca -gencrl): the fail-open and fail-closed
 * policies when the server is down or only an outdated CRL is at hand, CRLs from the wrong issuer,
 * and the parser on an openssl CRL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCrl, crlDistributionPoints, assertCrlIssuedBy } from '../../src/directory/crl.js';
import { fetchCrlFetcher } from '../../src/directory/revocation.js';
import { loadConfig } from '../../src/config/index.js';
import { AppError } from '../../src/shared/errors.js';
import { cert, createExternalCa, DAY, openTestDirectory, startCrlServer, tempDir, type ExternalCa } from './helpers.js';
import { MovableClock } from './suite.js';

let tmp: { path: string; remove(): Promise<void> };
let server: Awaited<ReturnType<typeof startCrlServer>>;
let ca: ExternalCa;
let otherCa: ExternalCa;

before(async () => {
  tmp = await tempDir();
  server = await startCrlServer();
  [ca, otherCa] = await Promise.all([createExternalCa(tmp.path, server.url('/a.crl')), createExternalCa(tmp.path, server.url('/b.crl'))]);
});
after(async () => {
  await server?.close();
  await tmp?.remove();
});

async function setup(policy: 'fail-open' | 'fail-closed', clock = new MovableClock()) {
  const t = await openTestDirectory({ crlPolicy: policy, clock });
  await t.directory.addTrustedRoots(Buffer.from(ca.root.certPem + otherCa.root.certPem), 'roots.pem', 'test');
  return { t, clock };
}

describe('external CRLs', () => {
  it('parses an openssl CRL: issuer, dates, revoked serials with reasons; the distribution point of a certificate', async () => {
    const victim = await ca.issue('victim@partner.example');
    await ca.revoke(victim);
    const crl = parseCrl(new Uint8Array(await ca.crl()));
    const c = cert(victim.certPem);
    assert.equal(crl.revoked.get(c.serialHex)?.reason, 'keyCompromise');
    assert.ok(crl.nextUpdate && crl.nextUpdate.getTime() - crl.thisUpdate.getTime() === 7 * DAY);
    assertCrlIssuedBy(crl, cert(ca.issuing.certPem));
    assert.throws(() => assertCrlIssuedBy(crl, cert(otherCa.issuing.certPem)), (e: AppError) => e.code === 'crl.wrong_issuer');
    assert.deepEqual(crlDistributionPoints(c), [server.url('/a.crl')]);
    assert.throws(() => parseCrl(new Uint8Array([0x30, 0x03, 1, 2, 3])), (e: AppError) => e.code === 'crl.malformed');
  });

  it('fail-open: the CRL server is down -> still usable, and the reason says revocation was not checked', async () => {
    const { t } = await setup('fail-open');
    try {
      const u = await ca.issue('open@partner.example');
      server.set('/a.crl', undefined);
      const s = await t.directory.importCertificates([{ name: 'u.pem', bytes: Buffer.from(u.certPem + ca.issuing.certPem) }]);
      assert.equal(s.added, 1, JSON.stringify(s.outcomes));
      const r = await t.directory.lookup('open@partner.example');
      assert.ok(r.entry);
      assert.match(r.entry.reason, /CRL unavailable, revocation not checked \(fail-open: .*HTTP 503/);
    } finally {
      await t.close();
    }
  });

  it('fail-closed: down -> unusable (crl.unavailable); once the CRL is served (after the retry delay) -> usable', async () => {
    const clock = new MovableClock();
    const { t } = await setup('fail-closed', clock);
    try {
      const u = await ca.issue('closed@partner.example');
      server.set('/a.crl', undefined);
      const s = await t.directory.importCertificates([{ name: 'u.pem', bytes: Buffer.from(u.certPem + ca.issuing.certPem) }]);
      assert.equal(s.rejected, 1);
      assert.equal(s.outcomes[0]?.reason?.code, 'crl.unavailable');
      assert.match(s.outcomes[0]!.reason!.message, /DIRECTORY_CRL_POLICY is fail-closed/);
      // a certificate already on file (e.g. imported while the CRL was reachable) becomes unusable too
      server.set('/a.crl', await ca.crl());
      const t2 = await setup('fail-closed', clock);
      try {
        const s2 = await t2.t.directory.importCertificates([{ name: 'u.pem', bytes: Buffer.from(u.certPem + ca.issuing.certPem) }]);
        assert.equal(s2.added, 1, JSON.stringify(s2.outcomes));
        server.set('/a.crl', undefined);
        clock.advance(8 * DAY); // the CRL we have is outdated now
        const r = await t2.t.directory.lookup('closed@partner.example');
        assert.equal(r.entry, null);
        assert.equal(r.candidates[0]?.reasons[0]?.code, 'crl.unavailable', JSON.stringify(r.candidates.map((c) => c.reasons)));
        assert.match(r.candidates[0]!.reasons[0]!.message, /outdated CRL/);
        server.set('/a.crl', await ca.crl(30));
        clock.advance(61_000); // past the retry delay
        assert.ok((await t2.t.directory.lookup('closed@partner.example')).entry);
      } finally {
        await t2.t.close();
      }
    } finally {
      await t.close();
    }
  });

  it('fail-open keeps applying the last CRL it had, even outdated', async () => {
    const clock = new MovableClock();
    const { t } = await setup('fail-open', clock);
    try {
      const u = await ca.issue('stale@partner.example');
      server.set('/a.crl', await ca.crl());
      await t.directory.importCertificates([{ name: 'u.pem', bytes: Buffer.from(u.certPem + ca.issuing.certPem) }]);
      await ca.revoke(u);
      server.set('/a.crl', await ca.crl());
      clock.advance(8 * DAY);
      assert.equal((await t.directory.lookup('stale@partner.example')).entry, null, 'the new CRL says revoked');
      server.set('/a.crl', undefined);
      clock.advance(8 * DAY);
      const r = await t.directory.lookup('stale@partner.example');
      assert.equal(r.entry, null, 'still revoked by the outdated CRL while the server is down');
      assert.equal(r.candidates[0]?.reasons[0]?.code, 'cert.revoked');
    } finally {
      await t.close();
    }
  });

  it('a CRL signed by another CA is not accepted (fail-closed: unavailable)', async () => {
    const { t } = await setup('fail-closed');
    try {
      const u = await ca.issue('wrongcrl@partner.example');
      server.set('/a.crl', await otherCa.crl());
      const s = await t.directory.importCertificates([{ name: 'u.pem', bytes: Buffer.from(u.certPem + ca.issuing.certPem) }]);
      assert.equal(s.outcomes[0]?.reason?.code, 'crl.unavailable');
      assert.match(s.outcomes[0]!.reason!.message, /not issued by/);
    } finally {
      await t.close();
    }
  });

  it('the fetch-based CrlFetcher: http(s) only, HTTP errors and size limit reported', async () => {
    const f = fetchCrlFetcher({ timeoutMs: 2000, maxBytes: 1000 });
    await assert.rejects(f.fetch('ftp://127.0.0.1/x.crl'), (e: AppError) => e.code === 'crl.fetch_failed');
    server.set('/missing.crl', undefined);
    await assert.rejects(f.fetch(server.url('/missing.crl')), (e: AppError) => /HTTP 503/.test(e.message));
    server.set('/big.crl', Buffer.alloc(5000));
    await assert.rejects(f.fetch(server.url('/big.crl')), (e: AppError) => e.code === 'crl.too_large');
    server.set('/ok.crl', Buffer.from([1, 2, 3]));
    assert.deepEqual([...(await f.fetch(server.url('/ok.crl')))], [1, 2, 3]);
  });
});

describe('DIRECTORY_CRL_POLICY', () => {
  it('defaults to fail-open, accepts fail-closed, refuses anything else', () => {
    assert.equal(loadConfig({}).directoryCrlPolicy, 'fail-open');
    assert.equal(loadConfig({ DIRECTORY_CRL_POLICY: 'fail-closed' }).directoryCrlPolicy, 'fail-closed');
    assert.throws(
      () => loadConfig({ DIRECTORY_CRL_POLICY: 'maybe' }),
      (e: AppError) => e.code === 'config.invalid' && /DIRECTORY_CRL_POLICY must be one of fail-open\|fail-closed, got 'maybe'/.test(e.message),
    );
  });
});
