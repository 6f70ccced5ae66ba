/**
 * Drizzle implementation of the worker's MessageLog over the `message_log` table, and the reading
 * side for the CLI and the admin pages (newest first).
 */
import { desc, eq, lt } from 'drizzle-orm';
import type { MessageLog, MessageLogEntry, MessageResult, RecipientLogEntry } from '../mail/ports.js';
import type { BatchMessageLogStore } from '../mail/message-log.js';
import type { Db } from './connection.js';
import { messageLog } from './schema.js';
import { rawQuery, type RawQuery } from './raw.js';

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

// The worker's batched writes: one fixed statement whatever the number of rows (the rows travel as
// one JSON array parameter), so the server parses and plans it once per connection and the client
// builds no SQL per row. Rows are inserted in array order (ids ascending in that order).
const BEGIN_MANY = `insert into message_log (reference, sender, recipients, size_in, size_out, duration_ms, result, smtp_reply)
  select reference, sender, recipients, size_in, size_out, duration_ms, result, smtp_reply
  from rows from (jsonb_to_recordset($1::text::jsonb) as (reference text, sender text, recipients jsonb, size_in integer, size_out integer, duration_ms integer, result text, smtp_reply text))
    with ordinality as v(reference, sender, recipients, size_in, size_out, duration_ms, result, smtp_reply, n)
  order by n
  returning id`;
const FINISH_MANY = `update message_log as m set
    recipients = v.recipients, size_out = v.size_out, duration_ms = v.duration_ms,
    result = v.result, smtp_reply = v.smtp_reply, reference = v.reference
  from jsonb_to_recordset($1::text::jsonb) as v(id bigint, recipients jsonb, size_out integer, duration_ms integer, result text, smtp_reply text, reference text)
  where m.id = v.id`;

function rowJson(e: MessageLogEntry) {
  return {
    reference: e.reference,
    sender: e.sender,
    recipients: e.recipients,
    size_in: e.sizeIn,
    size_out: e.sizeOut,
    duration_ms: e.durationMs,
    result: e.result,
    smtp_reply: e.smtpReply,
  };
}

export class DrizzleMessageLog implements MessageLog, BatchMessageLogStore {
  private readonly raw: RawQuery;

  /** `query`: how the batched statements are sent (default: straight through the driver). */
  constructor(
    private readonly db: Db,
    query?: RawQuery,
  ) {
    this.raw = query ?? rawQuery(db);
  }

  async begin(entry: MessageLogEntry): Promise<number> {
    const [row] = await this.db.insert(messageLog).values(values(entry)).returning({ id: messageLog.id });
    return row!.id;
  }

  async finish(id: number, entry: MessageLogEntry): Promise<void> {
    await this.db.update(messageLog).set(values(entry)).where(eq(messageLog.id, id));
  }

  async beginMany(entries: MessageLogEntry[]): Promise<number[]> {
    if (entries.length === 0) return [];
    const rows = await this.raw(BEGIN_MANY, [JSON.stringify(entries.map(rowJson))]);
    if (rows.length !== entries.length) throw new Error(`message log: ${rows.length} rows inserted for ${entries.length} entries`);
    // ids come from the sequence in array order, so ascending ids are the entries' order
    return rows.map((r) => Number(r['id'])).sort((a, b) => a - b);
  }

  /** One UPDATE ... FROM for all rows. */
  async finishMany(rows: Array<{ id: number; entry: MessageLogEntry }>): Promise<void> {
    if (rows.length === 0) return;
    await this.raw(FINISH_MANY, [JSON.stringify(rows.map(({ id, entry }) => ({ id, ...rowJson(entry) })))]);
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
