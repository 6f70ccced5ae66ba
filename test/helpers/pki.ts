/**
 * A fresh, throw-away test PKI built with the openssl CLI (root CA -> issuing intermediate ->
 * S/MIME end-entity certificates), so that certificates come from an implementation other than
 * the gateway's own code.
 *
 *   const pki = await createTestPki();            // once per test file (before())
 *   const alice = await pki.issue({ email: 'alice@example.test', key: 'rsa2048' });
 *   ...
 *   await pki.cleanup();                           // after()
 *
 * Every issue() has its own folder and its own `openssl ca` database, so issuing runs
 * concurrently (Promise.all) without lock files. Only argv arrays are used (no shell); the values
 * that end up in openssl config files (mailbox, key-usage names, OIDs) are validated first.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk, toolEnv } from './exec.js';

export type TestKeyType = 'rsa2048' | 'rsa3072' | 'p256' | 'p384' | 'rsa1024';

/** How the PKCS#12 file is protected. See /work/shared/reference/interop.md (PKCS#12 table). */
export type P12Format =
  /** PBE-SHA1-3DES for key and certificates, SHA-1 MAC: imported by openssl, NSS pk12util and gpgsm 2.2. */
  | 'legacy-3des'
  /** OpenSSL 3 default (PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256, SHA-256 MAC): gpgsm 2.2 cannot import it. */
  | 'pbes2-aes256';

export interface IssueOptions {
  /** The mailbox: becomes CN (the only subject attribute) and the SAN rfc822Name. */
  email: string;
  key: TestKeyType;
  /**
   * keyUsage bit names as openssl spells them (digitalSignature, keyEncipherment, keyAgreement,
   * nonRepudiation, dataEncipherment, ...); always marked critical. [] omits the extension.
   * Default: digitalSignature+keyEncipherment (RSA), digitalSignature+keyAgreement (EC).
   */
  keyUsage?: string[];
  /** extendedKeyUsage names (emailProtection, clientAuth, ...) or dotted OIDs. [] omits. Default [emailProtection]. */
  eku?: string[];
  /** Default: 1 minute ago. */
  notBefore?: Date;
  /** Default: one year after now. */
  notAfter?: Date;
  /** No rfc822Name SAN and a CN that is not a mailbox ("Test User <n>"). */
  noEmail?: boolean;
  /** OIDs in order, written as the RFC 4262 smimeCapabilities extension (1.2.840.113549.1.9.15). */
  smimeCapabilities?: string[];
  /** Default 'legacy-3des' (the one all three clients import). */
  p12Format?: P12Format;
}

export interface IssuedCert {
  email: string;
  keyType: TestKeyType;
  certPem: string;
  /** Unencrypted PKCS#8 ("BEGIN PRIVATE KEY"). */
  keyPem: string;
  /** The issuing intermediate (PEM); the root is not included. */
  chainPem: string;
  /** PKCS#12 with key, certificate and intermediate; friendlyName = the mailbox. */
  p12: Buffer;
  p12Password: string;
  /** Folder holding cert.pem, key.pem, chain.pem, cert.p12. */
  dir: string;
  certPath: string;
  keyPath: string;
  chainPath: string;
  p12Path: string;
  /** Upper-case hex, as node's X509Certificate reports it. */
  serialNumber: string;
  x509: X509Certificate;
}

export interface TestCa {
  /** The subject CN. */
  name: string;
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
  /** SHA-1 fingerprint, colon-separated upper-case hex (gpgsm trustlist format). */
  fingerprintSha1: string;
  x509: X509Certificate;
}

export interface CreateTestPkiOptions {
  /** Parent folder for the PKI's mkdtemp folder. Default os.tmpdir(). */
  parentDir?: string;
  /** Keep the folder on cleanup() / process exit (also when SMIMEGW_KEEP_TMP=1). */
  keep?: boolean;
}

export interface TestPki {
  dir: string;
  root: TestCa;
  intermediate: TestCa;
  /** root + intermediate PEM, concatenated (root first). */
  caBundlePem: string;
  issue(opts: IssueOptions): Promise<IssuedCert>;
  cleanup(): Promise<void>;
}

const DAY_MS = 86_400_000;
const OPENSSL = 'openssl';

const KEY_ARGS: Record<TestKeyType, string[]> = {
  rsa1024: ['-newkey', 'rsa:1024'],
  rsa2048: ['-newkey', 'rsa:2048'],
  rsa3072: ['-newkey', 'rsa:3072'],
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:named_curve'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-pkeyopt', 'ec_param_enc:named_curve'],
};

