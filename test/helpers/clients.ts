/**
 * Independent S/MIME implementations as test oracles: OpenSSL (cms and smime), GnuPG's gpgsm and
 * Mozilla NSS (cmsutil, the engine inside Thunderbird).
 *
 * Every client function takes a complete RFC 5322 message (as the gateway sends it) plus the key or
 * trust material, and resolves to a ClientResult. It does not throw when decryption or verification
 * fails (tests assert failures too); it throws only on harness trouble (e.g. cannot write a temp file).
 * Each call gets its own temporary folder / GnuPG home / NSS database, so calls run concurrently.
 * Facts and pitfalls: /work/shared/reference/interop.md.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, access } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { run, runOk, toolEnv, type RunResult } from './exec.js';
import { extractSmimeParts, MimeError, type SmimeParts } from './mime.js';
import { children, isUniversal, oidOf, OID, readTlv } from './der.js';

export { extractSmimeParts, tamper, type SmimeParts, type TamperTarget } from './mime.js';

export interface ClientResult {
  /** Decryption / verification (including the certificate chain) succeeded. */
  ok: boolean;
  /** Decrypted or verified content (for a detached signature: the signed content). May be partial when !ok. */
  output: Buffer;
  /** The tool's stderr (plus, for gpgsm, its status lines; for NSS, cmsutil's -h report), and harness notes. */
  stderr: string;
  /**
   * Exit code of the deciding process; null if it was killed (timeout, crash) or did not start, or
   * the harness gave up earlier. ok implies code === 0, with one documented exception: gpgsmDecrypt
   * (exit 2 when another recipient's certificate is unknown, see there).
   */
  code: number | null;
}

export interface ClientCallOptions {
  /** Per process. Default 30 s. */
  timeoutMs?: number;
}

export interface RecipientKeyPem extends ClientCallOptions {
  certPem: string;
  keyPem: string;
}

export interface RecipientP12 extends ClientCallOptions {
  p12: Uint8Array;
  p12Password: string;
  /** gpgsm only: CA certificates to import too (not needed for decryption). */
  caPems?: string[];
}

export interface OpensslTrust extends ClientCallOptions {
  /** Trust anchors (PEM, one or more certificates): -CAfile. */
  caPem: string;
  /** Extra intermediates (PEM). Added to the CAfile (OpenSSL 3.0 cms/smime have no -untrusted); never anchors. */
  untrustedPem?: string;
}

export interface CaTrust extends ClientCallOptions {
  /**
   * PEM certificates (each string may hold several). Self-signed ones become trust anchors; the
   * others (intermediates) are only made available for chain building.
   */
  caPems: string[];
}

const EMPTY = Buffer.alloc(0);

function resultOf(r: RunResult, ok: boolean, output: Buffer, extra = ''): ClientResult {
  const notes = [r.timedOut ? '[harness] timed out' : '', r.spawnError ? `[harness] ${r.spawnError.message}` : '', extra].filter(Boolean);
  return { ok: ok && r.code === 0 && !r.timedOut, output, stderr: [r.stderr, ...notes].join('\n'), code: r.code };
}

function harnessFailure(message: string): ClientResult {
  return { ok: false, output: EMPTY, stderr: `[harness] ${message}`, code: null };
}

async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix)); // mode 0700
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readIfExists(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    return EMPTY;
  }
}

/** Splits PEM text into single-certificate PEM blocks. */
export function splitPemCerts(...pems: string[]): string[] {
  return pems.flatMap((p) => p.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => b + '\n');
}

function isSelfSigned(pem: string): boolean {
  const c = new X509Certificate(pem);
  return c.checkIssued(c) && c.verify(c.publicKey);
}

function parse(eml: Uint8Array): SmimeParts | ClientResult {
  try {
    return extractSmimeParts(eml);
  } catch (e) {
    if (e instanceof MimeError) return harnessFailure(`cannot take the message apart: ${e.message}`);
    return harnessFailure(`cannot take the message apart: ${String(e)}`);
  }
}

