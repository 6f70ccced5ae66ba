/**
 * The real enrollment stack for tests: PGlite in memory (migrated), a development CA (src/ca
 * Authority over DrizzleCaStore), MailboxProof with the DB rate limiter, the audit log, and either
 * the dev OutboxNotifier or any Notifier (the e2e test passes an SMTP one), wired into createApp.
 */
import { loadConfig, type Config } from '../../src/config/index.js';
import { Authority } from '../../src/ca/authority.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DrizzleAuditLog } from '../../src/db/audit.js';
import { DrizzleCaStore } from '../../src/db/ca-store.js';
import { DbChallengeStore } from '../../src/db/challenge-store.js';
import { DbRateLimiter } from '../../src/db/rate-limit.js';
import { OutboxNotifier } from '../../src/db/outbox.js';
import { authorityIssuer } from '../../src/enrollment/ca-issuer.js';
import { EnrollmentService } from '../../src/enrollment/service.js';
import type { Notifier } from '../../src/notify/index.js';
import { MailboxProof } from '../../src/proof/mailbox.js';
import type { Clock } from '../../src/shared/clock.js';
import { createApp } from '../../src/web/app.js';
import type { Context, Hono } from 'hono';

/** A clock that starts at the real time and moves only when told. */
export class TestClock implements Clock {
  t = Date.now();
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface EnrollmentStack {
  config: Config;
  database: Database;
  clock: TestClock;
  outbox: OutboxNotifier;
  audit: DrizzleAuditLog;
  authority: Authority;
  proof: MailboxProof;
  enrollment: EnrollmentService;
  app: Hono;
  /** The code and challenge id of the newest mail to `to` (from the outbox). */
  lastCode(to: string): Promise<{ code: string; challenge: string; text: string }>;
  close(): Promise<void>;
}

export const CODE_RE = /([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})/;

export async function createEnrollmentStack(
  options: { env?: Record<string, string>; notifier?: Notifier; clientIp?: string | null; assets?: Record<string, string> } = {},
): Promise<EnrollmentStack> {
  const config = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: 'http://127.0.0.1:8080', ...options.env });
  const database = await openDatabase(config, { inMemory: true });
  const clock = new TestClock();
  const audit = new DrizzleAuditLog(database.db, clock);
  const authority = new Authority({ store: new DrizzleCaStore(database.db), audit, publicUrl: config.publicUrl, clock });
  await authority.init({ passphrase: 'enrollment-test-passphrase', development: true });
  const outbox = new OutboxNotifier(database.db);
  const limiter = new DbRateLimiter(database.db, clock);
  const proof = new MailboxProof({ store: new DbChallengeStore(database.db), limiter, notifier: options.notifier ?? outbox, clock, publicUrl: config.publicUrl });
  const enrollment = new EnrollmentService({ proof, issuer: authorityIssuer(authority), audit, limiter });
  const ip = options.clientIp === undefined ? '192.0.2.10' : options.clientIp;
  const app = createApp({
    db: database,
    config,
    enrollment,
    outbox,
    ...(options.assets ? { assets: options.assets } : {}),
    // Tests may pose as another client with X-Test-Client-Ip.
    ...(ip ? { clientIp: (c: Context) => c.req.header('x-test-client-ip') ?? ip } : {}),
  });
  return {
    config,
    database,
    clock,
    outbox,
    audit,
    authority,
    proof,
    enrollment,
    app,
    async lastCode(to) {
      const mail = (await outbox.recent(100)).find((m) => m.to.toLowerCase() === to.toLowerCase());
      if (!mail) throw new Error(`no mail to ${to} in the outbox`);
      const code = CODE_RE.exec(mail.text)?.[1];
      const challenge = /challenge=([0-9a-f-]{36})/.exec(mail.text)?.[1];
      if (!code || !challenge) throw new Error(`no code or link in the mail to ${to}:\n${mail.text}`);
      return { code, challenge, text: mail.text };
    },
    close: () => database.close(),
  };
}
