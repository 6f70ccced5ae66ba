/**
 * Drizzle implementation of the worker's MessageLog over the `message_log` table, and the reading
 * side for the CLI and the admin pages (newest first).
 */
import { desc, eq, lt, sql } from 'drizzle-orm';
import type { MessageLog, MessageLogEntry, MessageResult, RecipientLogEntry } from '../mail/ports.js';
import type { BatchMessageLogStore } from '../mail/message-log.js';
import type { Db } from './connection.js';
import { messageLog } from './schema.js';

export interface StoredMessageLogEntry extends MessageLogEntry {
  id: number;
  receivedAt: Date;
}

function values(e: MessageLogEntry) {
  return {
    reference: e.reference,
    sender: e.sender,
    recipients: e.recipients as unknown as Array<Record<string, unknown>>,
    sizeIn: e.sizeIn,
    sizeOut: e.sizeOut,
    durationMs: e.durationMs,
    result: e.result,
    smtpReply: e.smtpReply,
  };
}

export class DrizzleMessageLog implements MessageLog, BatchMessageLogStore {
  constructor(private readonly db: Db) {}

  async begin(entry: MessageLogEntry): Promise<number> {
    const [row] = await this.db.insert(messageLog).values(values(entry)).returning({ id: messageLog.id });
    return row!.id;
  }

  async finish(id: number, entry: MessageLogEntry): Promise<void> {
    await this.db.update(messageLog).set(values(entry)).where(eq(messageLog.id, id));
  }

  async beginMany(entries: MessageLogEntry[]): Promise<number[]> {
    if (entries.length === 0) return [];
    const rows = await this.db.insert(messageLog).values(entries.map(values)).returning({ id: messageLog.id });
    // ids come from the sequence in VALUES order, so ascending ids are the entries' order
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /** One UPDATE ... FROM (VALUES ...) for all rows. */
  async finishMany(rows: Array<{ id: number; entry: MessageLogEntry }>): Promise<void> {
    if (rows.length === 0) return;
    if (rows.length === 1) return this.finish(rows[0]!.id, rows[0]!.entry);
    const tuples = rows.map(({ id, entry: e }) =>
      sql`(${id}::bigint, ${JSON.stringify(e.recipients)}::jsonb, ${e.sizeOut}::integer, ${e.durationMs}::integer, ${e.result}::text, ${e.smtpReply}::text, ${e.reference}::text)`,
    );
    await this.db.execute(sql`
      update message_log as m set
        recipients = v.recipients, size_out = v.size_out, duration_ms = v.duration_ms,
        result = v.result, smtp_reply = v.smtp_reply, reference = v.reference
      from (values ${sql.join(tuples, sql`, `)}) as v(id, recipients, size_out, duration_ms, result, smtp_reply, reference)
      where m.id = v.id`);
  }

  /** Up to `limit` entries older than id `before` (newest first). */
  async page(options: { before?: number; limit: number }): Promise<StoredMessageLogEntry[]> {
    const limit = Math.max(1, Math.min(1000, Math.floor(options.limit)));
    const q = this.db.select().from(messageLog);
    const rows = await (options.before !== undefined ? q.where(lt(messageLog.id, options.before)) : q).orderBy(desc(messageLog.id)).limit(limit);
    return rows.map((r) => ({
      id: r.id,
      receivedAt: r.receivedAt,
      reference: r.reference,
      sender: r.sender,
      recipients: r.recipients as unknown as RecipientLogEntry[],
      sizeIn: r.sizeIn,
      sizeOut: r.sizeOut,
      durationMs: r.durationMs,
      result: r.result as MessageResult,
      smtpReply: r.smtpReply,
    }));
  }
}