// Conservative on purpose: these strings are written into openssl config files.
const MAILBOX_RE = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*$/;
const NAME_RE = /^[A-Za-z][A-Za-z0-9]*$/;
const OID_RE = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/** YYYYMMDDHHMMSSZ, as `openssl ca -startdate/-enddate` accepts it. */
export function opensslDate(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error('invalid date');
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derTlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/** DER of an OBJECT IDENTIFIER given in dotted form. */
export function derOid(oid: string): Buffer {
  if (!OID_RE.test(oid)) throw new Error(`not a dotted OID: ${JSON.stringify(oid)}`);
  const arcs = oid.split('.').map((a) => BigInt(a));
  const [a0, a1] = [arcs[0] ?? 0n, arcs[1] ?? 0n];
  if (a0 < 2n && a1 > 39n) throw new Error(`invalid OID ${oid}`);
  const out: number[] = [];
  for (const arc of [a0 * 40n + a1, ...arcs.slice(2)]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...chunk);
  }
  return derTlv(0x06, Buffer.from(out));
}

/** RFC 4262 SMIMECapabilities: SEQUENCE OF SEQUENCE { capabilityID OID } (no parameters). */
export function derSmimeCapabilities(oids: readonly string[]): Buffer {
  return derTlv(0x30, Buffer.concat(oids.map((o) => derTlv(0x30, derOid(o)))));
}

function caConfig(dbDir: string): string {
  return [
    '[ca]',
    'default_ca = CA_default',
    '[CA_default]',
    `database = ${join(dbDir, 'index.txt')}`,
    `new_certs_dir = ${dbDir}`,
    `serial = ${join(dbDir, 'serial')}`,
    'rand_serial = yes',
    'default_md = sha256',
    'policy = policy_cn',
    'unique_subject = no',
    'copy_extensions = none',
    'email_in_dn = no',
    'preserve = no',
    '[policy_cn]',
    'commonName = supplied',
    '',
  ].join('\n');
}

function reqConfig(cn: string): string {
  return ['[req]', 'distinguished_name = dn', 'prompt = no', 'utf8 = yes', 'string_mask = utf8only', '[dn]', `CN = ${cn}`, ''].join('\n');
}

interface SignRequest {
  /** Folder for the request's files (must exist). */
  dir: string;
  cn: string;
  key: TestKeyType;
  extLines: string[];
  notBefore: Date;
  notAfter: Date;
  /** Issuer; absent = self-signed. */
  issuer?: { certPath: string; keyPath: string };
}

/** Key + CSR (one openssl req), then `openssl ca` with a private database. Returns cert/key paths. */
async function signWithOpensslCa(r: SignRequest): Promise<{ certPath: string; keyPath: string }> {
  const keyPath = join(r.dir, 'key.pem');
  const csrPath = join(r.dir, 'req.csr');
  const certPath = join(r.dir, 'cert.pem');
  const dbDir = join(r.dir, 'cadb');
  await mkdir(dbDir, { recursive: true });
  await Promise.all([
    writeFile(join(r.dir, 'req.cnf'), reqConfig(r.cn)),
    writeFile(join(r.dir, 'ext.cnf'), r.extLines.join('\n') + '\n'),
    writeFile(join(r.dir, 'ca.cnf'), caConfig(dbDir)),
    writeFile(join(dbDir, 'index.txt'), ''),
  ]);
  await runOk(OPENSSL, ['req', '-new', ...KEY_ARGS[r.key], '-nodes', '-keyout', keyPath, '-config', join(r.dir, 'req.cnf'), '-out', csrPath]);
  const signer = r.issuer ? ['-cert', r.issuer.certPath, '-keyfile', r.issuer.keyPath] : ['-selfsign', '-keyfile', keyPath];
  await runOk(OPENSSL, [
    'ca', '-batch', '-notext', '-config', join(r.dir, 'ca.cnf'), ...signer,
    '-in', csrPath, '-out', certPath, '-md', 'sha256',
    '-startdate', opensslDate(r.notBefore), '-enddate', opensslDate(r.notAfter),
    '-extfile', join(r.dir, 'ext.cnf'),
  ]);
  return { certPath, keyPath };
}

async function loadCa(name: string, paths: { certPath: string; keyPath: string }): Promise<TestCa> {
  const [certPem, keyPem] = await Promise.all([readFile(paths.certPath, 'utf8'), readFile(paths.keyPath, 'utf8')]);
  const x509 = new X509Certificate(certPem);
  return { name, certPem, keyPem, ...paths, fingerprintSha1: x509.fingerprint, x509 };
}

function checkNames(kind: string, names: readonly string[], re: RegExp): void {
  for (const n of names) if (!re.test(n)) throw new Error(`${kind}: unsupported value ${JSON.stringify(n)}`);
}

/** PKI folders still to remove when the process exits (if a test file never calls cleanup()). */
const pendingDirs = new Set<string>();
let exitHookInstalled = false;

