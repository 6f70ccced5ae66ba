/**
 * The interop matrix: every combination the engine offers, run through OpenSSL cms and smime,
 * gpgsm and NSS cmsutil, plus every test message through the default combinations. Each cell
 * records whether the client read our output (byte-identical to the input entity) and whether it
 * rejected a tampered copy.
 *
 * Used by test/interop/matrix.test.ts (assertions) and by `npm run interop` (writes docs/INTEROP.md).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createTestPki, type IssuedCert, type TestPki } from '../helpers/pki.js';
import {
  gpgsmDecrypt,
  gpgsmVerify,
  nssDecrypt,
  nssVerify,
  opensslCmsDecrypt,
  opensslCmsVerify,
  opensslSmimeDecrypt,
  opensslSmimeVerify,
  extractSmimeParts,
  tamper,
  toolAvailability,
  type ClientResult,
  type TamperTarget,
  type ToolName,
} from '../helpers/clients.js';
import { fixtures, largeAttachment } from '../mime/fixtures.js';
import { readCertificates } from '../../src/pki/certificate.js';
import { readPrivateKey } from '../../src/pki/keys.js';
import { utf8 } from '../../src/shared/bytes.js';
import {
  encryptMessage,
  signMessage,
  signAndEncryptMessage,
  verifyMessage,
  type ContentAlgorithm,
  type KeyTransport,
  type SignatureAlgorithm,
  type SignerIdentity,
} from '../../src/smime/index.js';

export const CLIENTS = ['openssl-cms', 'openssl-smime', 'gpgsm', 'nss'] as const;
export type Client = (typeof CLIENTS)[number];
const TOOL_OF: Record<Client, ToolName> = { 'openssl-cms': 'openssl', 'openssl-smime': 'openssl', gpgsm: 'gpgsm', nss: 'nss' };

export type Operation = 'encrypt' | 'sign' | 'sign-encrypt';

export interface Combination {
  id: string;
  operation: Operation;
  label: string;
  /** The engine's default for this operation (what it sends unless a recipient advertised more). */
  isDefault: boolean;
  /** Clients that must read it (interop.md and the harness measured them doing so). */
  required: readonly Client[];
  message: string;
  content?: ContentAlgorithm;
  keyTransport?: KeyTransport;
  recipientKey?: 'rsa' | 'p256' | 'p384';
  signature?: SignatureAlgorithm;
  signerKey?: 'rsa' | 'p256';
  mode?: 'detached' | 'opaque';
}

export interface Cell {
  combination: Combination;
  client: Client;
  /** The client read the output. */
  ok: boolean;
  /** The client's output equals the expected entity byte for byte. */
  identical: boolean;
  /** The client rejected the tampered copy (undefined when there was nothing to tamper with: the client could not read it). */
  tamperRejected?: boolean;
  skipped?: string;
  detail: string;
}

const ALL = CLIENTS;
const CMS_ONLY: readonly Client[] = ['openssl-cms'];

