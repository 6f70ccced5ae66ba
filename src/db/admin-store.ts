/** AdminStore over admin_users, admin_sessions and settings (the last accepted TOTP step per user). */
import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type { AdminRole, AdminSessionRow, AdminStore, AdminUser } from '../admin/ports.js';
import { AppError } from '../shared/errors.js';
import type { Db } from './connection.js';
import { adminSessions, adminUsers, settings } from './schema.js';

/** settings key holding a user's last accepted TOTP step (schema has no column for it). */
export function totpStepKey(userId: string): string {
  return `admin.totp_last_step:${userId}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function sqlState(e: unknown): string | undefined {
  for (let cur: unknown = e, i = 0; cur && i < 5; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function toUser(r: typeof adminUsers.$inferSelect): AdminUser {
  return {
    id: r.id,
    username: r.username,
    passwordHash: r.passwordHash,
    totpSecretEncrypted: r.totpSecretEncrypted ?? null,
    role: r.role,
    disabled: r.disabled,
  };
}

export class DrizzleAdminStore implements AdminStore {
  constructor(private readonly db: Db) {}

  async findUserByUsername(username: string): Promise<AdminUser | undefined> {
    const [r] = await this.db.select().from(adminUsers).where(eq(adminUsers.username, username)).limit(1);
    return r ? toUser(r) : undefined;
  }

  async findUserById(id: string): Promise<AdminUser | undefined> {
    if (!UUID_RE.test(id)) return undefined;
    const [r] = await this.db.select().from(adminUsers).where(eq(adminUsers.id, id)).limit(1);
    return r ? toUser(r) : undefined;
  }

  async createUser(user: { username: string; passwordHash: string; role: AdminRole; createdAt: Date }): Promise<AdminUser> {
    try {
      const [r] = await this.db.insert(adminUsers).values(user).returning();
      return toUser(r!);
    } catch (e) {
      if (sqlState(e) === '23505') throw new AppError('admin.exists', `An admin ${user.username} already exists`, { kind: 'conflict' });
      throw e;
    }
  }

  async setTotpSecret(userId: string, sealed: Uint8Array): Promise<boolean> {
    const rows = await this.db
      .update(adminUsers)
      .set({ totpSecretEncrypted: sealed })
      .where(and(eq(adminUsers.id, userId), isNull(adminUsers.totpSecretEncrypted)))
      .returning({ id: adminUsers.id });
    return rows.length === 1;
  }

  async claimTotpStep(userId: string, step: number): Promise<boolean> {
    const rows = await this.db
      .insert(settings)
      .values({ key: totpStepKey(userId), value: step })
      .onConflictDoUpdate({
        target: settings.key,
        set: { value: sql`excluded.value` },
        setWhere: sql`(${settings.value} #>> '{}')::bigint < (excluded.value #>> '{}')::bigint`,
      })
      .returning({ key: settings.key });
    return rows.length === 1;
  }

  async createSession(row: AdminSessionRow): Promise<void> {
    await this.db.insert(adminSessions).values(row);
  }

  async getSession(idHash: string): Promise<AdminSessionRow | undefined> {
    const [r] = await this.db.select().from(adminSessions).where(eq(adminSessions.idHash, idHash)).limit(1);
    return r ? { ...r, clientIp: r.clientIp ?? null, secondFactorAt: r.secondFactorAt ?? null } : undefined;
  }

  async setSessionExpiry(idHash: string, expiresAt: Date): Promise<void> {
    await this.db.update(adminSessions).set({ expiresAt }).where(eq(adminSessions.idHash, idHash));
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.delete(adminSessions).where(eq(adminSessions.idHash, idHash));
  }

  async deleteExpiredSessions(now: Date): Promise<number> {
    const rows = await this.db.delete(adminSessions).where(lt(adminSessions.expiresAt, now)).returning({ id: adminSessions.idHash });
    return rows.length;
  }
}
