/** RateLimiter over the rate_limits table: one atomic upsert per hit, shared by every process. */
import { sql } from 'drizzle-orm';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import type { RateLimiter, RateLimitResult } from '../shared/rate-limit.js';
import type { Db } from './connection.js';

export class DbRateLimiter implements RateLimiter {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    const now = this.clock.now();
    const expired = new Date(now.getTime() - windowMs);
    const rows = await this.db.execute<{ count: number; window_start: string | Date }>(sql`
      insert into rate_limits (key, window_start, count) values (${key}, ${now.toISOString()}, 1)
      on conflict (key) do update set
        count = case when rate_limits.window_start <= ${expired.toISOString()} then 1 else rate_limits.count + 1 end,
        window_start = case when rate_limits.window_start <= ${expired.toISOString()} then ${now.toISOString()}::timestamptz else rate_limits.window_start end
      returning count, window_start`);
    const list = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows) as Array<{ count: number; window_start: string | Date }>;
    const row = list[0]!;
    const start = new Date(row.window_start).getTime();
    const count = Number(row.count);
    return { allowed: count <= limit, count, retryAfterMs: Math.max(0, start + windowMs - now.getTime()) };
  }
}
