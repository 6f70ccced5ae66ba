/** Rate limiting port: fixed windows keyed by purpose and subject (address, client IP, ...). */
import { AppError } from './errors.js';

export interface RateLimitResult {
  allowed: boolean;
  /** Hits counted in the current window, this one included. */
  count: number;
  /** Milliseconds until the window resets. */
  retryAfterMs: number;
}

export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult>;
}

export interface RateRule {
  key: string;
  limit: number;
  windowMs: number;
  /** What to tell the person, e.g. "Too many codes requested for this address". */
  message: string;
}

/** Counts a hit against every rule; throws a rate_limited AppError for the first exceeded one. */
export async function enforceRateLimits(limiter: RateLimiter, rules: readonly RateRule[]): Promise<void> {
  for (const r of rules) {
    const res = await limiter.hit(r.key, r.limit, r.windowMs);
    if (!res.allowed) {
      const minutes = Math.max(1, Math.ceil(res.retryAfterMs / 60_000));
      throw new AppError('rate_limited', `${r.message}; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`, {
        kind: 'rate_limited',
        detail: { retryAfterSeconds: Math.ceil(res.retryAfterMs / 1000) },
      });
    }
  }
}
