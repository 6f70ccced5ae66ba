/**
 * The one way a certificate row enters the directory tables, whoever brings it (our CA at issuance,
 * an upload, a harvest, an import): the certificates row, one certificate_addresses row per mailbox,
 * and a bump of directory_version so every process drops its cached lookups. Also the version bump
 * on its own, for status changes (revocation, supersession).
 */
import { eq, sql } from 'drizzle-orm';
import type { Certificate } from '../pki/certificate.js';
import { normalizeAddress } from '../pki/certificate.js';
import type { Db } from './connection.js';
import { certificateAddresses, certificates, directoryVersion, type CertificateSource, type CertificateStatus } from './schema.js';

/** A drizzle handle or a transaction on one. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

export interface NewCertificateRow {
  certificate: Certificate;
  source: CertificateSource;
  status?: CertificateStatus;
  authorityId?: string | null;
  capabilities?: Record<string, unknown> | null;
}

/**
 * Inserts the certificate and its addresses; when the fingerprint exists already, returns the
 * existing row's id and `created: false` (nothing changed). Bumps directory_version on insert.
 */
export async function insertCertificateRow(tx: DbOrTx, row: NewCertificateRow): Promise<{ id: string; created: boolean }> {
  const c = row.certificate;
  const addresses = [...new Set(c.emails.map(normalizeAddress))];
  const inserted = await tx
    .insert(certificates)
    .values({
      fingerprintSha256: c.fingerprint256,
      email: addresses[0] ?? '',
      serialHex: c.serialHex,
      issuerDn: c.issuer,
      subjectDn: c.subject,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      source: row.source,
      status: row.status ?? 'active',
      der: c.der,
      capabilities: row.capabilities ?? null,
      authorityId: row.authorityId ?? null,
    })
    .onConflictDoNothing({ target: certificates.fingerprintSha256 })
    .returning({ id: certificates.id });
  if (inserted.length === 0) {
    const existing = await tx.select({ id: certificates.id }).from(certificates).where(eq(certificates.fingerprintSha256, c.fingerprint256));
    return { id: existing[0]!.id, created: false };
  }
  const id = inserted[0]!.id;
  if (addresses.length) await tx.insert(certificateAddresses).values(addresses.map((address) => ({ certificateId: id, address }))).onConflictDoNothing();
  await bumpDirectoryVersion(tx);
  return { id, created: true };
}

/** Marks a change visible to every process's lookup cache. */
export async function bumpDirectoryVersion(tx: DbOrTx): Promise<number> {
  const r = await tx
    .update(directoryVersion)
    .set({ version: sql`${directoryVersion.version} + 1`, changedAt: new Date() })
    .where(eq(directoryVersion.id, 1))
    .returning({ version: directoryVersion.version });
  return r[0]?.version ?? 0;
}

export async function readDirectoryVersion(tx: DbOrTx): Promise<number> {
  const r = await tx.select({ version: directoryVersion.version }).from(directoryVersion).where(eq(directoryVersion.id, 1));
  return r[0]?.version ?? 0;
}
