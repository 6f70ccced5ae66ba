/**
 * Fixtures for the directory tests: a Directory over a real database (PGlite in memory or a given
 * one), custom certificates made with the openssl CLI (SmtpUTF8Mailbox SANs, CRL distribution
 * points, issuer loops, external CAs), CRLs from `openssl ca -gencrl`, and a CRL server on 127.0.0.1.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DrizzleDirectoryStore } from '../../src/db/directory-store.js';
import { authorities } from '../../src/db/schema.js';
import { insertCertificateRow } from '../../src/db/certificate-rows.js';
import { Directory, type DirectoryOptions } from '../../src/directory/directory.js';
import { MailboxProof } from '../../src/proof/mailbox.js';
import { DbChallengeStore } from '../../src/db/challenge-store.js';
import { DbRateLimiter } from '../../src/db/rate-limit.js';
import { OutboxNotifier } from '../../src/db/outbox.js';
import type { Clock } from '../../src/shared/clock.js';
import { readCertificates, type Certificate } from '../../src/pki/certificate.js';
import { utf8 } from '../../src/shared/bytes.js';
import { opensslDate, type TestCa, type TestPki } from '../helpers/pki.js';
import { runOk } from '../helpers/exec.js';

export const DAY = 86_400_000;

export function cert(pem: string | Buffer): Certificate {
  return readCertificates(typeof pem === 'string' ? utf8(pem) : new Uint8Array(pem))[0]!;
}

export interface TestDirectory {
  database: Database;
  store: DrizzleDirectoryStore;
  directory: Directory;
  /** A second Directory over the same store with its own cache (another "process" in PGlite). */
  make(options?: Partial<DirectoryOptions>): Directory;
  close(): Promise<void>;
}

export async function openTestDirectory(options: Partial<DirectoryOptions> & { url?: string } = {}): Promise<TestDirectory> {
  const config = loadConfig(options.url ? { NODE_ENV: 'test', DATABASE_URL: options.url } : { NODE_ENV: 'test' });
  const database = await openDatabase(config, { inMemory: true });
  const store = new DrizzleDirectoryStore(database.db);
  const make = (o: Partial<DirectoryOptions> = {}) => new Directory({ store, ...options, ...o });
  return { database, store, directory: make(), make, close: () => database.close() };
}

/** Trust the test PKI's root (as an admin would) and know its intermediate. */
export async function trustTestPki(t: TestDirectory, pki: TestPki): Promise<void> {
  await t.store.addTrustedRoot(cert(pki.root.certPem), 'test');
  await t.store.addIntermediate(cert(pki.intermediate.certPem));
}

/** Make the test PKI "our CA": authorities rows, as src/ca would write them. */
export async function installAsOurCa(t: TestDirectory, pki: TestPki): Promise<void> {
  await t.database.db.insert(authorities).values([
    { id: 'root', certDer: cert(pki.root.certPem).der, development: true },
    { id: 'issuing', certDer: cert(pki.intermediate.certPem).der, parentId: 'root', development: true },
  ]);
}

/** What src/ca does at issuance. */
export async function registerIssued(t: TestDirectory, pem: string): Promise<string> {
  const r = await insertCertificateRow(t.database.db, { certificate: cert(pem), source: 'issued', authorityId: 'issuing' });
  return r.id;
}

/** The real mailbox proof (src/proof) with codes "mailed" to the development outbox table. */
export function realProof(t: { database: Database }, clock?: Clock): { proof: MailboxProof; outbox: OutboxNotifier; lastCode(to: string): Promise<string> } {
  const outbox = new OutboxNotifier(t.database.db);
  const proof = new MailboxProof({
    store: new DbChallengeStore(t.database.db),
    limiter: new DbRateLimiter(t.database.db, clock),
    notifier: outbox,
    publicUrl: 'http://127.0.0.1:8080',
    ...(clock ? { clock } : {}),
  });
  return {
    proof,
    outbox,
    async lastCode(to: string) {
      const mail = (await outbox.recent(50)).find((m) => m.to === to);
      const m = mail && /Verification code: ([0-9A-Z-]+)/.exec(mail.text);
      if (!m) throw new Error(`no code mailed to ${to}`);
      return m[1]!;
    },
  };
}

// -------------------------------------------------------------------------------------------
// Custom certificates with the openssl CLI
// -------------------------------------------------------------------------------------------

export interface CustomIssue {
  /** Subject CN (plain ASCII; written to an openssl config). */
  cn: string;
  /** Extension lines for the openssl extfile (e.g. "subjectAltName = otherName:..."). */
  ext: string[];
  key?: 'rsa2048' | 'p256' | 'ed25519';
  notBefore?: Date;
  notAfter?: Date;
  /** The issuer; absent = self-signed. */
  issuer?: { certPath: string; keyPath: string };
  /** Reuse this key instead of generating one. */
  keyPath?: string;
}

export interface CustomCert {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
  dir: string;
}

let seq = 0;

