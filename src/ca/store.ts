/**
 * The storage port of the CA. src/db/ca-store.ts implements it with drizzle (tables
 * `authorities`, `crls`, and `certificates` for what we issued).
 */
import type { Certificate } from '../pki/certificate.js';
import type { RevocationReason, RevokedEntry } from './crl.js';

export const AUTHORITY_IDS = ['root', 'issuing'] as const;
export type AuthorityId = (typeof AUTHORITY_IDS)[number];

export function isAuthorityId(s: unknown): s is AuthorityId {
  return s === 'root' || s === 'issuing';
}

export interface AuthorityRecord {
  id: AuthorityId;
  certDer: Uint8Array;
  /** Encrypted PKCS#8 (DER); null when the key lives in an HSM/KMS named by `signer`. */
  keyEncrypted: Uint8Array | null;
  /** 'software' or an external signer reference. */
  signer: string;
  parentId: AuthorityId | null;
  development: boolean;
  crlNumber: number;
}

export type NewAuthorityRecord = Omit<AuthorityRecord, 'crlNumber'>;

/** A certificate we issued, as stored. */
export interface IssuedRecord {
  id: string;
  email: string;
  serialHex: string;
  fingerprint: string;
  status: string;
  notBefore: Date | null;
  notAfter: Date | null;
  revokedAt: Date | null;
  revocationReason: RevocationReason | null;
  der: Uint8Array | null;
}

export interface CrlRecord {
  authorityId: AuthorityId;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  der: Uint8Array;
}

export interface ReminderCandidate {
  certificateId: string;
  email: string;
  serialHex: string;
  notAfter: Date;
  reminded30At: Date | null;
  reminded7At: Date | null;
}

export interface CaStore {
  listAuthorities(): Promise<AuthorityRecord[]>;
  /**
   * Stores a new hierarchy. Refuses (AppError ca.exists, conflict) when authorities exist, unless
   * `replaceDevelopment` is set and every existing authority is a development one: then those and
   * their CRLs are deleted in the same transaction.
   */
  createAuthorities(records: NewAuthorityRecord[], options: { replaceDevelopment: boolean }): Promise<void>;
  /** Inserts an issued certificate into the directory tables (source 'issued'); returns its id. */
  insertIssued(certificate: Certificate, authorityId: AuthorityId): Promise<string>;
  /** The certificate `authorityId` issued with that serial under the issuer name `issuerDn`. */
  findIssued(authorityId: AuthorityId, issuerDn: string, serialHex: string): Promise<IssuedRecord | undefined>;
  /** Every certificate we issued for the mailbox (stored form of the address), newest first. */
  listIssuedFor(email: string): Promise<IssuedRecord[]>;
  /** DER of every certificate revoked for keyCompromise (their keys are never certified again). */
  listKeyCompromised(): Promise<Uint8Array[]>;
  /**
   * Marks the certificate revoked (status, time, reason) unless it already is, and bumps the
   * directory version. Returns false when it was already revoked.
   */
  markRevoked(certificateId: string, at: Date, reason: RevocationReason | null): Promise<boolean>;
  listRevoked(authorityId: AuthorityId, issuerDn: string): Promise<RevokedEntry[]>;
  /** How many there are (revocations are never undone, so a CRL with as many entries lists them all). */
  countRevoked(authorityId: AuthorityId, issuerDn: string): Promise<number>;
  /** Atomically increments and returns the authority's CRL number. */
  nextCrlNumber(authorityId: AuthorityId): Promise<number>;
  saveCrl(crl: CrlRecord): Promise<void>;
  /** The CRL with the highest number. */
  latestCrl(authorityId: AuthorityId): Promise<CrlRecord | undefined>;
  /**
   * Active certificates we issued that expire after `now` and at most `withinDays` days from it,
   * whose 30- or 7-day reminder is still unsent, and for whose mailbox we issued no certificate
   * expiring later (already renewed).
   */
  reminderCandidates(now: Date, withinDays: number): Promise<ReminderCandidate[]>;
  markReminded(certificateId: string, which: 30 | 7, at: Date): Promise<void>;
}
