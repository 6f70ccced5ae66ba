/**
 * Database schema (drizzle pg-core). The same schema serves embedded PGlite and PostgreSQL.
 * Change it here, then run `npm run db:generate` and commit the new files under drizzle/.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  check,
  customType,
  index,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

/** bytea as Uint8Array (postgres-js returns Buffer, PGlite Uint8Array: both are normalised to a plain copy). */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType() {
    return 'bytea';
  },
  fromDriver(value) {
    return new Uint8Array(value);
  },
});

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    /** Who did it: a user's e-mail address, "system", "filter", ... */
    actor: text('actor').notNull(),
    /** What was done, dotted, e.g. "cert.issued". */
    action: text('action').notNull(),
    /** What it was done to (e-mail address, fingerprint, ...), if anything. */
    subject: text('subject'),
    detail: jsonb('detail').$type<Record<string, unknown>>(),
  },
  (t) => [index('audit_log_at_idx').on(t.at)],
);

export const CERTIFICATE_SOURCES = ['issued', 'uploaded', 'harvested', 'imported'] as const;
export type CertificateSource = (typeof CERTIFICATE_SOURCES)[number];

export const CERTIFICATE_STATUSES = ['active', 'revoked', 'superseded', 'pending'] as const;
export type CertificateStatus = (typeof CERTIFICATE_STATUSES)[number];

export const certificates = pgTable(
  'certificates',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Lowercase hex SHA-256 of the DER encoding. */
    fingerprintSha256: text('fingerprint_sha256').notNull().unique(),
    /** The address the certificate is for; the domain part is stored lowercased. */
    email: text('email').notNull(),
    serialHex: text('serial_hex'),
    issuerDn: text('issuer_dn'),
    subjectDn: text('subject_dn'),
    notBefore: timestamp('not_before', { withTimezone: true }),
    notAfter: timestamp('not_after', { withTimezone: true }),
    source: text('source').$type<CertificateSource>().notNull(),
    status: text('status').$type<CertificateStatus>().notNull().default('active'),
    der: bytea('der'),
    /** S/MIME capabilities (preferred algorithms) as seen in the certificate or a signed message. */
    capabilities: jsonb('capabilities').$type<Record<string, unknown>>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  },
  (t) => [
    index('certificates_email_idx').on(t.email),
    check('certificates_source_check', sql`${t.source} in ('issued', 'uploaded', 'harvested', 'imported')`),
    check('certificates_status_check', sql`${t.status} in ('active', 'revoked', 'superseded', 'pending')`),
    // Something, then "@", then a domain part (after the last "@") without ASCII capitals.
    check('certificates_email_check', sql`${t.email} ~ '^.+@[^@A-Z]+$'`),
    check('certificates_fingerprint_check', sql`${t.fingerprintSha256} ~ '^[0-9a-f]{64}$'`),
  ],
);

export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
});
