/**
 * The directory's administration commands of `smimegw` (loaded by src/cli.ts on demand):
 *
 *   smimegw directory import [--p12-password-env VAR] [--json] FILE|FOLDER...
 *   smimegw directory lookup ADDRESS
 *   smimegw directory revoke ID|FINGERPRINT [--reason REASON]
 *   smimegw trust add FILE...
 *   smimegw trust list
 *   smimegw trust remove FINGERPRINT
 *
 * They open the service's database (DATABASE_URL or DATA_DIR; with embedded PGlite the service must
 * be stopped first). `directory import` reads PEM, DER, certs-only PKCS#7 and PKCS#12 (certificates
 * only; encrypted bags need --p12-password-env), shows progress on standard error (a bar on a
 * terminal, a line every 10% otherwise) and prints a summary. Exit status: 0 when at least one
 * certificate was added, updated or already present (rejections are listed, not fatal); 1 when
 * files were given and nothing at all could be imported.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from './config/index.js';
import { openDatabase } from './db/connection.js';
import { DrizzleDirectoryStore } from './db/directory-store.js';
import { DrizzleAuditLog } from './db/audit.js';
import { Directory, type ImportItem, type ImportOutcome, type ImportSummary } from './directory/directory.js';
import { AppError } from './shared/errors.js';
import { utf8 } from './shared/bytes.js';

export interface DirectoryCliIO {
  stdout: (b: Uint8Array) => void;
  stderr: (s: string) => void;
}

export interface DirectoryCliHelpers {
  usage: (message: string) => Error;
  /** Whether standard error is a terminal (default: process.stderr.isTTY). */
  isTTY?: boolean;
}

const MAX_FILES = 1_000_000;

function who(env: NodeJS.ProcessEnv): string {
  try {
    return `cli:${env.SUDO_USER ?? userInfo().username}`;
  } catch {
    return 'cli';
  }
}

async function withDirectory<T>(env: NodeJS.ProcessEnv, f: (d: Directory) => Promise<T>): Promise<T> {
  const config = loadConfig(env);
  const database = await openDatabase(config);
  try {
    const directory = new Directory({ store: new DrizzleDirectoryStore(database.db), crlPolicy: config.directoryCrlPolicy, audit: new DrizzleAuditLog(database.db), cache: false });
    return await f(directory);
  } finally {
    await database.close();
  }
}

/** Files named on the command line; folders are walked (hidden entries skipped), in sorted order. */
function expandPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string, top: boolean) => {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      if (top) throw new AppError('cli.file', `${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) if (!name.startsWith('.')) walk(join(p, name), false);
    } else if (st.isFile()) out.push(p);
    if (out.length > MAX_FILES) throw new AppError('cli.too_many', `more than ${MAX_FILES} files`);
  };
  for (const p of paths) walk(p, true);
  return out;
}

/** Draws progress on standard error: a redrawn bar on a terminal, else a line every 10%. */
export function progressReporter(stderr: (s: string) => void, isTTY: boolean, now: () => number = Date.now) {
  let lastDraw = 0;
  let lastTenth = -1;
  const counts = { added: 0, updated: 0, unchanged: 0, rejected: 0 };
  return {
    update(done: number, total: number, outcomes: readonly ImportOutcome[]): void {
      for (const o of outcomes) counts[o.status]++;
      const tally = `added ${counts.added}, updated ${counts.updated}, unchanged ${counts.unchanged}, rejected ${counts.rejected}`;
      if (isTTY) {
        const t = now();
        if (done !== total && t - lastDraw < 100) return;
        lastDraw = t;
        const width = 30;
        const filled = total ? Math.round((done / total) * width) : width;
        stderr(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} files  ${tally}\x1b[K${done === total ? '\n' : ''}`);
        return;
      }
      const tenth = total ? Math.floor((done / total) * 10) : 10;
      if (tenth !== lastTenth || done === total) {
        if (tenth === lastTenth && done !== total) return;
        lastTenth = tenth;
        stderr(`${done}/${total} files (${total ? Math.floor((done / total) * 100) : 100}%): ${tally}\n`);
      }
    },
  };
}

export function formatSummary(s: ImportSummary, files: number): string {
  const lines = [
    `Imported ${files} file(s): ${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.rejected} rejected` +
      (s.intermediates ? `; ${s.intermediates} CA certificate(s) learnt for chains` : ''),
  ];
  const rejected = s.outcomes.filter((o) => o.status === 'rejected');
  if (rejected.length) {
    lines.push('Rejected:');
    for (const o of rejected) lines.push(`  ${o.reason?.code ?? 'rejected'}  ${o.reason?.message ?? o.file}`);
  }
  return lines.join('\n') + '\n';
}

