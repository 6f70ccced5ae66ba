/**
 * Fixtures for the mail-worker tests: a real database (PGlite in memory, or a PostgreSQL URL), the
 * real recipient directory trusting a fresh openssl-made test PKI, recipients with certificates of
 * different kinds, a signing identity imported from a PKCS#12 file, an SMTP sink standing in for
 * the re-injection MTA, and SMTP clients (nodemailer, and a raw socket for misbehaving clients).
 */
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { createTransport } from 'nodemailer';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DrizzleDirectoryStore } from '../../src/db/directory-store.js';
import { DrizzlePolicyStore } from '../../src/db/policy-store.js';
import { DrizzleIdentityStore } from '../../src/db/identity-store.js';
import { DrizzleMessageLog } from '../../src/db/message-log.js';
import { Directory } from '../../src/directory/directory.js';
import { directoryPort } from '../../src/entry/mail.js';
import { CachedPolicies, type PolicyRule } from '../../src/mail/policy.js';
import { identityRecord, readPkcs12Identity, SigningIdentities } from '../../src/mail/identities.js';
import type { PipelineDeps, PipelineOptions } from '../../src/mail/pipeline.js';
import { MessageProcessor, type ProcessorOptions, type ProcessResult } from '../../src/mail/processor.js';
import { Reinjector } from '../../src/mail/reinject.js';
import { BackgroundMessageLog } from '../../src/mail/message-log.js';
import { startWorker, type RunningWorker, type WorkerOptions } from '../../src/mail/worker.js';
import type { FallbackLinks } from '../../src/mail/ports.js';
import { utf8 } from '../../src/shared/bytes.js';
import { createTestPki, type IssuedCert, type TestPki } from '../helpers/pki.js';

export const PASSPHRASE = 'test-identity-passphrase';
export const OID_AES256_GCM = '2.16.840.1.101.3.4.1.46';

export interface Users {
  /** RSA-2048, no capabilities: AES-256-CBC + RSA PKCS#1 v1.5. */
  bob: IssuedCert;
  /** Same algorithms as bob (shares bob's message). */
  bobby: IssuedCert;
  /** RSA-2048 advertising AES-256-GCM: AuthEnvelopedData, a message of its own. */
  frank: IssuedCert;
  /** EC P-256: ECDH, a message of its own. */
  erin: IssuedCert;
  /** The internal sender's signing certificate. */
  alice: IssuedCert;
}

export async function issueUsers(pki: TestPki): Promise<Users> {
  const [bob, bobby, frank, erin, alice] = await Promise.all([
    pki.issue({ email: 'bob@ext.test', key: 'rsa2048' }),
    pki.issue({ email: 'bobby@ext.test', key: 'rsa2048' }),
    pki.issue({ email: 'frank@ext.test', key: 'rsa2048', smimeCapabilities: [OID_AES256_GCM] }),
    pki.issue({ email: 'erin@ext.test', key: 'p256' }),
    pki.issue({ email: 'alice@int.test', key: 'rsa2048' }),
  ]);
  return { bob, bobby, frank, erin, alice };
}

export interface MailFixture {
  pki: TestPki;
  users: Users;
  database: Database;
  directory: Directory;
  policyStore: DrizzlePolicyStore;
  identities: SigningIdentities;
  messageLog: DrizzleMessageLog;
  deps: PipelineDeps;
  options: PipelineOptions;
  setPolicy(scope: string, fields: Partial<Pick<PolicyRule, 'encryptMode' | 'sign' | 'fallbackLink'>>): Promise<void>;
  clearPolicies(): Promise<void>;
  /** Imports alice's PKCS#12 as the signing identity for alice@int.test (or `address`). */
  addSigningIdentity(address?: string): Promise<void>;
  clearSigningIdentities(): Promise<void>;
  close(): Promise<void>;
}

/** The pipeline's database-backed dependencies over `database`, uncached (as the fixture's). */
export function pipelineDepsOver(database: Database): PipelineDeps & { identities: SigningIdentities } {
  return {
    directory: directoryPort(new Directory({ store: new DrizzleDirectoryStore(database.db) })),
    policies: new CachedPolicies(new DrizzlePolicyStore(database.db), { refreshMs: 0 }),
    identities: new SigningIdentities(new DrizzleIdentityStore(database.db), PASSPHRASE, { refreshMs: 0 }),
  };
}

