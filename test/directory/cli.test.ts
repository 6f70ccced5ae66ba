/**
 * `smimegw directory import|lookup|revoke` and `smimegw trust add|list|remove` through runCli over
 * an embedded PGlite database in a temporary DATA_DIR (as an administrator runs them).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliIO } from '../../src/cli.js';
import { progressReporter } from '../../src/cli-directory.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { runOk } from '../helpers/exec.js';
import { cert, DAY, tempDir } from './helpers.js';

let pki: TestPki;
let tmp: { path: string; remove(): Promise<void> };
let env: NodeJS.ProcessEnv;

before(async () => {
  [pki, tmp] = await Promise.all([createTestPki(), tempDir()]);
  env = { ...process.env, NODE_ENV: 'test', DATA_DIR: join(tmp.path, 'data'), DATABASE_URL: '' };
});
after(async () => {
  await pki?.cleanup();
  await tmp?.remove();
});

async function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out: Uint8Array[] = [];
  let err = '';
  const io: CliIO = { stdin: async () => new Uint8Array(0), stdout: (b) => void out.push(b), stderr: (s) => void (err += s) };
  const code = await runCli(args, io, { ...env, ...extraEnv });
  return { code, out: Buffer.concat(out).toString(), err };
}

describe('smimegw trust / directory', () => {
  it('trust add, list, remove; a non-CA certificate is refused', async () => {
    const rootPath = join(tmp.path, 'root.pem');
    await writeFile(rootPath, pki.root.certPem);
    const fp = cert(pki.root.certPem).fingerprint256;
    const add = await cli(['trust', 'add', rootPath]);
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, new RegExp(`Trusted: CN=smimegw Test Root .* \\(SHA-256 ${fp}\\)`));
    assert.match((await cli(['trust', 'add', rootPath])).out, /Already trusted/);
    const list = await cli(['trust', 'list']);
    assert.match(list.out, new RegExp(`${fp}  admin .*CN=smimegw Test Root`));
    const leaf = await pki.issue({ email: 'leaf@example.com', key: 'rsa2048' });
    const bad = await cli(['trust', 'add', leaf.certPath]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /is not a CA certificate/);
    assert.equal((await cli(['trust', 'remove', 'ab'.repeat(32)])).code, 1);
    assert.equal((await cli(['trust', 'bogus'])).code, 2);
  });

  it('directory import: files and folders, .p12 with --p12-password-env, progress lines, a summary with reasons; lookup; revoke', async () => {
    const dir = join(tmp.path, 'certs');
    await mkdir(join(dir, 'sub'), { recursive: true });
    const [a, b, old, ec] = await Promise.all([
      pki.issue({ email: 'a@example.com', key: 'rsa2048' }),
      pki.issue({ email: 'b@example.com', key: 'rsa2048' }),
      pki.issue({ email: 'old@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) }),
      pki.issue({ email: 'ec@example.com', key: 'p256' }),
    ]);
    await writeFile(join(dir, 'a.pem'), a.certPem + a.chainPem);
    await writeFile(join(dir, 'sub', 'old.pem'), old.certPem);
    await writeFile(join(dir, 'sub', 'junk.cer'), 'not a certificate');
    const p7 = (await runOk('openssl', ['crl2pkcs7', '-nocrl', '-certfile', ec.certPath, '-outform', 'DER'])).stdout;
    await writeFile(join(dir, 'ec.p7c'), p7);

    const r = await cli(['directory', 'import', '--p12-password-env', 'P12PASS', dir, b.p12Path], { P12PASS: b.p12Password });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Imported 5 file\(s\): 3 added, 0 updated, 0 unchanged, 2 rejected; 1 CA certificate\(s\) learnt for chains$/m);
    assert.match(r.out, /^ {2}cert\.expired {2}.*old\.pem: cert\.expired: expired on/m);
    assert.match(r.out, /^ {2}cert\.malformed {2}.*junk\.cer: /m);
    // not a terminal: progress as lines, the last one at 100%
    assert.match(r.err, /5\/5 files \(100%\): added 3, updated 0, unchanged 0, rejected 2/);

    const look = await cli(['directory', 'lookup', 'B@example.com']);
    assert.equal(look.code, 1, 'the local part is exact');
    const found = await cli(['directory', 'lookup', 'b@EXAMPLE.com']);
    assert.equal(found.code, 0, found.err);
    const j = JSON.parse(found.out);
    assert.equal(j.fingerprint, cert(b.certPem).fingerprint256);
    assert.equal(j.source, 'imported');

    const rev = await cli(['directory', 'revoke', j.fingerprint, '--reason', 'cessationOfOperation']);
    assert.equal(rev.code, 0, rev.err);
    const after = JSON.parse((await cli(['directory', 'lookup', 'b@example.com'])).out);
    assert.equal(after.found, false);
    assert.equal(after.candidates[0].status, 'revoked');
  });

  it('directory import: exit 1 when nothing at all could be imported; usage errors exit 2', async () => {
    const junk = join(tmp.path, 'junk.pem');
    await writeFile(junk, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    const r = await cli(['directory', 'import', junk]);
    assert.equal(r.code, 1);
    assert.match(r.out, /0 added, 0 updated, 0 unchanged, 1 rejected/);
    assert.match(r.err, /nothing could be imported/);
    assert.equal((await cli(['directory', 'import'])).code, 2);
    assert.equal((await cli(['directory', 'import', '--p12-password-env', 'NOPE_NOT_SET', junk])).code, 2);
    assert.equal((await cli(['directory', 'import', join(tmp.path, 'missing.pem')])).code, 1);
  });

  it('progress on a terminal: one redrawn bar, throttled, ending with a newline', () => {
    let out = '';
    let now = 0;
    const p = progressReporter((s) => void (out += s), true, () => now);
    for (let i = 1; i <= 1000; i++) {
      now += 1; // 1 ms per file: only every 100th redraw shows
      p.update(i, 1000, [{ file: `f${i}`, status: i % 10 ? 'added' : 'rejected' }]);
    }
    const frames = out.split('\r').filter(Boolean);
    assert.ok(frames.length <= 12, `${frames.length} redraws`);
    assert.match(frames.at(-1)!, /^\[#{30}\] 1000\/1000 files {2}added 900, updated 0, unchanged 0, rejected 100\x1b\[K\n$/);
  });
});
