/**
 * The web service's composition, shared by both runtimes: Node (src/entry/node.ts) and Workers
 * (src/entry/worker.ts). Given the configuration, a database handle and the few things only a
 * runtime knows (how mail leaves, the browser bundles, the client's address, where a development
 * CA's files may go), it builds the CA, enrollment, directory, admin console and secure pickup and
 * returns the one Hono app plus the periodic jobs (the runtime schedules them: timers on Node, a
 * Cron Trigger on Workers). Nothing here imports node:fs, node:net or an SMTP library.
 */
import type { Context, Hono } from 'hono';
import type { Config } from '../config/index.js';
import { startAuthority, type DevCaFile, type StartAuthorityResult } from '../ca/bootstrap.js';
import type { Authority } from '../ca/authority.js';
import { sendRenewalReminders } from '../ca/reminders.js';
import type { Signer } from '../ca/signer.js';
import type { AuthorityRecord } from '../ca/store.js';
import { DrizzleAuditLog } from '../db/audit.js';
import { createAuthority } from '../db/ca-store.js';
import { DbChallengeStore } from '../db/challenge-store.js';
import type { Db } from '../db/connection.js';
import { DrizzleDirectoryStore } from '../db/directory-store.js';
import { OutboxNotifier } from '../db/outbox.js';
import { DbRateLimiter } from '../db/rate-limit.js';
import { DrizzleCertificateQueries, DrizzleEnrollmentQueries } from '../db/admin-queries.js';
import { DrizzleAdminStore } from '../db/admin-store.js';
import { DbBlobStore } from '../db/blob-store.js';
import { DrizzlePickupStore } from '../db/pickup-store.js';
import { Directory } from '../directory/directory.js';
import { authorityIssuer } from '../enrollment/ca-issuer.js';
import { EnrollmentService } from '../enrollment/service.js';
import type { Notifier } from '../notify/index.js';
import { MailboxProof } from '../proof/mailbox.js';
import { deriveAdminKeys } from '../admin/keys.js';
import type { CertificateRevoker } from '../admin/ports.js';
import { AdminService } from '../admin/service.js';
import { hashPassword, verifyPassword } from '../admin/password.js';
import { derivePickupKeys } from '../pickup/crypto.js';
import { PickupService, type PickupDeps } from '../pickup/service.js';
import { createApp, type AppDatabase } from '../web/app.js';

export type Log = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface WebServiceOptions {
  config: Config;
  /** The drizzle database and its health check. */
  database: AppDatabase & { db: Db };
  /**
   * How the service's own mail (codes, reminders) leaves. Absent: it is written to the `outbox`
   * table, where the development outbox page shows it and a server's OutboxRelay (NOTIFY_SMTP_URL)
   * sends it.
   */
  notifier?: Notifier;
  /** Browser bundles by file name (served at /assets/<name>). */
  assets: Readonly<Record<string, string>>;
  /** The client's IP address as the runtime knows it. */
  clientIp: (c: Context) => string | undefined;
  log: Log;
  /** Where a newly created development CA's files go (Node: certs-dev/); absent: only the database. */
  writeDevFiles?: (files: DevCaFile[]) => Promise<string>;
  /** How a stored CA key signs (default: decrypt the software key with CA_KEY_PASSPHRASE). */
  signerFor?: (record: AuthorityRecord, passphrase: string) => Promise<Signer>;
}

export interface WebService {
  app: Hono;
  authority: Authority;
  directory: Directory;
  ca: StartAuthorityResult;
  /** True when mail goes to the outbox table (no notifier given). */
  outbox: boolean;
  pickup: PickupService | undefined;
  /**
   * The periodic jobs (hourly by design; each is safe to run at any time). Each logs its outcome
   * and resolves to whether it succeeded; it never rejects. The runtime schedules them: timers on
   * Node, the Cron Trigger on Workers.
   */
  jobs: {
    /** Re-signs CRLs before they go stale (they are also made on demand). */
    refreshCrls(): Promise<boolean>;
    /** Renewal reminders 30 and 7 days before expiry (each sent once; a failed one is retried next run). */
    sendReminders(): Promise<boolean>;
    /** Deletes the content of expired and revoked pickups. */
    purgePickups(): Promise<boolean>;
    /** All three side by side; false when any failed. */
    runAll(): Promise<boolean>;
  };
}

/**
 * Secure pickup over the database (blobs in the `blobs` table), or undefined when PICKUP_MASTER_KEY
 * is not configured (production without one: the fallback is off). The mail worker passes the
 * sender's notice sink; the web service passes the mailbox proof, enrollment and the rate limiter.
 */
