/**
 * The CA's storage (CaStore, src/ca/store.ts) over drizzle: `authorities` (CA certificates,
 * encrypted keys, CRL numbers), `crls`, and the certificates we issued in `certificates`
 * (source 'issued', authority_id = the issuing authority) through insertCertificateRow.
 */
import { and, desc, eq, gt, isNull, lte, ne, notExists, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Config } from '../config/index.js';
import type { Certificate } from '../pki/certificate.js';
import { AppError } from '../shared/errors.js';
import { Authority, type AuthorityOptions } from '../ca/authority.js';
import { isRevocationReason, type RevokedEntry } from '../ca/crl.js';
import type { AuthorityId, AuthorityRecord, CaStore, CrlRecord, IssuedRecord, NewAuthorityRecord, ReminderCandidate } from '../ca/store.js';
import { isAuthorityId } from '../ca/store.js';
import { DrizzleAuditLog } from './audit.js';
import { bumpDirectoryVersion, insertCertificateRow } from './certificate-rows.js';
import type { Db } from './connection.js';
import { authorities, certificates, crls } from './schema.js';

const DAY_MS = 86_400_000;

type CertificateRow = typeof certificates.$inferSelect;

function issuedRecord(r: CertificateRow): IssuedRecord {
  return {
    id: r.id,
    email: r.email,
    serialHex: r.serialHex ?? '',
    fingerprint: r.fingerprintSha256,
    status: r.status,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    revokedAt: r.revokedAt,
    revocationReason: isRevocationReason(r.revocationReason) ? r.revocationReason : null,
    der: r.der,
  };
}

export class DrizzleCaStore implements CaStore {
  constructor(private readonly db: Db) {}

  async listAuthorities(): Promise<AuthorityRecord[]> {
    const rows = await this.db.select().from(authorities);
    return rows
      .filter((r) => isAuthorityId(r.id))
      .map((r) => ({
        id: r.id as AuthorityId,
        certDer: r.certDer,
        keyEncrypted: r.keyEncrypted,
        signer: r.signer,
        parentId: isAuthorityId(r.parentId) ? r.parentId : null,
        development: r.development,
        crlNumber: r.crlNumber,
      }));
  }

  async createAuthorities(records: NewAuthorityRecord[], options: { replaceDevelopment: boolean }): Promise<void> {
    await this.db.transaction(async (tx) => {
      // Serialises concurrent inits: the second one sees the first one's rows.
      await tx.execute(sql`lock table ${authorities} in exclusive mode`);
      const existing = await tx.select({ id: authorities.id, development: authorities.development }).from(authorities);
      if (existing.length > 0) {
        if (!options.replaceDevelopment || existing.some((e) => !e.development)) {
          throw new AppError('ca.exists', 'A certificate authority already exists; nothing was changed', { kind: 'conflict' });
        }
        await tx.delete(crls);
        await tx.delete(authorities);
      }
      await tx.insert(authorities).values(
        records.map((r) => ({ id: r.id, certDer: r.certDer, keyEncrypted: r.keyEncrypted, signer: r.signer, parentId: r.parentId, development: r.development })),
      );
    });
  }

  async insertIssued(certificate: Certificate, authorityId: AuthorityId): Promise<string> {
    return this.db.transaction(async (tx) => {
      const { id, created } = await insertCertificateRow(tx, { certificate, source: 'issued', authorityId });
      if (!created) throw new AppError('ca.duplicate', 'The issued certificate is already stored', { kind: 'internal' });
      return id;
    });
  }

  async findIssued(authorityId: AuthorityId, issuerDn: string, serialHex: string): Promise<IssuedRecord | undefined> {
    const rows = await this.db
      .select()
      .from(certificates)
      .where(and(eq(certificates.source, 'issued'), eq(certificates.authorityId, authorityId), eq(certificates.serialHex, serialHex), eq(certificates.issuerDn, issuerDn)))
      .limit(1);
    return rows[0] ? issuedRecord(rows[0]) : undefined;
  }

  async listIssuedFor(email: string): Promise<IssuedRecord[]> {
    const rows = await this.db
      .select()
      .from(certificates)
      .where(and(eq(certificates.source, 'issued'), eq(certificates.email, email)))
      .orderBy(desc(certificates.notBefore), desc(certificates.createdAt));
    return rows.map(issuedRecord);
  }

  async listKeyCompromised(): Promise<Uint8Array[]> {
    const rows = await this.db
      .select({ der: certificates.der })
      .from(certificates)
      .where(and(eq(certificates.source, 'issued'), eq(certificates.status, 'revoked'), eq(certificates.revocationReason, 'keyCompromise')));
    return rows.flatMap((r) => (r.der ? [r.der] : []));
  }

