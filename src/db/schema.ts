/**
 * Database schema (drizzle pg-core). The same schema serves embedded PGlite and PostgreSQL.
 * Change it here, then run `npm run db:generate` and commit the new files under drizzle/.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
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
    /** SHA-256 (hex) of the previous entry's hash and this entry's content: tampering breaks the chain. */
    hash: text('hash'),
    prevHash: text('prev_hash'),
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
    /** For certificates issued by our CA: the authority that issued it ('issuing'). */
    authorityId: text('authority_id'),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** RFC 5280 CRLReason name (keyCompromise, affiliationChanged, superseded, cessationOfOperation, ...); null = unspecified (omitted on the CRL). */
    revocationReason: text('revocation_reason'),
    /** Renewal reminders already sent (30 and 7 days before notAfter). */
    reminded30At: timestamp('reminded_30_at', { withTimezone: true }),
    reminded7At: timestamp('reminded_7_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  },
  (t) => [
    index('certificates_email_idx').on(t.email),
    index('certificates_serial_idx').on(t.authorityId, t.serialHex),
    index('certificates_not_after_idx').on(t.notAfter),
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

/** Every mailbox a certificate names (SAN rfc822Name / SmtpUTF8Mailbox / emailAddress), normalised (domain lowercased). */
export const certificateAddresses = pgTable(
  'certificate_addresses',
  {
    certificateId: uuid('certificate_id')
      .notNull()
      .references(() => certificates.id, { onDelete: 'cascade' }),
    address: text('address').notNull(),
  },
  (t) => [primaryKey({ columns: [t.certificateId, t.address] }), index('certificate_addresses_address_idx').on(t.address)],
);

/** What a correspondent advertised in its signed mail (RFC 8551 2.7.1: only a newer signingTime updates it). */
export const recipientCapabilities = pgTable('recipient_capabilities', {
  address: text('address').primaryKey(),
  /** [{oid, params?: base64}] strongest-preferred first. */
  capabilities: jsonb('capabilities').$type<Array<{ oid: string; params?: string }>>().notNull(),
  signingTime: timestamp('signing_time', { withTimezone: true }).notNull(),
  certificateFingerprint: text('certificate_fingerprint'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Roots trusted for recipient certificates besides our own CA (admin-managed: `smimegw trust add`). */
export const trustedRoots = pgTable('trusted_roots', {
  fingerprintSha256: text('fingerprint_sha256').primaryKey(),
  subjectDn: text('subject_dn').notNull(),
  der: bytea('der').notNull(),
  addedBy: text('added_by').notNull(),
  addedAt: timestamp('added_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Cached CRLs of external CAs (by distribution-point URL). */
export const crlCache = pgTable('crl_cache', {
  url: text('url').primaryKey(),
  issuerDn: text('issuer_dn'),
  der: bytea('der').notNull(),
  thisUpdate: timestamp('this_update', { withTimezone: true }),
  nextUpdate: timestamp('next_update', { withTimezone: true }),
  fetchedAt: timestamp('fetched_at', { withTimezone: true }).notNull().defaultNow(),
});

export const CHALLENGE_PURPOSES = ['enroll', 'upload', 'revoke', 'renew', 'pickup'] as const;
export type ChallengePurpose = (typeof CHALLENGE_PURPOSES)[number];

/**
 * Proof of control of a mailbox: a one-time code (and link token) mailed to the address. Only hashes
 * are stored. Used by enrollment, certificate upload, holder revocation, renewal and pickup.
 */
export const mailboxChallenges = pgTable(
  'mailbox_challenges',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    address: text('address').notNull(),
    purpose: text('purpose').$type<ChallengePurpose>().notNull(),
    /** SHA-256 (hex) of the code mailed to the address. */
    codeHash: text('code_hash').notNull(),
    /** SHA-256 (hex) of the bearer token handed out once the code was confirmed. */
    tokenHash: text('token_hash'),
    locale: text('locale'),
    attempts: integer('attempts').notNull().default(0),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    tokenExpiresAt: timestamp('token_expires_at', { withTimezone: true }),
    usedAt: timestamp('used_at', { withTimezone: true }),
    clientIp: text('client_ip'),
    /** Purpose-specific data, e.g. the pending certificate id of an upload. */
    payload: jsonb('payload').$type<Record<string, unknown>>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('mailbox_challenges_address_idx').on(t.address, t.createdAt),
    uniqueIndex('mailbox_challenges_token_idx').on(t.tokenHash),
    check('mailbox_challenges_purpose_check', sql`${t.purpose} in ('enroll', 'upload', 'revoke', 'renew', 'pickup')`),
  ],
);

/** Our certificate authorities: the root and the issuing intermediate. Private keys encrypted at rest. */
export const authorities = pgTable('authorities', {
  /** 'root' or 'issuing'. */
  id: text('id').primaryKey(),
  certDer: bytea('cert_der').notNull(),
  /** The private key as encrypted PKCS#8 (PBES2, passphrase from configuration); null when held by an HSM/KMS. */
  keyEncrypted: bytea('key_encrypted'),
  /** Where the signer lives: 'software' (keyEncrypted) or an external reference. */
  signer: text('signer').notNull().default('software'),
  parentId: text('parent_id'),
  /** Development hierarchy (refused in production). */
  development: boolean('development').notNull().default(false),
  crlNumber: bigint('crl_number', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** CRLs we issued (the newest per authority is served at /crl/<id>.crl). */
export const crls = pgTable(
  'crls',
  {
    authorityId: text('authority_id').notNull(),
    number: bigint('number', { mode: 'number' }).notNull(),
    thisUpdate: timestamp('this_update', { withTimezone: true }).notNull(),
    nextUpdate: timestamp('next_update', { withTimezone: true }).notNull(),
    der: bytea('der').notNull(),
  },
  (t) => [primaryKey({ columns: [t.authorityId, t.number] })],
);

export const ADMIN_ROLES = ['admin', 'auditor'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export const adminUsers = pgTable('admin_users', {
  id: uuid('id').primaryKey().defaultRandom(),
  username: text('username').notNull().unique(),
  /** scrypt hash in the form scrypt$N$r$p$salt$hash (base64). */
  passwordHash: text('password_hash').notNull(),
  /** TOTP secret, encrypted with the configured secret key; null until enrolled. */
  totpSecretEncrypted: bytea('totp_secret_encrypted'),
  role: text('role').$type<AdminRole>().notNull(),
  disabled: boolean('disabled').notNull().default(false),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const adminSessions = pgTable('admin_sessions', {
  /** SHA-256 (hex) of the session cookie value. */
  idHash: text('id_hash').primaryKey(),
  userId: uuid('user_id')
    .notNull()
    .references(() => adminUsers.id, { onDelete: 'cascade' }),
  csrfToken: text('csrf_token').notNull(),
  /** Password checked; TOTP still outstanding until secondFactorAt is set. */
  secondFactorAt: timestamp('second_factor_at', { withTimezone: true }),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  clientIp: text('client_ip'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Fixed-window rate-limit counters shared by every process (key = purpose + subject). */
export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  windowStart: timestamp('window_start', { withTimezone: true }).notNull(),
  count: integer('count').notNull(),
});

/**
 * Mail the service sends itself (codes, reminders) when it cannot send it directly: in development
 * for the local outbox page, and from a Worker deployment (relay = true), whose rows a server
 * process with NOTIFY_SMTP_URL sends (src/notify/relay.ts) and marks sent.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    to: text('to').notNull(),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    html: text('html'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** To be sent by a relay (false: development outbox only). */
    relay: boolean('relay').notNull().default(false),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    lastError: text('last_error'),
  },
  (t) => [index('outbox_relay_pending_idx').on(t.id).where(sql`${t.relay} and ${t.sentAt} is null`)],
);

/** A counter bumped on every directory change; processes compare it to drop cached lookups. */
export const directoryVersion = pgTable('directory_version', {
  id: integer('id').primaryKey().default(1),
  version: bigint('version', { mode: 'number' }).notNull().default(0),
  changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
});

export const ENCRYPT_MODES = ['none', 'opportunistic', 'mandatory'] as const;
export type EncryptMode = (typeof ENCRYPT_MODES)[number];

/**
 * Worker policy, inherited global -> domain -> address. scope is 'global', 'domain:<domain>' or
 * 'address:<mailbox>'; a null field inherits from the wider scope.
 */
export const policies = pgTable(
  'policies',
  {
    scope: text('scope').primaryKey(),
    encryptMode: text('encrypt_mode').$type<EncryptMode>(),
    sign: boolean('sign'),
    fallbackLink: boolean('fallback_link'),
    updatedBy: text('updated_by').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('policies_encrypt_mode_check', sql`${t.encryptMode} is null or ${t.encryptMode} in ('none', 'opportunistic', 'mandatory')`)],
);

/**
 * Certificates and keys the worker signs with: a sender's own (address) or the organisation's
 * (address '*' or '*@domain'). Keys encrypted at rest (PKCS#8 PBES2 under CA_KEY_PASSPHRASE-like secret).
 */
export const signingIdentities = pgTable(
  'signing_identities',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** A mailbox (normalised), '*@domain' or '*'. */
    address: text('address').notNull(),
    certDer: bytea('cert_der').notNull(),
    /** Intermediate certificates, DER, concatenated as a certs-only PKCS#7 or a JSON list of base64. */
    chain: jsonb('chain').$type<string[]>().notNull(),
    keyEncrypted: bytea('key_encrypted').notNull(),
    fingerprintSha256: text('fingerprint_sha256').notNull().unique(),
    notAfter: timestamp('not_after', { withTimezone: true }).notNull(),
    source: text('source').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('signing_identities_address_idx').on(t.address)],
);

/** One row per message the worker handled: who, what happened per recipient, sizes, timings. Never the content. */
export const messageLog = pgTable(
  'message_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    /** The MTA's queue id / our session id. */
    reference: text('reference'),
    sender: text('sender').notNull(),
    /** [{address, outcome: 'encrypted'|'signed'|'plain'|'link'|'rejected'|'internal', fingerprint?, reason, algorithms?}] */
    recipients: jsonb('recipients').$type<Array<Record<string, unknown>>>().notNull(),
    sizeIn: integer('size_in').notNull(),
    sizeOut: integer('size_out'),
    durationMs: integer('duration_ms'),
    /** 'accepted' (250), 'tempfail' (451), 'rejected' (5xx). */
    result: text('result').notNull(),
    smtpReply: text('smtp_reply'),
    /** The entry's random key (rows written before it existed have none): a retried write is stored once. */
    entryKey: uuid('entry_key'),
  },
  (t) => [
    index('message_log_received_idx').on(t.receivedAt),
    index('message_log_sender_idx').on(t.sender),
    uniqueIndex('message_log_entry_key_idx').on(t.entryKey),
  ],
);

/**
 * Secure pickup (the download-link fallback): a message held for one recipient, encrypted at rest
 * with a per-message AES-256-GCM key wrapped by the configured master key.
 */
export const pickups = pgTable(
  'pickups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** SHA-256 (hex) of the link token (>= 128 bits) mailed to the recipient. */
    tokenHash: text('token_hash').notNull().unique(),
    /** SHA-256 (hex) of the sender's status-page token. */
    senderTokenHash: text('sender_token_hash').notNull().unique(),
    sender: text('sender').notNull(),
    recipient: text('recipient').notNull(),
    subject: text('subject'),
    /** 'code' (one-time code mailed on request) or 'password' (out-of-band password given to the sender). */
    mode: text('mode').notNull().default('code'),
    /** scrypt hash of the out-of-band password (mode 'password'). */
    passwordHash: text('password_hash'),
    /** Blob-store key of the encrypted message; null once deleted. */
    blobKey: text('blob_key'),
    /** The per-message key wrapped (AES-KW or GCM) by the master key. */
    wrappedKey: bytea('wrapped_key'),
    sizeBytes: integer('size_bytes').notNull(),
    locale: text('locale'),
    failedAttempts: integer('failed_attempts').notNull().default(0),
    lockedAt: timestamp('locked_at', { withTimezone: true }),
    downloads: integer('downloads').notNull().default(0),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('pickups_expires_idx').on(t.expiresAt), index('pickups_recipient_idx').on(t.recipient)],
);

/** Encrypted blobs (PostgreSQL/PGlite default blob store; an S3-compatible store can replace it). */
export const blobs = pgTable('blobs', {
  key: text('key').primaryKey(),
  data: bytea('data').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Every view and download of a pickup: time, what, whether the recipient was verified, client address. */
export const pickupAccessLog = pgTable(
  'pickup_access_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    pickupId: uuid('pickup_id').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    action: text('action').notNull(),
    verified: boolean('verified').notNull(),
    clientIp: text('client_ip'),
    detail: jsonb('detail').$type<Record<string, unknown>>(),
  },
  (t) => [index('pickup_access_log_pickup_idx').on(t.pickupId, t.at)],
);
