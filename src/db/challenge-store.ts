/** ChallengeStore over the mailbox_challenges table. */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { ChallengeRow, ChallengeStore, ChallengePurpose } from '../proof/mailbox.js';
import type { Db } from './connection.js';
import { mailboxChallenges } from './schema.js';

function toRow(r: typeof mailboxChallenges.$inferSelect): ChallengeRow {
  return {
    id: r.id,
    address: r.address,
    purpose: r.purpose,
    codeHash: r.codeHash,
    tokenHash: r.tokenHash,
    locale: r.locale,
    attempts: r.attempts,
    expiresAt: r.expiresAt,
    verifiedAt: r.verifiedAt,
    tokenExpiresAt: r.tokenExpiresAt,
    usedAt: r.usedAt,
    payload: r.payload ?? null,
  };
}

export class DbChallengeStore implements ChallengeStore {
  constructor(private readonly db: Db) {}

  async create(row: { address: string; purpose: ChallengePurpose; codeHash: string; locale: string | null; expiresAt: Date; clientIp: string | null; payload: Record<string, unknown> | null }): Promise<string> {
    const r = await this.db.insert(mailboxChallenges).values(row).returning({ id: mailboxChallenges.id });
    return r[0]!.id;
  }

  async get(id: string): Promise<ChallengeRow | undefined> {
    const r = await this.db.select().from(mailboxChallenges).where(eq(mailboxChallenges.id, id));
    return r[0] && toRow(r[0]);
  }

  async addAttempt(id: string): Promise<number> {
    const r = await this.db
      .update(mailboxChallenges)
      .set({ attempts: sql`${mailboxChallenges.attempts} + 1` })
      .where(eq(mailboxChallenges.id, id))
      .returning({ attempts: mailboxChallenges.attempts });
    return r[0]?.attempts ?? Number.MAX_SAFE_INTEGER;
  }

  async markVerified(id: string, tokenHash: string, verifiedAt: Date, tokenExpiresAt: Date): Promise<boolean> {
    const r = await this.db
      .update(mailboxChallenges)
      .set({ tokenHash, verifiedAt, tokenExpiresAt })
      .where(and(eq(mailboxChallenges.id, id), isNull(mailboxChallenges.verifiedAt)))
      .returning({ id: mailboxChallenges.id });
    return r.length === 1;
  }

  async findByToken(tokenHash: string): Promise<ChallengeRow | undefined> {
    const r = await this.db.select().from(mailboxChallenges).where(eq(mailboxChallenges.tokenHash, tokenHash));
    return r[0] && toRow(r[0]);
  }

  async markUsed(id: string, usedAt: Date): Promise<boolean> {
    const r = await this.db
      .update(mailboxChallenges)
      .set({ usedAt })
      .where(and(eq(mailboxChallenges.id, id), isNull(mailboxChallenges.usedAt)))
      .returning({ id: mailboxChallenges.id });
    return r.length === 1;
  }
}
