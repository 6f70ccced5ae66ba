/**
 * The filter worker's commands of `smimegw` (loaded by src/cli.ts on demand):
 *
 *   smimegw worker [--pass-through] [--pass-through-listen HOST:PORT]
 *       runs the content-filter worker alone (FILTER_LISTEN -> REINJECT_SMTP_URL) until SIGINT/SIGTERM
 *   smimegw identity import FILE.p12 [--address ADDRESS|*@DOMAIN|*] [--p12-password-env VAR]
 *   smimegw identity issue ADDRESS        a new key and a certificate from our CA (internal senders)
 *   smimegw identity list
 *   smimegw identity remove ID|FINGERPRINT
 *   smimegw policy list
 *   smimegw policy set SCOPE [--encrypt none|opportunistic|mandatory|inherit] [--sign on|off|inherit] [--fallback-link on|off|inherit]
 *   smimegw policy remove SCOPE
 *   smimegw policy explain --from SENDER --to RECIPIENT [--subject TEXT]
 *
 * SCOPE is 'global', a domain (example.com) or an address (alice@example.com). They open the
 * service's database (DATABASE_URL or DATA_DIR; with embedded PGlite, stop the service first).
 * Changes are written to the audit log; a running worker sees policy changes within 5 seconds and
 * identity changes within 30.
 */
import { readFileSync } from 'node:fs';
import cluster from 'node:cluster';
import { availableParallelism, userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, LOG_LEVELS, parseListenAddress, type Config } from './config/index.js';
import { openDatabase, type Database } from './db/connection.js';
import { DrizzleAuditLog } from './db/audit.js';
import { DrizzlePolicyStore } from './db/policy-store.js';
import { DrizzleIdentityStore } from './db/identity-store.js';
import { DrizzleDirectoryStore } from './db/directory-store.js';
import { createAuthority } from './db/ca-store.js';
import { Directory } from './directory/directory.js';
import { AppError } from './shared/errors.js';
import { utf8 } from './shared/bytes.js';
import { parseCertificate, readCertificates } from './pki/certificate.js';
import { GLOBAL_SCOPE, parseEncryptMode, parseScope, parseSwitch, resolvePolicy, type PolicyRule } from './mail/policy.js';
import { identityAddress, identityRecord, newSigningRequest, readPkcs12Identity, SigningIdentities } from './mail/identities.js';
import { decideRecipient, isInternal } from './mail/pipeline.js';
import { removeTriggers } from './mail/header.js';
import { directoryPort, pipelineOptions, startMailWorker } from './entry/mail.js';

export interface MailCliIO {
  stdout: (b: Uint8Array) => void;
  stderr: (s: string) => void;
}

export interface MailCliHelpers {
  usage: (message: string) => Error;
  /** Resolves when the worker should stop (default: SIGINT or SIGTERM). */
  untilStopped?: () => Promise<void>;
}

function who(env: NodeJS.ProcessEnv): string {
  try {
    return `cli:${env.SUDO_USER ?? env.USER ?? userInfo().username}`;
  } catch {
    return 'cli';
  }
}

