/** The lookup/revocation suite on embedded PGlite (in memory). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { openTestDirectory, tempDir, trustTestPki } from './helpers.js';
import { lookupSuite, MovableClock } from './suite.js';

describe('directory lookup on PGlite', () => {
  let pki: TestPki;
  let tmp: { path: string; remove(): Promise<void> };
  before(async () => {
    pki = await createTestPki();
    tmp = await tempDir();
  });
  after(async () => {
    await pki?.cleanup();
    await tmp?.remove();
  });
  lookupSuite(() => ({
    pki,
    tmp: tmp.path,
    open: (o = {}) => openTestDirectory(o.clock ? { clock: o.clock } : {}),
    // PGlite serves one process: "another process" is another Directory (its own cache, its own revocation state)
    second: async (t, o = {}) => ({ directory: t.make(o.clock ? { clock: o.clock } : {}), close: async () => {} }),
  }));
});

describe('versionMaxAgeMs (opt-in staleness for speed)', () => {
  it("other processes' changes are seen once the window has passed; this Directory's own writes at once", async () => {
    const pki = await createTestPki();
    const clock = new MovableClock();
    const t = await openTestDirectory({ clock });
    try {
      await trustTestPki(t, pki);
      const relaxed = t.make({ cache: { versionMaxAgeMs: 10_000 } });
      const [a, b] = await Promise.all([pki.issue({ email: 'a@example.com', key: 'rsa2048' }), pki.issue({ email: 'b@example.com', key: 'rsa2048' })]);
      assert.equal((await relaxed.lookup('a@example.com')).entry, null);
      await t.directory.importCertificates([{ name: 'a.pem', bytes: Buffer.from(a.certPem) }]); // "another process"
      assert.equal((await relaxed.lookup('a@example.com')).entry, null, 'within the window: the cached answer');
      clock.advance(10_001);
      assert.ok((await relaxed.lookup('a@example.com')).entry, 'after the window: seen');
      assert.equal((await relaxed.lookup('b@example.com')).entry, null);
      await relaxed.importCertificates([{ name: 'b.pem', bytes: Buffer.from(b.certPem) }]); // its own write
      assert.ok((await relaxed.lookup('b@example.com')).entry, 'own write: seen at once');
    } finally {
      await t.close();
      await pki.cleanup();
    }
  });
});
