/** `select 1`, for /healthz: an AppError `db.unavailable` when the database does not answer. Driver-agnostic (no node: imports). */
import { sql } from 'drizzle-orm';
import { AppError } from '../shared/errors.js';
import type { Db } from './connection.js';

export async function pingDb(db: Db): Promise<void> {
  try {
    await db.execute(sql`select 1`);
  } catch (e) {
    throw new AppError('db.unavailable', 'The database does not answer', { kind: 'temporary', cause: e });
  }
}
