/**
 * Ports the admin console needs. Drizzle implementations: src/db/admin-store.ts and
 * src/db/admin-queries.ts; the revoker adapts the CA's Authority (wired in src/entry/node.ts).
 */
export const ADMIN_ROLES = ['admin', 'auditor'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export interface AdminUser {
  id: string;
  username: string;
  passwordHash: string;
  totpSecretEncrypted: Uint8Array | null;
  role: AdminRole;
  disabled: boolean;
}

export interface AdminSessionRow {
  idHash: string;
  userId: string;
  csrfToken: string;
  secondFactorAt: Date | null;
  expiresAt: Date;
  createdAt: Date;
  clientIp: string | null;
}

export interface AdminStore {
  findUserByUsername(username: string): Promise<AdminUser | undefined>;
  findUserById(id: string): Promise<AdminUser | undefined>;
  /** Throws AppError 'admin.exists' (conflict) if the username is taken. */
  createUser(user: { username: string; passwordHash: string; role: AdminRole; createdAt: Date }): Promise<AdminUser>;
  /** Stores the sealed TOTP secret if none is set yet; false if one already was (a race). */
  setTotpSecret(userId: string, sealed: Uint8Array): Promise<boolean>;
  /**
   * Records `step` as the user's last accepted TOTP step if it is later than the one stored;
   * false if it is not (the code, or an older one, was already used).
   */
  claimTotpStep(userId: string, step: number): Promise<boolean>;
  createSession(row: AdminSessionRow): Promise<void>;
  getSession(idHash: string): Promise<AdminSessionRow | undefined>;
  setSessionExpiry(idHash: string, expiresAt: Date): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  /** Removes sessions that expired before `now`; returns how many. */
  deleteExpiredSessions(now: Date): Promise<number>;
}

/** What the CA exposes for revocation (adapted from the Authority in the entry point). */
export interface CertificateRevoker {
  revoke(input: { serialHex: string; reason: RevocationReason; actor: string }): Promise<void>;
}

/** The reasons the console offers (RFC 5280 CRLReason names; 'unspecified' is omitted on the CRL). */
export const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export const CERT_STATUSES = ['active', 'revoked', 'superseded', 'pending'] as const;
export type CertStatus = (typeof CERT_STATUSES)[number];
export const EXPIRY_FILTERS = ['expired', 'expiring'] as const;
export type ExpiryFilter = (typeof EXPIRY_FILTERS)[number];
export const CERT_SORTS = ['notAfter', 'notBefore', 'address'] as const;
export type CertSort = (typeof CERT_SORTS)[number];

export interface CertificateQuery {
  /** Part of an address (any SAN address or the main one), case-insensitive. */
  address?: string;
  status?: CertStatus;
  expiry?: ExpiryFilter;
  sort: CertSort;
  direction: 'asc' | 'desc';
  limit: number;
  offset: number;
  /** "Now" for the expiry filter. */
  now: Date;
}

export interface CertificateSummary {
  id: string;
  email: string;
  serialHex: string | null;
  subjectDn: string | null;
  issuerDn: string | null;
  notBefore: Date | null;
  notAfter: Date | null;
  status: CertStatus;
  source: string;
  fingerprintSha256: string;
  revokedAt: Date | null;
  revocationReason: string | null;
  authorityId: string | null;
}

export interface CertificateRecord extends CertificateSummary {
  der: Uint8Array | null;
  addresses: string[];
  createdAt: Date;
}

export interface CertificateQueries {
  search(q: CertificateQuery): Promise<{ rows: CertificateSummary[]; total: number }>;
  /** undefined when there is no certificate with that id (or the id is not a UUID). */
  get(id: string): Promise<CertificateRecord | undefined>;
}

export type EnrollmentView = 'pending' | 'failed';

export interface EnrollmentRow {
  id: string;
  address: string;
  createdAt: Date;
  expiresAt: Date;
  attempts: number;
  clientIp: string | null;
  locale: string | null;
  /** pending: code mailed, not yet confirmed; locked: too many wrong codes; expired: never confirmed. */
  state: 'pending' | 'locked' | 'expired';
}

export interface EnrollmentQueries {
  list(q: { view: EnrollmentView; now: Date; limit: number; offset: number }): Promise<{ rows: EnrollmentRow[]; total: number }>;
}

/** An audit entry with its place in the hash chain. */
export interface ChainedAuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  subject: string | null;
  detail: Record<string, unknown> | null;
  hash: string | null;
  prevHash: string | null;
}

/** Result of checking the hash chain from the first entry to the last. */
export type ChainStatus =
  | { ok: true; entries: number }
  /** `brokenAt` is the id of the first entry whose hash or link does not match. */
  | { ok: false; entries: number; brokenAt: number; reason: string };

/** The audit log's reading side (src/db/audit.ts DrizzleAuditLog implements it). */
export interface AuditReader {
  /** Up to `limit` (1..1000) entries older than id `before`, newest first. */
  page(options: { before?: number; limit: number }): Promise<ChainedAuditEntry[]>;
  verifyChain(): Promise<ChainStatus>;
}