/** Everything but the SMTP parts: database, directory with bob/bobby/frank/erin, stores. */
export async function openMailFixture(o: { url?: string; pki?: TestPki; users?: Users } = {}): Promise<MailFixture> {
  const pki = o.pki ?? (await createTestPki());
  const users = o.users ?? (await issueUsers(pki));
  const database = await openDatabase(loadConfig(o.url ? { NODE_ENV: 'test', DATABASE_URL: o.url } : { NODE_ENV: 'test' }), { inMemory: true });
  const directory = new Directory({ store: new DrizzleDirectoryStore(database.db) });
  await directory.addTrustedRoots(utf8(pki.root.certPem), 'test root', 'test');
  const summary = await directory.importCertificates(
    [users.bob, users.bobby, users.frank, users.erin].map((u) => ({ name: u.email, bytes: utf8(u.certPem + u.chainPem) })),
    { actor: 'test' },
  );
  if (summary.added !== 4) throw new Error(`directory import: ${JSON.stringify(summary.outcomes)}`);
  const policyStore = new DrizzlePolicyStore(database.db);
  const identityStore = new DrizzleIdentityStore(database.db);
  const { policies, identities } = pipelineDepsOver(database);
  return {
    pki,
    users,
    database,
    directory,
    policyStore,
    identities,
    messageLog: new DrizzleMessageLog(database.db),
    deps: { directory: directoryPort(directory), policies, identities },
    options: { internalDomains: new Set(['int.test']), subjectTriggers: ['[secure]', '[暗号化]'], publicUrl: 'https://gw.int.test' },
    async setPolicy(scope, fields) {
      await policyStore.put(scope, fields, 'test');
    },
    async clearPolicies() {
      for (const r of await policyStore.all()) await policyStore.remove(r.scope);
    },
    async addSigningIdentity(address) {
      const id = readPkcs12Identity(new Uint8Array(users.alice.p12), users.alice.p12Password);
      await identityStore.add(identityRecord(id, { passphrase: PASSPHRASE, source: 'imported', ...(address ? { address } : {}) }));
    },
    async clearSigningIdentities() {
      for (const r of await identityStore.all()) await identityStore.remove(r.id);
    },
    async close() {
      await database.close();
      if (!o.pki) await pki.cleanup();
    },
  };
}

// ------------------------------------------------------------------------------------------
// SMTP sink (the re-injection MTA)
// ------------------------------------------------------------------------------------------

export interface SinkMessage {
  from: string;
  mailArgs: Record<string, string>;
  rcpt: Array<{ address: string; args: Record<string, string> }>;
  body: Buffer;
}

export type SinkMode = 'accept' | 'tempfail' | 'hang';

export interface Sink {
  port: number;
  url: string;
  messages: SinkMessage[];
  mode: SinkMode;
  /** Accept this many more messages, then switch to `mode` 'tempfail'. */
  failAfter(n: number): void;
  /** Messages received (whatever the reply). */
  seen: number;
  close(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const sockets = new Set<Socket>();
  let acceptBudget = Infinity;
  const sink: Sink = {
    port: 0,
    url: '',
    messages: [],
    mode: 'accept',
    seen: 0,
    failAfter(n) {
      acceptBudget = n;
    },
    close: async () => {},
  };
  let counter = 0;
  const server = new SMTPServer({
    name: 'sink.test',
    authOptional: true,
    disableReverseLookup: true,
    hideDSN: false,
    hideSTARTTLS: true,
    logger: false,
    size: 200 * 1024 * 1024,
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        sink.seen++;
        const env = session.envelope as SMTPServerSession['envelope'] & { mailFrom: { address: string; args: Record<string, string> | false } };
        const msg: SinkMessage = {
          from: env.mailFrom ? env.mailFrom.address : '',
          mailArgs: (env.mailFrom && env.mailFrom.args) || {},
          rcpt: env.rcptTo.map((r) => ({ address: r.address, args: ((r as { args?: Record<string, string> | false }).args || {}) as Record<string, string> })),
          body: Buffer.concat(chunks),
        };
        if (sink.mode === 'hang') return; // never answer
        if (sink.mode === 'tempfail' || acceptBudget <= 0) {
          const e = new Error('Sink says: try again later') as Error & { responseCode: number };
          e.responseCode = 451;
          return cb(e);
        }
        acceptBudget--;
        sink.messages.push(msg);
        cb(null, `Ok: queued as SINK${++counter}`);
      });
    },
  });
  server.server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  sink.port = (server.server.address() as { port: number }).port;
  sink.url = `smtp://127.0.0.1:${sink.port}`;
  sink.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return sink;
}

// ------------------------------------------------------------------------------------------
// The worker under test
// ------------------------------------------------------------------------------------------

export interface TestWorker {
  worker: RunningWorker;
  port: number;
  processor: MessageProcessor;
  reinjector: Reinjector;
  /** The worker's message log (flush() before reading rows). */
  log: BackgroundMessageLog;
  results: Array<ProcessResult & { size: number; reference: string | null }>;
  spoolDir: string;
  close(): Promise<void>;
}

