/**
 * DirectoryStore over drizzle (PGlite and PostgreSQL alike). Certificate rows go in through
 * insertCertificateRow (shared with the CA); every change bumps directory_version so that every
 * process drops its cached lookups.
 *
 * CA certificates learnt from uploads, messages and imports (intermediates) are kept in the
 * settings table under keys "directory.intermediate.<sha-256>" (the schema has no table for them).
 */
import { and, desc, eq, like, lt, ne, sql } from 'drizzle-orm';
import { fromBase64, toBase64 } from '../shared/bytes.js';
import type { Certificate } from '../pki/certificate.js';
import type { CachedCrl, DirectoryStore, StoredCapabilities, StoredCertificate, TrustedRootRecord } from '../directory/ports.js';
import type { Db } from './connection.js';
import { bumpDirectoryVersion, insertCertificateRow } from './certificate-rows.js';
import { rawQuery, type RawQuery } from './raw.js';
import { authorities, certificateAddresses, certificates, crlCache, mailboxChallenges, recipientCapabilities, settings, trustedRoots } from './schema.js';

const INTERMEDIATE_PREFIX = 'directory.intermediate.';

const CERT_COLUMNS = {
  id: certificates.id,
  fingerprint: certificates.fingerprintSha256,
  email: certificates.email,
  source: certificates.source,
  status: certificates.status,
  der: certificates.der,
  authorityId: certificates.authorityId,
  revokedAt: certificates.revokedAt,
  revocationReason: certificates.revocationReason,
  createdAt: certificates.createdAt,
};

type CertRow = { [K in keyof typeof CERT_COLUMNS]: (typeof CERT_COLUMNS)[K]['_']['data'] | ((typeof CERT_COLUMNS)[K]['_']['notNull'] extends true ? never : null) };

function toStored(r: CertRow): StoredCertificate {
  return { ...r, der: r.der ?? new Uint8Array(0) };
}

export class DrizzleDirectoryStore implements DirectoryStore {
  private readonly raw: RawQuery;

  constructor(private readonly db: Db) {
    // The version is read on every lookup (cached ones included): straight through the driver,
    // without the query builder, as it is the whole cost of a cached lookup. rawQuery looks the
    // driver client up on each call (a request-scoped Db, as on Workers, changes it per request).
    this.raw = rawQuery(db);
  }

  async version(): Promise<number> {
    return Number((await this.raw('select version from directory_version where id = 1'))[0]?.['version'] ?? 0);
  }

  bumpVersion(): Promise<number> {
    return bumpDirectoryVersion(this.db);
  }

  async findByAddress(address: string): Promise<StoredCertificate[]> {
    const rows = await this.db
      .select(CERT_COLUMNS)
      .from(certificateAddresses)
      .innerJoin(certificates, eq(certificates.id, certificateAddresses.certificateId))
      .where(eq(certificateAddresses.address, address));
    return rows.map(toStored);
  }

  async findById(id: string): Promise<StoredCertificate | undefined> {
    const r = await this.db.select(CERT_COLUMNS).from(certificates).where(eq(certificates.id, id));
    return r[0] && toStored(r[0]);
  }

  async findByFingerprint(fingerprint: string): Promise<StoredCertificate | undefined> {
    const r = await this.db.select(CERT_COLUMNS).from(certificates).where(eq(certificates.fingerprintSha256, fingerprint));
    return r[0] && toStored(r[0]);
  }

  insertCertificate(row: { certificate: Certificate; source: StoredCertificate['source']; status: StoredCertificate['status'] }): Promise<{ id: string; created: boolean }> {
    return this.db.transaction((tx) => insertCertificateRow(tx, { certificate: row.certificate, source: row.source, status: row.status }));
  }

