/**
 * The development outbox: mail the service would send lands in the `outbox` table, shown on a local
 * page (disabled in production).
 */
import { desc } from 'drizzle-orm';
import type { Notifier, OutgoingMail } from '../notify/index.js';
import type { Db } from './connection.js';
import { outbox } from './schema.js';

export interface OutboxEntry extends OutgoingMail {
  id: number;
  createdAt: Date;
}

export class OutboxNotifier implements Notifier {
  constructor(private readonly db: Db) {}

  async send(mail: OutgoingMail): Promise<void> {
    await this.db.insert(outbox).values({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html ?? null });
  }

  async recent(limit = 50): Promise<OutboxEntry[]> {
    const rows = await this.db.select().from(outbox).orderBy(desc(outbox.id)).limit(Math.min(Math.max(limit, 1), 500));
    return rows.map((r) => ({ id: r.id, to: r.to, subject: r.subject, text: r.text, ...(r.html ? { html: r.html } : {}), createdAt: r.createdAt }));
  }
}