function isFailure(x: SmimeParts | ClientResult): x is ClientResult {
  return 'ok' in x;
}

/** The outer CMS content type, or undefined if the DER is not a ContentInfo. */
function cmsContentType(der: Uint8Array): string | undefined {
  try {
    const first = children(der, readTlv(der, 0))[0];
    return isUniversal(first, 6) ? oidOf(der, first) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bare CMS of an encrypted message for gpgsm / NSS. cmsutil -D also "decodes" signed-only data
 * with exit 0, so anything but (Auth)EnvelopedData is a failure here.
 */
function encryptedCms(eml: Uint8Array, who: string): Buffer | ClientResult {
  const parts = parse(eml);
  if (isFailure(parts)) return parts;
  if (parts.kind !== 'pkcs7-mime') return harnessFailure(`${who}: message is multipart/signed, not application/pkcs7-mime`);
  const type = cmsContentType(parts.der);
  if (type !== OID.envelopedData && type !== OID.authEnvelopedData) {
    return harnessFailure(`${who}: CMS content type ${type ?? '(unparseable)'} is not (auth)enveloped data`);
  }
  return parts.der;
}

// ---------------------------------------------------------------------------------------------
// OpenSSL
// ---------------------------------------------------------------------------------------------

async function opensslDecrypt(cmd: 'cms' | 'smime', eml: Uint8Array, o: RecipientKeyPem): Promise<ClientResult> {
  return withTempDir('smimegw-ossl-', async (dir) => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await Promise.all([writeFile(key, o.keyPem, { mode: 0o600 }), writeFile(cert, o.certPem)]);
    // Output goes to stdout; the exit code decides (GCM: plaintext is written before the tag check fails).
    const r = await run('openssl', [cmd, '-decrypt', '-in', '-', '-inkey', key, '-recip', cert], { input: eml, timeoutMs: o.timeoutMs });
    return resultOf(r, true, r.stdout);
  });
}

/** `openssl cms -decrypt -in - -inkey KEY -recip CERT`. */
export function opensslCmsDecrypt(eml: Uint8Array, o: RecipientKeyPem): Promise<ClientResult> {
  return opensslDecrypt('cms', eml, o);
}

/** `openssl smime -decrypt` (PKCS#7 code path: no AuthEnvelopedData, no OAEP). */
export function opensslSmimeDecrypt(eml: Uint8Array, o: RecipientKeyPem): Promise<ClientResult> {
  return opensslDecrypt('smime', eml, o);
}

async function opensslVerify(cmd: 'cms' | 'smime', eml: Uint8Array, o: OpensslTrust): Promise<ClientResult> {
  return withTempDir('smimegw-ossl-', async (dir) => {
    const ca = join(dir, 'ca.pem');
    // OpenSSL 3.0's cms/smime have no -untrusted (-certfile only serves the signer lookup), so
    // intermediates go into the CAfile. That does not make them anchors: without -partial_chain
    // the chain must still end in a self-signed certificate from the file.
    await writeFile(ca, o.caPem + '\n' + (o.untrustedPem ?? ''));
    // No -binary: on multipart/signed it leaves a stray CR (interop.md). Default purpose: smimesign.
    const r = await run('openssl', [cmd, '-verify', '-in', '-', '-CAfile', ca], { input: eml, timeoutMs: o.timeoutMs });
    return resultOf(r, true, r.stdout);
  });
}

/** `openssl cms -verify` of multipart/signed or opaque signed-data; output = the signed content. */
export function opensslCmsVerify(eml: Uint8Array, o: OpensslTrust): Promise<ClientResult> {
  return opensslVerify('cms', eml, o);
}

/** `openssl smime -verify` (PKCS#7 code path). */
export function opensslSmimeVerify(eml: Uint8Array, o: OpensslTrust): Promise<ClientResult> {
  return opensslVerify('smime', eml, o);
}

// ---------------------------------------------------------------------------------------------
// gpgsm (GnuPG 2.2)
// ---------------------------------------------------------------------------------------------

/** Status lines ("[GNUPG:] KEYWORD args") from gpgsm's --status-fd output. */
export function parseGnupgStatus(text: string): Array<{ keyword: string; args: string }> {
  const out: Array<{ keyword: string; args: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^\[GNUPG:\] (\S+) ?(.*)$/.exec(line.trimEnd());
    if (m) out.push({ keyword: m[1] as string, args: m[2] ?? '' });
  }
  return out;
}

const GPGSM_CONF = [
  // Offline and self-contained: never start dirmngr, never look for CRLs/OCSP, no system certs.
  'disable-dirmngr',
  'disable-crl-checks',
  'disable-trusted-cert-crl-check',
  'disable-ocsp',
  'no-common-certs-import',
  'disable-policy-checks',
  '',
].join('\n');

const GPG_AGENT_CONF = [
  'allow-loopback-pinentry',
  'no-grab',
  // The default S2K count is calibrated to ~100 ms per key operation; that made a p12 import 1.5 s
  // and a decryption 0.6 s. A fixed low count brings both down to ~20 ms. (Test keys only.)
  's2k-count 65536',
  '',
].join('\n');

interface GpgsmHome {
  dir: string;
  gpgsm(args: string[], input?: Uint8Array | string): Promise<RunResult>;
}

async function withGpgsmHome<T>(caPems: readonly string[], timeoutMs: number | undefined, fn: (h: GpgsmHome) => Promise<T>): Promise<T> {
  return withTempDir('smimegw-gpgsm-', async (dir) => {
    const certs = splitPemCerts(...caPems);
    const trust = certs.filter(isSelfSigned).map((p) => `${new X509Certificate(p).fingerprint} S\n`);
    await Promise.all([
      writeFile(join(dir, 'gpgsm.conf'), GPGSM_CONF),
      writeFile(join(dir, 'gpg-agent.conf'), GPG_AGENT_CONF),
      writeFile(join(dir, 'trustlist.txt'), trust.join('')),
      writeFile(join(dir, 'cas.pem'), certs.join('')),
    ]);
    const home: GpgsmHome = {
      dir,
      gpgsm: (args, input) =>
        run('gpgsm', ['--homedir', dir, '--batch', '--no-tty', '--status-fd', '2', ...args], { input, timeoutMs, cwd: dir }),
    };
    try {
      if (certs.length) await throwUnlessOk(home.gpgsm(['--import', join(dir, 'cas.pem')]), 'gpgsm --import (CA certificates)');
      return await fn(home);
    } finally {
      // gpgsm auto-started a gpg-agent for this home: stop exactly that one. (Its socket is in the
      // home, or under /run/user/UID/gnupg/d.* when /run/user/UID exists: then remove that folder too.)
      await run('gpgconf', ['--homedir', dir, '--kill', 'gpg-agent'], { timeoutMs: 10_000 });
      if (await exists(`/run/user/${process.getuid?.() ?? -1}`)) {
        await run('gpgconf', ['--homedir', dir, '--remove-socketdir'], { timeoutMs: 10_000 });
      }
    }
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function throwUnlessOk(p: Promise<RunResult>, what: string): Promise<RunResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}`);
  return r;
}

/**
 * `gpgsm --import` of a PKCS#12 file. gpgsm 2.2 (minip12) fails to decrypt about 2 % of legacy
 * PBE-SHA1-3DES files that OpenSSL and NSS read, depending only on the random salts (measured here:
 * 3 of 150 fresh `openssl pkcs12 -export` files, each failing every time; the same key, certificate
 * and password re-exported with new salts imported 5 of 5 times). The key import is the harness's
 * set-up, not what a test checks, so on that parse error the file is re-exported by OpenSSL (same
 * password, legacy 3DES, new salts) and imported again, up to 3 times. (Seen: the certificate bag or
 * the key bag failing to decrypt; either way gpgsm ends with "error parsing or decrypting".)
 */
async function gpgsmImportP12(h: { dir: string; gpgsm(args: string[], input?: string): Promise<RunResult> }, p12Path: string, password: string): Promise<RunResult> {
  let imp = await h.gpgsm(['--pinentry-mode', 'loopback', '--passphrase-fd', '0', '--import', p12Path], password + '\n');
  for (let attempt = 1; attempt <= 3 && imp.code !== 0 && /error parsing or decrypting the PKCS#12 file/.test(imp.stderr); attempt++) {
    const pem = join(h.dir, `reexport-${attempt}.pem`);
    const again = join(h.dir, `reexport-${attempt}.p12`);
    const env = toolEnv({ SMIMEGW_P12_PASS: password });
    const out = await run('openssl', ['pkcs12', '-in', p12Path, '-passin', 'env:SMIMEGW_P12_PASS', '-nodes', '-out', pem], { env });
    if (out.code !== 0) break;
    const exp = await run('openssl', ['pkcs12', '-export', '-in', pem, '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1', '-passout', 'env:SMIMEGW_P12_PASS', '-out', again], { env });
    if (exp.code !== 0) break;
    imp = await h.gpgsm(['--pinentry-mode', 'loopback', '--passphrase-fd', '0', '--import', again], password + '\n');
  }
  return imp;
}

/**
 * Imports the PKCS#12 into a fresh GnuPG home and runs `gpgsm --decrypt` on the bare CMS
 * (the base64 body of the application/pkcs7-mime part, decoded).
 */
export async function gpgsmDecrypt(eml: Uint8Array, o: RecipientP12): Promise<ClientResult> {
  const der = encryptedCms(eml, 'gpgsmDecrypt');
  if (!Buffer.isBuffer(der)) return der;
  return withGpgsmHome(o.caPems ?? [], o.timeoutMs, async (h) => {
    const p12 = join(h.dir, 'key.p12');
    const inFile = join(h.dir, 'body.p7m');
    const outFile = join(h.dir, 'out');
    await Promise.all([writeFile(p12, o.p12), writeFile(inFile, der)]);
    const pass = o.p12Password + '\n';
    const imp = await gpgsmImportP12(h, p12, o.p12Password);
    const impStatus = parseGnupgStatus(imp.stderr);
    if (imp.code !== 0 || !impStatus.some((s) => s.keyword === 'IMPORT_OK')) {
      return resultOf(imp, false, EMPTY, '[harness] importing the PKCS#12 into gpgsm failed');
    }
    const r = await h.gpgsm(['--pinentry-mode', 'loopback', '--passphrase-fd', '0', '--output', outFile, '--decrypt', inFile], pass);
    const st = parseGnupgStatus(r.stderr);
    const decrypted = st.some((s) => s.keyword === 'DECRYPTION_OKAY') && !st.some((s) => s.keyword === 'DECRYPTION_FAILED');
    // gpgsm 2.2 walks the RecipientInfos in order; one for a certificate it does not have, met before
    // ours, logs "failed to find the certificate: Unknown system error" and makes the exit code 2
    // although it then decrypts with our key (DECRYPTION_OKAY). That is not a decryption failure.
    const errors = r.stderr.split('\n').filter((l) => /^gpgsm: .*(error|fail|invalid)/i.test(l));
    const onlyOtherRecipients = errors.length > 0 && errors.every((l) => /failed to find the certificate/.test(l));
    if (decrypted && r.code !== 0 && onlyOtherRecipients) {
      return {
        ok: true,
        output: await readIfExists(outFile),
        stderr: `${r.stderr}\n[harness] gpgsm exit ${r.code} only because another recipient's certificate is unknown; DECRYPTION_OKAY`,
        code: r.code,
      };
    }
    return resultOf(r, decrypted, await readIfExists(outFile));
  });
}

