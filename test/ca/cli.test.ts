/** `smimegw ca init|issue|revoke|crl` against an embedded PGlite in a temporary DATA_DIR. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliIO } from '../../src/cli.js';
import { loadConfig } from '../../src/config/index.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { openDatabase } from '../../src/db/connection.js';
import { opensslCsr, opensslRun } from './helpers.js';

function io() {
  const out: Uint8Array[] = [];
  let err = '';
  const value: CliIO = { stdin: async () => new Uint8Array(0), stdout: (b) => void out.push(b), stderr: (s) => void (err += s) };
  return { value, out: () => Buffer.concat(out), err: () => err };
}

describe('smimegw ca', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smimegw-cacli-'));
    env = { NODE_ENV: 'test', DATA_DIR: join(dir, 'data'), CA_KEY_PASSPHRASE: 'cli-secret', PUBLIC_URL: 'https://gw.example.test', USER: 'ops' };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = async (args: string[], e: NodeJS.ProcessEnv = env) => {
    const o = io();
    const status = await runCli(args, o.value, e);
    return { status, out: o.out(), err: o.err() };
  };

  it('init refuses the development passphrase, then creates the CA once', { timeout: 120_000 }, async () => {
    const dev = await cli(['ca', 'init'], { ...env, CA_KEY_PASSPHRASE: '' });
    assert.equal(dev.status, 1);
    assert.match(dev.err, /Set CA_KEY_PASSPHRASE/);
    const r = await cli(['ca', 'init', '--organization', 'Example KK', '--out', join(dir, 'root.pem')]);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /root: +O=Example KK, CN=Example KK S\/MIME Root CA \d{4} \(SHA-256 [0-9a-f]{64}\)/);
    const root = await opensslRun(['x509', '-in', join(dir, 'root.pem'), '-noout', '-subject']);
    assert.match(root.stdout.toString(), /CN = Example KK S\/MIME Root CA/);
    const again = await cli(['ca', 'init']);
    assert.equal(again.status, 1);
    assert.match(again.err, /already has a production CA; nothing was changed/);
  });

  it('issue --csr --email [--days] writes the certificate; a CSR for another address is refused', { timeout: 60_000 }, async () => {
    const csr = await opensslCsr(dir, { key: 'rsa2048', subject: '/CN=nora@example.com' });
    const csrPath = join(dir, 'nora.csr');
    await writeFile(csrPath, csr.csrPem);
    const out = join(dir, 'nora.pem');
    const r = await cli(['ca', 'issue', '--csr', csrPath, '--email', 'nora@example.com', '--days', '90', '--out', out]);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, /^Issued [0-9a-f]{32} for nora@example\.com, valid until .*; chain: http:\/\/gw\.example\.test\/ca\/issuing\.crt\n$/);
    const text = (await opensslRun(['x509', '-in', out, '-noout', '-subject', '-dates'])).stdout.toString();
    assert.match(text, /subject=CN = nora@example\.com/);
    const dates = /notBefore=(.+)\nnotAfter=(.+)/.exec(text)!;
    assert.equal(Math.round((Date.parse(dates[2]!) - Date.parse(dates[1]!)) / 86_400_000), 90);

    const wrong = await cli(['ca', 'issue', '--csr', csrPath, '--email', 'oscar@example.com']);
    assert.equal(wrong.status, 1);
    assert.match(wrong.err, /smimegw ca: The certificate request is for 'nora@example\.com', but the verified address is oscar@example\.com/);
    const missing = await cli(['ca', 'issue', '--csr', join(dir, 'nope.csr'), '--email', 'a@example.com']);
    assert.equal(missing.status, 1);
    assert.match(missing.err, /no such file/);
  });

  it('revoke --serial --reason, then crl --out lists it', { timeout: 60_000 }, async () => {
    const serial = (await opensslRun(['x509', '-in', join(dir, 'nora.pem'), '-noout', '-serial'])).stdout.toString().trim().split('=')[1]!;
    const r = await cli(['ca', 'revoke', '--serial', serial, '--reason', 'keyCompromise']);
    assert.equal(r.status, 0, r.err);
    assert.match(r.err, new RegExp(`Revoked ${serial.toLowerCase()} \\(nora@example\\.com, keyCompromise\\)`));
    const twice = await cli(['ca', 'revoke', '--serial', serial, '--reason', 'keyCompromise']);
    assert.equal(twice.status, 1);
    assert.match(twice.err, /already revoked/);
    const crlPath = join(dir, 'issuing.crl');
    const c = await cli(['ca', 'crl', '--out', crlPath]);
    assert.equal(c.status, 0, c.err);
    const text = (await opensslRun(['crl', '-inform', 'DER', '-in', crlPath, '-noout', '-text'])).stdout.toString();
    assert.match(text, new RegExp(`Serial Number: ${serial}[\\s\\S]*Key Compromise`));
    const root = await cli(['ca', 'crl', '--ca', 'root']);
    assert.equal(root.status, 0, root.err);
    assert.equal(root.out[0], 0x30, 'DER on standard output');
    // Who did what is in the audit log.
    const database = await openDatabase(loadConfig(env));
    try {
      const entries = await new DrizzleAuditLog(database.db).recent(50);
      const revoked = entries.find((e) => e.action === 'cert.revoked');
      assert.equal(revoked?.actor, 'cli:ops');
      assert.equal(revoked?.subject, 'nora@example.com');
      assert.ok(entries.some((e) => e.action === 'cert.issue_refused' && e.subject === 'oscar@example.com'));
    } finally {
      await database.close();
    }
  });

  it('usage errors exit 2 before touching the database', async () => {
    for (const args of [['ca'], ['ca', 'bogus'], ['ca', 'issue', '--email', 'a@example.com'], ['ca', 'issue', '--csr', 'x'], ['ca', 'issue', '--csr', 'x', '--email', 'a@example.com', '--days', 'ten'], ['ca', 'revoke', '--serial', '01'], ['ca', 'revoke', '--serial', '01', '--reason', 'certificateHold'], ['ca', 'crl', '--ca', 'other'], ['ca', 'init', '--bogus']]) {
      const r = await cli(args, { ...env, DATA_DIR: '/nonexistent/never-created' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^smimegw ca: /);
    }
  });
});