/** Expected readers per combination: interop.md's tables as re-measured by the harness. */
export const COMBINATIONS: Combination[] = [
  { id: 'enc-aes256cbc-pkcs1', operation: 'encrypt', label: 'AES-256-CBC, RSAES-PKCS1-v1_5', isDefault: true, required: ALL, message: 'plainText', content: 'aes256-cbc', keyTransport: 'rsa-pkcs1', recipientKey: 'rsa' },
  { id: 'enc-aes128cbc-pkcs1', operation: 'encrypt', label: 'AES-128-CBC, RSAES-PKCS1-v1_5', isDefault: false, required: ALL, message: 'plainText', content: 'aes128-cbc', keyTransport: 'rsa-pkcs1', recipientKey: 'rsa' },
  { id: 'enc-aes256cbc-oaep', operation: 'encrypt', label: 'AES-256-CBC, RSAES-OAEP-SHA256', isDefault: false, required: CMS_ONLY, message: 'plainText', content: 'aes256-cbc', keyTransport: 'rsa-oaep-sha256', recipientKey: 'rsa' },
  { id: 'enc-aes256gcm-pkcs1', operation: 'encrypt', label: 'AuthEnvelopedData AES-256-GCM, RSAES-PKCS1-v1_5', isDefault: false, required: CMS_ONLY, message: 'plainText', content: 'aes256-gcm', keyTransport: 'rsa-pkcs1', recipientKey: 'rsa' },
  { id: 'enc-aes256gcm-oaep', operation: 'encrypt', label: 'AuthEnvelopedData AES-256-GCM, RSAES-OAEP-SHA256', isDefault: false, required: CMS_ONLY, message: 'plainText', content: 'aes256-gcm', keyTransport: 'rsa-oaep-sha256', recipientKey: 'rsa' },
  { id: 'enc-aes256cbc-ecdh-p256', operation: 'encrypt', label: 'AES-256-CBC, ECDH P-256 (stdDH-sha256kdf, AES-256 wrap)', isDefault: false, required: CMS_ONLY, message: 'plainText', content: 'aes256-cbc', keyTransport: 'ecdh-sha256kdf', recipientKey: 'p256' },
  { id: 'enc-aes128cbc-ecdh-p384', operation: 'encrypt', label: 'AES-128-CBC, ECDH P-384 (stdDH-sha256kdf, AES-128 wrap)', isDefault: false, required: CMS_ONLY, message: 'plainText', content: 'aes128-cbc', keyTransport: 'ecdh-sha256kdf', recipientKey: 'p384' },
  { id: 'enc-aes256gcm-ecdh-p256', operation: 'encrypt', label: 'AuthEnvelopedData AES-256-GCM, ECDH P-256', isDefault: false, required: CMS_ONLY, message: 'plainText', content: 'aes256-gcm', keyTransport: 'ecdh-sha256kdf', recipientKey: 'p256' },
  { id: 'sign-detached-pkcs1', operation: 'sign', label: 'multipart/signed, SHA-256 RSA PKCS#1 v1.5', isDefault: true, required: ALL, message: 'plainText', signature: 'rsa-pkcs1-sha256', signerKey: 'rsa', mode: 'detached' },
  { id: 'sign-detached-pss', operation: 'sign', label: 'multipart/signed, SHA-256 RSA-PSS', isDefault: false, required: ['openssl-cms', 'gpgsm', 'nss'], message: 'plainText', signature: 'rsa-pss-sha256', signerKey: 'rsa', mode: 'detached' },
  { id: 'sign-detached-ecdsa', operation: 'sign', label: 'multipart/signed, SHA-256 ECDSA P-256', isDefault: false, required: ALL, message: 'plainText', signature: 'ecdsa-sha256', signerKey: 'p256', mode: 'detached' },
  { id: 'sign-opaque-pkcs1', operation: 'sign', label: 'opaque signed-data, SHA-256 RSA PKCS#1 v1.5', isDefault: false, required: ALL, message: 'plainText', signature: 'rsa-pkcs1-sha256', signerKey: 'rsa', mode: 'opaque' },
  { id: 'sign-opaque-pss', operation: 'sign', label: 'opaque signed-data, SHA-256 RSA-PSS', isDefault: false, required: ['openssl-cms', 'gpgsm', 'nss'], message: 'plainText', signature: 'rsa-pss-sha256', signerKey: 'rsa', mode: 'opaque' },
  { id: 'sign-opaque-ecdsa', operation: 'sign', label: 'opaque signed-data, SHA-256 ECDSA P-256', isDefault: false, required: ALL, message: 'plainText', signature: 'ecdsa-sha256', signerKey: 'p256', mode: 'opaque' },
  { id: 'sign-encrypt-default', operation: 'sign-encrypt', label: 'multipart/signed RSA PKCS#1 v1.5 inside AES-256-CBC / RSAES-PKCS1-v1_5', isDefault: true, required: ALL, message: 'plainText', content: 'aes256-cbc', keyTransport: 'rsa-pkcs1', recipientKey: 'rsa', signature: 'rsa-pkcs1-sha256', signerKey: 'rsa', mode: 'detached' },
];

export const LARGE_SIZE = 25 * 1024 * 1024;

