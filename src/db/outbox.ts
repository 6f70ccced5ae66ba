/**
 * The `outbox` table: mail the service could not send itself.
 * - OutboxNotifier writes it. In development (no NOTIFY_SMTP_URL) that is all: the local outbox page
 *   shows the rows. A Worker deployment, which has no SMTP, writes rows marked `relay`.
 * - OutboxRelay, run by a server process with NOTIFY_SMTP_URL, sends the `relay` rows and marks them
 *   sent. A row is claimed with a lease (next_attempt_at), so several relays never send it twice
 *   at once and a relay that dies mid-send leaves it for the next after the lease; a failed send is
 *   retried with backoff; rows older than `maxAgeMs` are given up (codes in them have expired).
 */
import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Notifier, OutgoingMail } from '../notify/index.js';
import type { Db } from './connection.js';
import { outbox } from './schema.js';

export interface OutboxEntry extends OutgoingMail {
  id: number;
  createdAt: Date;
}

export class OutboxNotifier implements Notifier {
  /** `relay`: the rows are to be sent by a server's OutboxRelay (Workers); otherwise kept for the page. */
  constructor(
    private readonly db: Db,
    private readonly options: { relay?: boolean } = {},
  ) {}

  async send(mail: OutgoingMail): Promise<void> {
    await this.db.insert(outbox).values({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html ?? null, relay: this.options.relay ?? false });
  }

  async recent(limit = 50): Promise<OutboxEntry[]> {
    const rows = await this.db.select().from(outbox).orderBy(desc(outbox.id)).limit(Math.min(Math.max(limit, 1), 500));
    return rows.map((r) => ({ id: r.id, to: r.to, subject: r.subject, text: r.text, ...(r.html ? { html: r.html } : {}), createdAt: r.createdAt }));
  }
}

export interface OutboxRelayOptions {
  /** Rows claimed per run. Default 20. */
  batch?: number;
  /** How long a claimed row is left to its relay before another may take it. Default 5 minutes. */
  leaseMs?: number;
  /** Rows older than this are not sent any more. Default 1 hour (verification codes live 15 minutes). */
  maxAgeMs?: number;
  /** Sends per row before it is given up. Default 8. */
  maxAttempts?: number;
  now?: () => Date;
}

export interface RelayRunResult {
  sent: number;
  failed: number;
}

export class OutboxRelay {
  private readonly batch: number;
  private readonly leaseMs: number;
  private readonly maxAgeMs: number;
  private readonly maxAttempts: number;
  private readonly now: () => Date;

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    options: OutboxRelayOptions = {},
  ) {
    this.batch = options.batch ?? 20;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.maxAgeMs = options.maxAgeMs ?? 3_600_000;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.now = options.now ?? (() => new Date());
  }

  /** Claims due rows, sends them, records the outcome. Resolves once every claimed row is settled. */
  async runOnce(): Promise<RelayRunResult> {
    const now = this.now();
    const due = this.db
      .select({ id: outbox.id })
      .from(outbox)
      .where(
        and(
          eq(outbox.relay, true),
          isNull(outbox.sentAt),
          lt(outbox.attempts, this.maxAttempts),
          gt(outbox.createdAt, new Date(now.getTime() - this.maxAgeMs)),
          or(isNull(outbox.nextAttemptAt), lte(outbox.nextAttemptAt, now)),
        ),
      )
      .orderBy(asc(outbox.id))
      .limit(this.batch)
      .for('update', { skipLocked: true });
    const claimed = await this.db
      .update(outbox)
      .set({ nextAttemptAt: new Date(now.getTime() + this.leaseMs), attempts: sql`${outbox.attempts} + 1` })
      .where(inArray(outbox.id, due))
      .returning();
    let sent = 0;
    let failed = 0;
    for (const row of claimed.sort((a, b) => a.id - b.id)) {
      try {
        await this.notifier.send({ to: row.to, subject: row.subject, text: row.text, ...(row.html ? { html: row.html } : {}) });
      } catch (e) {
        failed++;
        // 1, 2, 4 ... minutes between tries
        const retryAt = new Date(this.now().getTime() + 60_000 * 2 ** Math.min(row.attempts - 1, 6));
        await this.db
          .update(outbox)
          .set({ nextAttemptAt: retryAt, lastError: (e instanceof Error ? e.message : String(e)).slice(0, 500) })
          .where(eq(outbox.id, row.id));
        continue;
      }
      sent++;
      await this.db.update(outbox).set({ sentAt: this.now(), lastError: null }).where(eq(outbox.id, row.id));
    }
    return { sent, failed };
  }
}
