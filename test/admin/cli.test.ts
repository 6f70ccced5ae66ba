/** `smimegw admin create` through runCli, against PGlite in a temporary DATA_DIR (no stdin). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asc, eq } from 'drizzle-orm';
import { verifyPassword } from '../../src/admin/password.js';
import { runCli, type CliIO } from '../../src/cli.js';
import { loadConfig } from '../../src/config/index.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { openDatabase } from '../../src/db/connection.js';
import { adminUsers, auditLog } from '../../src/db/schema.js';

function io() {
  const out: Uint8Array[] = [];
  let err = '';
  const value: CliIO = {
    stdin: async () => {
      throw new Error('admin create must not read standard input');
    },
    stdout: (b) => void out.push(b),
    stderr: (s) => void (err += s),
  };
  return { value, out: () => Buffer.concat(out).toString(), err: () => err };
}

describe('smimegw admin create', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'smimegw-admin-cli-'));
    env = { NODE_ENV: 'test', DATA_DIR: dataDir, USER: 'ops', PUBLIC_URL: 'https://gw.example.com' };
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('creates the first admin, prints a 20-character password once, and audits it', async () => {
    const a = io();
    assert.equal(await runCli(['admin', 'create', '--email', 'First.Admin@Corp.Example'], a.value, env), 0, a.err());
    const m = /^Created admin first\.admin@corp\.example\.\nInitial password \(shown only now\): ([A-Za-z0-9]{20})\nSign in at https:\/\/gw\.example\.com\/admin\/login with it; the first sign-in sets up an authenticator app \(TOTP\)\.\n$/.exec(a.out());
    assert.ok(m, a.out());
    assert.match(a.err(), /ADMIN_SECRET_KEY is not set/);

    const b = io();
    assert.equal(await runCli(['admin', 'create', '--email', 'audit@corp.example', '--role', 'auditor'], b.value, { ...env, ADMIN_SECRET_KEY: 'x'.repeat(40) }), 0, b.err());
    assert.equal(b.err(), '');

    const database = await openDatabase(loadConfig(env));
    try {
      const users = await database.db.select().from(adminUsers).orderBy(asc(adminUsers.username));
      assert.deepEqual(
        users.map((u) => [u.username, u.role, u.disabled, u.totpSecretEncrypted]),
        [
          ['audit@corp.example', 'auditor', false, null],
          ['first.admin@corp.example', 'admin', false, null],
        ],
      );
      const first = users.find((u) => u.username === 'first.admin@corp.example')!;
      assert.match(first.passwordHash, /^scrypt\$32768\$8\$1\$/);
      assert.equal(await verifyPassword(m[1]!, first.passwordHash), true);
      const entries = await database.db.select().from(auditLog).where(eq(auditLog.action, 'admin.user_created')).orderBy(asc(auditLog.id));
      assert.deepEqual(
        entries.map((e) => [e.actor, e.subject, e.detail]),
        [
          ['cli:ops', 'first.admin@corp.example', { role: 'admin' }],
          ['cli:ops', 'audit@corp.example', { role: 'auditor' }],
        ],
      );
      assert.equal((await new DrizzleAuditLog(database.db).verifyChain()).ok, true);
    } finally {
      await database.close();
    }
  });

  it('refuses a duplicate (whatever the case), changing nothing', async () => {
    const a = io();
    assert.equal(await runCli(['admin', 'create', '--email', 'FIRST.admin@corp.example'], a.value, env), 1);
    assert.equal(a.out(), '', 'no password printed');
    assert.match(a.err(), /^smimegw admin: An admin first\.admin@corp\.example already exists\n$/);
  });

  it('refuses bad input with a usage line', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['admin', 'create'], 2, /--email ADDRESS is required/],
      [['admin', 'create', '--email', 'x@y.example', '--role', 'root'], 2, /--role must be admin or auditor, got 'root'/],
      [['admin'], 2, /a subcommand is required \(create\)/],
      [['admin', 'delete', '--email', 'x@y.example'], 2, /unknown subcommand 'delete'/],
      [['admin', 'create', '--email', 'not-an-address'], 1, /'not-an-address' is not an e-mail address/],
    ];
    for (const [args, code, re] of cases) {
      const a = io();
      assert.equal(await runCli(args, a.value, env), code, args.join(' '));
      assert.match(a.err(), re);
      assert.equal(a.out(), '');
    }
  });
});
