/**
 * The audit log: a port (AuditLog) and its drizzle implementation over the `audit_log` table.
 */
import { desc } from 'drizzle-orm';
import { AppError } from '../shared/errors.js';
import { systemClock, type Clock } from '../shared/clock.js';
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

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  subject: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditLog {
  record(entry: NewAuditEntry): Promise<void>;
  /** The newest `limit` entries (1..1000), newest first. */
  recent(limit: number): Promise<AuditEntry[]>;
}

export const AUDIT_RECENT_MAX = 1000;

export class DrizzleAuditLog implements AuditLog {
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
    await this.db.insert(auditLog).values({
      at: this.clock.now(),
      actor: entry.actor,
      action: entry.action,
      subject: entry.subject ?? null,
      detail: entry.detail ?? null,
    });
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