export async function createPickupService(
  config: Config,
  db: Db,
  extra: Pick<PickupDeps, 'senderNotices' | 'proof' | 'enrollment' | 'limiter' | 'clock'> = {},
): Promise<PickupService | undefined> {
  if (!config.pickupMasterKey) return undefined;
  return new PickupService(
    {
      store: new DrizzlePickupStore(db),
      blobs: new DbBlobStore(db),
      keys: await derivePickupKeys(config.pickupMasterKey),
      passwords: { hash: hashPassword, verify: verifyPassword },
      ...extra,
    },
    {
      publicUrl: config.publicUrl,
      expiryDays: config.pickupExpiryDays,
      mode: config.pickupMode,
      showSubject: config.pickupNoticeSubject === 'show',
      noticeFrom: serviceMailFrom(config.publicUrl),
    },
  );
}

/** From of the service's own mail: "smimegw <no-reply@host>" with PUBLIC_URL's host. */
export function serviceMailFrom(publicUrl: string): string {
  const host = new URL(publicUrl).hostname;
  return `smimegw <no-reply@${/^[\d.]+$|:/.test(host) ? `[${host.replace(/^\[|\]$/g, '')}]` : host}>`;
}

/**
 * Loads the CA (creating a development one outside production when none is stored) and wires every
 * part of the web service. Throws an AppError when the CA cannot be loaded (the runtime reports it
 * and stops, or answers 503).
 */
export async function composeWebService(o: WebServiceOptions): Promise<WebService> {
  const { config, log } = o;
  const db = o.database.db;
  const authority = createAuthority(db, config, o.signerFor ? { signerFor: o.signerFor } : {});
  const ca = await startAuthority({
    authority,
    passphrase: config.caKeyPassphrase,
    production: config.nodeEnv === 'production',
    ...(o.writeDevFiles ? { writeDevFiles: o.writeDevFiles } : {}),
    log,
  });

  const outbox = o.notifier ? undefined : new OutboxNotifier(db);
  const notifier: Notifier = o.notifier ?? outbox!;
  const limiter = new DbRateLimiter(db);
  const proof = new MailboxProof({ store: new DbChallengeStore(db), limiter, notifier, publicUrl: config.publicUrl });
  const enrollment = new EnrollmentService({ proof, issuer: authorityIssuer(authority), audit: new DrizzleAuditLog(db), limiter });
  const directory = new Directory({ store: new DrizzleDirectoryStore(db), proof, audit: new DrizzleAuditLog(db), crlPolicy: config.directoryCrlPolicy });

  const adminAudit = new DrizzleAuditLog(db);
  const revoker: CertificateRevoker = { revoke: async (r) => void (await authority.revoke(r)) };
  const admin = {
    service: new AdminService({ store: new DrizzleAdminStore(db), audit: adminAudit, limiter, keys: await deriveAdminKeys(config.adminSecretKey) }),
    certificates: new DrizzleCertificateQueries(db),
    enrollments: new DrizzleEnrollmentQueries(db),
    audit: adminAudit,
    revoker,
  };
  const pickup = await createPickupService(config, db, { proof, enrollment, limiter });

  const app = createApp({
    db: o.database,
    config,
    authority,
    enrollment,
    directory,
    admin,
    ...(pickup ? { pickup: { pickup, limiter, enrollment: true } } : {}),
    ...(outbox ? { outbox } : {}),
    assets: o.assets,
    clientIp: o.clientIp,
  });

  const jobs: WebService['jobs'] = {
    refreshCrls: () => logged(log, 'CRL refresh', () => authority.refreshCrls(), () => undefined),
    sendReminders: () =>
      logged(
        log,
        'renewal reminders',
        () => sendRenewalReminders({ authority, notifier, publicUrl: config.publicUrl, onError: (r, e) => log('warn', `renewal reminder to ${r.email}: ${String(e)}`) }),
        (r) => (r.sent.length ? `sent ${r.sent.length} renewal reminder(s)` : undefined),
      ),
    purgePickups: () =>
      logged(
        log,
        'secure pickup expiry',
        async () => (pickup ? pickup.purge() : 0),
        (n) => (n > 0 ? `secure pickup: deleted the content of ${n} expired or revoked message${n === 1 ? '' : 's'}` : undefined),
      ),
    runAll: async () => (await Promise.all([jobs.refreshCrls(), jobs.sendReminders(), jobs.purgePickups()])).every(Boolean),
  };

  return {
    app,
    authority,
    directory,
    ca,
    outbox: outbox !== undefined,
    pickup,
    jobs,
  };
}

/** Runs `job`, logs what it did or why it failed, resolves to whether it succeeded. */
async function logged<T>(log: Log, what: string, job: () => Promise<T>, done: (r: T) => string | undefined): Promise<boolean> {
  try {
    const message = done(await job());
    if (message) log('info', message);
    return true;
  } catch (e) {
    log('warn', `${what}: ${String(e)}`);
    return false;
  }
}
