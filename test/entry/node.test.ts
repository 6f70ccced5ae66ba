/** Runs the real `npm start` entry point as a child process. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'src', 'entry', 'node.ts');

function startEntry(env: Record<string, string>) {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    cwd: ROOT,
    env: { ...base, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('entry/node.ts', () => {
  it('serves /healthz on HTTP_LISTEN with embedded PGlite and stops on SIGTERM', { timeout: 90_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'smimegw-entry-'));
    const proc = startEntry({ HTTP_LISTEN: '127.0.0.1:0', FILTER_LISTEN: '127.0.0.1:0', DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    try {
      const url = await waitFor(
        'the listening line',
        () => {
          if (proc.child.exitCode !== null) throw new Error(`exited early: ${proc.err()}`);
          return /listening on (http:\/\/127\.0\.0\.1:\d+) \(db: pglite/.exec(proc.out())?.[1];
        },
        80_000,
      );
      assert.equal(proc.out().split('\n').filter((l) => l.includes('listening on')).length, 1);
      const res = await fetch(`${url}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ok', db: 'pglite' });
      assert.ok(existsSync(join(dataDir, 'pglite', 'PG_VERSION')));

      proc.child.kill('SIGTERM');
      const { code } = await proc.exited;
      assert.equal(code, 0, proc.err());
      assert.match(proc.out(), /stopped/);
    } finally {
      proc.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('exits 1 with the config problem on a bad setting', { timeout: 30_000 }, async () => {
    const proc = startEntry({ HTTP_LISTEN: 'abc' });
    const { code } = await proc.exited;
    assert.equal(code, 1);
    assert.match(proc.err(), /HTTP_LISTEN must be host:port, got 'abc'/);
  });
});
