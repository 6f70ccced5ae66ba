/**
 * The in-process lookup cache of the worker path. An entry is valid while
 * - the shared directory version (directory_version, bumped by every change in any process:
 *   issuance, upload, activation, revocation, harvest, import, trust changes, a CRL with new
 *   revocations) is the one it was computed at, and
 * - its own expiry has not passed (the chosen certificate's or its chain's notAfter, the next CRL
 *   update, a not-yet-valid candidate's notBefore, at most maxAgeMs).
 * Least recently used entries are dropped beyond maxEntries.
 */
export interface CacheOptions {
  maxEntries?: number;
  maxAgeMs?: number;
  /**
   * How long a read of the shared directory version may be reused (default 0: read on every
   * lookup, so a change made by any process is seen on the very next lookup). A positive value
   * trades that for speed: changes made by other processes are seen within this many ms (changes
   * made through this Directory are always seen at once).
   */
  versionMaxAgeMs?: number;
}

export const DEFAULT_CACHE_ENTRIES = 200_000;
export const DEFAULT_CACHE_MAX_AGE_MS = 3600_000;

interface Entry<T> {
  version: number;
  expiresAt: number;
  value: T;
}

export class LookupCache<T> {
  private readonly map = new Map<string, Entry<T>>();
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  hits = 0;
  misses = 0;

  constructor(options: CacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_CACHE_MAX_AGE_MS;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string, version: number, now: number): T | undefined {
    const e = this.map.get(key);
    if (!e || e.version !== version || now >= e.expiresAt) {
      if (e) this.map.delete(key);
      this.misses++;
      return undefined;
    }
    // refresh recency (Map keeps insertion order)
    this.map.delete(key);
    this.map.set(key, e);
    this.hits++;
    return e.value;
  }

  set(key: string, version: number, now: number, value: T, expiresAt?: number): void {
    const cap = now + this.maxAgeMs;
    this.map.delete(key);
    this.map.set(key, { version, expiresAt: expiresAt === undefined ? cap : Math.min(expiresAt, cap), value });
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  clear(): void {
    this.map.clear();
  }
}
