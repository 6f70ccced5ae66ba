/**
 * The recipient-certificate directory's ports: what it needs from storage, from the network (CRL
 * downloads), from the mailbox-proof service and from the audit log. The drizzle implementation of
 * DirectoryStore is src/db/directory-store.ts; the fetch-based CrlFetcher is in ./revocation.ts.
 */
import type { Certificate } from '../pki/certificate.js';

export type CertificateSource = 'issued' | 'uploaded' | 'harvested' | 'imported';
export type StoredStatus = 'active' | 'revoked' | 'superseded' | 'pending';

/** One row of the certificates table, as the directory sees it. */
export interface StoredCertificate {
  id: string;
  fingerprint: string;
  /** The main address (domain lower-cased). */
  email: string;
  source: CertificateSource;
  status: StoredStatus;
  der: Uint8Array;
  /** Set for certificates our own CA issued ('issuing'). */
  authorityId: string | null;
  revokedAt: Date | null;
  revocationReason: string | null;
  createdAt: Date;
}

/** What a correspondent advertised in signed mail (RFC 8551 2.7.1). */
export interface StoredCapabilities {
  address: string;
  /** Strongest-preferred first; params as base64 DER. */
  capabilities: Array<{ oid: string; params?: string }>;
  signingTime: Date;
  certificateFingerprint: string | null;
}

export interface TrustedRootRecord {
  fingerprint: string;
  subjectDn: string;
  der: Uint8Array;
  addedBy: string;
  addedAt: Date;
}

export interface CachedCrl {
  url: string;
  issuerDn: string | null;
  der: Uint8Array;
  thisUpdate: Date | null;
  nextUpdate: Date | null;
  fetchedAt: Date;
}

export interface DirectoryStore {
  /** The shared change counter (directory_version); any change anywhere bumps it. */
  version(): Promise<number>;
  bumpVersion(): Promise<number>;

  /** Every certificate naming `address` (normalised: domain lower-cased), whatever its status. */
  findByAddress(address: string): Promise<StoredCertificate[]>;
  findById(id: string): Promise<StoredCertificate | undefined>;
  findByFingerprint(fingerprint: string): Promise<StoredCertificate | undefined>;
  /** Inserts the row and its addresses (bumps the version); `created: false` when the fingerprint exists. */
  insertCertificate(row: { certificate: Certificate; source: CertificateSource; status: StoredStatus }): Promise<{ id: string; created: boolean }>;
  /**
   * pending -> active (bumps the version). With an address, the certificate is kept for that
   * (confirmed) address only: its other addresses are dropped. False if it was not pending.
   */
  activatePending(id: string, address: string | null): Promise<boolean>;
  /** Marks a certificate revoked in the directory (bumps the version). */
  revoke(id: string, at: Date, reason: string | null): Promise<void>;

  getCapabilities(address: string): Promise<StoredCapabilities | undefined>;
  /**
   * Stores the capabilities unless a record with the same or a newer signingTime exists (atomic:
   * concurrent harvests keep the newest). True when stored.
   */
  putCapabilities(record: StoredCapabilities): Promise<boolean>;

  /** Our own CA certificates (authorities table): id 'root' is a trust anchor, the rest intermediates. */
  authorities(): Promise<Array<{ id: string; der: Uint8Array }>>;
  /** Roots trusted by the administrator (`smimegw trust add`). */
  trustedRoots(): Promise<TrustedRootRecord[]>;
  /** Adds a root; false when it was there already. Bumps the version. */
  addTrustedRoot(cert: Certificate, addedBy: string): Promise<boolean>;
  removeTrustedRoot(fingerprint: string): Promise<boolean>;
  /** CA certificates that arrived with recipient certificates (chains in uploads, messages, imports). */
  intermediates(): Promise<Uint8Array[]>;
  /** False when it was known already. Bumps the version when added. */
  addIntermediate(cert: Certificate): Promise<boolean>;

  getCrl(url: string): Promise<CachedCrl | undefined>;
  putCrl(crl: CachedCrl): Promise<void>;

  /** The newest 'upload' mailbox challenge whose payload names this certificate id. */
  findUploadChallenge(certificateId: string): Promise<string | undefined>;
}

/** Downloads a CRL. Rejects on any network or HTTP failure. */
export interface CrlFetcher {
  fetch(url: string): Promise<Uint8Array>;
}

/**
 * Proof of control of a mailbox (implemented by src/proof/mailbox.ts MailboxProof): a code mailed to
 * the address; `verify` checks it and hands out a one-use token.
 */
export interface MailboxProofPort {
  start(input: { address: string; purpose: 'upload'; locale?: 'en' | 'ja'; clientIp?: string; payload?: Record<string, unknown> }): Promise<{ id: string }>;
  verify(id: string, code: string): Promise<{ token: string; address: string; purpose: string; payload: Record<string, unknown> | null }>;
  /** Spends the token `verify` returned (optional: the activation is the token's one use). */
  redeem?(token: string, purpose: 'upload'): Promise<unknown>;
}

/** The audit log (src/db/audit.ts DrizzleAuditLog implements it). */
export interface DirectoryAudit {
  record(entry: { actor: string; action: string; subject?: string | null; detail?: Record<string, unknown> | null }): Promise<void>;
}
