/**
 * Shared set-up for the CA tests: an Authority over a real database (PGlite in memory unless
 * another Database is given), openssl-made certification requests, and openssl runners.
 */
import { createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { Authority, type AuthorityOptions } from '../../src/ca/authority.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { DrizzleCaStore } from '../../src/db/ca-store.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { auditLog, certificates } from '../../src/db/schema.js';
import { algId, bitString, ctx, int, oid, seq, setOf, utf8String } from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';
import { encodePem } from '../../src/shared/bytes.js';
import { run, runOk, type RunResult } from '../helpers/exec.js';

export const PASSPHRASE = 'test-ca-passphrase';
export const PUBLIC_URL = 'https://smime.example.test';

export interface CaFixture {
  database: Database;
  authority: Authority;
  store: DrizzleCaStore;
  audit: DrizzleAuditLog;
  dir: string;
  rootPem: string;
  issuingPem: string;
  rootPath: string;
  issuingPath: string;
  chainPath: string;
  /** The issuing CA key, encrypted PKCS#8 PEM under PASSPHRASE (for openssl-made test certificates). */
  issuingKeyPath: string;
  close(): Promise<void>;
}

/** A freshly initialised (RSA-2048, fast) hierarchy in an in-memory PGlite (or `database`). */
export async function caFixture(options: Partial<AuthorityOptions> & { database?: Database; development?: boolean } = {}): Promise<CaFixture> {
  const database = options.database ?? (await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true }));
  const store = new DrizzleCaStore(database.db);
  const audit = new DrizzleAuditLog(database.db);
  const authority = new Authority({ store, audit, publicUrl: PUBLIC_URL, ...options });
  const init = await authority.init({ passphrase: PASSPHRASE, development: options.development ?? false, rootKey: 'rsa2048', issuingKey: 'rsa2048' });
  const dir = await mkdtemp(join(tmpdir(), 'smimegw-ca-'));
  const rootPem = authority.caCertificatePem('root');
  const issuingPem = authority.caCertificatePem('issuing');
  const rootPath = join(dir, 'root.pem');
  const issuingPath = join(dir, 'issuing.pem');
  const chainPath = join(dir, 'chain.pem');
  const issuingKeyPath = join(dir, 'issuing.key.pem');
  await Promise.all([writeFile(rootPath, rootPem), writeFile(issuingPath, issuingPem), writeFile(chainPath, rootPem + issuingPem), writeFile(issuingKeyPath, init.issuingKeyPem, { mode: 0o600 })]);
  return {
    database,
    authority,
    store,
    audit,
    dir,
    rootPem,
    issuingPem,
    rootPath,
    issuingPath,
    chainPath,
    issuingKeyPath,
    async close() {
      if (!options.database) await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type CsrKey = 'rsa1024' | 'rsa2048' | 'rsa3072' | 'p256' | 'p384' | 'p521' | 'ed25519';

const KEY_ARGS: Record<CsrKey, string[]> = {
  rsa1024: ['-newkey', 'rsa:1024'],
  rsa2048: ['-newkey', 'rsa:2048'],
  rsa3072: ['-newkey', 'rsa:3072'],
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  p521: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  ed25519: ['-newkey', 'ed25519'],
};

export interface Csr {
  csrPem: string;
  keyPem: string;
}

let csrSeq = 0;

/** `openssl req -new` with a fresh key. */
export async function opensslCsr(dir: string, o: { key: CsrKey; subject: string; san?: string; md?: 'sha1' | 'sha256' | 'sha384'; keyPem?: string }): Promise<Csr> {
  const n = ++csrSeq;
  const keyPath = join(dir, `csr-${n}.key`);
  const csrPath = join(dir, `csr-${n}.csr`);
  if (o.keyPem) await writeFile(keyPath, o.keyPem, { mode: 0o600 });
  const keyArgs = o.keyPem ? ['-key', keyPath] : [...KEY_ARGS[o.key], '-nodes', '-keyout', keyPath];
  const args = ['req', '-new', ...keyArgs, '-subj', o.subject, '-utf8', '-out', csrPath];
  if (o.san) args.push('-addext', `subjectAltName=${o.san}`);
  if (o.md && o.key !== 'ed25519') args.push(`-${o.md}`);
  await runOk('openssl', args);
  return { csrPem: await readFile(csrPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
}

/** A request built here (for names openssl's -subj cannot express): CN as UTF8String, signed SHA-256. */
export function nodeCsr(o: { cn: string; key?: KeyObject }): Csr & { key: KeyObject } {
  const key = o.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const spki = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  const subject = seq(setOf(seq(oid(OID.commonName), utf8String(o.cn))));
  const info = seq(int(0), subject, spki, ctx(0, true));
  const ec = key.asymmetricKeyType === 'ec';
  const sig = nodeSign('sha256', info, ec ? { key, dsaEncoding: 'der' } : key);
  const der = seq(info, ec ? algId(OID.ecdsaWithSha256) : algId(OID.sha256WithRSAEncryption, null), bitString(new Uint8Array(sig)));
  return { csrPem: encodePem('CERTIFICATE REQUEST', der), keyPem: key.export({ format: 'pem', type: 'pkcs8' }) as string, key };
}

export function opensslRun(args: string[], input?: Uint8Array | string): Promise<RunResult> {
  return run('openssl', args, input === undefined ? {} : { input });
}

export async function countIssued(database: Database): Promise<number> {
  return (await database.db.select({ id: certificates.id }).from(certificates)).length;
}

export async function auditActions(database: Database): Promise<Array<{ action: string; subject: string | null; detail: Record<string, unknown> | null; actor: string }>> {
  const rows = await database.db.select().from(auditLog).orderBy(auditLog.id);
  return rows.map((r) => ({ action: r.action, subject: r.subject, detail: r.detail ?? null, actor: r.actor }));
}