function parser(rest: string[], h: MailCliHelpers) {
  return (options: ParseArgsConfig['options']) => {
    try {
      const r = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
      return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
    } catch (e) {
      throw h.usage((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
    }
  };
}

async function withDatabase<T>(env: NodeJS.ProcessEnv, f: (db: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(env);
  const database = await openDatabase(config);
  try {
    return await f(database, config);
  } finally {
    await database.close();
  }
}

const line = (s: string) => utf8(s + '\n');

function onOff(v: boolean | null): string {
  return v === null ? 'inherit' : v ? 'on' : 'off';
}

function formatRule(r: PolicyRule): string {
  return `${r.scope.padEnd(36)} encrypt=${(r.encryptMode ?? 'inherit').padEnd(13)} sign=${onOff(r.sign).padEnd(7)} fallback-link=${onOff(r.fallbackLink).padEnd(7)} (${r.updatedBy ?? ''}${r.updatedAt ? `, ${r.updatedAt.toISOString()}` : ''})`;
}

// ------------------------------------------------------------------------------------------
// smimegw worker
// ------------------------------------------------------------------------------------------

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/** Worker processes for a configuration: FILTER_PROCESSES, or one per core with PostgreSQL ('auto'). */
export function workerProcesses(config: Pick<Config, 'filterProcesses' | 'database'>): number {
  if (config.filterProcesses !== 'auto') return config.filterProcesses;
  return config.database.kind === 'postgres' ? Math.max(1, Math.min(64, availableParallelism())) : 1;
}

/**
 * `smimegw worker`. With several processes (FILTER_PROCESSES, PostgreSQL only) this process is the
 * cluster primary: it forks the workers (which share the listening port), restarts one that dies,
 * and on SIGINT/SIGTERM lets each finish its messages in progress. A worker whose primary is gone
 * (killed) exits at once: a message it had not answered is retried by the MTA.
 */
export async function runWorkerCommand(args: string[], io: MailCliIO, env: NodeJS.ProcessEnv, h: MailCliHelpers): Promise<void> {
  const { values, positionals } = parser(args, h)({ 'pass-through': { type: 'boolean' }, 'pass-through-listen': { type: 'string' } });
  if (positionals.length) throw h.usage(`worker takes no arguments, got '${positionals.join(' ')}'`);
  const config = loadConfig(env);
  const passThroughListen = values['pass-through-listen'] !== undefined ? parseListenAddress('--pass-through-listen', String(values['pass-through-listen'])) : undefined;
  const min = LOG_LEVELS.indexOf(config.logLevel);
  const tag = cluster.isWorker ? ` [${process.pid}]` : '';
  const log = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => {
    if (LOG_LEVELS.indexOf(level) >= min) io.stderr(`smimegw ${level}${tag}: ${message}\n`);
  };
  const n = workerProcesses(config);
  if (cluster.isPrimary && n > 1) return runPrimary(n, log, h);

  const database = await openDatabase(config);
  let handle;
  try {
    handle = await startMailWorker({ config, database, log, ...(values['pass-through'] ? { passThrough: true } : {}), ...(passThroughListen ? { passThroughListen } : {}) });
  } catch (e) {
    await database.close().catch(() => {});
    throw new AppError('worker.start', (e as Error).message, { cause: e });
  }
  let stopping = false;
  if (cluster.isWorker) {
    process.send?.({ ready: true });
    process.on('disconnect', () => {
      if (!stopping) process.exit(1); // the primary is gone (killed): stop at once, the MTA retries
    });
  }
  await (h.untilStopped ?? waitForSignal)();
  stopping = true;
  log('info', 'filter worker stopping: finishing the messages in progress');
  await handle.close();
  await database.close().catch(() => {});
  log('info', 'filter worker stopped');
  if (cluster.isWorker) process.exit(0); // the IPC channel would keep a cluster worker alive
}

async function runPrimary(n: number, log: (level: 'info' | 'warn' | 'error', message: string) => void, h: MailCliHelpers): Promise<void> {
  let stopping = false;
  let ready = 0;
  const fork = () => {
    const w = cluster.fork();
    w.on('message', (m: unknown) => {
      if ((m as { ready?: boolean }).ready && ++ready === n) log('info', `${n} filter worker processes running`);
    });
    return w;
  };
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    log('warn', `filter worker process ${w.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(fork, 1000).unref();
  });
  for (let i = 0; i < n; i++) fork();
  await (h.untilStopped ?? waitForSignal)();
  stopping = true;
  log('info', 'stopping the filter worker processes (each finishes its messages in progress)');
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          w.once('exit', () => resolve());
          w.process.kill('SIGTERM');
        }),
    ),
  );
  log('info', 'filter worker stopped');
}

// ------------------------------------------------------------------------------------------
// smimegw identity
// ------------------------------------------------------------------------------------------

export async function runIdentityCommand(args: string[], io: MailCliIO, env: NodeJS.ProcessEnv, h: MailCliHelpers): Promise<void> {
  const [sub, ...rest] = args;
  const parse = parser(rest, h);
  switch (sub) {
    case 'import': {
      const { values, positionals } = parse({ address: { type: 'string' }, 'p12-password-env': { type: 'string' } });
      if (positionals.length !== 1) throw h.usage('identity import FILE.p12 [--address ADDRESS|*@DOMAIN|*] [--p12-password-env VAR]');
      const passEnv = (values['p12-password-env'] as string | undefined) ?? 'SMIMEGW_P12_PASSWORD';
      const password = env[passEnv];
      if (password === undefined) throw h.usage(`the PKCS#12 password is read from ${passEnv}: set it (or name another variable with --p12-password-env)`);
      const address = values['address'] as string | undefined;
      if (address !== undefined) identityAddress(address); // check before opening the database
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(positionals[0]!));
      } catch (e) {
        throw new AppError('cli.file', `${positionals[0]}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
      }
      const p12 = readPkcs12Identity(bytes, password);
      await withDatabase(env, async (database, config) => {
        const record = identityRecord(p12, { ...(address !== undefined ? { address } : {}), passphrase: config.caKeyPassphrase, source: 'imported' });
        const r = await new DrizzleIdentityStore(database.db).add(record);
        await new DrizzleAuditLog(database.db).record({ actor: who(env), action: r.created ? 'identity.imported' : 'identity.import_unchanged', subject: record.address, detail: { fingerprint: record.fingerprint, notAfter: record.notAfter.toISOString() } });
        io.stdout(line(`${r.created ? 'Imported' : 'Already present'}: signing identity for ${record.address} (${p12.certificate.subject}, SHA-256 ${record.fingerprint}, valid until ${record.notAfter.toISOString()}, id ${r.id})`));
      });
      return;
    }
    case 'issue': {
      const { positionals } = parse({});
      if (positionals.length !== 1) throw h.usage('identity issue ADDRESS');
      const address = identityAddress(positionals[0]!);
      if (address.startsWith('*')) throw h.usage('identity issue needs a mailbox (our CA certifies one address), not a wildcard');
      await withDatabase(env, async (database, config) => {
        if (!isInternal(address, new Set(config.internalDomains))) {
          throw new AppError('identity.not_internal', `${address} is not in INTERNAL_DOMAINS (${config.internalDomains.join(', ') || 'none set'}): our CA issues signing identities for internal senders only; import an external one with 'identity import'`);
        }
        const authority = createAuthority(database.db, config);
        await authority.load(config.caKeyPassphrase, who(env));
        const { key, csrDer } = newSigningRequest(address);
        const issued = await authority.issue({ csr: csrDer, authorizedAddress: address, actor: who(env) });
        const chain = readCertificates(utf8(issued.chainPem), 'issuing CA');
        const record = identityRecord({ certificate: issued.certificate, chain, key }, { address, passphrase: config.caKeyPassphrase, source: 'issued' });
        const r = await new DrizzleIdentityStore(database.db).add(record);
        await new DrizzleAuditLog(database.db).record({ actor: who(env), action: 'identity.issued', subject: address, detail: { fingerprint: record.fingerprint, notAfter: record.notAfter.toISOString() } });
        io.stdout(line(`Issued: signing identity for ${address} (SHA-256 ${record.fingerprint}, valid until ${record.notAfter.toISOString()}, id ${r.id})`));
      });
      return;
    }
    case 'list': {
      parse({});
      await withDatabase(env, async (database) => {
        const rows = await new DrizzleIdentityStore(database.db).all();
        if (rows.length === 0) io.stdout(line('No signing identities (mail goes out unsigned).'));
        for (const r of rows) {
          let subject = '?';
          try {
            subject = parseCertificate(r.certDer).subject;
          } catch {
            /* shown as ? */
          }
          io.stdout(line(`${r.id}  ${r.address.padEnd(30)} ${r.source.padEnd(8)} until ${r.notAfter.toISOString()}  ${r.fingerprint}  ${subject}`));
        }
      });
      return;
    }
    case 'remove': {
      const { positionals } = parse({});
      if (positionals.length !== 1) throw h.usage('identity remove ID|FINGERPRINT');
      await withDatabase(env, async (database) => {
        const removed = await new DrizzleIdentityStore(database.db).remove(positionals[0]!);
        if (!removed) throw new AppError('identity.not_found', `No signing identity ${positionals[0]}`, { kind: 'not_found' });
        await new DrizzleAuditLog(database.db).record({ actor: who(env), action: 'identity.removed', subject: positionals[0]! });
        io.stdout(line(`Removed signing identity ${positionals[0]}`));
      });
      return;
    }
    default:
      throw h.usage(`identity ${sub ?? ''}: expected import, issue, list or remove`.replace('  ', ' '));
  }
}

// ------------------------------------------------------------------------------------------
// smimegw policy
// ------------------------------------------------------------------------------------------

export async function runPolicyCommand(args: string[], io: MailCliIO, env: NodeJS.ProcessEnv, h: MailCliHelpers): Promise<void> {
  const [sub, ...rest] = args;
  const parse = parser(rest, h);
  switch (sub) {
    case 'list': {
      parse({});
      await withDatabase(env, async (database) => {
        const rules = await new DrizzlePolicyStore(database.db).all();
        if (!rules.some((r) => r.scope === GLOBAL_SCOPE)) io.stdout(line(`${GLOBAL_SCOPE.padEnd(36)} encrypt=opportunistic sign=on      fallback-link=off     (built-in default)`));
        const rank = (scope: string) => (scope === GLOBAL_SCOPE ? 0 : scope.startsWith('domain:') ? 1 : 2);
        for (const r of [...rules].sort((a, b) => rank(a.scope) - rank(b.scope) || a.scope.localeCompare(b.scope))) io.stdout(line(formatRule(r)));
      });
      return;
    }
    case 'set': {
      const { values, positionals } = parse({ encrypt: { type: 'string' }, sign: { type: 'string' }, 'fallback-link': { type: 'string' } });
      if (positionals.length !== 1) throw h.usage('policy set SCOPE [--encrypt none|opportunistic|mandatory|inherit] [--sign on|off|inherit] [--fallback-link on|off|inherit]');
      const scope = parseScope(positionals[0]!);
      const encryptMode = parseEncryptMode(values['encrypt'] as string | undefined);
      const sign = parseSwitch('--sign', values['sign'] as string | undefined);
      const fallbackLink = parseSwitch('--fallback-link', values['fallback-link'] as string | undefined);
      if (encryptMode === undefined && sign === undefined && fallbackLink === undefined) throw h.usage('policy set: give at least one of --encrypt, --sign, --fallback-link');
      await withDatabase(env, async (database) => {
        const fields = { ...(encryptMode !== undefined ? { encryptMode } : {}), ...(sign !== undefined ? { sign } : {}), ...(fallbackLink !== undefined ? { fallbackLink } : {}) };
        const rule = await new DrizzlePolicyStore(database.db).put(scope, fields, who(env));
        await new DrizzleAuditLog(database.db).record({ actor: who(env), action: 'policy.set', subject: scope, detail: { encryptMode: rule.encryptMode, sign: rule.sign, fallbackLink: rule.fallbackLink } });
        io.stdout(line(formatRule(rule)));
      });
      return;
    }
    case 'remove': {
      const { positionals } = parse({});
      if (positionals.length !== 1) throw h.usage('policy remove SCOPE');
      const scope = parseScope(positionals[0]!);
      await withDatabase(env, async (database) => {
        const removed = await new DrizzlePolicyStore(database.db).remove(scope);
        if (!removed) throw new AppError('policy.not_found', `No policy for ${scope}`, { kind: 'not_found' });
        await new DrizzleAuditLog(database.db).record({ actor: who(env), action: 'policy.removed', subject: scope });
        io.stdout(line(`Removed the policy for ${scope} (it inherits again)`));
      });
      return;
    }
    case 'explain': {
      const { values } = parse({ from: { type: 'string' }, to: { type: 'string' }, subject: { type: 'string' } });
      const from = values['from'] as string | undefined;
      const to = values['to'] as string | undefined;
      if (!from || !to) throw h.usage('policy explain --from SENDER --to RECIPIENT [--subject TEXT]');
      await withDatabase(env, async (database, config) => {
        const rules = new Map((await new DrizzlePolicyStore(database.db).all()).map((r) => [r.scope, r] as const));
        const popts = pipelineOptions(config);
        const triggers = values['subject'] !== undefined ? removeTriggers(values['subject'] as string, popts.subjectTriggers).found : [];
        const identities = new SigningIdentities(new DrizzleIdentityStore(database.db), config.caKeyPassphrase);
        const signer = await identities.forSender(from);
        const directory = directoryPort(new Directory({ store: new DrizzleDirectoryStore(database.db), crlPolicy: config.directoryCrlPolicy, cache: false }));
        const decision = await decideRecipient({ address: to }, { sender: from, rules, triggers, signer }, { directory, policies: { rules: async () => rules }, identities }, popts);
        const policy = resolvePolicy(rules, from, to);
        const out = {
          from,
          to,
          policy: { encryptMode: policy.encryptMode, sign: policy.sign, fallbackLink: policy.fallbackLink, from: policy.from },
          ...(triggers.length ? { subjectTriggers: triggers } : {}),
          signingIdentity: signer ? { address: signer.address, fingerprint: signer.fingerprint } : null,
          treatment: decision.treatment,
          ...(decision.fingerprint ? { certificate: decision.fingerprint } : {}),
          reason: decision.reason,
        };
        io.stdout(utf8(JSON.stringify(out, null, 2) + '\n'));
      });
      return;
    }
    default:
      throw h.usage(`policy ${sub ?? ''}: expected list, set, remove or explain`.replace('  ', ' '));
  }
}
