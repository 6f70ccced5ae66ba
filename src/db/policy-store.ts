/**
 * Drizzle implementation of the worker's PolicyStore over the `policies` table.
 */
import { eq, sql } from 'drizzle-orm';
import type { PolicyStore } from '../mail/ports.js';
import type { EncryptMode, PolicyRule } from '../mail/policy.js';
import type { Db } from './connection.js';
import { policies } from './schema.js';

function toRule(r: typeof policies.$inferSelect): PolicyRule {
  return {
    scope: r.scope,
    encryptMode: (r.encryptMode as EncryptMode | null) ?? null,
    sign: r.sign ?? null,
    fallbackLink: r.fallbackLink ?? null,
    updatedBy: r.updatedBy,
    updatedAt: r.updatedAt,
  };
}

export class DrizzlePolicyStore implements PolicyStore {
  constructor(private readonly db: Db) {}

  async all(): Promise<PolicyRule[]> {
    const rows = await this.db.select().from(policies).orderBy(policies.scope);
    return rows.map(toRule);
  }

  async put(
    scope: string,
    fields: { encryptMode?: EncryptMode | null; sign?: boolean | null; fallbackLink?: boolean | null },
    updatedBy: string,
  ): Promise<PolicyRule> {
    const set: Partial<typeof policies.$inferInsert> = { updatedBy, updatedAt: sql`now()` as unknown as Date };
    if (fields.encryptMode !== undefined) set.encryptMode = fields.encryptMode;
    if (fields.sign !== undefined) set.sign = fields.sign;
    if (fields.fallbackLink !== undefined) set.fallbackLink = fields.fallbackLink;
    const [row] = await this.db
      .insert(policies)
      .values({
        scope,
        encryptMode: fields.encryptMode ?? null,
        sign: fields.sign ?? null,
        fallbackLink: fields.fallbackLink ?? null,
        updatedBy,
      })
      .onConflictDoUpdate({ target: policies.scope, set })
      .returning();
    return toRule(row!);
  }

  async remove(scope: string): Promise<boolean> {
    const rows = await this.db.delete(policies).where(eq(policies.scope, scope)).returning({ scope: policies.scope });
    return rows.length > 0;
  }
}
