/**
 * Tiny process runner for the test harness: argv arrays only (never a shell), optional stdin
 * bytes, a hard timeout, and a result object instead of exceptions for non-zero exits.
 */
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Bytes written to the child's stdin (stdin is closed afterwards; /dev/null-like when absent). */
  input?: Uint8Array | string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the child (SIGKILL) after this many milliseconds. Default 30 s. */
  timeoutMs?: number;
}

export interface RunResult {
  /** Exit code; null when the process was killed by a signal or could not be started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES, ...). */
  spawnError?: Error;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** Environment for the CLI tools: stable (English) messages, no inherited GnuPG/NSS state. */
export function toolEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C', LANGUAGE: 'C' };
  delete env.GNUPGHOME;
  delete env.GPG_AGENT_INFO;
  delete env.OPENSSL_CONF;
  delete env.SSLKEYLOGFILE;
  delete env.NSS_DEFAULT_DB_TYPE;
  return { ...env, ...extra };
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const finish = (r: Omit<RunResult, 'stdout' | 'stderr' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(cmd, args as string[], {
        cwd: opts.cwd,
        env: opts.env ?? toolEnv(),
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (e) {
      resolve({ code: null, signal: null, stdout: Buffer.alloc(0), stderr: String(e), timedOut: false, spawnError: e as Error });
      return;
    }
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      err.push(Buffer.from(`\n[harness] ${cmd}: ${e.message}\n`));
      finish({ code: null, signal: null, spawnError: e });
    });
    child.on('close', (code, signal) => finish({ code, signal }));
    // A child that exits without reading stdin yields EPIPE: not an error for us.
    child.stdin?.on('error', () => {});
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Like run(), but throws with the tool's stderr when it does not exit 0 (for setup steps). */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? 'timed out' : r.spawnError ? r.spawnError.message : `exit ${r.code ?? r.signal}`;
    throw new Error(`${cmd} ${args.join(' ')} failed (${why}):\n${r.stderr.trim()}`);
  }
  return r;
}