const GPGSM_BAD = new Set(['BADSIG', 'ERRSIG', 'EXPSIG', 'EXPKEYSIG', 'REVKEYSIG', 'TRUST_UNDEFINED', 'TRUST_NEVER', 'TRUST_MARGINAL', 'ERROR', 'FAILURE']);

/** Judges gpgsm --verify status lines: every signature GOODSIG + VALIDSIG + TRUST_FULLY/ULTIMATE, nothing bad. */
export function gpgsmVerifyOk(status: ReadonlyArray<{ keyword: string }>): boolean {
  const count = (k: string) => status.filter((s) => s.keyword === k).length;
  const sigs = count('NEWSIG');
  return (
    sigs > 0 &&
    count('GOODSIG') === sigs &&
    count('VALIDSIG') === sigs &&
    count('TRUST_FULLY') + count('TRUST_ULTIMATE') === sigs &&
    !status.some((s) => GPGSM_BAD.has(s.keyword))
  );
}

/**
 * `gpgsm --verify`: multipart/signed as `--verify sig.p7s data` (data = the first part's exact bytes),
 * opaque signed-data as `--verify --output out sig.p7m`. Decided by the status lines and the exit code.
 */
export async function gpgsmVerify(eml: Uint8Array, o: CaTrust): Promise<ClientResult> {
  const parts = parse(eml);
  if (isFailure(parts)) return parts;
  return withGpgsmHome(o.caPems, o.timeoutMs, async (h) => {
    const sig = join(h.dir, 'sig.p7s');
    let r: RunResult;
    let output: Buffer;
    if (parts.kind === 'multipart-signed') {
      const data = join(h.dir, 'data');
      await Promise.all([writeFile(sig, parts.signature), writeFile(data, parts.signedContent)]);
      r = await h.gpgsm(['--verify', sig, data]);
      output = parts.signedContent;
    } else {
      const out = join(h.dir, 'out');
      await writeFile(sig, parts.der);
      r = await h.gpgsm(['--output', out, '--verify', sig]);
      output = await readIfExists(out);
    }
    return resultOf(r, gpgsmVerifyOk(parseGnupgStatus(r.stderr)), output);
  });
}

