/**
 * The web service started for real in either runtime, against a database of a throwaway PostgreSQL:
 * - node:    `src/entry/node.ts` as a child process (what `npm start` runs), DATABASE_URL set;
 * - workerd: `wrangler dev` (local workerd, no account) with the Hyperdrive binding pointed at the
 *            database through CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE.
 * Both get the same settings (vars on workerd: what `wrangler secret put` provides in production).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WRANGLER_BIN = join(ROOT, 'node_modules', '.bin', 'wrangler');

export type Runtime = 'node' | 'workerd';

export interface Target {
  runtime: Runtime;
  /** e.g. http://127.0.0.1:40123 (also its PUBLIC_URL) */
  base: string;
  /** Everything the process printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export function wranglerAvailable(): boolean {
  return existsSync(WRANGLER_BIN);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Settings both runtimes get (besides the database and PUBLIC_URL). */
export const SHARED_SETTINGS: Readonly<Record<string, string>> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'info',
  CA_KEY_PASSPHRASE: 'runtime-test-ca-passphrase',
  ADMIN_SECRET_KEY: 'runtime-test-admin-secret-key-0123456789abcdef',
  PICKUP_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
};

function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  return () => out;
}

/** Until /healthz answers 200 (`healthy`), or answers at all (`listening`). */
async function waitFor(until: 'healthy' | 'listening', base: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited early (${child.exitCode ?? child.signalCode}):\n${output().slice(-4000)}`);
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
      await res.body?.cancel();
      if (until === 'listening' || res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`the server did not become ${until} within ${timeoutMs} ms:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stopper(child: ChildProcess, cleanup: () => void = () => {}): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      // wrangler runs workerd as its child: signal the whole process group
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    cleanup();
  };
}

export async function startNode(databaseUrl: string, extra: Record<string, string> = {}): Promise<Target> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'smimegw-rt-node-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...SHARED_SETTINGS,
    DATABASE_URL: databaseUrl,
    PUBLIC_URL: base,
    HTTP_LISTEN: `127.0.0.1:${port}`,
    FILTER_LISTEN: '127.0.0.1:0',
    DATA_DIR: dataDir,
    ...extra,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'entry', 'node.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const output = collect(child);
  const stop = stopper(child, () => rmSync(dataDir, { recursive: true, force: true }));
  try {
    await waitFor('healthy', base, child, output, 90_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { runtime: 'node', base, output, stop };
}

export async function startWorkerd(databaseUrl: string, extra: Record<string, string> = {}, o: { expectHealthy?: boolean } = {}): Promise<Target> {
  const port = await freePort();
  const inspector = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Hyperdrive's local binding insists on a password in the URL; the throwaway cluster trusts local connections.
  const u = new URL(databaseUrl);
  if (!u.password) u.password = 'trust';
  const vars = { ...SHARED_SETTINGS, PUBLIC_URL: base, ...extra };
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--test-scheduled', '--show-interactive-dev-session=false'];
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  const child = spawn(WRANGLER_BIN, args, {
    cwd: ROOT,
    env: { ...process.env, CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: u.toString(), WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const output = collect(child);
  const stop = stopper(child);
  try {
    await waitFor(o.expectHealthy === false ? 'listening' : 'healthy', base, child, output, 120_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { runtime: 'workerd', base, output, stop };
}
