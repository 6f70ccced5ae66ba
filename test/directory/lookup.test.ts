/** The lookup/revocation suite on embedded PGlite (in memory). */
import { after, before, describe } from 'node:test';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { openTestDirectory, tempDir } from './helpers.js';
import { lookupSuite } from './suite.js';

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
