import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runCli, type CliIO } from '../src/cli.js';
import { createTestPki, type IssuedCert, type TestPki } from './helpers/pki.js';

const run = promisify(execFile);

let pki: TestPki;
let bob: IssuedCert;
let sender: IssuedCert;
let dir: string;

before(async () => {
  pki = await createTestPki();
  [bob, sender] = await Promise.all([pki.issue({ email: 'bob@example.com', key: 'rsa2048' }), pki.issue({ email: 'sender@corp.example', key: 'rsa2048' })]);
  dir = await mkdtemp(join(tmpdir(), 'smimegw-cli-'));
  await writeFile(join(dir, 'msg.eml'), 'From: sender@corp.example\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nhello\r\n');
  await writeFile(join(dir, 'root.pem'), pki.root.certPem);
});
after(async () => {
  await pki?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function io(stdin = new Uint8Array(0)) {
  const out: Uint8Array[] = [];
  let err = '';
  const value: CliIO = { stdin: async () => stdin, stdout: (b) => void out.push(b), stderr: (s) => void (err += s) };
  return { value, out: () => Buffer.concat(out), err: () => err };
}

test('encrypt -> decrypt through the CLI with files', async () => {
  const a = io();
  assert.equal(await runCli(['encrypt', '--cert', bob.certPath, '--in', join(dir, 'msg.eml'), '--out', join(dir, 'enc.eml')], a.value), 0, a.err());
  const b = io();
  assert.equal(await runCli(['decrypt', '--key', bob.keyPath, '--cert', bob.certPath, '--in', join(dir, 'enc.eml')], b.value), 0, b.err());
  assert.equal(b.out().toString(), '\r\nhello\r\n');
});

test('sign-encrypt -> decrypt -> verify through the CLI, stdin to stdout', async () => {
  const msg = await readFile(join(dir, 'msg.eml'));
  const a = io(msg);
  assert.equal(await runCli(['sign-encrypt', '--key', sender.keyPath, '--cert', sender.certPath, '--chain', sender.chainPath, '--to', bob.certPath], a.value), 0, a.err());
  const b = io(a.out());
  assert.equal(await runCli(['decrypt', '--key', bob.keyPath, '--cert', bob.certPath], b.value), 0, b.err());
  const c = io(b.out());
  assert.equal(await runCli(['verify', '--ca', join(dir, 'root.pem')], c.value), 0, c.err());
  assert.match(c.err(), /Verified: signed by sender@corp\.example/);
  assert.match(c.out().toString(), /hello/);
});

test('bad input: one clear line, non-zero exit, nothing written', async () => {
  await writeFile(join(dir, 'garbage.pem'), '-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n');
  await writeFile(join(dir, 'empty.eml'), '');
  await writeFile(join(dir, 'noblank.eml'), 'From: a@b.example\r\nSubject: x\r\n');
  const cases: [string, string[], RegExp, number][] = [
    ['not a certificate (a key)', ['encrypt', '--cert', bob.keyPath, '--in', join(dir, 'msg.eml')], /no certificate found \(found: PRIVATE KEY\)/, 1],
    ['malformed PEM', ['encrypt', '--cert', join(dir, 'garbage.pem'), '--in', join(dir, 'msg.eml')], /garbage\.pem: .*base64/i, 1],
    ['missing file', ['encrypt', '--cert', join(dir, 'nope.pem'), '--in', join(dir, 'msg.eml')], /nope\.pem: no such file/, 1],
    ['0-byte message', ['encrypt', '--cert', bob.certPath, '--in', join(dir, 'empty.eml')], /empty/i, 1],
    ['no separator', ['encrypt', '--cert', bob.certPath, '--in', join(dir, 'noblank.eml')], /blank line/i, 1],
    ['key does not match cert', ['sign', '--key', bob.keyPath, '--cert', sender.certPath, '--in', join(dir, 'msg.eml')], /does not belong to the certificate/, 1],
    ['unknown option', ['encrypt', '--frobnicate'], /frobnicate/, 2],
    ['no recipients', ['encrypt', '--in', join(dir, 'msg.eml')], /recipient certificate is required/, 2],
    ['decrypt a plain message', ['decrypt', '--key', bob.keyPath, '--cert', bob.certPath, '--in', join(dir, 'msg.eml')], /Not an S\/MIME encrypted message/, 1],
  ];
  for (const [name, args, re, code] of cases) {
    const out = join(dir, 'should-not-exist.eml');
    const x = io();
    const status = await runCli([...args, ...(args.includes('--out') ? [] : ['--out', out])], x.value);
    assert.equal(status, code, `${name}: exit status`);
    assert.match(x.err(), re, name);
    assert.equal(x.err().trim().split('\n').length, 1, `${name}: one line`);
    assert.ok(!(await readdir(dir)).some((f) => f.includes('should-not-exist')), `${name}: nothing written`);
  }
});

test('certificates that cannot be used are refused by the CLI with the reason; DER certificates are read', async () => {
  const now = Date.now();
  const bad: [string, Promise<IssuedCert>, RegExp][] = [
    ['no email', pki.issue({ email: 'x@example.com', key: 'rsa2048', noEmail: true }), /has no email address/],
    ['expired', pki.issue({ email: 'old@example.com', key: 'rsa2048', notBefore: new Date(now - 400 * 86400_000), notAfter: new Date(now - 86400_000) }), /expired on/],
    ['no keyEncipherment', pki.issue({ email: 'sig@example.com', key: 'rsa2048', keyUsage: ['digitalSignature'] }), /does not allow keyEncipherment/],
    ['RSA-1024', pki.issue({ email: 'weak@example.com', key: 'rsa1024' }), /1024-bit RSA key; at least 2048/],
  ];
  for (const [name, issued, re] of bad) {
    const c = await issued;
    const x = io();
    const out = join(dir, 'refused.eml');
    assert.equal(await runCli(['encrypt', '--cert', c.certPath, '--in', join(dir, 'msg.eml'), '--out', out], x.value), 1, name);
    assert.match(x.err(), re, name);
    assert.ok(!(await readdir(dir)).includes('refused.eml'), `${name}: nothing written`);
  }
  const derPath = join(dir, 'bob.der');
  await writeFile(derPath, bob.x509.raw);
  const y = io();
  assert.equal(await runCli(['encrypt', '--cert', derPath, '--in', join(dir, 'msg.eml')], y.value), 0, y.err());
  assert.match(y.out().toString(), /smime-type=enveloped-data/);
});

test('the installed bin runs: smimegw encrypt via bin/smimegw.js', async () => {
  const { stdout } = await run(process.execPath, ['bin/smimegw.js', 'encrypt', '--cert', bob.certPath, '--in', join(dir, 'msg.eml')], { maxBuffer: 1 << 20 });
  assert.match(stdout, /Content-Type: application\/pkcs7-mime; smime-type=enveloped-data/);
  const bad = await run(process.execPath, ['bin/smimegw.js', 'encrypt', '--cert', bob.keyPath, '--in', join(dir, 'msg.eml')]).then(
    () => assert.fail('should exit non-zero'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^smimegw encrypt: .*no certificate found/);
});
