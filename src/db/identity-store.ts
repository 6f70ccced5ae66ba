/**
 * Drizzle implementation of the worker's IdentityStore over the `signing_identities` table.
 */
import { eq, or } from 'drizzle-orm';
import type { IdentityStore, StoredIdentity } from '../mail/ports.js';
import type { Db } from './connection.js';
import { signingIdentities } from './schema.js';

function toIdentity(r: typeof signingIdentities.$inferSelect): StoredIdentity {
  return {
    id: r.id,
    address: r.address,
    certDer: r.certDer,
    chain: r.chain,
    keyEncrypted: r.keyEncrypted,
    fingerprint: r.fingerprintSha256,
    notAfter: r.notAfter,
    source: r.source,
    createdAt: r.createdAt,
  };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class DrizzleIdentityStore implements IdentityStore {
  constructor(private readonly db: Db) {}

  async all(): Promise<StoredIdentity[]> {
    const rows = await this.db.select().from(signingIdentities).orderBy(signingIdentities.address, signingIdentities.createdAt);
    return rows.map(toIdentity);
  }

  async add(identity: Omit<StoredIdentity, 'id' | 'createdAt'>): Promise<{ id: string; created: boolean }> {
    const inserted = await this.db
      .insert(signingIdentities)
      .values({
        address: identity.address,
        certDer: identity.certDer,
        chain: identity.chain,
        keyEncrypted: identity.keyEncrypted,
        fingerprintSha256: identity.fingerprint,
        notAfter: identity.notAfter,
        source: identity.source,
      })
      .onConflictDoNothing({ target: signingIdentities.fingerprintSha256 })
      .returning({ id: signingIdentities.id });
    if (inserted[0]) return { id: inserted[0].id, created: true };
    const [existing] = await this.db
      .select({ id: signingIdentities.id })
      .from(signingIdentities)
      .where(eq(signingIdentities.fingerprintSha256, identity.fingerprint));
    return { id: existing!.id, created: false };
  }

  async remove(idOrFingerprint: string): Promise<boolean> {
    const key = idOrFingerprint.trim().toLowerCase().replace(/:/g, '');
    const cond = UUID_RE.test(key) ? or(eq(signingIdentities.id, key), eq(signingIdentities.fingerprintSha256, key)) : eq(signingIdentities.fingerprintSha256, key);
    const rows = await this.db.delete(signingIdentities).where(cond).returning({ id: signingIdentities.id });
    return rows.length > 0;
  }
}