export async function runDirectoryCommand(args: string[], io: DirectoryCliIO, env: NodeJS.ProcessEnv, helpers: DirectoryCliHelpers): Promise<void> {
  const [sub, ...rest] = args;
  const parse = (options: ParseArgsConfig['options']) => {
    try {
      const r = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
      return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
    } catch (e) {
      throw helpers.usage((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
    }
  };
  switch (sub) {
    case 'import': {
      const { values, positionals } = parse({ 'p12-password-env': { type: 'string' }, json: { type: 'boolean' } });
      if (positionals.length === 0) throw helpers.usage('directory import FILE|FOLDER...: give at least one file');
      const passEnv = values['p12-password-env'] as string | undefined;
      if (passEnv !== undefined && env[passEnv] === undefined) throw helpers.usage(`--p12-password-env ${passEnv}: the variable ${passEnv} is not set`);
      const files = expandPaths(positionals);
      const items: ImportItem[] = files.map((name) => ({ name, bytes: new Uint8Array(readFileSync(name)) }));
      const progress = progressReporter(io.stderr, helpers.isTTY ?? process.stderr.isTTY === true);
      const summary = await withDirectory(env, (d) =>
        d.importCertificates(items, { ...(passEnv ? { p12Password: env[passEnv]! } : {}), actor: who(env), onProgress: (done, total, o) => progress.update(done, total, o) }),
      );
      io.stdout(utf8(values.json ? JSON.stringify(summary, null, 2) + '\n' : formatSummary(summary, files.length)));
      if (files.length > 0 && summary.added + summary.updated + summary.unchanged === 0) {
        throw new AppError('directory.nothing_imported', `nothing could be imported (${summary.rejected} rejected)`);
      }
      return;
    }
    case 'lookup': {
      const { positionals } = parse({});
      if (positionals.length !== 1) throw helpers.usage('directory lookup ADDRESS');
      const r = await withDirectory(env, (d) => d.lookup(positionals[0]!));
      const out = {
        address: r.address,
        ...(r.entry ? { fingerprint: r.entry.fingerprint, source: r.entry.source, algorithms: { content: r.entry.algorithms.content, keyTransport: r.entry.algorithms.keyTransport }, reason: r.entry.reason, certificate: r.entry.pem } : { found: false }),
        candidates: r.candidates,
      };
      io.stdout(utf8(JSON.stringify(out, null, 2) + '\n'));
      if (!r.entry) throw new AppError('directory.not_found', `no usable certificate for ${r.address}`, { kind: 'not_found' });
      return;
    }
    case 'revoke': {
      const { values, positionals } = parse({ reason: { type: 'string' } });
      if (positionals.length !== 1) throw helpers.usage('directory revoke ID|FINGERPRINT [--reason REASON]');
      const row = await withDirectory(env, (d) => d.revoke(positionals[0]!, { actor: who(env), ...(values.reason ? { reason: values.reason as string } : {}) }));
      io.stderr(`Revoked ${row.fingerprint} (${row.email}, ${row.source}) in the directory\n`);
      return;
    }
    default:
      throw helpers.usage(`directory ${sub ?? ''}: expected import, lookup or revoke`.replace('  ', ' '));
  }
}

export async function runTrustCommand(args: string[], io: DirectoryCliIO, env: NodeJS.ProcessEnv, helpers: DirectoryCliHelpers): Promise<void> {
  const [sub, ...rest] = args;
  let positionals: string[];
  try {
    positionals = parseArgs({ args: rest, options: {}, allowPositionals: true, strict: true }).positionals;
  } catch (e) {
    throw helpers.usage((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  switch (sub) {
    case 'add': {
      if (positionals.length === 0) throw helpers.usage('trust add FILE...');
      const inputs = positionals.map((p) => {
        try {
          return { p, bytes: new Uint8Array(readFileSync(p)) };
        } catch (e) {
          throw new AppError('cli.file', `${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
        }
      });
      await withDirectory(env, async (d) => {
        for (const { p, bytes } of inputs) {
          for (const r of await d.addTrustedRoots(bytes, p, who(env))) {
            io.stdout(utf8(`${r.added ? 'Trusted' : 'Already trusted'}: ${r.subject} (SHA-256 ${r.fingerprint})${r.selfSigned ? '' : ' [not self-signed: trusted as an anchor as is]'}\n`));
          }
        }
      });
      return;
    }
    case 'list': {
      const roots = await withDirectory(env, (d) => d.listTrustedRoots());
      if (roots.length === 0) io.stdout(utf8('No trusted roots.\n'));
      for (const r of roots) io.stdout(utf8(`${r.fingerprint}  ${r.source === 'our-ca' ? 'our CA  ' : 'admin   '}  ${r.subject}${r.notAfter ? `  (until ${r.notAfter.slice(0, 10)})` : ''}${r.source === 'admin' ? `  added by ${r.addedBy} ${r.addedAt.slice(0, 10)}` : ''}\n`));
      return;
    }
    case 'remove': {
      if (positionals.length !== 1) throw helpers.usage('trust remove FINGERPRINT');
      const removed = await withDirectory(env, (d) => d.removeTrustedRoot(positionals[0]!, who(env)));
      if (!removed) throw new AppError('trust.not_found', `${positionals[0]} is not an administrator-trusted root (see smimegw trust list)`, { kind: 'not_found' });
      io.stderr(`Removed ${positionals[0]} from the trusted roots\n`);
      return;
    }
    default:
      throw helpers.usage(`trust ${sub ?? ''}: expected add, list or remove`.replace('  ', ' '));
  }
}
