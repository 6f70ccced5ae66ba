/**
 * The `message_log` table: where the worker's background message log writes, and the reading
 * side for the CLI and the admin pages (newest first).
 */
import { desc, lt } from 'drizzle-orm';
import type { MessageLogEntry, MessageResult, RecipientLogEntry } from '../mail/ports.js';
import type { MessageLogStore } from '../mail/message-log.js';
import type { Db } from './connection.js';
import { messageLog } from './schema.js';
import { rawQuery, type RawQuery } from './raw.js';

export interface StoredMessageLogEntry extends MessageLogEntry {
  id: number;
}

// The worker's batched writes: one fixed statement whatever the number of rows. Each column travels
// as one array literal in a text parameter, unnested on the server: the cheapest way in for both
// sides (a JSON array of rows costs the server twice as much to take apart; measured ~37 vs ~20 us
// per row, client and server together). Rows are inserted in array order (ids ascending in that order).
// An entry whose key is already stored (a retry after a write that committed although its reply was
// lost) is skipped.
const INSERT_MANY = `insert into message_log (received_at, reference, sender, recipients, size_in, size_out, duration_ms, result, smtp_reply, entry_key)
  select received_at, reference, sender, recipients, size_in, size_out, duration_ms, result, smtp_reply, entry_key
  from unnest($1::text::timestamptz[], $2::text::text[], $3::text::text[], $4::text::jsonb[], $5::text::int[], $6::text::int[], $7::text::int[], $8::text::text[], $9::text::text[], $10::text::uuid[])
    with ordinality as v(received_at, reference, sender, recipients, size_in, size_out, duration_ms, result, smtp_reply, entry_key, n)
  order by n
  on conflict (entry_key) do nothing`;

const QUOTE_OR_BACKSLASH = /["\\]/;
const QUOTES_AND_BACKSLASHES = /["\\]/g;

/** A PostgreSQL array literal: NULL for a missing value, else the element as `element` writes it. */
function arrayLiteral<T>(values: ReadonlyArray<T | null | undefined>, element: (v: T) => string): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ',';
    out += v === null || v === undefined ? 'NULL' : element(v);
  }
  return out + '}';
}

/** A string element: always quoted, `"` and `\` escaped. */
const quoted = (v: string): string => (QUOTE_OR_BACKSLASH.test(v) ? `"${v.replace(QUOTES_AND_BACKSLASHES, '\\$&')}"` : `"${v}"`);
const integer = (v: number): string => String(Math.trunc(v));

function columns(entries: readonly MessageLogEntry[]): string[] {
  const col = <T>(f: (e: MessageLogEntry) => T) => entries.map(f);
  return [
    arrayLiteral(col((e) => e.receivedAt.toISOString()), quoted),
    arrayLiteral(col((e) => e.reference), quoted),
    arrayLiteral(col((e) => e.sender), quoted),
    arrayLiteral(col((e) => JSON.stringify(e.recipients)), quoted),
    arrayLiteral(col((e) => e.sizeIn), integer),
    arrayLiteral(col((e) => e.sizeOut), integer),
    arrayLiteral(col((e) => e.durationMs), integer),
    arrayLiteral(col((e) => e.result), quoted),
    arrayLiteral(col((e) => e.smtpReply), quoted),
    arrayLiteral(col((e) => e.key), quoted),
  ];
}

/** The `message_log` table: the worker's batched writes (BackgroundMessageLog's store) and the reading side. */
export class DrizzleMessageLog implements MessageLogStore {
  private readonly raw: RawQuery;

  /** `query`: how the batched statements are sent (default: straight through the driver). */
  constructor(
    private readonly db: Db,
    query?: RawQuery,
  ) {
    this.raw = query ?? rawQuery(db);
  }

  /** All entries in one statement, in array order. */
  async insertMany(entries: MessageLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.raw(INSERT_MANY, columns(entries));
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