/** Every test message through the three default combinations. */
export function messageCombinations(includeLarge: boolean): Combination[] {
  const names = [...Object.keys(fixtures), ...(includeLarge ? ['largeAttachment25MB'] : [])];
  return names.flatMap((m) =>
    COMBINATIONS.filter((c) => c.isDefault).map((c) => ({ ...c, id: `${c.id}:${m}`, message: m })),
  );
}

function messageBytes(name: string): Uint8Array {
  if (name === 'largeAttachment25MB') return largeAttachment(LARGE_SIZE);
  const f = fixtures[name];
  if (!f) throw new Error(`no fixture ${name}`);
  return f();
}

/**
 * The inner entity the engine must encrypt, computed independently of src/: the Content-* header
 * fields as written (with their continuation lines), a blank line, the body; line ends CRLF.
 */
export function expectedInnerEntity(msg: Uint8Array): Buffer {
  let s = Buffer.from(msg).toString('latin1');
  // a message written with bare LF line ends (judged by its first line) is converted; a CRLF one is kept byte for byte
  const firstLine = s.slice(0, s.indexOf('\n') + 1);
  if (!firstLine.endsWith('\r\n')) s = s.replace(/\r?\n/g, '\r\n');
  const sep = s.indexOf('\r\n\r\n');
  const head = s.slice(0, sep + 2);
  const body = s.slice(sep + 4);
  const fields = head.split(/\r\n(?![ \t])/).filter((f) => f.length > 0);
  const content = fields.filter((f) => /^content-/i.test(f));
  return Buffer.from(content.map((f) => f + '\r\n').join('') + '\r\n' + body, 'latin1');
}

interface Parties {
  pki: TestPki;
  rsa: IssuedCert;
  p256: IssuedCert;
  p384: IssuedCert;
  signerRsa: IssuedCert;
  signerP256: IssuedCert;
}

async function makeParties(): Promise<Parties> {
  const pki = await createTestPki();
  const [rsa, p256, p384, signerRsa, signerP256] = await Promise.all([
    pki.issue({ email: 'bob@example.com', key: 'rsa2048' }),
    pki.issue({ email: 'carol@example.com', key: 'p256' }),
    pki.issue({ email: 'erin@example.com', key: 'p384' }),
    pki.issue({ email: 'sender@corp.example', key: 'rsa2048' }),
    pki.issue({ email: 'ecsender@corp.example', key: 'p256' }),
  ]);
  return { pki, rsa, p256, p384, signerRsa, signerP256 };
}

function identity(c: IssuedCert): SignerIdentity {
  return { certificate: readCertificates(utf8(c.certPem))[0]!, key: readPrivateKey(utf8(c.keyPem)), chain: readCertificates(utf8(c.chainPem)) };
}

async function produce(c: Combination, p: Parties, msg: Uint8Array): Promise<Uint8Array> {
  const recipient = c.recipientKey === 'p256' ? p.p256 : c.recipientKey === 'p384' ? p.p384 : p.rsa;
  const signer = identity(c.signerKey === 'p256' ? p.signerP256 : p.signerRsa);
  const recipients = [{ certificate: readCertificates(utf8(recipient.certPem))[0]!, algorithms: c.content ? { content: c.content, keyTransport: c.keyTransport! } : undefined }];
  switch (c.operation) {
    case 'encrypt':
      return encryptMessage(msg, recipients);
    case 'sign':
      return signMessage(msg, signer, { algorithm: c.signature, mode: c.mode });
    case 'sign-encrypt':
      return signAndEncryptMessage(msg, signer, recipients, { algorithm: c.signature, mode: c.mode });
  }
}

async function decryptWith(client: Client, eml: Uint8Array, r: IssuedCert): Promise<ClientResult> {
  switch (client) {
    case 'openssl-cms':
      return opensslCmsDecrypt(eml, { certPem: r.certPem, keyPem: r.keyPem, timeoutMs: 120_000 });
    case 'openssl-smime':
      return opensslSmimeDecrypt(eml, { certPem: r.certPem, keyPem: r.keyPem, timeoutMs: 120_000 });
    case 'gpgsm':
      return gpgsmDecrypt(eml, { p12: r.p12, p12Password: r.p12Password, timeoutMs: 120_000 });
    case 'nss':
      return nssDecrypt(eml, { p12: r.p12, p12Password: r.p12Password, timeoutMs: 120_000 });
  }
}