// ---------------------------------------------------------------------------------------------
// NSS (certutil, pk12util, cmsutil)
// ---------------------------------------------------------------------------------------------

interface NssDb {
  dir: string;
  db: string;
}

async function withNssDb<T>(caPems: readonly string[], timeoutMs: number | undefined, fn: (n: NssDb) => Promise<T>): Promise<T> {
  return withTempDir('smimegw-nss-', async (dir) => {
    const db = `sql:${dir}`;
    await runOk('certutil', ['-N', '-d', db, '--empty-password'], { timeoutMs });
    // certutil writes to the same sqlite files: add the CAs one after the other.
    const certs = splitPemCerts(...caPems);
    for (const [i, pem] of certs.entries()) {
      const file = join(dir, `ca${i}.pem`);
      await writeFile(file, pem);
      const trust = isSelfSigned(pem) ? 'C,C,C' : ',,';
      await runOk('certutil', ['-A', '-d', db, '-n', `ca${i}`, '-t', trust, '-a', '-i', file], { timeoutMs });
    }
    return fn({ dir, db });
  });
}

/** `pk12util -i` into a fresh NSS database, then `cmsutil -D` on the bare CMS. */
export async function nssDecrypt(eml: Uint8Array, o: RecipientP12): Promise<ClientResult> {
  const der = encryptedCms(eml, 'nssDecrypt');
  if (!Buffer.isBuffer(der)) return der;
  return withNssDb([], o.timeoutMs, async ({ dir, db }) => {
    const p12 = join(dir, 'key.p12');
    const inFile = join(dir, 'body.p7m');
    const outFile = join(dir, 'out');
    await Promise.all([writeFile(p12, o.p12), writeFile(inFile, der)]);
    const imp = await run('pk12util', ['-i', p12, '-d', db, '-W', o.p12Password, '-K', ''], { timeoutMs: o.timeoutMs });
    if (imp.code !== 0) return resultOf(imp, false, EMPTY, '[harness] pk12util import failed');
    const r = await run('cmsutil', ['-D', '-i', inFile, '-d', db, '-p', '', '-o', outFile], { timeoutMs: o.timeoutMs });
    return resultOf(r, true, await readIfExists(outFile));
  });
}

