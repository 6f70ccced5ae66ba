/**
 * What secure pickup needs from storage. src/db/pickup-store.ts and src/db/blob-store.ts implement
 * these over the database; an S3-compatible BlobStore can replace the database one (the blobs are
 * encrypted before they reach the store, so the store never sees a message or a key).
 */

export type PickupMode = 'code' | 'password';
export const PICKUP_MODES: readonly PickupMode[] = ['code', 'password'];

export interface PickupRecord {
  id: string;
  tokenHash: string;
  senderTokenHash: string;
  sender: string;
  recipient: string;
  subject: string | null;
  mode: PickupMode;
  passwordHash: string | null;
  /** Null once the content was deleted. */
  blobKey: string | null;
  wrappedKey: Uint8Array | null;
  sizeBytes: number;
  locale: string | null;
  failedAttempts: number;
  lockedAt: Date | null;
  downloads: number;
  expiresAt: Date;
  revokedAt: Date | null;
  deletedAt: Date | null;
  createdAt: Date;
}

export type NewPickup = Omit<PickupRecord, 'failedAttempts' | 'lockedAt' | 'downloads' | 'revokedAt' | 'deletedAt'>;

export interface AccessEntry {
  at: Date;
  /** 'opened', 'code_sent', 'verify_failed', 'verified', 'viewed', 'downloaded', 'eml_downloaded', 'revoked', ... */
  action: string;
  /** Whether the recipient had proven themselves (code or password) for this access. */
  verified: boolean;
  clientIp: string | null;
  detail: Record<string, unknown> | null;
}

export interface PickupStore {
  insert(row: NewPickup): Promise<void>;
  /** Removes a row entirely (only to undo a deposit that could not complete). */
  remove(id: string): Promise<void>;
  get(id: string): Promise<PickupRecord | undefined>;
  byTokenHash(tokenHash: string): Promise<PickupRecord | undefined>;
  bySenderTokenHash(senderTokenHash: string): Promise<PickupRecord | undefined>;
  /** Counts a wrong code or password; sets lockedAt (if not set) once the count reaches `lockAfter`. */
  addFailedAttempt(id: string, lockAfter: number, now: Date): Promise<{ failedAttempts: number; locked: boolean }>;
  /** Clears the failure count and the lock. */
  unlock(id: string): Promise<void>;
  countDownload(id: string): Promise<void>;
  /** Sets revokedAt unless already revoked; false when it was. */
  revoke(id: string, at: Date): Promise<boolean>;
  setExpiry(id: string, expiresAt: Date): Promise<void>;
  /** Forgets the content: blob key, wrapped key and password hash cleared, deletedAt set. */
  markDeleted(id: string, at: Date): Promise<void>;
  /** Pickups whose content must go (expired at `now` or revoked) and is not deleted yet. */
  due(now: Date, limit: number): Promise<Array<{ id: string; blobKey: string | null; revoked: boolean }>>;
  logAccess(pickupId: string, entry: AccessEntry): Promise<void>;
  /** The newest `limit` entries, newest first. */
  accessLog(pickupId: string, limit: number): Promise<AccessEntry[]>;
}

/** Encrypted blobs by key. */
export interface BlobStore {
  put(key: string, data: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Deletes the blob (no error when there is none). */
  delete(key: string): Promise<void>;
}

/** Hashes and checks out-of-band passwords (scrypt on Node: src/admin/password.ts). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

/** Delivers the sender's notice (a complete RFC 5322 message) to `to`. */
export interface SenderNotices {
  send(to: string, message: Uint8Array): Promise<void>;
}
