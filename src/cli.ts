/**
 * The `smimegw` command. Each subcommand reads PEM or DER files, takes the message from --in or
 * stdin, and writes the result to --out or stdout only once it is complete (nothing half-written).
 * Bad input ends with one line "smimegw: <reason>" and a non-zero exit status.
 */
import { readFileSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AppError } from './shared/errors.js';
import { readCertificates, type Certificate } from './pki/certificate.js';
import { readPrivateKey, assertKeyMatchesCertificate } from './pki/keys.js';
import {
  encryptMessage,
  signMessage,
  signAndEncryptMessage,
  decryptMessage,
  verifyMessage,
  CONTENT_ALGORITHMS,
  KEY_TRANSPORTS,
  SIGNATURE_ALGORITHMS,
  type EncryptRecipient,
  type RecipientAlgorithms,
  type SignatureAlgorithm,
  type SignerIdentity,
} from './smime/index.js';

export interface CliIO {
  stdin: () => Promise<Uint8Array>;
  stdout: (b: Uint8Array) => void;
  stderr: (s: string) => void;
}

class UsageError extends Error {}

const USAGE = `Usage: smimegw <command> [options]

Commands:
  encrypt      --cert FILE [--cert FILE ...] [--alg CONTENT[/KEYTRANSPORT]] [--in FILE] [--out FILE]
  sign         --key FILE --cert FILE [--chain FILE] [--opaque] [--sig-alg ALG] [--in FILE] [--out FILE]
  sign-encrypt --key FILE --cert FILE [--chain FILE] --to FILE [--to FILE ...] [--alg ...] [--sig-alg ALG]
  decrypt      --key FILE --cert FILE [--in FILE] [--out FILE]
  verify       --ca FILE [--ca FILE ...] [--chain FILE] [--in FILE] [--out FILE]
  ca init      [--force-dev] [--organization NAME] [--out ROOT.pem]
  ca issue     --csr FILE --email ADDRESS [--days N] [--out FILE]
  ca revoke    --serial HEX --reason REASON
  ca crl       [--ca issuing|root] [--out FILE]
  directory import [--p12-password-env VAR] [--json] FILE|FOLDER...   (PEM, DER, .p7c, .p12)
  directory lookup ADDRESS
  directory revoke ID|FINGERPRINT [--reason REASON]
  trust add FILE...  |  trust list  |  trust remove FINGERPRINT
  db migrate   applies the database migrations (before deploying the web service to Workers)
  admin create --email ADDRESS [--role admin|auditor]   (prints a one-time initial password)
  worker       [--pass-through] [--pass-through-listen HOST:PORT]
                                       the content-filter worker alone (FILTER_LISTEN -> REINJECT_SMTP_URL)
  identity import FILE.p12 [--address ADDRESS|*@DOMAIN|*] [--p12-password-env VAR]
  identity issue ADDRESS  |  identity list  |  identity remove ID|FINGERPRINT
  policy list  |  policy remove SCOPE  |  policy explain --from SENDER --to RECIPIENT [--subject TEXT]
  policy set SCOPE [--encrypt none|opportunistic|mandatory|inherit] [--sign on|off|inherit] [--fallback-link on|off|inherit]

Files may be PEM or DER. The message comes from --in or standard input and goes to --out or
standard output. An encrypted private key takes its passphrase from the variable named by
--passphrase-env (default SMIMEGW_KEY_PASSPHRASE).
Algorithms: content ${CONTENT_ALGORITHMS.join('|')}; key transport ${KEY_TRANSPORTS.join('|')};
signature ${SIGNATURE_ALGORITHMS.join('|')}.
The ca commands use the service's configuration (DATABASE_URL or DATA_DIR, CA_KEY_PASSPHRASE,
PUBLIC_URL, CA_VALIDITY_DAYS); with embedded PGlite, stop the service first. So do the directory
and trust commands (DATABASE_URL or DATA_DIR, DIRECTORY_CRL_POLICY), and admin (ADMIN_SECRET_KEY).
The worker, identity and policy commands too (the worker also FILTER_*, REINJECT_*, INTERNAL_DOMAINS;
identity keys are stored encrypted with CA_KEY_PASSPHRASE). SCOPE is 'global', a domain or an address.`;