export async function startTestWorker(
  f: Pick<MailFixture, 'deps' | 'options' | 'messageLog'>,
  reinjectUrl: string,
  o: { worker?: Partial<WorkerOptions>; processor?: Partial<ProcessorOptions>; fallback?: FallbackLinks; deps?: Partial<PipelineDeps> } = {},
): Promise<TestWorker> {
  const spoolDir = mkdtempSync(join(tmpdir(), 'smimegw-spool-'));
  const reinjector = new Reinjector({ url: reinjectUrl, poolSize: 4, connectTimeoutMs: 3000 });
  const log = new BackgroundMessageLog(f.messageLog, { warn: () => {} });
  const deps = { ...f.deps, ...o.deps, reinject: reinjector, log, ...(o.fallback ? { fallback: o.fallback } : {}), warn: () => {} };
  const processor = new MessageProcessor(deps, { ...f.options, spoolDir, ...o.processor });
  const results: TestWorker['results'] = [];
  const worker = await startWorker(
    processor,
    { host: '127.0.0.1', port: 0, maxSize: 50 * 1024 * 1024, spillThreshold: 1024 * 1024, spoolDir, clientTimeoutMs: 60_000, ...o.worker },
    { onResult: (r) => results.push(r), rcptDeps: deps, pipelineOptions: f.options },
  );
  return {
    worker,
    port: worker.address.port,
    processor,
    reinjector,
    log,
    results,
    spoolDir,
    async close() {
      await worker.close();
      reinjector.close();
      await log.close();
      rmSync(spoolDir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------------------
// Clients
// ------------------------------------------------------------------------------------------

export interface SendResult {
  ok: boolean;
  /** The final reply line (e.g. "250 2.6.0 Ok: ..." or "550 5.7.1 ..."). */
  response: string;
  code: number | undefined;
  rejected?: string[];
}

export async function smtpSend(
  port: number,
  m: { from: string; to: string[]; raw: string | Uint8Array; dsn?: { ret?: string; envid?: string; notify?: string[]; orcpt?: string } },
): Promise<SendResult> {
  const t = createTransport({ host: '127.0.0.1', port, ignoreTLS: true, name: 'client.test', connectionTimeout: 5000, socketTimeout: 120_000 });
  try {
    const info = await t.sendMail({
      envelope: { from: m.from, to: m.to },
      raw: typeof m.raw === 'string' ? m.raw : Buffer.from(m.raw),
      ...(m.dsn ? { dsn: { ...(m.dsn.ret ? { ret: m.dsn.ret } : {}), ...(m.dsn.envid ? { id: m.dsn.envid } : {}), ...(m.dsn.notify ? { notify: m.dsn.notify } : {}), ...(m.dsn.orcpt ? { recipient: m.dsn.orcpt } : {}) } } : {}),
    } as never);
    const i = info as { response: string; rejected: string[] };
    return { ok: true, response: i.response, code: Number(i.response.slice(0, 3)), rejected: i.rejected };
  } catch (e) {
    const err = e as { response?: string; responseCode?: number; message: string };
    return { ok: false, response: err.response ?? err.message, code: err.responseCode };
  } finally {
    t.close();
  }
}

/** A hand-driven SMTP session (for clients that misbehave). */
export interface RawSession {
  socket: Socket;
  /** Sends a line (CRLF added). */
  send(line: string): void;
  write(data: string | Uint8Array): void;
  /** Waits for the next complete reply (multi-line replies joined); rejects on close or timeout. */
  reply(timeoutMs?: number): Promise<string>;
  closed: Promise<void>;
}

export async function rawSession(port: number): Promise<RawSession> {
  const socket = connect(port, '127.0.0.1');
  let buf = '';
  const waiting: Array<{ resolve: (s: string) => void; reject: (e: Error) => void }> = [];
  const replies: string[] = [];
  let ended = false;
  const closed = new Promise<void>((resolve) => socket.on('close', () => {
    ended = true;
    for (const w of waiting.splice(0)) w.reject(new Error('connection closed'));
    resolve();
  }));
  socket.on('error', () => {});
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    buf += d;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(buf);
      if (!m) break;
      buf = buf.slice(m[0].length);
      const r = m[0].trimEnd();
      const w = waiting.shift();
      if (w) w.resolve(r);
      else replies.push(r);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    send: (line) => socket.write(line + '\r\n'),
    write: (data) => socket.write(data),
    reply(timeoutMs = 30_000) {
      const r = replies.shift();
      if (r !== undefined) return Promise.resolve(r);
      if (ended) return Promise.reject(new Error('connection closed'));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply in time')), timeoutMs);
        waiting.push({
          resolve: (s) => {
            clearTimeout(timer);
            resolve(s);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    },
    closed,
  };
}

/** A message (CRLF line ends). */
export function message(headers: Record<string, string> | string[], body = 'Hello,\r\nthis is the body.\r\n'): string {
  const lines = Array.isArray(headers) ? headers : Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

export function until(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (probe()) return resolve();
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}
