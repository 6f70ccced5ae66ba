/** PickupStore over the `pickups` and `pickup_access_log` tables. */
import { and, desc, eq, isNull, lte, or, isNotNull, sql } from 'drizzle-orm';
import type { AccessEntry, NewPickup, PickupMode, PickupRecord, PickupStore } from '../pickup/ports.js';
import type { Db } from './connection.js';
import { pickupAccessLog, pickups } from './schema.js';

function toRecord(r: typeof pickups.$inferSelect): PickupRecord {
  return {
    id: r.id,
    tokenHash: r.tokenHash,
    senderTokenHash: r.senderTokenHash,
    sender: r.sender,
    recipient: r.recipient,
    subject: r.subject,
    mode: r.mode === 'password' ? 'password' : ('code' as PickupMode),
    passwordHash: r.passwordHash,
    blobKey: r.blobKey,
    wrappedKey: r.wrappedKey,
    sizeBytes: r.sizeBytes,
    locale: r.locale,
    failedAttempts: r.failedAttempts,
    lockedAt: r.lockedAt,
    downloads: r.downloads,
    expiresAt: r.expiresAt,
    revokedAt: r.revokedAt,
    deletedAt: r.deletedAt,
    createdAt: r.createdAt,
  };
}

export class DrizzlePickupStore implements PickupStore {
  constructor(private readonly db: Db) {}

  async insert(row: NewPickup): Promise<void> {
    await this.db.insert(pickups).values(row);
  }

  async remove(id: string): Promise<void> {
    await this.db.delete(pickups).where(eq(pickups.id, id));
  }

  async get(id: string): Promise<PickupRecord | undefined> {
    const r = await this.db.select().from(pickups).where(eq(pickups.id, id));
    return r[0] && toRecord(r[0]);
  }

  async byTokenHash(tokenHash: string): Promise<PickupRecord | undefined> {
    const r = await this.db.select().from(pickups).where(eq(pickups.tokenHash, tokenHash));
    return r[0] && toRecord(r[0]);
  }

  async bySenderTokenHash(senderTokenHash: string): Promise<PickupRecord | undefined> {
    const r = await this.db.select().from(pickups).where(eq(pickups.senderTokenHash, senderTokenHash));
    return r[0] && toRecord(r[0]);
  }

  async addFailedAttempt(id: string, lockAfter: number, now: Date): Promise<{ failedAttempts: number; locked: boolean }> {
    const r = await this.db
      .update(pickups)
      .set({
        failedAttempts: sql`${pickups.failedAttempts} + 1`,
        lockedAt: sql`case when ${pickups.lockedAt} is null and ${pickups.failedAttempts} + 1 >= ${lockAfter} then ${now.toISOString()}::timestamptz else ${pickups.lockedAt} end`,
      })
      .where(eq(pickups.id, id))
      .returning({ failedAttempts: pickups.failedAttempts, lockedAt: pickups.lockedAt });
    const row = r[0];
    return row ? { failedAttempts: row.failedAttempts, locked: row.lockedAt !== null } : { failedAttempts: lockAfter, locked: true };
  }

  async unlock(id: string): Promise<void> {
    await this.db.update(pickups).set({ failedAttempts: 0, lockedAt: null }).where(eq(pickups.id, id));
  }

  async countDownload(id: string): Promise<void> {
    await this.db.update(pickups).set({ downloads: sql`${pickups.downloads} + 1` }).where(eq(pickups.id, id));
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    const r = await this.db.update(pickups).set({ revokedAt: at }).where(and(eq(pickups.id, id), isNull(pickups.revokedAt))).returning({ id: pickups.id });
    return r.length === 1;
  }

  async setExpiry(id: string, expiresAt: Date): Promise<void> {
    await this.db.update(pickups).set({ expiresAt }).where(eq(pickups.id, id));
  }

  async markDeleted(id: string, at: Date): Promise<void> {
    await this.db.update(pickups).set({ blobKey: null, wrappedKey: null, passwordHash: null, deletedAt: at }).where(eq(pickups.id, id));
  }

  async due(now: Date, limit: number): Promise<Array<{ id: string; blobKey: string | null; revoked: boolean }>> {
    const rows = await this.db
      .select({ id: pickups.id, blobKey: pickups.blobKey, revokedAt: pickups.revokedAt })
      .from(pickups)
      .where(and(isNull(pickups.deletedAt), or(lte(pickups.expiresAt, now), isNotNull(pickups.revokedAt))))
      .orderBy(pickups.expiresAt)
      .limit(limit);
    return rows.map((r) => ({ id: r.id, blobKey: r.blobKey, revoked: r.revokedAt !== null }));
  }

  async logAccess(pickupId: string, e: AccessEntry): Promise<void> {
    await this.db.insert(pickupAccessLog).values({ pickupId, at: e.at, action: e.action, verified: e.verified, clientIp: e.clientIp, detail: e.detail });
  }

  async accessLog(pickupId: string, limit: number): Promise<AccessEntry[]> {
    const rows = await this.db
      .select()
      .from(pickupAccessLog)
      .where(eq(pickupAccessLog.pickupId, pickupId))
      .orderBy(desc(pickupAccessLog.at), desc(pickupAccessLog.id))
      .limit(limit);
    return rows.map((r) => ({ at: r.at, action: r.action, verified: r.verified, clientIp: r.clientIp, detail: r.detail ?? null }));
  }
}