export async function createTestPki(opts: CreateTestPkiOptions = {}): Promise<TestPki> {
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'smimegw-pki-'));
  const keep = opts.keep === true || process.env.SMIMEGW_KEEP_TMP === '1';
  if (!keep) pendingDirs.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of pendingDirs) rmSync(d, { recursive: true, force: true });
    });
  }

  const runId = randomBytes(4).toString('hex');
  const now = Date.now();
  // CAs are back-dated so that expired / not-yet-valid end-entity certificates fall inside them.
  const caNotBefore = new Date(now - 5 * 365 * DAY_MS);
  const caNotAfter = new Date(now + 10 * 365 * DAY_MS);

  const rootDir = join(dir, 'root');
  const interDir = join(dir, 'intermediate');
  await Promise.all([mkdir(rootDir), mkdir(interDir)]);
  const rootName = `smimegw Test Root ${runId}`;
  const root = await loadCa(
    rootName,
    await signWithOpensslCa({
      dir: rootDir, cn: rootName, key: 'rsa2048', notBefore: caNotBefore, notAfter: caNotAfter,
      extLines: ['basicConstraints = critical,CA:true', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid'],
    }),
  );
  const interName = `smimegw Test Issuing CA ${runId}`;
  const intermediate = await loadCa(
    interName,
    await signWithOpensslCa({
      dir: interDir, cn: interName, key: 'rsa2048', notBefore: caNotBefore, notAfter: caNotAfter, issuer: root,
      extLines: ['basicConstraints = critical,CA:true,pathlen:0', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always'],
    }),
  );

  let seq = 0;
  async function issue(o: IssueOptions): Promise<IssuedCert> {
    if (!MAILBOX_RE.test(o.email)) throw new Error(`issue(): unsupported mailbox ${JSON.stringify(o.email)}`);
    if (!(o.key in KEY_ARGS)) throw new Error(`issue(): unknown key type ${String(o.key)}`);
    const isEc = o.key === 'p256' || o.key === 'p384';
    const keyUsage = o.keyUsage ?? (isEc ? ['digitalSignature', 'keyAgreement'] : ['digitalSignature', 'keyEncipherment']);
    const eku = o.eku ?? ['emailProtection'];
    checkNames('keyUsage', keyUsage, NAME_RE);
    for (const e of eku) if (!NAME_RE.test(e) && !OID_RE.test(e)) throw new Error(`eku: unsupported value ${JSON.stringify(e)}`);
    const caps = o.smimeCapabilities ? derSmimeCapabilities(o.smimeCapabilities) : undefined;

    const n = ++seq;
    const eeDir = join(dir, `ee-${n}-${o.email.replace(/[^A-Za-z0-9.-]/g, '_')}`);
    await mkdir(eeDir);
    const extLines = ['basicConstraints = critical,CA:false'];
    if (keyUsage.length) extLines.push(`keyUsage = critical,${keyUsage.join(',')}`);
    if (eku.length) extLines.push(`extendedKeyUsage = ${eku.join(',')}`);
    extLines.push('subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid');
    if (!o.noEmail) extLines.push(`subjectAltName = email:${o.email}`);
    if (caps) extLines.push(`1.2.840.113549.1.9.15 = DER:${caps.toString('hex').toUpperCase()}`);

    const issuedAt = Date.now();
    const { certPath, keyPath } = await signWithOpensslCa({
      dir: eeDir,
      cn: o.noEmail ? `Test User ${n}` : o.email,
      key: o.key,
      extLines,
      notBefore: o.notBefore ?? new Date(issuedAt - 60_000),
      notAfter: o.notAfter ?? new Date(issuedAt + 365 * DAY_MS),
      issuer: intermediate,
    });
    const chainPath = join(eeDir, 'chain.pem');
    const p12Path = join(eeDir, 'cert.p12');
    const p12Password = randomBytes(9).toString('base64url');
    await writeFile(chainPath, intermediate.certPem);
    const p12Alg =
      (o.p12Format ?? 'legacy-3des') === 'legacy-3des'
        ? ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']
        : ['-keypbe', 'AES-256-CBC', '-certpbe', 'AES-256-CBC', '-macalg', 'sha256'];
    await runOk(
      OPENSSL,
      ['pkcs12', '-export', '-inkey', keyPath, '-in', certPath, '-certfile', chainPath, '-name', o.email, ...p12Alg, '-passout', 'env:SMIMEGW_P12_PASS', '-out', p12Path],
      { env: toolEnv({ SMIMEGW_P12_PASS: p12Password }) },
    );
    const [certPem, keyPem, p12] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8'), readFile(p12Path)]);
    const x509 = new X509Certificate(certPem);
    return {
      email: o.email, keyType: o.key, certPem, keyPem, chainPem: intermediate.certPem, p12, p12Password,
      dir: eeDir, certPath, keyPath, chainPath, p12Path, serialNumber: x509.serialNumber, x509,
    };
  }

  return {
    dir,
    root,
    intermediate,
    caBundlePem: root.certPem + intermediate.certPem,
    issue,
    async cleanup() {
      pendingDirs.delete(dir);
      if (!keep) await rm(dir, { recursive: true, force: true });
    },
  };
}