async function verifyWith(client: Client, eml: Uint8Array, pki: TestPki): Promise<ClientResult> {
  const caPems = [pki.root.certPem];
  switch (client) {
    case 'openssl-cms':
      return opensslCmsVerify(eml, { caPem: pki.root.certPem, timeoutMs: 120_000 });
    case 'openssl-smime':
      return opensslSmimeVerify(eml, { caPem: pki.root.certPem, timeoutMs: 120_000 });
    case 'gpgsm':
      return gpgsmVerify(eml, { caPems, timeoutMs: 120_000 });
    case 'nss':
      return nssVerify(eml, { caPems, timeoutMs: 120_000 });
  }
}

/** What a verifying client must output: the exact signed content carried by the message. */
async function signedContentOf(eml: Uint8Array, pki: TestPki): Promise<Buffer> {
  const parts = extractSmimeParts(eml);
  if (parts.kind === 'multipart-signed') return parts.signedContent;
  const v = await verifyMessage(eml, { trusted: readCertificates(utf8(pki.root.certPem)) });
  return Buffer.from(v.entity);
}

/** Runs one client on one combination: read, compare, tamper. */
async function runCell(c: Combination, client: Client, eml: Uint8Array, inner: Buffer, p: Parties): Promise<Cell> {
  const recipient = c.recipientKey === 'p256' ? p.p256 : c.recipientKey === 'p384' ? p.p384 : p.rsa;
  const cell: Cell = { combination: c, client, ok: false, identical: false, detail: '' };
  const attempt = async (m: Uint8Array): Promise<{ r: ClientResult; out: Buffer; stage: string }> => {
    if (c.operation === 'sign') {
      const r = await verifyWith(client, m, p.pki);
      return { r, out: r.output, stage: 'verify' };
    }
    const d = await decryptWith(client, m, recipient);
    if (!d.ok || c.operation === 'encrypt') return { r: d, out: d.output, stage: 'decrypt' };
    const v = await verifyWith(client, d.output, p.pki);
    return { r: v, out: v.output, stage: 'verify inner signature' };
  };
  const first = await attempt(eml);
  cell.ok = first.r.ok;
  if (!first.r.ok) {
    cell.detail = `${first.stage} failed: ${first.r.stderr.trim().split('\n').slice(-2).join(' | ').slice(0, 200)}`;
    return cell;
  }
  let expected: Buffer;
  if (c.operation === 'encrypt') expected = inner;
  else if (c.operation === 'sign') expected = await signedContentOf(eml, p.pki);
  else {
    const d = await decryptWith('openssl-cms', eml, recipient);
    expected = await signedContentOf(d.output, p.pki);
  }
  cell.identical = first.out.equals(expected);
  if (!cell.identical) cell.detail = `output differs from the expected entity (${first.out.length} vs ${expected.length} bytes)`;
  const targets: TamperTarget[] = c.operation === 'sign' ? ['signature', 'content'] : ['ciphertext'];
  let rejected = true;
  for (const t of targets) {
    const bad = await attempt(tamper(eml, t));
    if (bad.r.ok) {
      rejected = false;
      cell.detail += ` tampered ${t} was accepted`;
    }
  }
  cell.tamperRejected = rejected;
  return cell;
}

