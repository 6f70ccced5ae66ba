/**
 * Drizzle implementation of the worker's MessageLog over the `message_log` table, and the reading
 * side for the CLI and the admin pages (newest first).
 */
import { desc, eq, lt } from 'drizzle-orm';
import type { MessageLog, MessageLogEntry, MessageResult, RecipientLogEntry } from '../mail/ports.js';
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

export class DrizzleMessageLog implements MessageLog {
  constructor(private readonly db: Db) {}

  async begin(entry: MessageLogEntry): Promise<number> {
    const [row] = await this.db.insert(messageLog).values(values(entry)).returning({ id: messageLog.id });
    return row!.id;
  }

  async finish(id: number, entry: MessageLogEntry): Promise<void> {
    await this.db.update(messageLog).set(values(entry)).where(eq(messageLog.id, id));
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