  activatePending(id: string, address: string | null): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const updated = await tx
        .update(certificates)
        .set({ status: 'active', ...(address ? { email: address } : {}) })
        .where(and(eq(certificates.id, id), eq(certificates.status, 'pending')))
        .returning({ id: certificates.id });
      if (updated.length === 0) return false;
      if (address) {
        await tx.delete(certificateAddresses).where(and(eq(certificateAddresses.certificateId, id), ne(certificateAddresses.address, address)));
        await tx.insert(certificateAddresses).values({ certificateId: id, address }).onConflictDoNothing();
      }
      await bumpDirectoryVersion(tx);
      return true;
    });
  }

  async revoke(id: string, at: Date, reason: string | null): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.update(certificates).set({ status: 'revoked', revokedAt: at, revocationReason: reason }).where(eq(certificates.id, id));
      await bumpDirectoryVersion(tx);
    });
  }

  async getCapabilities(address: string): Promise<StoredCapabilities | undefined> {
    const r = await this.db.select().from(recipientCapabilities).where(eq(recipientCapabilities.address, address));
    const row = r[0];
    return row && { address: row.address, capabilities: row.capabilities, signingTime: row.signingTime, certificateFingerprint: row.certificateFingerprint };
  }

  async putCapabilities(record: StoredCapabilities): Promise<boolean> {
    const values = {
      address: record.address,
      capabilities: record.capabilities,
      signingTime: record.signingTime,
      certificateFingerprint: record.certificateFingerprint,
      updatedAt: new Date(),
    };
    const r = await this.db
      .insert(recipientCapabilities)
      .values(values)
      .onConflictDoUpdate({
        target: recipientCapabilities.address,
        set: { capabilities: values.capabilities, signingTime: values.signingTime, certificateFingerprint: values.certificateFingerprint, updatedAt: values.updatedAt },
        setWhere: lt(recipientCapabilities.signingTime, values.signingTime),
      })
      .returning({ address: recipientCapabilities.address });
    return r.length === 1;
  }

  async authorities(): Promise<Array<{ id: string; der: Uint8Array }>> {
    return this.db.select({ id: authorities.id, der: authorities.certDer }).from(authorities);
  }

  async trustedRoots(): Promise<TrustedRootRecord[]> {
    const r = await this.db.select().from(trustedRoots).orderBy(trustedRoots.addedAt);
    return r.map((x) => ({ fingerprint: x.fingerprintSha256, subjectDn: x.subjectDn, der: x.der, addedBy: x.addedBy, addedAt: x.addedAt }));
  }

  async addTrustedRoot(cert: Certificate, addedBy: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const r = await tx
        .insert(trustedRoots)
        .values({ fingerprintSha256: cert.fingerprint256, subjectDn: cert.subject, der: cert.der, addedBy })
        .onConflictDoNothing()
        .returning({ fp: trustedRoots.fingerprintSha256 });
      if (r.length) await bumpDirectoryVersion(tx);
      return r.length === 1;
    });
  }

  async removeTrustedRoot(fingerprint: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const r = await tx.delete(trustedRoots).where(eq(trustedRoots.fingerprintSha256, fingerprint)).returning({ fp: trustedRoots.fingerprintSha256 });
      if (r.length) await bumpDirectoryVersion(tx);
      return r.length === 1;
    });
  }

  async intermediates(): Promise<Uint8Array[]> {
    const r = await this.db.select({ value: settings.value }).from(settings).where(like(settings.key, `${INTERMEDIATE_PREFIX}%`));
    const out: Uint8Array[] = [];
    for (const row of r) {
      const v = row.value as { der?: unknown };
      if (typeof v?.der === 'string') out.push(fromBase64(v.der));
    }
    return out;
  }

  async addIntermediate(cert: Certificate): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const r = await tx
        .insert(settings)
        .values({ key: INTERMEDIATE_PREFIX + cert.fingerprint256, value: { der: toBase64(cert.der), subject: cert.subject, notAfter: cert.notAfter.toISOString() } })
        .onConflictDoNothing()
        .returning({ key: settings.key });
      if (r.length) await bumpDirectoryVersion(tx);
      return r.length === 1;
    });
  }

  async getCrl(url: string): Promise<CachedCrl | undefined> {
    const r = await this.db.select().from(crlCache).where(eq(crlCache.url, url));
    return r[0];
  }

  async putCrl(crl: CachedCrl): Promise<void> {
    const values = { url: crl.url, issuerDn: crl.issuerDn, der: crl.der, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, fetchedAt: crl.fetchedAt };
    await this.db
      .insert(crlCache)
      .values(values)
      .onConflictDoUpdate({ target: crlCache.url, set: { issuerDn: values.issuerDn, der: values.der, thisUpdate: values.thisUpdate, nextUpdate: values.nextUpdate, fetchedAt: values.fetchedAt } });
  }

  async findUploadChallenge(certificateId: string): Promise<string | undefined> {
    const r = await this.db
      .select({ id: mailboxChallenges.id })
      .from(mailboxChallenges)
      .where(and(eq(mailboxChallenges.purpose, 'upload'), sql`${mailboxChallenges.payload} ->> 'certificateId' = ${certificateId}`))
      .orderBy(desc(mailboxChallenges.createdAt))
      .limit(1);
    return r[0]?.id;
  }
}