async function pool<T, R>(items: readonly T[], limit: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

export interface MatrixResult {
  cells: Cell[];
  tools: Record<ToolName, { available: boolean; missing: string[] }>;
  ms: number;
}

export async function runMatrix(options: { includeLarge?: boolean; concurrency?: number } = {}): Promise<MatrixResult> {
  const started = Date.now();
  const tools = await toolAvailability();
  const p = await makeParties();
  try {
    const combos = [...COMBINATIONS, ...messageCombinations(options.includeLarge ?? true)];
    const produced = new Map<string, { eml: Uint8Array; inner: Buffer }>();
    for (const c of combos) {
      const msg = messageBytes(c.message);
      produced.set(c.id, { eml: await produce(c, p, msg), inner: expectedInnerEntity(msg) });
    }
    const jobs = combos.flatMap((c) => CLIENTS.map((client) => ({ c, client })));
    // big messages one at a time, small ones in parallel
    const small = jobs.filter((j) => !j.c.message.startsWith('large'));
    const large = jobs.filter((j) => j.c.message.startsWith('large'));
    const run = async ({ c, client }: { c: Combination; client: Client }): Promise<Cell> => {
      const tool = tools[TOOL_OF[client]];
      if (!tool.available) return { combination: c, client, ok: false, identical: false, skipped: `missing ${tool.missing.join(', ')}`, detail: '' };
      const { eml, inner } = produced.get(c.id)!;
      return runCell(c, client, eml, inner, p);
    };
    const cells = [...(await pool(small, options.concurrency ?? 4, run)), ...(await pool(large, 1, run))];
    return { cells, tools, ms: Date.now() - started };
  } finally {
    await p.pki.cleanup();
  }
}

const mark = (cell: Cell): string => {
  if (cell.skipped) return 'skipped';
  if (!cell.ok) return 'fails';
  return cell.identical && cell.tamperRejected ? 'ok' : !cell.identical ? 'ok, output differs' : 'ok, tamper NOT detected';
};

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return `${cmd}: not installed`;
  }
}

export function renderMarkdown(result: MatrixResult): string {
  const lines: string[] = [];
  lines.push('# S/MIME interoperability, as measured', '');
  lines.push(`Generated by \`npm run interop\` on ${new Date().toISOString().slice(0, 10)} in ${(result.ms / 1000).toFixed(0)} s.`);
  lines.push(`Clients: ${version('openssl', ['version'])}; ${version('gpgsm', ['--version'])}; NSS ${version('sh', ['-c', "dpkg-query -W -f='${Version}' libnss3-tools 2>/dev/null || echo unknown"])} (cmsutil).`, '');
  lines.push('"ok" means: the client decrypted or verified our output, its output was byte-identical to the', 'entity we protected, and it rejected a tampered copy (flipped ciphertext, signature or content byte).', '"fails" means the client cannot read that combination; the engine never sends it by default.', '');
  const table = (cells: Cell[], rowLabel: (c: Combination) => string) => {
    lines.push(`| combination | default | ${CLIENTS.join(' | ')} |`);
    lines.push(`|---|---|${CLIENTS.map(() => '---').join('|')}|`);
    const rows = new Map<string, Cell[]>();
    for (const cell of cells) rows.set(cell.combination.id, [...(rows.get(cell.combination.id) ?? []), cell]);
    for (const row of rows.values()) {
      const c = row[0]!.combination;
      lines.push(`| ${rowLabel(c)} | ${c.isDefault ? 'yes' : ''} | ${CLIENTS.map((cl) => mark(row.find((x) => x.client === cl)!)).join(' | ')} |`);
    }
    lines.push('');
  };
  lines.push('## Every combination the engine offers', '');
  table(result.cells.filter((c) => !c.combination.id.includes(':')), (c) => `${c.operation}: ${c.label}`);
  lines.push('## Every test message through the defaults', '');
  table(result.cells.filter((c) => c.combination.id.includes(':')), (c) => `${c.operation}: ${c.message}`);
  const notes = result.cells.filter((c) => c.detail && (c.ok || c.combination.required.includes(c.client)));
  if (notes.length) {
    lines.push('## Notes', '');
    for (const n of notes) lines.push(`- ${n.combination.id} / ${n.client}: ${n.detail.trim()}`);
    lines.push('');
  }
  const failing = result.cells.filter((c) => !c.ok && !c.skipped);
  if (failing.length) {
    lines.push('## Why the failing cells fail (client messages)', '');
    for (const f of failing) lines.push(`- ${f.combination.id} / ${f.client}: ${f.detail.replace(/\|/g, '/')}`);
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await runMatrix();
  const md = renderMarkdown(result);
  const out = fileURLToPath(new URL('../../docs/INTEROP.md', import.meta.url));
  writeFileSync(out, md);
  process.stdout.write(md + `\nwritten to ${out}\n`);
}

