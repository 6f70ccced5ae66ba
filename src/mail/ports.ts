/**
 * What the mail worker needs from the rest of the gateway. The worker's domain code sees only these
 * interfaces; src/db/*.ts implements the storage ones and src/entry/ (and src/cli.ts) wire the real
 * directory and, once it exists, the secure-pickup service.
 */
import type { Certificate } from '../pki/certificate.js';
import type { RecipientAlgorithms, ByteSource } from '../smime/index.js';
import type { PolicyRule } from './policy.js';

/** The recipient directory's answer for one address. */
export interface DirectoryAnswer {
  certificate: Certificate;
  /** The algorithms the directory chose for this recipient. */
  algorithms: RecipientAlgorithms;
  /** Lower-case hex SHA-256 of the certificate. */
  fingerprint: string;
  /** One line: why this certificate and these algorithms. */
  reason: string;
}

/** The certificate to encrypt to `address`, or null when there is none usable. Rejects on failure. */
export interface RecipientDirectory {
  lookup(address: string): Promise<DirectoryAnswer | null>;
}

/**
 * The download-link fallback ("secure pickup"): stores the message for the recipient and returns
 * the notice to send instead (a complete RFC 5322 message telling the recipient how to pick it up).
 * Rejects when the message cannot be stored (the worker answers 451).
 */
export interface FallbackLinks {
  deposit(input: { message: ByteSource; sender: string; recipient: string; subject: string | undefined }): Promise<{ noticeMessage: Uint8Array }>;
}

/** Policy rules (the `policies` table). */
export interface PolicyStore {
  /** Every rule (the table is small: one row per configured scope). */
  all(): Promise<PolicyRule[]>;
  /** Creates or updates a rule; fields left undefined keep their stored value. Returns the row. */
  put(scope: string, fields: { encryptMode?: PolicyRule['encryptMode']; sign?: boolean | null; fallbackLink?: boolean | null }, updatedBy: string): Promise<PolicyRule>;
  /** Deletes a rule; false when there was none. */
  remove(scope: string): Promise<boolean>;
}

/** One stored signing identity (the `signing_identities` table). */
export interface StoredIdentity {
  id: string;
  /** A mailbox (domain lower-cased), '*@domain' or '*'. */
  address: string;
  certDer: Uint8Array;
  /** Intermediate certificates, DER, base64. */
  chain: string[];
  /** The private key, PKCS#8 encrypted (PBES2) under the configured passphrase. */
  keyEncrypted: Uint8Array;
  fingerprint: string;
  notAfter: Date;
  source: string;
  createdAt: Date;
}

export interface IdentityStore {
  all(): Promise<StoredIdentity[]>;
  /** Adds an identity; `created: false` when the fingerprint is stored already (then nothing changes). */
  add(identity: Omit<StoredIdentity, 'id' | 'createdAt'>): Promise<{ id: string; created: boolean }>;
  /** Removes by id or fingerprint; false when there was none. */
  remove(idOrFingerprint: string): Promise<boolean>;
}

export type RecipientOutcome = 'encrypted' | 'signed' | 'plain' | 'link' | 'rejected' | 'internal';

/** Per-recipient line of the message log. Never any content. */
export interface RecipientLogEntry {
  address: string;
  outcome: RecipientOutcome;
  /** True when the message this recipient got was signed by us. */
  signed?: boolean;
  bcc?: boolean;
  fingerprint?: string;
  algorithms?: string;
  reason: string;
}

export type MessageResult = 'accepted' | 'tempfail' | 'rejected';

export interface MessageLogEntry {
  /** When the message's data began. */
  receivedAt: Date;
  reference: string | null;
  sender: string;
  recipients: RecipientLogEntry[];
  sizeIn: number;
  sizeOut: number | null;
  durationMs: number | null;
  result: MessageResult;
  smtpReply: string | null;
  /**
   * A random id (a UUID, given when the entry is recorded) that makes writing it idempotent: an
   * entry sent again after a write whose outcome was lost with the connection is stored once.
   */
  key?: string;
}

/**
 * The message log (the `message_log` table): `record` takes the entry of a message that has its
 * reply and never fails or waits (the entries are written in the background, src/mail/message-log.ts).
 */
export interface MessageLog {
  record(entry: MessageLogEntry): void;
  /** Writes what was recorded so far (rejects when the database does not take it). */
  flush(): Promise<void>;
  /** A last write at shutdown; what still cannot be written goes to the diagnostic log. */
  close(): Promise<void>;
}