/** Parses cmsutil's `-h` report; ok when nsigners >= 1 and every signerN.status is GoodSignature. */
export function nssSignerStatuses(report: string): { nsigners: number; statuses: string[] } {
  const n = /nsigners=(\d+)/.exec(report);
  const statuses = [...report.matchAll(/signer(\d+)\.status=([A-Za-z]+)/g)].map((m) => m[2] as string);
  return { nsigners: n ? Number(n[1]) : 0, statuses };
}

/**
 * `cmsutil -D` (-c data for multipart/signed). cmsutil exits 0 even on a bad digest, so the verdict
 * comes from `signerN.status=` in a `-h 3 -n` run; the content comes from a second run without -h.
 */
export async function nssVerify(eml: Uint8Array, o: CaTrust): Promise<ClientResult> {
  const parts = parse(eml);
  if (isFailure(parts)) return parts;
  return withNssDb(o.caPems, o.timeoutMs, async ({ dir, db }) => {
    const sig = join(dir, 'sig.p7m');
    const outFile = join(dir, 'out');
    const base = ['-D', '-i', sig, '-d', db, '-p', ''];
    if (parts.kind === 'multipart-signed') {
      const data = join(dir, 'data');
      await Promise.all([writeFile(sig, parts.signature), writeFile(data, parts.signedContent)]);
      base.push('-c', data);
    } else {
      await writeFile(sig, parts.der);
    }
    const [report, content] = await Promise.all([
      run('cmsutil', [...base, '-h', '3', '-n'], { timeoutMs: o.timeoutMs }),
      run('cmsutil', [...base, '-o', outFile], { timeoutMs: o.timeoutMs }),
    ]);
    const { nsigners, statuses } = nssSignerStatuses(report.stdout.toString('latin1'));
    const ok = nsigners > 0 && statuses.length === nsigners && statuses.every((s) => s === 'GoodSignature') && content.code === 0;
    const output = parts.kind === 'multipart-signed' ? parts.signedContent : await readIfExists(outFile);
    return resultOf(report, ok, output, report.stdout.toString('latin1').trim() + (content.code !== 0 ? `\n${content.stderr}` : ''));
  });
}

