/**
 * `smimegw ca ...`: the certificate authority from the command line. Opens the database the
 * configuration names (loadConfig + openDatabase, migrations applied), like the service does.
 * With embedded PGlite, stop the service first: one process at a time may open DATA_DIR/pglite.
 *
 *   ca init [--force-dev] [--organization NAME] [--out FILE]   create the root and issuing CA
 *   ca issue --csr FILE --email ADDRESS [--days N] [--out FILE]  issue from a PKCS#10 request
 *   ca revoke --serial HEX --reason REASON                    revoke; the CRL is regenerated
 *   ca crl [--ca issuing|root] [--out FILE]                    issue a fresh CRL (DER)
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { END_ENTITY_REVOCATION_REASONS } from './ca/authority.js';
import { isAuthorityId } from './ca/store.js';
import { loadConfig } from './config/index.js';
import { createAuthority } from './db/ca-store.js';
import { openDatabase } from './db/connection.js';
import { AppError } from './shared/errors.js';
import { encodePem, utf8 } from './shared/bytes.js';

export interface CaCliIO {
  stdout: (b: Uint8Array) => void;
  stderr: (s: string) => void;
}

export interface CaCliHelpers {
  /** Makes the CLI's usage error (exit status 2). */
  usage: (message: string) => Error;
  /** Writes to --out atomically, or to standard output. */
  writeOut: (path: string | undefined, data: Uint8Array) => void;
}

const SUBCOMMANDS = {
  init: { 'force-dev': { type: 'boolean' }, organization: { type: 'string' }, out: { type: 'string' } },
  issue: { csr: { type: 'string' }, email: { type: 'string' }, days: { type: 'string' }, out: { type: 'string' } },
  revoke: { serial: { type: 'string' }, reason: { type: 'string' } },
  crl: { ca: { type: 'string' }, out: { type: 'string' } },
} as const satisfies Record<string, ParseArgsConfig['options']>;

export async function runCaCommand(args: string[], io: CaCliIO, env: NodeJS.ProcessEnv, h: CaCliHelpers): Promise<void> {
  const [sub, ...rest] = args;
  if (!sub || !Object.hasOwn(SUBCOMMANDS, sub)) throw h.usage(`${sub ? `unknown subcommand '${sub}'` : 'a subcommand is required'} (init, issue, revoke, crl)`);
  const name = sub as keyof typeof SUBCOMMANDS;
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({ args: rest, options: SUBCOMMANDS[name], allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw h.usage((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

  // Check the arguments before opening the database.
  let csr: Uint8Array | undefined;
  if (name === 'issue') {
    const csrPath = str('csr');
    if (!csrPath) throw h.usage('--csr FILE is required');
    if (!str('email')) throw h.usage('--email ADDRESS is required');
    if (str('days') !== undefined && !/^\d+$/.test(str('days')!)) throw h.usage(`--days must be a whole number, got '${str('days')}'`);
    try {
      csr = new Uint8Array(readFileSync(csrPath));
    } catch (e) {
      throw new AppError('cli.file', `request ${csrPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  if (name === 'revoke') {
    if (!str('serial')) throw h.usage('--serial HEX is required');
    if (!END_ENTITY_REVOCATION_REASONS.includes(str('reason') as never)) throw h.usage(`--reason must be one of ${END_ENTITY_REVOCATION_REASONS.join(', ')}`);
  }
  if (name === 'crl' && str('ca') !== undefined && !isAuthorityId(str('ca'))) throw h.usage("--ca must be 'issuing' or 'root'");

  const config = loadConfig(env);
  const actor = `cli:${env.USER ?? env.LOGNAME ?? 'unknown'}`;
  const database = await openDatabase(config);
  try {
    const authority = createAuthority(database.db, config);
    if (name === 'init') {
      if (config.caKeyPassphraseIsDevDefault) {
        throw new AppError('ca.passphrase_missing', 'Set CA_KEY_PASSPHRASE to a secret passphrase first: it encrypts the CA keys (the development default is not for a real CA)');
      }
      const r = await authority.init({
        passphrase: config.caKeyPassphrase,
        development: false,
        replaceDevelopment: v['force-dev'] === true,
        ...(str('organization') ? { organization: str('organization')! } : {}),
        actor,
      });
      io.stderr(
        `Created the certificate authority:\n  root:    ${r.root.subject} (SHA-256 ${r.root.fingerprint256})\n  issuing: ${r.issuing.subject}\n` +
          `Keys are stored encrypted with CA_KEY_PASSPHRASE. Distribute the root certificate (GET /ca/root.crt) to the mail clients that must trust it.\n`,
      );
      if (str('out')) h.writeOut(str('out'), utf8(encodePem('CERTIFICATE', r.root.der)));
      return;
    }
    await authority.load(config.caKeyPassphrase, actor);
    if (name === 'issue') {
      const issued = await authority.issue({ csr: csr!, authorizedAddress: str('email')!, actor, ...(str('days') ? { validityDays: Number(str('days')) } : {}) });
      const c = issued.certificate;
      io.stderr(`Issued ${c.serialHex} for ${c.emails.join(', ')}, valid until ${c.notAfter.toISOString()}; chain: ${authority.pkiUrls.caCertificate('issuing')}\n`);
      h.writeOut(str('out'), utf8(issued.pem));
    } else if (name === 'revoke') {
      const r = await authority.revoke({ serialHex: str('serial')!, reason: str('reason') as never, actor });
      io.stderr(`Revoked ${r.serialHex} (${r.email}, ${r.reason ?? 'unspecified'}); the CRL was regenerated\n`);
    } else {
      const id = (str('ca') ?? 'issuing') as 'issuing' | 'root';
      const der = await authority.crl(id, { force: true, actor });
      io.stderr(`Issued a new CRL for the ${id} CA (${der.length} bytes)\n`);
      h.writeOut(str('out'), der);
    }
  } finally {
    await database.close();
  }
}
