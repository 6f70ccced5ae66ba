/** The lookup/revocation suite on embedded PGlite (in memory). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { openTestDirectory, tempDir, trustTestPki } from './helpers.js';
import { lookupSuite, MovableClock } from './suite.js';
import { Directory } from '../../src/directory/directory.js';

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

describe('directory version reads (single-flight)', () => {
  it('concurrent lookups share the reads; a lookup that starts after a change committed sees it even while an older read is in flight', async () => {
    const pki = await createTestPki();
    const t = await openTestDirectory();
    try {
      await trustTestPki(t, pki);
      const a = await pki.issue({ email: 'a@example.com', key: 'rsa2048' });
      await t.directory.importCertificates([{ name: 'a.pem', bytes: Buffer.from(a.certPem) }]);
      // this Directory's version reads: counted, and (when held) answered only on release, with
      // the value read when the query was sent
      let reads = 0;
      let hold: Promise<void> | undefined;
      const counting = new Proxy(t.store, {
        get(target, prop, receiver) {
          if (prop !== 'version') return Reflect.get(target, prop, receiver);
          return async () => {
            reads++;
            const v = await target.version();
            if (hold) await hold;
            return v;
          };
        },
      });
      const d = new Directory({ store: counting });

      const answers = await Promise.all(Array.from({ length: 20 }, () => d.find('a@example.com')));
      assert.ok(answers.every((x) => x !== null));
      assert.ok(reads <= 2, `${reads} version reads for 20 concurrent lookups`);

      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      reads = 0;
      const before = d.find('a@example.com'); // its read is in flight, with the version before the revocation
      await new Promise((r) => setTimeout(r, 20));
      await t.directory.revoke(answers[0]!.fingerprint, { reason: 'keyCompromise', actor: 'test' }); // "another process", committed
      const after = Array.from({ length: 5 }, () => d.find('a@example.com')); // began after the commit
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(reads, 1, 'the later lookups wait for a read of their own');
      hold = undefined;
      release();
      assert.ok(await before, 'the lookup that began before the revocation may still see the certificate');
      for (const x of await Promise.all(after)) assert.equal(x, null, 'every lookup that began after the revocation sees it');
      assert.equal(reads, 2, 'the five later lookups shared one read');
      assert.equal(await d.find('a@example.com'), null);
    } finally {
      await t.close();
      await pki.cleanup();
    }
  });

  it('a failed read fails the lookups that shared it, and the next lookup reads again', async () => {
    const pki = await createTestPki();
    const t = await openTestDirectory();
    try {
      let fail = true;
      const flaky = new Proxy(t.store, {
        get(target, prop, receiver) {
          if (prop !== 'version') return Reflect.get(target, prop, receiver);
          return async () => {
            if (fail) throw new Error('database down');
            return target.version();
          };
        },
      });
      const d = new Directory({ store: flaky });
      const results = await Promise.allSettled(Array.from({ length: 3 }, () => d.find('a@example.com')));
      assert.ok(results.every((r) => r.status === 'rejected' && /database down/.test(String(r.reason))));
      fail = false;
      assert.equal(await d.find('a@example.com'), null);
    } finally {
      await t.close();
      await pki.cleanup();
    }
  });
});