/** Issues one certificate with `openssl ca` (own database per call). */
export async function issueCustom(parent: string, o: CustomIssue): Promise<CustomCert> {
  const dir = join(parent, `custom-${++seq}-${o.cn.replace(/[^A-Za-z0-9]/g, '_').slice(0, 30)}`);
  const db = join(dir, 'db');
  await mkdir(db, { recursive: true });
  const keyPath = o.keyPath ?? join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  await writeFile(join(db, 'index.txt'), '');
  await writeFile(join(dir, 'req.cnf'), ['[req]', 'distinguished_name = dn', 'prompt = no', 'utf8 = yes', 'string_mask = utf8only', '[dn]', `CN = ${o.cn}`, ''].join('\n'));
  await writeFile(join(dir, 'ext.cnf'), o.ext.join('\n') + '\n');
  await writeFile(join(dir, 'ca.cnf'), caConfig(db));
  const keyArgs = o.keyPath
    ? ['-key', o.keyPath]
    : o.key === 'p256'
      ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath]
      : o.key === 'ed25519'
        ? ['-newkey', 'ed25519', '-nodes', '-keyout', keyPath]
        : ['-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath];
  await runOk('openssl', ['req', '-new', ...keyArgs, '-config', join(dir, 'req.cnf'), '-out', join(dir, 'req.csr')]);
  const signer = o.issuer ? ['-cert', o.issuer.certPath, '-keyfile', o.issuer.keyPath] : ['-selfsign', '-keyfile', keyPath];
  const now = Date.now();
  await runOk('openssl', [
    'ca', '-batch', '-notext', '-config', join(dir, 'ca.cnf'), ...signer, '-in', join(dir, 'req.csr'), '-out', certPath, '-md', 'sha256',
    '-startdate', opensslDate(o.notBefore ?? new Date(now - 60_000)), '-enddate', opensslDate(o.notAfter ?? new Date(now + 365 * DAY)),
    '-extfile', join(dir, 'ext.cnf'),
  ]);
  return { certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8'), certPath, keyPath, dir };
}

function caConfig(db: string): string {
  return [
    '[ca]', 'default_ca = CA_default', '[CA_default]', `database = ${join(db, 'index.txt')}`, `new_certs_dir = ${db}`, `serial = ${join(db, 'serial')}`,
    'rand_serial = yes', 'default_md = sha256', 'policy = policy_any', 'unique_subject = no', 'copy_extensions = none', 'email_in_dn = no', 'preserve = no',
    'default_crl_days = 7', '[policy_any]', 'commonName = supplied', '',
  ].join('\n');
}

export const EE_EXT = (san: string, extra: string[] = []) => [
  'basicConstraints = critical,CA:false',
  'keyUsage = critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage = emailProtection',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
  `subjectAltName = ${san}`,
  ...extra,
];

export const CA_EXT = ['basicConstraints = critical,CA:true', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid'];

/** An external CA (root + issuing CA) whose issued certificates name a CRL distribution point. */
export interface ExternalCa {
  root: CustomCert;
  issuing: CustomCert;
  /** The openssl ca database of the issuing CA (for -revoke and -gencrl). */
  dbDir: string;
  crlUrl: string;
  issue(email: string, opts?: { notBefore?: Date }): Promise<CustomCert>;
  revoke(c: CustomCert): Promise<void>;
  /** `openssl ca -gencrl` (DER), valid for `days` (default 7). */
  crl(days?: number): Promise<Buffer>;
}

export async function createExternalCa(parent: string, crlUrl: string): Promise<ExternalCa> {
  const base = join(parent, `extca-${++seq}`);
  await mkdir(base, { recursive: true });
  const root = await issueCustom(base, { cn: `External Root ${seq}`, ext: CA_EXT, notBefore: new Date(Date.now() - 365 * DAY), notAfter: new Date(Date.now() + 3650 * DAY) });
  const issuing = await issueCustom(base, { cn: `External Issuing ${seq}`, ext: CA_EXT, issuer: root, notBefore: new Date(Date.now() - 365 * DAY), notAfter: new Date(Date.now() + 3650 * DAY) });
  const dbDir = join(base, 'issuing-db');
  await mkdir(dbDir, { recursive: true });
  await writeFile(join(dbDir, 'index.txt'), '');
  await writeFile(join(dbDir, 'crlnumber'), '01\n');
  const cnf = join(dbDir, 'ca.cnf');
  await writeFile(cnf, caConfig(dbDir).replace('default_crl_days = 7', `default_crl_days = 7\ncrlnumber = ${join(dbDir, 'crlnumber')}`));
  const caArgs = ['-config', cnf, '-cert', issuing.certPath, '-keyfile', issuing.keyPath];
  return {
    root,
    issuing,
    dbDir,
    crlUrl,
    issue: (email, opts = {}) =>
      issueCustom(base, { cn: email, ext: EE_EXT(`email:${email}`, [`crlDistributionPoints = URI:${crlUrl}`]), issuer: issuing, ...(opts.notBefore ? { notBefore: opts.notBefore } : {}) }),
    async revoke(c) {
      await runOk('openssl', ['ca', '-batch', ...caArgs, '-revoke', c.certPath, '-crl_reason', 'keyCompromise']);
    },
    async crl(days = 7) {
      const pem = join(dbDir, `crl-${randomBytes(4).toString('hex')}.pem`);
      await runOk('openssl', ['ca', '-batch', ...caArgs, '-gencrl', '-crldays', String(days), '-out', pem]);
      const r = await runOk('openssl', ['crl', '-in', pem, '-outform', 'DER']);
      return r.stdout;
    },
  };
}

/** An HTTP server on 127.0.0.1 serving whatever `body()` returns (or failing when it returns undefined). */
export async function startCrlServer(): Promise<{ url: (path: string) => string; set(path: string, body: Buffer | undefined): void; hits: Map<string, number>; close(): Promise<void> }> {
  const bodies = new Map<string, Buffer | undefined>();
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = bodies.get(path);
    if (!body) {
      res.writeHead(503).end('unavailable');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    set: (path, body) => void bodies.set(path, body),
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function tempDir(prefix = 'smimegw-dir-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export type { TestCa };
