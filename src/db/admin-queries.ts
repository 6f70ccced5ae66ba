/** What the admin console reads: certificates (search, filter, sort, page; one with its DER) and enrollments. */
import { and, asc, count, desc, eq, gt, gte, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type {
  CertificateQueries,
  CertificateQuery,
  CertificateRecord,
  CertificateSummary,
  EnrollmentQueries,
  EnrollmentRow,
  EnrollmentView,
} from '../admin/ports.js';
import { MAX_ATTEMPTS } from '../proof/mailbox.js';
import type { Db } from './connection.js';
import { certificateAddresses, certificates, mailboxChallenges } from './schema.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const EXPIRING_WITHIN_MS = 30 * 24 * 3600_000;

/** A LIKE pattern matching `text` literally anywhere. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const summaryColumns = {
  id: certificates.id,
  email: certificates.email,
  serialHex: certificates.serialHex,
  subjectDn: certificates.subjectDn,
  issuerDn: certificates.issuerDn,
  notBefore: certificates.notBefore,
  notAfter: certificates.notAfter,
  status: certificates.status,
  source: certificates.source,
  fingerprintSha256: certificates.fingerprintSha256,
  revokedAt: certificates.revokedAt,
  revocationReason: certificates.revocationReason,
  authorityId: certificates.authorityId,
};

export class DrizzleCertificateQueries implements CertificateQueries {
  constructor(private readonly db: Db) {}

  async search(q: CertificateQuery): Promise<{ rows: CertificateSummary[]; total: number }> {
    const where: SQL[] = [];
    const text = q.address?.trim();
    if (text) {
      const p = containsPattern(text);
      where.push(
        or(
          sql`${certificates.email} ilike ${p}`,
          sql`exists (select 1 from ${certificateAddresses} where ${certificateAddresses.certificateId} = ${certificates.id} and ${certificateAddresses.address} ilike ${p})`,
        )!,
      );
    }
    if (q.status) where.push(eq(certificates.status, q.status));
    if (q.expiry === 'expired') where.push(lt(certificates.notAfter, q.now));
    if (q.expiry === 'expiring') where.push(and(gte(certificates.notAfter, q.now), lte(certificates.notAfter, new Date(q.now.getTime() + EXPIRING_WITHIN_MS)))!);
    const cond = where.length ? and(...where) : undefined;
    const column = q.sort === 'address' ? certificates.email : q.sort === 'notBefore' ? certificates.notBefore : certificates.notAfter;
    const dir = q.direction === 'asc' ? asc : desc;
    const nulls = q.direction === 'asc' ? sql`nulls first` : sql`nulls last`;
    const [rows, totals] = await Promise.all([
      this.db
        .select(summaryColumns)
        .from(certificates)
        .where(cond)
        .orderBy(sql`${dir(column)} ${nulls}`, dir(certificates.id))
        .limit(q.limit)
        .offset(q.offset),
      this.db.select({ n: count() }).from(certificates).where(cond),
    ]);
    return { rows: rows.map((r) => ({ ...r })), total: Number(totals[0]?.n ?? 0) };
  }

  async get(id: string): Promise<CertificateRecord | undefined> {
    if (!UUID_RE.test(id)) return undefined;
    const [r] = await this.db
      .select({ ...summaryColumns, der: certificates.der, createdAt: certificates.createdAt })
      .from(certificates)
      .where(eq(certificates.id, id))
      .limit(1);
    if (!r) return undefined;
    const addresses = await this.db
      .select({ address: certificateAddresses.address })
      .from(certificateAddresses)
      .where(eq(certificateAddresses.certificateId, id))
      .orderBy(asc(certificateAddresses.address));
    return { ...r, der: r.der ?? null, addresses: addresses.map((a) => a.address) };
  }
}

export class DrizzleEnrollmentQueries implements EnrollmentQueries {
  constructor(private readonly db: Db) {}

  async list(q: { view: EnrollmentView; now: Date; limit: number; offset: number }): Promise<{ rows: EnrollmentRow[]; total: number }> {
    const c = mailboxChallenges;
    const locked = gte(c.attempts, MAX_ATTEMPTS);
    const unverified = isNull(c.verifiedAt);
    const cond =
      q.view === 'pending'
        ? and(eq(c.purpose, 'enroll'), unverified, gt(c.expiresAt, q.now), lt(c.attempts, MAX_ATTEMPTS))
        : and(eq(c.purpose, 'enroll'), unverified, or(locked, lte(c.expiresAt, q.now)));
    const [rows, totals] = await Promise.all([
      this.db
        .select({ id: c.id, address: c.address, createdAt: c.createdAt, expiresAt: c.expiresAt, attempts: c.attempts, clientIp: c.clientIp, locale: c.locale })
        .from(c)
        .where(cond)
        .orderBy(desc(c.createdAt), desc(c.id))
        .limit(q.limit)
        .offset(q.offset),
      this.db.select({ n: count() }).from(c).where(cond),
    ]);
    return {
      rows: rows.map((r) => ({
        ...r,
        state: r.attempts >= MAX_ATTEMPTS ? 'locked' : r.expiresAt.getTime() <= q.now.getTime() ? 'expired' : 'pending',
      })),
      total: Number(totals[0]?.n ?? 0),
    };
  }
}