  async markRevoked(certificateId: string, at: Date, reason: string | null): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const updated = await tx
        .update(certificates)
        .set({ status: 'revoked', revokedAt: at, revocationReason: reason })
        .where(and(eq(certificates.id, certificateId), ne(certificates.status, 'revoked')))
        .returning({ id: certificates.id });
      if (updated.length === 0) return false;
      await bumpDirectoryVersion(tx);
      return true;
    });
  }

  async listRevoked(authorityId: AuthorityId, issuerDn: string): Promise<RevokedEntry[]> {
    const rows = await this.db
      .select({ serialHex: certificates.serialHex, revokedAt: certificates.revokedAt, reason: certificates.revocationReason })
      .from(certificates)
      .where(and(eq(certificates.source, 'issued'), eq(certificates.authorityId, authorityId), eq(certificates.issuerDn, issuerDn), eq(certificates.status, 'revoked')));
    return rows.flatMap((r) =>
      r.serialHex ? [{ serialHex: r.serialHex, revokedAt: r.revokedAt ?? new Date(0), reason: isRevocationReason(r.reason) ? r.reason : null }] : [],
    );
  }

  async countRevoked(authorityId: AuthorityId, issuerDn: string): Promise<number> {
    return this.db.$count(
      certificates,
      and(eq(certificates.source, 'issued'), eq(certificates.authorityId, authorityId), eq(certificates.issuerDn, issuerDn), eq(certificates.status, 'revoked')),
    );
  }

  async nextCrlNumber(authorityId: AuthorityId): Promise<number> {
    const r = await this.db
      .update(authorities)
      .set({ crlNumber: sql`${authorities.crlNumber} + 1` })
      .where(eq(authorities.id, authorityId))
      .returning({ n: authorities.crlNumber });
    if (!r[0]) throw new AppError('ca.not_initialized', `No '${authorityId}' authority is stored`, { kind: 'internal' });
    return r[0].n;
  }

  async saveCrl(crl: CrlRecord): Promise<void> {
    await this.db.insert(crls).values(crl);
  }

  async latestCrl(authorityId: AuthorityId): Promise<CrlRecord | undefined> {
    const rows = await this.db.select().from(crls).where(eq(crls.authorityId, authorityId)).orderBy(desc(crls.number)).limit(1);
    const r = rows[0];
    return r ? { authorityId, number: r.number, thisUpdate: r.thisUpdate, nextUpdate: r.nextUpdate, der: r.der } : undefined;
  }

  async reminderCandidates(now: Date, withinDays: number): Promise<ReminderCandidate[]> {
    const newer = alias(certificates, 'newer');
    const horizon = new Date(now.getTime() + withinDays * DAY_MS);
    const sevenDays = new Date(now.getTime() + 7 * DAY_MS);
    const rows = await this.db
      .select({
        certificateId: certificates.id,
        email: certificates.email,
        serialHex: certificates.serialHex,
        notAfter: certificates.notAfter,
        reminded30At: certificates.reminded30At,
        reminded7At: certificates.reminded7At,
      })
      .from(certificates)
      .where(
        and(
          eq(certificates.source, 'issued'),
          eq(certificates.status, 'active'),
          gt(certificates.notAfter, now),
          lte(certificates.notAfter, horizon),
          or(isNull(certificates.reminded30At), and(isNull(certificates.reminded7At), lte(certificates.notAfter, sevenDays))),
          notExists(
            this.db
              .select({ id: newer.id })
              .from(newer)
              .where(and(eq(newer.email, certificates.email), eq(newer.source, 'issued'), ne(newer.status, 'revoked'), gt(newer.notAfter, certificates.notAfter))),
          ),
        ),
      )
      .orderBy(certificates.notAfter);
    return rows.map((r) => ({ ...r, serialHex: r.serialHex ?? '', notAfter: r.notAfter! }));
  }

  async markReminded(certificateId: string, which: 30 | 7, at: Date): Promise<void> {
    const set = which === 30 ? { reminded30At: at } : { reminded7At: at };
    const col = which === 30 ? certificates.reminded30At : certificates.reminded7At;
    await this.db.update(certificates).set(set).where(and(eq(certificates.id, certificateId), isNull(col)));
  }
}

/** The Authority over this database, configured from PUBLIC_URL, CA_VALIDITY_DAYS and NODE_ENV. */
export function createAuthority(db: Db, config: Pick<Config, 'publicUrl' | 'caValidityDays' | 'nodeEnv'>, options: Pick<AuthorityOptions, 'signerFor'> = {}): Authority {
  return new Authority({
    ...options,
    store: new DrizzleCaStore(db),
    audit: new DrizzleAuditLog(db),
    publicUrl: config.publicUrl,
    validityDays: config.caValidityDays,
    production: config.nodeEnv === 'production',
  });
}