const common = {
  in: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'passphrase-env': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

function readFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AppError('cli.file', `${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}

function certsFrom(paths: readonly string[] | undefined, what: string): Certificate[] {
  return (paths ?? []).flatMap((p) => readCertificates(readFile(p, what), p));
}

function oneCert(path: string | undefined, flag: string): Certificate {
  if (!path) throw new UsageError(`${flag} FILE is required`);
  const certs = readCertificates(readFile(path, 'certificate'), path);
  return certs[0]!;
}

function signer(values: Record<string, unknown>, env: NodeJS.ProcessEnv): SignerIdentity {
  const keyPath = values['key'] as string | undefined;
  if (!keyPath) throw new UsageError('--key FILE is required');
  const certPath = values['cert'] as string | undefined;
  const cert = oneCert(Array.isArray(certPath) ? certPath[0] : certPath, '--cert');
  const passEnv = (values['passphrase-env'] as string | undefined) ?? 'SMIMEGW_KEY_PASSPHRASE';
  const key = readPrivateKey(readFile(keyPath, 'key'), env[passEnv], keyPath);
  assertKeyMatchesCertificate(key, cert, keyPath);
  const chain = certsFrom(values['chain'] as string[] | undefined, 'chain');
  return { certificate: cert, key, chain };
}

function parseAlg(value: string | undefined): RecipientAlgorithms | undefined {
  if (!value) return undefined;
  const [content, kt] = value.split('/');
  if (!CONTENT_ALGORITHMS.includes(content as never)) throw new UsageError(`--alg: unknown content algorithm '${content}' (${CONTENT_ALGORITHMS.join(', ')})`);
  if (kt && !KEY_TRANSPORTS.includes(kt as never)) throw new UsageError(`--alg: unknown key transport '${kt}' (${KEY_TRANSPORTS.join(', ')})`);
  return { content, keyTransport: kt } as RecipientAlgorithms;
}

function recipients(certs: Certificate[], alg: RecipientAlgorithms | undefined): EncryptRecipient[] {
  if (certs.length === 0) throw new UsageError('at least one recipient certificate is required');
  return certs.map((c) => ({
    certificate: c,
    ...(alg ? { algorithms: { content: alg.content, keyTransport: alg.keyTransport ?? (c.publicKey.kind === 'ec' ? 'ecdh-sha256kdf' : 'rsa-pkcs1') } } : {}),
  }));
}

function sigAlg(value: string | undefined): SignatureAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (!SIGNATURE_ALGORITHMS.includes(value as never)) throw new UsageError(`--sig-alg: unknown signature algorithm '${value}' (${SIGNATURE_ALGORITHMS.join(', ')})`);
  return value as SignatureAlgorithm;
}

function writeOut(path: string | undefined, data: Uint8Array, io: CliIO): void {
  if (!path) {
    io.stdout(data);
    return;
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw new AppError('cli.file', `cannot write ${path}: ${(e as Error).message}`);
  }
}

type Handler = (args: string[], io: CliIO, env: NodeJS.ProcessEnv) => Promise<void>;

function parse(args: string[], options: ParseArgsConfig['options']) {
  try {
    return parseArgs({ args, options: { ...common, ...options }, allowPositionals: false, strict: true }).values as Record<string, unknown>;
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

async function input(values: Record<string, unknown>, io: CliIO): Promise<Uint8Array> {
  const path = values['in'] as string | undefined;
  return path ? readFile(path, 'input') : io.stdin();
}

const commands: Record<string, Handler> = {
  async ca(args, io, env) {
    const { runCaCommand } = await import('./cli-ca.js');
    await runCaCommand(args, io, env, { usage: (m) => new UsageError(m), writeOut: (path, data) => writeOut(path, data, io) });
  },
  async db(args, io, env) {
    const [sub, ...rest] = args;
    if (sub !== 'migrate') throw new UsageError(`${sub ? `unknown subcommand '${sub}'` : 'a subcommand is required'} (migrate)`);
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    const { loadConfig, redactUrl } = await import('./config/index.js');
    const { openDatabase } = await import('./db/connection.js');
    const config = loadConfig(env);
    const database = await openDatabase(config); // applies the migrations in drizzle/, one process at a time
    await database.close();
    const where = config.database.kind === 'postgres' ? redactUrl(config.database.url) : config.database.dataDir;
    io.stderr(`smimegw db: the schema in ${where} is up to date\n`);
  },
  async admin(args, io, env) {
    const { runAdminCommand } = await import('./cli-admin.js');
    await runAdminCommand(args, io, env, { usage: (m) => new UsageError(m) });
  },
  async directory(args, io, env) {
    const { runDirectoryCommand } = await import('./cli-directory.js');
    await runDirectoryCommand(args, io, env, { usage: (m) => new UsageError(m) });
  },
  async trust(args, io, env) {
    const { runTrustCommand } = await import('./cli-directory.js');
    await runTrustCommand(args, io, env, { usage: (m) => new UsageError(m) });
  },
  async worker(args, io, env) {
    const { runWorkerCommand } = await import('./cli-mail.js');
    await runWorkerCommand(args, io, env, { usage: (m) => new UsageError(m) });
  },
  async identity(args, io, env) {
    const { runIdentityCommand } = await import('./cli-mail.js');
    await runIdentityCommand(args, io, env, { usage: (m) => new UsageError(m) });
  },
  async policy(args, io, env) {
    const { runPolicyCommand } = await import('./cli-mail.js');
    await runPolicyCommand(args, io, env, { usage: (m) => new UsageError(m) });
  },
  async encrypt(args, io) {
    const v = parse(args, { cert: { type: 'string', multiple: true }, alg: { type: 'string' } });
    const rs = recipients(certsFrom(v['cert'] as string[] | undefined, 'certificate'), parseAlg(v['alg'] as string | undefined));
    const msg = await input(v, io);
    writeOut(v['out'] as string | undefined, await encryptMessage(msg, rs), io);
  },
  async sign(args, io, env) {
    const v = parse(args, { key: { type: 'string' }, cert: { type: 'string' }, chain: { type: 'string', multiple: true }, opaque: { type: 'boolean' }, 'sig-alg': { type: 'string' } });
    const s = signer(v, env);
    const msg = await input(v, io);
    writeOut(v['out'] as string | undefined, await signMessage(msg, s, { mode: v['opaque'] ? 'opaque' : 'detached', algorithm: sigAlg(v['sig-alg'] as string | undefined) }), io);
  },
  async 'sign-encrypt'(args, io, env) {
    const v = parse(args, {
      key: { type: 'string' },
      cert: { type: 'string' },
      chain: { type: 'string', multiple: true },
      to: { type: 'string', multiple: true },
      recipient: { type: 'string', multiple: true },
      alg: { type: 'string' },
      'sig-alg': { type: 'string' },
      opaque: { type: 'boolean' },
    });
    const s = signer(v, env);
    const to = [...((v['to'] as string[] | undefined) ?? []), ...((v['recipient'] as string[] | undefined) ?? [])];
    if (to.length === 0) throw new UsageError('--to FILE (a recipient certificate) is required');
    const rs = recipients(certsFrom(to, 'recipient certificate'), parseAlg(v['alg'] as string | undefined));
    const msg = await input(v, io);
    const out = await signAndEncryptMessage(msg, s, rs, { mode: v['opaque'] ? 'opaque' : 'detached', algorithm: sigAlg(v['sig-alg'] as string | undefined) });
    writeOut(v['out'] as string | undefined, out, io);
  },
  async decrypt(args, io, env) {
    const v = parse(args, { key: { type: 'string' }, cert: { type: 'string' } });
    const s = signer(v, env);
    const msg = await input(v, io);
    const r = await decryptMessage(msg, { key: s.key, certificate: s.certificate });
    writeOut(v['out'] as string | undefined, r.entity, io);
  },
  async verify(args, io) {
    const v = parse(args, { ca: { type: 'string', multiple: true }, chain: { type: 'string', multiple: true } });
    const trusted = certsFrom(v['ca'] as string[] | undefined, 'CA certificate');
    if (trusted.length === 0) throw new UsageError('--ca FILE (a trusted root) is required');
    const msg = await input(v, io);
    const r = await verifyMessage(msg, { trusted, intermediates: certsFrom(v['chain'] as string[] | undefined, 'chain') });
    const c = r.signer.certificate;
    io.stderr(`Verified: signed by ${c.emails.join(', ') || c.subject} (serial ${c.serialHex}, issuer ${c.issuer})${r.signer.signingTime ? ` at ${r.signer.signingTime.toISOString()}` : ''}\n`);
    writeOut(v['out'] as string | undefined, r.entity, io);
  },
};

/** Runs the CLI; returns the exit status (0 ok, 1 bad input or failure, 2 usage). */
export async function runCli(argv: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stderr(USAGE + '\n');
    return name ? 0 : 2;
  }
  const handler = commands[name];
  if (!handler) {
    io.stderr(`smimegw: unknown command '${name}' (try 'smimegw --help')\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stderr(USAGE + '\n');
    return 0;
  }
  try {
    await handler(rest, io, env);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`smimegw ${name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof AppError) {
      io.stderr(`smimegw ${name}: ${e.message}\n`);
      return 1;
    }
    io.stderr(`smimegw ${name}: unexpected error: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}

export const processIO: CliIO = {
  stdin: async () => {
    if (process.stdin.isTTY) throw new UsageError('no input: pass --in FILE or pipe a message to standard input');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  },
  stdout: (b) => {
    process.stdout.write(b);
  },
  stderr: (s) => {
    process.stderr.write(s);
  },
};

const isMain = process.argv[1] !== undefined && /(?:^|[\\/])cli\.ts$/.test(process.argv[1]);
if (isMain) {
  runCli(process.argv.slice(2), processIO).then((code) => {
    process.exitCode = code;
  });
}
