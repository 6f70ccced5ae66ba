/**
 * `npm start` and the CA: the first start outside production creates a development CA (files in
 * DATA_DIR/certs-dev under NODE_ENV=test, keys 0600 and encrypted) and serves it; the next start
 * loads it; production refuses to start without a CA, and refuses a development one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePemAll } from '../../src/shared/bytes.js';
import { decryptPrivateKey } from '../../src/ca/signer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'src', 'entry', 'node.ts');

function start(env: Record<string, string>) {
  const base = { ...process.env };
  for (const k of ['DATABASE_URL', 'CA_KEY_PASSPHRASE', 'NOTIFY_SMTP_URL', 'ADMIN_SECRET_KEY', 'PUBLIC_URL']) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], { cwd: ROOT, env: { ...base, NODE_ENV: 'test', HTTP_LISTEN: '127.0.0.1:0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = async (): Promise<string> => {
    const end = Date.now() + 100_000;
    for (;;) {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) return m[1]!;
      if (child.exitCode !== null) throw new Error(`exited early:\n${out}`);
      if (Date.now() > end) throw new Error(`timed out:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    child.kill('SIGTERM');
    return exited;
  };
  return { child, exited, listening, stop, output: () => out };
}

describe('entry point and the CA', () => {
  it('creates the development CA on first start, serves it, and loads it on the next start', { timeout: 240_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'smimegw-ca-entry-'));
    try {
      const first = start({ DATA_DIR: dataDir });
      let rootDer: Uint8Array;
      try {
        const url = await first.listening();
        assert.match(first.output(), /created a DEVELOPMENT certificate authority \(CN=smimegw DEVELOPMENT [0-9a-f]{6} Issuing CA \d{4}\); its certificates and encrypted keys are in .*certs-dev/);
        const devDir = join(dataDir, 'certs-dev');
        assert.deepEqual((await readdir(devDir)).sort(), ['chain.pem', 'issuing.key.pem', 'issuing.pem', 'root.key.pem', 'root.pem']);
        for (const key of ['root.key.pem', 'issuing.key.pem']) {
          assert.equal((await stat(join(devDir, key))).mode & 0o777, 0o600);
          const pem = await readFile(join(devDir, key), 'utf8');
          assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
          decryptPrivateKey(pem, 'smimegw-dev-only-insecure-passphrase');
        }
        rootDer = decodePemAll(await readFile(join(devDir, 'root.pem'), 'utf8'))[0]!.der;
        const served = await fetch(`${url}/ca/root.crt`);
        assert.equal(served.status, 200);
        assert.deepEqual(new Uint8Array(await served.arrayBuffer()), rootDer);
        const crl = await fetch(`${url}/crl/issuing.crl`);
        assert.equal(crl.status, 200);
        assert.equal(crl.headers.get('content-type'), 'application/pkix-crl');
      } finally {
        assert.equal(await first.stop(), 0, first.output());
      }

      const second = start({ DATA_DIR: dataDir });
      try {
        const url = await second.listening();
        assert.doesNotMatch(second.output(), /created a DEVELOPMENT/);
        assert.match(second.output(), /using the DEVELOPMENT certificate authority/);
        assert.deepEqual(new Uint8Array(await (await fetch(`${url}/ca/root.crt`)).arrayBuffer()), rootDer);
      } finally {
        assert.equal(await second.stop(), 0, second.output());
      }

      // Production refuses that development CA.
      const prod = start({ DATA_DIR: dataDir, NODE_ENV: 'production', CA_KEY_PASSPHRASE: 'a real passphrase', ADMIN_SECRET_KEY: 'x'.repeat(40), NOTIFY_SMTP_URL: 'smtp://127.0.0.1:1' });
      assert.equal(await prod.exited, 1);
      assert.match(prod.output(), /The stored CA is a development CA, which NODE_ENV=production refuses/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('production without a CA stops and says to run smimegw ca init', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'smimegw-ca-entry-'));
    try {
      const prod = start({ DATA_DIR: dataDir, NODE_ENV: 'production', CA_KEY_PASSPHRASE: 'a real passphrase', ADMIN_SECRET_KEY: 'x'.repeat(40), NOTIFY_SMTP_URL: 'smtp://127.0.0.1:1' });
      assert.equal(await prod.exited, 1);
      assert.match(prod.output(), /No certificate authority is set up\. Run `smimegw ca init`/);
      await assert.rejects(readdir(join(dataDir, 'certs-dev')), 'no development files in production');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
