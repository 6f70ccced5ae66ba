/**
 * The driver client under a drizzle handle, for the few hot statements of the worker path that
 * are worth sending without the query builder (its cost per call is a large part of a cheap query):
 * one fixed SQL text with positional parameters ($1, $2, ...), prepared once per connection by
 * postgres-js. PGlite (query) and postgres-js (unsafe) alike; any other client goes through
 * drizzle's execute with the same text and parameters.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from './connection.js';

export type RawQuery = (text: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

type Client = {
  query?: (text: string, params?: unknown[]) => Promise<{ rows: Array<Record<string, unknown>> }>;
  unsafe?: (text: string, params?: unknown[], options?: { prepare?: boolean }) => Promise<Array<Record<string, unknown>>>;
};

export function rawQuery(db: Db): RawQuery {
  const fallback = drizzleQuery(db);
  // The client is looked up on every call: a request-scoped Db (Workers) stands for another
  // connection in each request, so nothing may hold on to the first one it saw.
  return (text, params) => {
    const client = (db as unknown as { $client?: Client }).$client;
    if (client && typeof client.query === 'function') return client.query(text, params).then((r) => r.rows);
    if (client && typeof client.unsafe === 'function') return client.unsafe(text, params ?? [], { prepare: true });
    return fallback(text, params);
  };
}

/** The same through drizzle's execute ($n replaced by bound parameters). */
export function drizzleQuery(db: Db): RawQuery {
  return async (text, params = []) => {
    const parts = text.split(/\$(\d+)/);
    const chunks: SQL[] = [];
    for (let i = 0; i < parts.length; i++) chunks.push(i % 2 ? sql`${params[Number(parts[i]) - 1]}` : sql.raw(parts[i]!));
    const result = (await db.execute(sql.join(chunks))) as unknown as Array<Record<string, unknown>> | { rows: Array<Record<string, unknown>> };
    return Array.isArray(result) ? result : result.rows;
  };
}
