/**
 * A throwaway PostgreSQL 15 cluster for tests: a fresh temp folder, initdb, a free port on
 * 127.0.0.1, fsync off. Each call starts its own cluster (~1-2 s); `stop()` shuts it down and
 * removes the folder. When running as root the server runs as the `postgres` user.
 *
 * Tests that need it should use `postgresBinDir()` first and, when it is undefined, skip loudly
 * locally but fail under CI=true (see `requirePostgresOrSkip`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const POSTGRES_BIN_DIR = process.env.POSTGRES_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

export interface RunningPostgres {
  /** e.g. postgresql://postgres@127.0.0.1:54321/postgres */
  url: string;
  stop(): Promise<void>;
}

/** The server binaries folder, or undefined when initdb/pg_ctl are not installed. */
export function postgresBinDir(): string | undefined {
  return existsSync(join(POSTGRES_BIN_DIR, 'initdb')) && existsSync(join(POSTGRES_BIN_DIR, 'pg_ctl'))
    ? POSTGRES_BIN_DIR
    : undefined;
}

export const POSTGRES_MISSING_MESSAGE =
  `PostgreSQL server binaries not found in ${POSTGRES_BIN_DIR} (apt-get install postgresql-15): ` +
  'PostgreSQL tests skipped';

/**
 * Returns true when PostgreSQL can be started. Otherwise fails the test under CI=true, and
 * elsewhere marks it skipped and warns on the console; then returns false.
 */
export function requirePostgresOrSkip(t: TestContext): boolean {
  if (postgresBinDir()) return true;
  if (process.env.CI === 'true') {
    throw new Error(`${POSTGRES_MISSING_MESSAGE.replace(/: .*$/, '')}: required when CI=true`);
  }
  console.warn(`WARNING: ${POSTGRES_MISSING_MESSAGE}`);
  t.skip(POSTGRES_MISSING_MESSAGE);
  return false;
}

export async function startPostgres(): Promise<RunningPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(POSTGRES_MISSING_MESSAGE);

  const dir = mkdtempSync(join(tmpdir(), 'smimegw-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'log');
  const ids = runAsIds();
  if (ids) chownSync(dir, ids.uid, ids.gid);

  const run = (file: string, args: string[]): string => {
    try {
      return execFileSync(join(bin, file), args, {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
        env: { ...process.env, LC_ALL: 'C', PGDATA: dataDir },
      });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${file} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
  };

  try {
    run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale']);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  // The port comes from the OS; another process could take it before the server binds, so retry.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off`;
    try {
      run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', serverOptions, 'start']);
    } catch (e) {
      lastError = e;
      continue;
    }
    let stopped = false;
    return {
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await runAsync(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], ids);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

function runAsIds(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  // initdb refuses to run as root: use the postgres user the Debian package creates.
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function runAsync(file: string, args: string[], ids: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { stdio: 'ignore', ...(ids ? { uid: ids.uid, gid: ids.gid } : {}) });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`${file} ${args.join(' ')} exited ${code}`))));
  });
}