// ---------------------------------------------------------------------------------------------
// Tool availability
// ---------------------------------------------------------------------------------------------

export type ToolName = 'openssl' | 'gpgsm' | 'nss';

const TOOL_BINARIES: Record<ToolName, string[]> = {
  openssl: ['openssl'],
  gpgsm: ['gpgsm', 'gpg-agent', 'gpgconf'],
  nss: ['certutil', 'pk12util', 'cmsutil'],
};

export interface ToolStatus {
  available: boolean;
  /** Binaries not found on PATH. */
  missing: string[];
}

async function onPath(bin: string): Promise<boolean> {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    try {
      await access(join(d, bin), fsConstants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

let availability: Promise<Record<ToolName, ToolStatus>> | undefined;

/** Which oracles are installed (memoised; PATH lookup only, no processes). */
export function toolAvailability(): Promise<Record<ToolName, ToolStatus>> {
  availability ??= (async () => {
    const entries = await Promise.all(
      (Object.keys(TOOL_BINARIES) as ToolName[]).map(async (name) => {
        const found = await Promise.all(TOOL_BINARIES[name].map(onPath));
        const missing = TOOL_BINARIES[name].filter((_, i) => !found[i]);
        return [name, { available: missing.length === 0, missing }] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<ToolName, ToolStatus>;
  })();
  return availability;
}

/**
 * Resolves true when the tool is installed. Otherwise: in CI (CI=true) throws, so the test fails;
 * locally warns on the console, marks the test skipped and resolves false (the test should return).
 */
export async function requireTool(t: TestContext, name: ToolName): Promise<boolean> {
  const status = (await toolAvailability())[name];
  if (status.available) return true;
  const msg = `interop tool ${name} missing (${status.missing.join(', ')} not on PATH); install: apt-get install openssl gpgsm libnss3-tools`;
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`WARNING: skipping "${t.name}": ${msg}`);
  t.skip(msg);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Reference producers (openssl cms), for tests of the harness and of the gateway's inbound side
// ---------------------------------------------------------------------------------------------

export interface OpensslEncryptOptions {
  /** openssl cipher option. Default '-aes256' (AES-256-CBC). '-aes-256-gcm' gives AuthEnvelopedData. */
  cipher?: string;
  /** -keyopt values per recipient, e.g. ['rsa_padding_mode:oaep', 'rsa_oaep_md:sha256']. */
  keyopt?: string[];
  /** -stream: indefinite-length BER with a chunked encryptedContent. */
  stream?: boolean;
}

export interface OpensslSignOptions {
  /** Default true (multipart/signed); false = opaque application/pkcs7-mime signed-data (-nodetach). */
  detached?: boolean;
  /** Default 'sha256'. */
  md?: string;
  /** -stream (opaque only: indefinite-length BER, chunked eContent). */
  stream?: boolean;
  /** -keyopt values, e.g. ['rsa_padding_mode:pss']. */
  keyopt?: string[];
}

/**
 * Writes openssl's S/MIME output with CRLF everywhere (openssl -crlfeol still ends base64 lines
 * with LF). Safe because every other line of the output is already CRLF.
 */
function crlfEverywhere(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** `openssl cms -encrypt -binary` of a MIME entity (bytes kept exactly) to one or more certificates. */
export async function opensslCmsEncrypt(entity: Uint8Array, recipientCertPems: string[], o: OpensslEncryptOptions = {}): Promise<Buffer> {
  return withTempDir('smimegw-ossl-', async (dir) => {
    const args = ['cms', '-encrypt', '-binary', '-crlfeol', o.cipher ?? '-aes256', o.stream ? '-stream' : '-noindef', '-in', '-'];
    await Promise.all(
      recipientCertPems.map(async (pem, i) => {
        await writeFile(join(dir, `r${i}.pem`), pem);
      }),
    );
    recipientCertPems.forEach((_, i) => {
      args.push('-recip', join(dir, `r${i}.pem`));
      for (const k of o.keyopt ?? []) args.push('-keyopt', k);
    });
    const r = await runOk('openssl', args, { input: entity });
    return crlfEverywhere(r.stdout);
  });
}

/** `openssl cms -sign` (signer chain included) of a canonical (CRLF, 7-bit) MIME entity. */
export async function opensslCmsSign(
  entity: Uint8Array,
  signer: { certPem: string; keyPem: string; chainPem?: string },
  o: OpensslSignOptions = {},
): Promise<Buffer> {
  return withTempDir('smimegw-ossl-', async (dir) => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const chain = join(dir, 'chain.pem');
    await Promise.all([writeFile(cert, signer.certPem), writeFile(key, signer.keyPem, { mode: 0o600 }), writeFile(chain, signer.chainPem ?? '')]);
    const args = ['cms', '-sign', '-crlfeol', '-md', o.md ?? 'sha256', '-signer', cert, '-inkey', key, '-in', '-'];
    if (signer.chainPem) args.push('-certfile', chain);
    for (const k of o.keyopt ?? []) args.push('-keyopt', k);
    // Opaque: -binary keeps the entity's bytes exactly; detached: text mode canonicalises to CRLF
    // (a no-op for a canonical entity) and is what interop.md describes.
    if (o.detached === false) args.push('-nodetach', '-binary', o.stream ? '-stream' : '-noindef');
    const r = await runOk('openssl', args, { input: entity });
    return crlfEverywhere(r.stdout);
  });
}
