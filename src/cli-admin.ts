/**
 * `smimegw admin create --email ADDRESS [--role admin|auditor]`: creates an admin console user
 * with a random 20-character initial password, printed once on standard output. The first sign-in
 * at PUBLIC_URL/admin/login sets up the authenticator app (TOTP). No standard input is read.
 * Opens the database the configuration names; with embedded PGlite, stop the service first.
 */
import { parseArgs } from 'node:util';
import { deriveAdminKeys } from './admin/keys.js';
import { ADMIN_ROLES, type AdminRole } from './admin/ports.js';
import { AdminService } from './admin/service.js';
import { loadConfig } from './config/index.js';
import { DrizzleAdminStore } from './db/admin-store.js';
import { DrizzleAuditLog } from './db/audit.js';
import { openDatabase } from './db/connection.js';
import { DbRateLimiter } from './db/rate-limit.js';
import { utf8 } from './shared/bytes.js';

export interface AdminCliIO {
  stdout: (b: Uint8Array) => void;
  stderr: (s: string) => void;
}

export async function runAdminCommand(args: string[], io: AdminCliIO, env: NodeJS.ProcessEnv, h: { usage: (message: string) => Error }): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw h.usage(`${sub ? `unknown subcommand '${sub}'` : 'a subcommand is required'} (create)`);
  let v: { email?: string; role?: string };
  try {
    v = parseArgs({ args: rest, options: { email: { type: 'string' }, role: { type: 'string' } }, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw h.usage((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  if (!v.email) throw h.usage('--email ADDRESS is required');
  if (v.role !== undefined && !ADMIN_ROLES.includes(v.role as AdminRole)) throw h.usage(`--role must be ${ADMIN_ROLES.join(' or ')}, got '${v.role}'`);

  const config = loadConfig(env);
  const database = await openDatabase(config);
  try {
    const service = new AdminService({
      store: new DrizzleAdminStore(database.db),
      audit: new DrizzleAuditLog(database.db),
      limiter: new DbRateLimiter(database.db),
      keys: await deriveAdminKeys(config.adminSecretKey),
    });
    const created = await service.createAdmin({ email: v.email, role: (v.role as AdminRole | undefined) ?? 'admin', actor: `cli:${env.USER ?? env.LOGNAME ?? 'unknown'}` });
    io.stdout(
      utf8(
        `Created ${created.role} ${created.username}.\n` +
          `Initial password (shown only now): ${created.password}\n` +
          `Sign in at ${config.publicUrl}/admin/login with it; the first sign-in sets up an authenticator app (TOTP).\n`,
      ),
    );
    if (config.adminSecretKeyIsDevDefault) {
      io.stderr('smimegw admin: warning: ADMIN_SECRET_KEY is not set; the development default protects TOTP secrets (not for production)\n');
    }
  } finally {
    await database.close();
  }
}
