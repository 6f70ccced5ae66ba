/**
 * The audit log: a port (AuditLog) and its drizzle implementation over the `audit_log` table.
 *
 * Entries are chained: each row stores prev_hash (the previous row's hash, GENESIS_HASH for the
 * first) and hash = SHA-256(prev_hash || canonical JSON of {at, actor, action, subject, detail}),
 * both lowercase hex. Writers are serialised with a transaction-scoped advisory lock, so the chain
 * follows id order. Changing, deleting or inserting a row afterwards breaks the chain at that row
 * (verifyChain). A row written around record() (no hash) also shows as a break.
 */
import { asc, desc, gt, lt, sql } from 'drizzle-orm';
import { AppError } from '../shared/errors.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { sha256 } from '../pki/hash.js';
import { toHex, utf8 } from '../shared/bytes.js';
import type { AuditReader, ChainedAuditEntry, ChainStatus } from '../admin/ports.js';
import type { Db } from './connection.js';
import { auditLog } from './schema.js';

export interface NewAuditEntry {
  /** Who did it: a user's e-mail address, "system", "filter", ... */
  actor: string;
  /** What was done, e.g. "cert.issued". */
  action: string;
  /** What it was done to, if anything. */
  subject?: string | null;
  /** Structured detail (JSON-serialisable). */
  detail?: Record<string, unknown> | null;
}

export type AuditEntry = Omit<ChainedAuditEntry, 'hash' | 'prevHash'>;

/** The reading side (pages of entries, the chain check) is a port of the admin console. */
export type { AuditReader, ChainedAuditEntry, ChainStatus } from '../admin/ports.js';

/** prev_hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** Serialises audit writers (pg_advisory_xact_lock key): "audt". */
const AUDIT_LOCK_KEY = 0x61756474;

/** JSON with object keys sorted (recursively), after the same normalisation a JSON column applies. */
export function canonicalJson(value: unknown): string {
  const normalised: unknown = value === undefined ? null : JSON.parse(JSON.stringify(value));
  const walk = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(walk).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return `{${Object.keys(o)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${walk(o[k])}`)
        .join(',')}}`;
    }
    return JSON.stringify(v);
  };
  return walk(normalised);
}

/** The hash of one entry given the previous entry's hash. */
export function auditEntryHash(
  prevHash: string,
  e: { at: Date; actor: string; action: string; subject: string | null; detail: Record<string, unknown> | null },
): string {
  const body = canonicalJson({ at: e.at.toISOString(), actor: e.actor, action: e.action, subject: e.subject, detail: e.detail });
  return toHex(sha256(utf8(prevHash + body)));
}

export interface AuditLog {
  record(entry: NewAuditEntry): Promise<void>;
  /** The newest `limit` entries (1..1000), newest first. */
  recent(limit: number): Promise<AuditEntry[]>;
}

export const AUDIT_RECENT_MAX = 1000;

export class DrizzleAuditLog implements AuditLog, AuditReader {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  async record(entry: NewAuditEntry): Promise<void> {
    if (typeof entry.actor !== 'string' || entry.actor === '') {
      throw new AppError('audit.bad_entry', 'An audit entry needs an actor');
    }
    if (typeof entry.action !== 'string' || entry.action === '') {
      throw new AppError('audit.bad_entry', 'An audit entry needs an action');
    }
    const at = this.clock.now();
    const subject = entry.subject ?? null;
    // What the jsonb column will give back (undefined members dropped, dates as strings).
    const detail = entry.detail == null ? null : (JSON.parse(JSON.stringify(entry.detail)) as Record<string, unknown>);
    // Note for callers on PGlite (one connection): do not call this with the outer Db while a
    // transaction on it is open; construct a DrizzleAuditLog over the transaction instead.
    await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`);
      const [last] = await tx.select({ hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1);
      const prevHash = last ? (last.hash ?? '') : GENESIS_HASH;
      const hash = auditEntryHash(prevHash, { at, actor: entry.actor, action: entry.action, subject, detail });
      await tx.insert(auditLog).values({ at, actor: entry.actor, action: entry.action, subject, detail, hash, prevHash });
    });
  }

  async page(options: { before?: number; limit: number }): Promise<ChainedAuditEntry[]> {
    const { before, limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_RECENT_MAX) {
      throw new AppError('audit.bad_limit', `limit must be an integer from 1 to ${AUDIT_RECENT_MAX}, got ${limit}`);
    }
    const rows = await this.db
      .select()
      .from(auditLog)
      .where(before === undefined ? undefined : lt(auditLog.id, before))
      .orderBy(desc(auditLog.id))
      .limit(limit);
    return rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, subject: r.subject, detail: r.detail ?? null, hash: r.hash, prevHash: r.prevHash }));
  }

  async verifyChain(): Promise<ChainStatus> {
    let expectedPrev = GENESIS_HASH;
    let lastId = 0;
    let entries = 0;
    for (;;) {
      const rows = await this.db.select().from(auditLog).where(gt(auditLog.id, lastId)).orderBy(asc(auditLog.id)).limit(1000);
      for (const r of rows) {
        entries++;
        const broken = (reason: string): ChainStatus => ({ ok: false, entries, brokenAt: r.id, reason });
        if (r.hash === null || r.prevHash === null) return broken('entry has no hash (written outside the audit log)');
        if (r.prevHash !== expectedPrev) return broken('prev_hash does not match the previous entry (an entry was removed, added or changed before it)');
        const want = auditEntryHash(r.prevHash, { at: r.at, actor: r.actor, action: r.action, subject: r.subject, detail: r.detail ?? null });
        if (want !== r.hash) return broken('content does not match its hash (the entry was changed)');
        expectedPrev = r.hash;
        lastId = r.id;
      }
      if (rows.length < 1000) return { ok: true, entries };
    }
  }

  async recent(limit: number): Promise<AuditEntry[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_RECENT_MAX) {
      throw new AppError('audit.bad_limit', `limit must be an integer from 1 to ${AUDIT_RECENT_MAX}, got ${limit}`);
    }
    const rows = await this.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(limit);
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      subject: r.subject,
      detail: r.detail ?? null,
    }));
  }
}
