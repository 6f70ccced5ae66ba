/**
 * The lookup and revocation behaviour every database backend must show. Run against PGlite
 * (lookup.test.ts) and a throwaway PostgreSQL (postgres.test.ts). `env()` gives two Directory
 * instances with separate caches over the same database (for PostgreSQL: separate connections),
 * standing in for two processes.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Directory } from '../../src/directory/directory.js';
import type { Clock } from '../../src/shared/clock.js';
import type { TestPki } from '../helpers/pki.js';
import { cert, createExternalCa, DAY, installAsOurCa, registerIssued, startCrlServer, trustTestPki, type TestDirectory } from './helpers.js';
import { certificates } from '../../src/db/schema.js';

export interface SuiteEnv {
  pki: TestPki;
  /** A fresh, empty database with a Directory on it. */
  open(options?: { clock?: Clock }): Promise<TestDirectory>;
  /** A Directory with its own cache (and, where possible, its own connection) on the same database. */
  second(t: TestDirectory, options?: { clock?: Clock }): Promise<{ directory: Directory; close(): Promise<void> }>;
  tmp: string;
}

export class MovableClock implements Clock {
  constructor(public t = Date.now()) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export function lookupSuite(env: () => SuiteEnv): void {
  it('answers with the certificate our CA issued, the interop algorithms and a reason', async () => {
    const { pki } = env();
    const t = await env().open();
    try {
      await installAsOurCa(t, pki);
      const alice = await pki.issue({ email: 'alice@example.com', key: 'rsa2048' });
      const id = await registerIssued(t, alice.certPem);
      const r = await t.directory.lookup('alice@EXAMPLE.com');
      assert.ok(r.entry, JSON.stringify(r.candidates));
      assert.equal(r.entry.id, id);
      assert.equal(r.entry.source, 'issued');
      assert.equal(r.entry.fingerprint, cert(alice.certPem).fingerprint256);
      assert.deepEqual([r.entry.algorithms.content, r.entry.algorithms.keyTransport], ['aes256-cbc', 'rsa-pkcs1']);
      assert.match(r.entry.reason, /issued certificate, the only usable certificate.*interop default/);
      assert.equal(r.entry.pem, alice.certPem.replace(/\r\n/g, '\n'));
      assert.equal((await t.directory.lookup('nobody@example.com')).entry, null);
      // the local part is exact
      assert.equal((await t.directory.lookup('Alice@example.com')).entry, null);
    } finally {
      await t.close();
    }
  });

  it('rotation: the newer certificate is chosen, the older stays listed as superseded', async () => {
    const { pki } = env();
    const t = await env().open();
    try {
      await trustTestPki(t, pki);
      const [old, renewed] = await Promise.all([
        pki.issue({ email: 'rot@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - 200 * DAY) }),
        pki.issue({ email: 'rot@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - 2 * DAY) }),
      ]);
      const s = await t.directory.importCertificates([
        { name: 'renewed.pem', bytes: Buffer.from(renewed.certPem) },
        { name: 'old.pem', bytes: Buffer.from(old.certPem) },
      ]);
      assert.equal(s.added, 2, JSON.stringify(s.outcomes));
      const r = await t.directory.lookup('rot@example.com');
      assert.equal(r.entry?.fingerprint, cert(renewed.certPem).fingerprint256);
      assert.match(r.entry!.reason, /the newest of 2 usable certificates/);
      assert.deepEqual(
        r.candidates.map((c) => [c.fingerprint, c.status]),
        [
          [cert(renewed.certPem).fingerprint256, 'active'],
          [cert(old.certPem).fingerprint256, 'superseded'],
        ],
      );
    } finally {
      await t.close();
    }
  });

  it('revocation in one process takes effect on the next lookup in another', async () => {
    const { pki } = env();
    const t = await env().open();
    const other = await env().second(t);
    try {
      await installAsOurCa(t, pki);
      const [older, newer] = await Promise.all([
        pki.issue({ email: 'rev@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - 30 * DAY) }),
        pki.issue({ email: 'rev@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - DAY) }),
      ]);
      await registerIssued(t, older.certPem);
      const newerId = await registerIssued(t, newer.certPem);
      // both "processes" answer, and cache, the newer certificate
      assert.equal((await other.directory.lookup('rev@example.com')).entry?.id, newerId);
      assert.equal((await t.directory.lookup('rev@example.com')).entry?.id, newerId);
      const before = other.directory.cacheStats().hits;
      assert.equal((await other.directory.lookup('rev@example.com')).entry?.id, newerId);
      assert.equal(other.directory.cacheStats().hits, before + 1, 'the repeated lookup came from the cache');

      await t.directory.revoke(newerId, { reason: 'keyCompromise', actor: 'test' });
      const r = await other.directory.lookup('rev@example.com');
      assert.equal(r.entry?.fingerprint, cert(older.certPem).fingerprint256, 'the other process falls back to the older certificate at once');
      const revoked = r.candidates.find((c) => c.id === newerId)!;
      assert.equal(revoked.status, 'revoked');
      assert.equal(revoked.reasons[0]?.code, 'cert.revoked');
      assert.match(revoked.reasons[0]!.message, /revoked by our CA on .*keyCompromise/);

      // the CA's own way of revoking: status + revoked_at on the row, and a version bump
      await t.database.db.update(certificates).set({ status: 'revoked', revokedAt: new Date() });
      assert.equal((await other.directory.lookup('rev@example.com')).entry?.fingerprint, cert(older.certPem).fingerprint256, 'an update without a version bump is not seen (cached)');
      await t.store.bumpVersion();
      assert.equal((await other.directory.lookup('rev@example.com')).entry, null);
    } finally {
      await other.close();
      await t.close();
    }
  });

  it('a certificate added in one process is found on the next lookup in another (cached 404 dropped)', async () => {
    const { pki } = env();
    const t = await env().open();
    const other = await env().second(t);
    try {
      await trustTestPki(t, pki);
      assert.equal((await other.directory.lookup('late@example.com')).entry, null);
      const late = await pki.issue({ email: 'late@example.com', key: 'p256' });
      await t.directory.importCertificates([{ name: 'late.pem', bytes: Buffer.from(late.certPem) }]);
      const r = await other.directory.lookup('late@example.com');
      assert.equal(r.entry?.fingerprint, cert(late.certPem).fingerprint256);
      assert.deepEqual([r.entry!.algorithms.content, r.entry!.algorithms.keyTransport], ['aes256-cbc', 'ecdh-sha256kdf']);
    } finally {
      await other.close();
      await t.close();
    }
  });

  it('cached answers expire with the certificate, even without a directory change', async () => {
    const { pki } = env();
    const clock = new MovableClock();
    const t = await env().open({ clock });
    try {
      await trustTestPki(t, pki);
      const short = await pki.issue({ email: 'short@example.com', key: 'rsa2048', notAfter: new Date(Date.now() + 2 * DAY) });
      await t.directory.importCertificates([{ name: 'short.pem', bytes: Buffer.from(short.certPem) }]);
      assert.ok((await t.directory.lookup('short@example.com')).entry);
      clock.advance(3 * DAY);
      const r = await t.directory.lookup('short@example.com');
      assert.equal(r.entry, null);
      assert.equal(r.candidates[0]?.status, 'expired');
      assert.equal(r.candidates[0]?.reasons[0]?.code, 'cert.expired');
    } finally {
      await t.close();
    }
  });

  it('external CA: its CRL is fetched, cached, and a revocation on a newer CRL takes effect', async () => {
    const { tmp } = env();
    const server = await startCrlServer();
    const clock = new MovableClock();
    const t = await env().open({ clock });
    const other = await env().second(t, { clock });
    try {
      const ca = await createExternalCa(tmp, server.url('/ext.crl'));
      await t.directory.addTrustedRoots(Buffer.from(ca.root.certPem), 'root.pem', 'test');
      const eve = await ca.issue('eve@partner.example');
      server.set('/ext.crl', await ca.crl());
      const s = await t.directory.importCertificates([{ name: 'eve.pem', bytes: Buffer.from(eve.certPem + ca.issuing.certPem) }]);
      assert.equal(s.added, 1, JSON.stringify(s.outcomes));
      const r = await other.directory.lookup('eve@partner.example');
      assert.ok(r.entry, JSON.stringify(r.candidates));
      assert.match(r.entry.reason, /not on the CRL at http:\/\/127\.0\.0\.1:\d+\/ext\.crl/);
      const fetched = server.hits.get('/ext.crl') ?? 0;
      assert.ok(fetched >= 1);

      await ca.revoke(eve);
      server.set('/ext.crl', await ca.crl(30));
      // the cached CRL is current (nextUpdate in 7 days): no new download yet
      await other.directory.lookup('eve@partner.example');
      clock.advance(8 * DAY);
      const after = await other.directory.lookup('eve@partner.example');
      assert.equal(after.entry, null);
      assert.equal(after.candidates[0]?.reasons[0]?.code, 'cert.revoked');
      assert.match(after.candidates[0]!.reasons[0]!.message, /keyCompromise.*CRL at http/);
      // the downloaded CRL was stored: the first process sees the revocation without downloading
      const hits = server.hits.get('/ext.crl');
      assert.equal((await t.directory.lookup('eve@partner.example')).entry, null);
      assert.equal(server.hits.get('/ext.crl'), hits);
    } finally {
      await other.close();
      await t.close();
      await server.close();
    }
  });
}
