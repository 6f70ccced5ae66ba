/**
 * The recipient-certificate directory. One question for the worker: "which certificate, if any,
 * encrypts mail to this address, and with which algorithms?" — answered with the reason, and with
 * why every other certificate on file was not chosen.
 *
 * Certificates arrive from four sources: issued by our CA (the CA inserts them), uploaded by the
 * recipient (pending until the address is confirmed with a mailed code), harvested from signed mail
 * and imported by an administrator. Every lookup re-judges the candidates (validity now, revocation,
 * key usage, extended key usage, the address in the certificate, the chain to a trusted root)
 * unless the in-process cache holds an answer computed at the current directory version.
 */
import { AppError } from '../shared/errors.js';
import { encodePem } from '../shared/bytes.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { certificateHasEmail, normalizeAddress, parseCertificate, type Certificate } from '../pki/certificate.js';
import { equalBytes, toBase64, fromBase64 } from '../shared/bytes.js';
import type { SmimeCapability } from '../pki/capabilities.js';
import { splitMessage } from '../mime/index.js';
import { chooseAlgorithms, verifyMessage, type AlgorithmChoice, type VerifyResult } from '../smime/index.js';
import { fromAddresses, lookupKey } from './address.js';
import { LookupCache, type CacheOptions } from './cache.js';
import { certsOnlyPkcs7, readCertificateInput } from './formats.js';
import type { CertificateSource, CrlFetcher, DirectoryAudit, DirectoryStore, MailboxProofPort, StoredCertificate } from './ports.js';
import { DEFAULT_CRL_POLICY, fetchCrlFetcher, RevocationChecker, type CrlPolicy } from './revocation.js';
import { candidateStatus, choiceReason, isUsable, selectCandidate, type Candidate, type CandidateStatus } from './select.js';
import { checkCertificate, formatReasons, reason, type Reason, type TrustStore } from './validate.js';

/** signingTime further than this in the future does not update stored capabilities (RFC 8551 2.7.1). */
export const SIGNING_TIME_TOLERANCE_MS = 24 * 3600_000;

export interface DirectoryOptions {
  store: DirectoryStore;
  clock?: Clock;
  /** Downloads external CAs' CRLs (default: fetch() with a 5 s timeout). */
  crlFetcher?: CrlFetcher;
  /** What to do when an external CRL cannot be had (default fail-open; see ./revocation.ts). */
  crlPolicy?: CrlPolicy;
  /** Needed for uploads: proves the uploader controls the address. */
  proof?: MailboxProofPort;
  audit?: DirectoryAudit;
  /** false turns the lookup cache off (every lookup recomputed). */
  cache?: CacheOptions | false;
}

/** The directory's answer for an address. */
export interface DirectoryEntry {
  address: string;
  id: string;
  certificate: Certificate;
  pem: string;
  fingerprint: string;
  algorithms: AlgorithmChoice;
  source: CertificateSource;
  /** One line: why this certificate and these algorithms. */
  reason: string;
  /** The validated chain without the root: what a .p7c carries. */
  chain: Certificate[];
}

export interface CandidateReport {
  id: string;
  fingerprint: string;
  source: CertificateSource;
  status: CandidateStatus;
  storedStatus: StoredCertificate['status'];
  subject?: string;
  issuer?: string;
  serial?: string;
  emails?: string[];
  notBefore?: string;
  notAfter?: string;
  reasons: Reason[];
  revocation?: string;
}

export interface LookupResult {
  address: string;
  entry: DirectoryEntry | null;
  /** Every certificate on file for the address, the chosen one first. */
  candidates: CandidateReport[];
}

export interface UploadOptions {
  /** The address to confirm; required when the certificate names several. */
  address?: string;
  clientIp?: string;
  locale?: 'en' | 'ja';
}

export interface UploadResult {
  id: string;
  status: 'pending' | 'active';
  address: string;
  fingerprint: string;
  /** The mailbox challenge to confirm with POST .../certificates/{id}/verify. */
  challengeId?: string;
}

export interface HarvestResult {
  addresses: string[];
  id: string;
  fingerprint: string;
  created: boolean;
  /** 'stored', or why not: 'absent' (none advertised), 'older' (we have newer), 'future' (signingTime too far ahead). */
  capabilities: 'stored' | 'absent' | 'older' | 'future';
  signingTime?: string;
}

export interface ImportItem {
  name: string;
  bytes: Uint8Array;
}

export type ImportStatus = 'added' | 'updated' | 'unchanged' | 'rejected';

export interface ImportOutcome {
  file: string;
  status: ImportStatus;
  fingerprint?: string;
  addresses?: string[];
  /** For rejected: the code and one line; for unchanged/updated: what was found. */
  reason?: { code: string; message: string };
}

export interface ImportSummary {
  added: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** CA certificates learnt (kept to build chains, not served). */
  intermediates: number;
  outcomes: ImportOutcome[];
}

export interface ImportOptions {
  p12Password?: string;
  actor?: string;
  /** Called after each file. */
  onProgress?: (done: number, total: number, outcome: ImportOutcome[]) => void;
}

export interface TrustedRootInfo {
  fingerprint: string;
  subject: string;
  notAfter?: string;
  addedBy: string;
  addedAt: string;
  source: 'our-ca' | 'admin';
}

/** Throws the rejection for a list of reasons: the first reason's code, every reason in the message. */
function rejection(reasons: readonly Reason[], what: string): AppError {
  return new AppError(reasons[0]!.code, `${what}: ${formatReasons(reasons)}`, { detail: { reasons } });
}

function report(c: Candidate, chosen: Candidate | undefined): CandidateReport {
  const cert = c.certificate;
  return {
    id: c.row.id,
    fingerprint: c.row.fingerprint,
    source: c.row.source,
    status: candidateStatus(c, chosen),
    storedStatus: c.row.status,
    ...(cert
      ? { subject: cert.subject, issuer: cert.issuer, serial: cert.serialHex, emails: cert.emails, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() }
      : {}),
    reasons: c.reasons,
    ...(c.revocation ? { revocation: c.revocation } : {}),
  };
}

function decodeCapabilities(stored: Array<{ oid: string; params?: string }>): SmimeCapability[] {
  return stored.map((c) => (c.params ? { oid: c.oid, params: fromBase64(c.params) } : { oid: c.oid }));
}

const WRITES = new Set<keyof DirectoryStore>(['bumpVersion', 'insertCertificate', 'activatePending', 'revoke', 'putCapabilities', 'addTrustedRoot', 'removeTrustedRoot', 'addIntermediate', 'putCrl']);

/** The store, calling `changed` after each write (so a reused version read is dropped at once). */
function afterWrites(store: DirectoryStore, changed: () => void): DirectoryStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (!WRITES.has(prop as keyof DirectoryStore)) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          changed();
        }
      };
    },
  });
}

/** [leaf, ..., anchor] -> [leaf, ...] (a lone self-signed leaf stays). */
function withoutAnchor(path: readonly Certificate[]): Certificate[] {
  return path.length > 1 ? path.slice(0, -1) : [...path];
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class Directory {
  readonly store: DirectoryStore;
  readonly clock: Clock;
  readonly revocation: RevocationChecker;
  private readonly cache: LookupCache<LookupResult> | undefined;
  private readonly proof: MailboxProofPort | undefined;
  private readonly audit: DirectoryAudit | undefined;
  private readonly versionMaxAgeMs: number;
  private versionSeen: { version: number; at: number } | undefined;
  private versionInFlight: Promise<number> | undefined;
  private versionQueued: Promise<number> | undefined;
  private trustCache: { version: number; trust: TrustStore } | undefined;
  private trustLoading: { version: number; promise: Promise<TrustStore> } | undefined;

  constructor(options: DirectoryOptions) {
    this.store = afterWrites(options.store, () => (this.versionSeen = undefined));
    this.versionMaxAgeMs = options.cache ? (options.cache.versionMaxAgeMs ?? 0) : 0;
    this.clock = options.clock ?? systemClock;
    this.proof = options.proof;
    this.audit = options.audit;
    this.cache = options.cache === false ? undefined : new LookupCache<LookupResult>(options.cache ?? {});
    this.revocation = new RevocationChecker({
      store: this.store,
      fetcher: options.crlFetcher ?? fetchCrlFetcher(),
      policy: options.crlPolicy ?? DEFAULT_CRL_POLICY,
      clock: this.clock,
    });
  }

  /** Cache counters (for the benchmark and diagnostics). */
  cacheStats(): { entries: number; hits: number; misses: number } {
    return { entries: this.cache?.size ?? 0, hits: this.cache?.hits ?? 0, misses: this.cache?.misses ?? 0 };
  }

  // ------------------------------------------------------------------------------------------
  // Trust
  // ------------------------------------------------------------------------------------------

  /** Anchors (our root + admin roots) and CA certificates, reloaded when the directory version changes. */
  async trust(version?: number): Promise<TrustStore> {
    const v = version ?? (await this.readVersion());
    if (this.trustCache?.version === v) return this.trustCache.trust;
    if (this.trustLoading?.version === v) return this.trustLoading.promise;
    const promise = this.loadTrust().then((trust) => {
      if (!this.trustCache || this.trustCache.version < v) this.trustCache = { version: v, trust };
      return trust;
    });
    this.trustLoading = { version: v, promise };
    try {
      return await promise;
    } finally {
      if (this.trustLoading?.promise === promise) this.trustLoading = undefined;
    }
  }

  private async loadTrust(): Promise<TrustStore> {
    const [authorities, roots, intermediates] = await Promise.all([this.store.authorities(), this.store.trustedRoots(), this.store.intermediates()]);
    const parse = (der: Uint8Array): Certificate | undefined => {
      try {
        return parseCertificate(der);
      } catch {
        return undefined; // a damaged row must not stop the directory
      }
    };
    const anchors: Certificate[] = [];
    const cas: Certificate[] = [];
    const own = new Set<string>();
    for (const a of authorities) {
      const c = parse(a.der);
      if (!c) continue;
      own.add(c.fingerprint256);
      (a.id === 'root' ? anchors : cas).push(c);
    }
    for (const r of roots) {
      const c = parse(r.der);
      if (c) anchors.push(c);
    }
    for (const der of intermediates) {
      const c = parse(der);
      if (c) cas.push(c);
    }
    return { anchors, intermediates: cas, own };
  }

  // ------------------------------------------------------------------------------------------
  // Lookup
  // ------------------------------------------------------------------------------------------

  /** The certificate to encrypt to `address` (or null) and what was considered. */
  async lookup(address: string): Promise<LookupResult> {
    const key = lookupKey(address);
    const now = this.clock.now().getTime();
    const version = await this.currentVersion(now);
    const cached = this.cache?.get(key, version, now);
    if (cached) return cached;
    const { result, expiresAt } = await this.compute(key, version);
    this.cache?.set(key, version, this.clock.now().getTime(), result, expiresAt);
    return result;
  }

  private async currentVersion(now: number): Promise<number> {
    const seen = this.versionSeen;
    if (seen && this.versionMaxAgeMs > 0 && now - seen.at < this.versionMaxAgeMs) return seen.version;
    const version = await this.readVersion();
    if (this.versionMaxAgeMs > 0) this.versionSeen = { version, at: now };
    return version;
  }

  /**
   * Reads the shared version, single-flight: a caller never gets a read that was sent before it
   * asked (so it sees every change committed before it asked), but every caller arriving while a
   * read is in flight shares the one read queued behind it. N concurrent lookups cost at most two
   * queries, and no staleness is added.
   */
  private readVersion(): Promise<number> {
    if (this.versionQueued) return this.versionQueued;
    if (!this.versionInFlight) return this.startVersionRead();
    const settled = this.versionInFlight.then(
      () => undefined,
      () => undefined,
    );
    const queued = settled.then(() => {
      this.versionQueued = undefined;
      return this.startVersionRead();
    });
    this.versionQueued = queued;
    return queued;
  }

  private startVersionRead(): Promise<number> {
    const read = this.store.version();
    this.versionInFlight = read;
    const done = () => {
      if (this.versionInFlight === read) this.versionInFlight = undefined;
    };
    read.then(done, done);
    return read;
  }

  /** The worker's question: the entry or null. */
  async find(address: string): Promise<DirectoryEntry | null> {
    return (await this.lookup(address)).entry;
  }

  /** All certificates on file for `address`, with their status and reasons. */
  async list(address: string): Promise<CandidateReport[]> {
    return (await this.lookup(address)).candidates;
  }

  /** certs-only PKCS#7 (.p7c) of the chosen certificate and its chain (no root), or null. */
  async p7c(address: string): Promise<Uint8Array | null> {
    const entry = await this.find(address);
    return entry ? certsOnlyPkcs7(entry.chain) : null;
  }

  private async evaluate(row: StoredCertificate, address: string, trust: TrustStore, now: Date): Promise<Candidate> {
    let cert: Certificate;
    try {
      cert = parseCertificate(row.der);
    } catch (e) {
      return { row, reasons: [reason('cert.unreadable', `the stored certificate cannot be read (${(e as Error).message})`)] };
    }
    const checked = checkCertificate(cert, { now, trust, address });
    const reasons = [...checked.reasons];
    if (row.status === 'pending') reasons.unshift(reason('cert.pending', 'was uploaded and waits for the holder to confirm the address with the mailed code'));
    const candidate: Candidate = { row, certificate: cert, reasons, ...(checked.chain ? { chain: checked.chain } : {}) };
    // Revocation: the database state always (cheap); a CRL only for a certificate otherwise usable.
    const dbRevoked = row.status === 'revoked' || row.revokedAt !== null;
    if (dbRevoked || (reasons.length === 0 && checked.chain)) {
      const r = await this.revocation.check(row, checked.chain ?? [cert], trust);
      if (r.revoked) reasons.push(r.revoked);
      if (r.unavailable) reasons.push(r.unavailable);
      candidate.revocation = r.note;
      if (r.recheckAt) candidate.recheckAt = r.recheckAt;
    }
    return candidate;
  }

  private async compute(address: string, version: number): Promise<{ result: LookupResult; expiresAt?: number }> {
    const [rows, trust] = await Promise.all([this.store.findByAddress(address), this.trust(version)]);
    const now = this.clock.now();
    const candidates = await Promise.all(rows.map((r) => this.evaluate(r, address, trust, now)));
    const { chosen, ordered } = selectCandidate(candidates);

    let entry: DirectoryEntry | null = null;
    if (chosen) {
      const cert = chosen.certificate!;
      const stored = await this.store.getCapabilities(address);
      const algorithms = chooseAlgorithms(cert, stored ? decodeCapabilities(stored.capabilities) : undefined);
      const usableCount = ordered.filter(isUsable).length;
      entry = {
        address,
        id: chosen.row.id,
        certificate: cert,
        pem: encodePem('CERTIFICATE', cert.der),
        fingerprint: cert.fingerprint256,
        algorithms,
        source: chosen.row.source,
        reason: choiceReason(chosen, usableCount, stored ? `${algorithms.content} + ${algorithms.keyTransport} from capabilities harvested from signed mail (${stored.signingTime.toISOString()})` : algorithms.reason),
        chain: withoutAnchor(chosen.chain ?? [cert]),
      };
    }

    // When may this answer change without a directory change? The chosen certificate or a CA of
    // its chain expires, a not-yet-valid candidate becomes valid, a CRL is due.
    const times: number[] = [];
    const nowMs = now.getTime();
    if (chosen) for (const c of chosen.chain ?? [chosen.certificate!]) times.push(c.notAfter.getTime() + 1000);
    for (const c of candidates) {
      if (c.certificate && c.certificate.notBefore.getTime() > nowMs) times.push(c.certificate.notBefore.getTime());
      if (c.recheckAt) times.push(c.recheckAt.getTime());
    }
    const expiresAt = times.length ? Math.min(...times) : undefined;
    return { result: { address, entry, candidates: ordered.map((c) => report(c, chosen)) }, ...(expiresAt !== undefined ? { expiresAt } : {}) };
  }

  // ------------------------------------------------------------------------------------------
  // Registration helpers
  // ------------------------------------------------------------------------------------------

  /** Reasons against registering `cert` for `address` now, revocation included; and its chain. */
  private async judge(cert: Certificate, trust: TrustStore, address: string | undefined, extra: readonly Certificate[]): Promise<{ reasons: Reason[]; chain?: Certificate[] }> {
    const checked = checkCertificate(cert, { now: this.clock.now(), trust, ...(address !== undefined ? { address } : {}), extraIntermediates: extra });
    const reasons = [...checked.reasons];
    if (reasons.length === 0 && checked.chain) {
      const existing = await this.store.findByFingerprint(cert.fingerprint256);
      const r = await this.revocation.check(existing, checked.chain, trust);
      if (r.revoked) reasons.push(r.revoked);
      if (r.unavailable) reasons.push(r.unavailable);
    }
    return checked.chain ? { reasons, chain: checked.chain } : { reasons };
  }

  /** Keeps the CA certificates of a validated chain (not the anchor) so later lookups can build it. */
  private async learnChain(chain: readonly Certificate[] | undefined, trust: TrustStore): Promise<number> {
    let added = 0;
    for (const c of (chain ?? []).slice(1, -1)) {
      if (trust.intermediates.some((k) => k.fingerprint256 === c.fingerprint256)) continue;
      if (await this.store.addIntermediate(c)) added++;
    }
    return added;
  }

  private async record(actor: string, action: string, subject: string | null, detail: Record<string, unknown>): Promise<void> {
    await this.audit?.record({ actor, action, subject, detail });
  }

  // ------------------------------------------------------------------------------------------
  // Upload (recipient) and its confirmation
  // ------------------------------------------------------------------------------------------

  /**
   * A recipient's certificate (PEM, DER or certs-only PKCS#7, optionally with its chain). It must be
   * usable for the address now; it is stored as 'pending' and a code is mailed to the address.
   */
  async upload(bytes: Uint8Array, options: UploadOptions = {}): Promise<UploadResult> {
    if (!this.proof) throw new AppError('directory.upload_unavailable', 'Certificate uploads need mailbox verification, which is not configured on this server', { kind: 'temporary' });
    const input = readCertificateInput(bytes, { source: 'upload' });
    const wanted = options.address !== undefined && options.address !== '' ? lookupKey(options.address) : undefined;
    let leaves = input.certificates.filter((c) => !c.isCA);
    const cas = input.certificates.filter((c) => c.isCA);
    if (leaves.length === 0) throw new AppError('upload.no_end_entity', 'The upload contains only CA certificates; upload your own (end-entity) certificate');
    if (leaves.length > 1 && wanted) leaves = leaves.filter((c) => certificateHasEmail(c, wanted));
    if (leaves.length !== 1) throw new AppError('upload.ambiguous', `The upload contains ${leaves.length} end-entity certificates; upload one certificate (with its chain)`);
    const cert = leaves[0]!;
    if (cert.emails.length === 0) throw rejection([reason('cert.no_email', 'names no e-mail address (neither subjectAltName rfc822Name/SmtpUTF8Mailbox nor emailAddress)')], 'The certificate cannot be used');
    let address = wanted;
    if (!address) {
      if (cert.emails.length > 1) throw new AppError('upload.address_required', `The certificate names several addresses (${cert.emails.join(', ')}); say which one to confirm`);
      address = normalizeAddress(cert.emails[0]!);
    }
    const trust = await this.trust();
    const judged = await this.judge(cert, trust, address, cas);
    if (judged.reasons.length) throw rejection(judged.reasons, 'The certificate cannot be used');

    const existing = await this.store.findByFingerprint(cert.fingerprint256);
    if (existing?.status === 'revoked' || existing?.revokedAt) throw rejection([reason('cert.revoked', 'was revoked in the directory')], 'The certificate cannot be used');
    if (existing && existing.status !== 'pending') {
      return { id: existing.id, status: 'active', address, fingerprint: cert.fingerprint256 };
    }
    await this.learnChain(judged.chain, trust);
    const id = existing?.id ?? (await this.store.insertCertificate({ certificate: cert, source: 'uploaded', status: 'pending' })).id;
    const challenge = await this.proof.start({
      address,
      purpose: 'upload',
      payload: { certificateId: id, fingerprint: cert.fingerprint256 },
      ...(options.clientIp ? { clientIp: options.clientIp } : {}),
      ...(options.locale ? { locale: options.locale } : {}),
    });
    await this.record(address, 'directory.upload', address, { id, fingerprint: cert.fingerprint256, issuer: cert.issuer });
    return { id, status: 'pending', address, fingerprint: cert.fingerprint256, challengeId: challenge.id };
  }

  /** Confirms a pending upload with the mailed code; the certificate becomes active for that address. */
  async verifyUpload(id: string, code: string, challengeId?: string): Promise<UploadResult> {
    if (!this.proof) throw new AppError('directory.upload_unavailable', 'Certificate uploads need mailbox verification, which is not configured on this server', { kind: 'temporary' });
    const row = UUID_RE.test(id) ? await this.store.findById(id) : undefined;
    if (!row) throw new AppError('directory.not_found', 'No such uploaded certificate', { kind: 'not_found' });
    if (row.status !== 'pending') throw new AppError('directory.not_pending', `This certificate is ${row.status}, not waiting for confirmation`, { kind: 'conflict' });
    const cid = challengeId || (await this.store.findUploadChallenge(id));
    if (!cid) throw new AppError('directory.no_challenge', 'No confirmation code was sent for this certificate; upload it again', { kind: 'not_found' });
    const v = await this.proof.verify(cid, code);
    if (v.purpose !== 'upload' || v.payload?.['certificateId'] !== id) {
      throw new AppError('directory.challenge_mismatch', 'This code confirms something else, not this certificate', { kind: 'forbidden' });
    }
    return this.activate(row, v);
  }

  /** Confirms an upload from the mailed link (challenge id and code; the certificate comes from the challenge). */
  async confirmUpload(challengeId: string, code: string): Promise<UploadResult> {
    if (!this.proof) throw new AppError('directory.upload_unavailable', 'Certificate uploads need mailbox verification, which is not configured on this server', { kind: 'temporary' });
    const v = await this.proof.verify(challengeId, code);
    const id = v.payload?.['certificateId'];
    if (v.purpose !== 'upload' || typeof id !== 'string') throw new AppError('directory.challenge_mismatch', 'This code confirms something else, not a certificate upload', { kind: 'forbidden' });
    const row = await this.store.findById(id);
    if (!row) throw new AppError('directory.not_found', 'No such uploaded certificate', { kind: 'not_found' });
    if (row.status !== 'pending') throw new AppError('directory.not_pending', `This certificate is ${row.status}, not waiting for confirmation`, { kind: 'conflict' });
    return this.activate(row, v);
  }

  private async activate(row: StoredCertificate, v: { token: string; address: string }): Promise<UploadResult> {
    const id = row.id;
    await this.proof!.redeem?.(v.token, 'upload');
    const cert = parseCertificate(row.der);
    const judged = await this.judge(cert, await this.trust(), v.address, []);
    if (judged.reasons.length) throw rejection(judged.reasons, 'The certificate can no longer be used');
    const address = normalizeAddress(v.address);
    if (!(await this.store.activatePending(id, address))) throw new AppError('directory.not_pending', 'This certificate is no longer waiting for confirmation', { kind: 'conflict' });
    await this.record(address, 'directory.upload_confirmed', address, { id, fingerprint: row.fingerprint });
    return { id, status: 'active', address, fingerprint: row.fingerprint };
  }

  // ------------------------------------------------------------------------------------------
  // Harvest (signed mail)
  // ------------------------------------------------------------------------------------------

  /**
   * Registers the encryption certificate of a signed message's sender: the signature must verify
   * over a trusted chain and the certificate must carry a From address. The signer's
   * SMIMECapabilities replace the stored ones only when its signingTime is newer (and not far in
   * the future). Throws with the reason otherwise; nothing is stored then.
   */
  async harvest(message: Uint8Array, options: { actor?: string } = {}): Promise<HarvestResult> {
    const trust = await this.trust();
    const now = this.clock.now();
    let verified: VerifyResult;
    try {
      verified = await verifyMessage(message, { trusted: trust.anchors, intermediates: trust.intermediates, time: now });
    } catch (e) {
      if (e instanceof AppError) throw new AppError(e.code, `The message was not registered: ${e.message}`, { kind: e.kind === 'internal' ? 'bad_input' : e.kind, cause: e });
      throw new AppError('harvest.malformed', `The message was not registered: it is not a readable signed message (${(e as Error).message})`, { cause: e });
    }
    const from = fromAddresses(splitMessage(message).headers);
    if (from.length === 0) throw new AppError('harvest.no_from', 'The message was not registered: it has no From address');
    const signer = verified.signer.certificate;
    const matched = from.filter((a) => certificateHasEmail(signer, a));
    if (matched.length === 0) {
      throw new AppError('harvest.address_mismatch', `The message was not registered: it is signed by a certificate for ${signer.emails.join(', ') || signer.subject}, but comes from ${from.join(', ')}`);
    }
    const address = matched[0]!;
    const cas = verified.certificates.filter((c) => c.isCA);

    // The encryption certificate: the one the signer prefers (SMIMEEncryptionKeyPreference), if it
    // is in the message and usable, else the signing certificate itself.
    const pref = verified.signer.encryptionKeyPreference;
    const preferred = pref
      ? verified.certificates.find((c) => ('subjectKeyId' in pref ? c.subjectKeyId && equalBytes(c.subjectKeyId, pref.subjectKeyId) : equalBytes(c.issuerDer, pref.issuerDer) && equalBytes(c.serialDer, pref.serialDer)))
      : undefined;
    const options2 = [...(preferred && preferred.fingerprint256 !== signer.fingerprint256 ? [preferred] : []), signer];
    let chosen: { cert: Certificate; chain?: Certificate[] } | undefined;
    let firstReasons: Reason[] | undefined;
    for (const cert of options2) {
      const judged = await this.judge(cert, trust, address, cas);
      if (judged.reasons.length === 0) {
        chosen = { cert, ...(judged.chain ? { chain: judged.chain } : {}) };
        break;
      }
      firstReasons ??= judged.reasons;
    }
    if (!chosen) throw rejection(firstReasons!, `The message was not registered: the certificate of ${address} cannot be used for encryption`);

    const existing = await this.store.findByFingerprint(chosen.cert.fingerprint256);
    if (existing && (existing.status === 'revoked' || existing.revokedAt)) {
      throw rejection([reason('cert.revoked', 'was revoked in the directory')], 'The message was not registered');
    }
    await this.learnChain(chosen.chain, trust);
    const inserted = existing ? { id: existing.id, created: false } : await this.store.insertCertificate({ certificate: chosen.cert, source: 'harvested', status: 'active' });

    let capabilities: HarvestResult['capabilities'] = 'absent';
    const caps = verified.signer.capabilities;
    const signingTime = verified.signer.signingTime ?? now; // no signingTime: the time we received it
    if (caps && caps.length) {
      if (signingTime.getTime() > now.getTime() + SIGNING_TIME_TOLERANCE_MS) capabilities = 'future';
      else {
        const stored = await this.store.putCapabilities({
          address,
          capabilities: caps.map((c) => (c.params ? { oid: c.oid, params: toBase64(c.params) } : { oid: c.oid })),
          signingTime,
          certificateFingerprint: chosen.cert.fingerprint256,
        });
        capabilities = stored ? 'stored' : 'older';
        if (stored && !inserted.created) await this.store.bumpVersion(); // new algorithms for a known certificate
      }
    }
    await this.record(options.actor ?? 'harvest', 'directory.harvest', address, { id: inserted.id, fingerprint: chosen.cert.fingerprint256, created: inserted.created, capabilities });
    return {
      addresses: matched,
      id: inserted.id,
      fingerprint: chosen.cert.fingerprint256,
      created: inserted.created,
      capabilities,
      ...(verified.signer.signingTime ? { signingTime: verified.signer.signingTime.toISOString() } : {}),
    };
  }

  // ------------------------------------------------------------------------------------------
  // Admin import
  // ------------------------------------------------------------------------------------------

  /**
   * Imports certificates from files (PEM, DER, certs-only PKCS#7, PKCS#12 public part). CA
   * certificates from all files are learnt first (so a bundle of intermediates may come in any
   * order); then every end-entity certificate is judged like a lookup would (minus the address)
   * and added, or rejected with the reason.
   */
  async importCertificates(items: readonly ImportItem[], options: ImportOptions = {}): Promise<ImportSummary> {
    const actor = options.actor ?? 'admin';
    const summary: ImportSummary = { added: 0, updated: 0, unchanged: 0, rejected: 0, intermediates: 0, outcomes: [] };
    const parsed: Array<{ item: ImportItem; certs?: Certificate[]; error?: AppError }> = items.map((item) => {
      try {
        return { item, certs: readCertificateInput(item.bytes, { source: item.name, ...(options.p12Password !== undefined ? { p12Password: options.p12Password } : {}) }).certificates };
      } catch (e) {
        return { item, error: e instanceof AppError ? e : new AppError('input.unreadable', `${item.name}: ${(e as Error).message}`) };
      }
    });
    const base = await this.trust();
    const known = new Set(base.intermediates.map((c) => c.fingerprint256));
    const pool = [...base.intermediates];
    for (const p of parsed) for (const c of p.certs ?? []) if (c.isCA && !known.has(c.fingerprint256)) {
      known.add(c.fingerprint256);
      pool.push(c);
    }
    const trust: TrustStore = { ...base, intermediates: pool };
    const learnt = new Set<string>(base.intermediates.map((c) => c.fingerprint256)); // already stored
    const storedBefore = learnt.size;

    let done = 0;
    for (const p of parsed) {
      const outcomes: ImportOutcome[] = [];
      if (p.error) outcomes.push({ file: p.item.name, status: 'rejected', reason: { code: p.error.code, message: p.error.message } });
      const leaves = (p.certs ?? []).filter((c) => !c.isCA);
      if (p.certs && leaves.length === 0) {
        outcomes.push({ file: p.item.name, status: 'unchanged', reason: { code: 'import.ca_only', message: `${p.item.name}: only CA certificates (kept to build chains)` } });
      }
      for (const cert of leaves) {
        const outcome = await this.importOne(p.item.name, cert, trust, learnt);
        outcomes.push(outcome);
      }
      for (const o of outcomes) {
        summary[o.status]++;
        summary.outcomes.push(o);
      }
      done++;
      options.onProgress?.(done, parsed.length, outcomes);
    }
    summary.intermediates = learnt.size - storedBefore;
    await this.record(actor, 'directory.import', null, { files: items.length, added: summary.added, updated: summary.updated, unchanged: summary.unchanged, rejected: summary.rejected });
    return summary;
  }

  private async importOne(file: string, cert: Certificate, trust: TrustStore, learnt: Set<string>): Promise<ImportOutcome> {
    const base = { file, fingerprint: cert.fingerprint256, addresses: cert.emails.map(normalizeAddress) };
    try {
      const judged = await this.judge(cert, trust, undefined, []);
      if (judged.reasons.length) return { ...base, status: 'rejected', reason: { code: judged.reasons[0]!.code, message: `${file}: ${formatReasons(judged.reasons)}` } };
      for (const c of (judged.chain ?? []).slice(1, -1)) {
        if (learnt.has(c.fingerprint256)) continue;
        if (await this.store.addIntermediate(c)) learnt.add(c.fingerprint256);
      }
      const existing = await this.store.findByFingerprint(cert.fingerprint256);
      if (existing) {
        if (existing.status === 'pending' && (await this.store.activatePending(existing.id, null))) {
          return { ...base, status: 'updated', reason: { code: 'import.activated', message: `${file}: was an unconfirmed upload; activated by the import` } };
        }
        return { ...base, status: 'unchanged', reason: { code: 'import.exists', message: `${file}: already in the directory (${existing.source}, ${existing.status})` } };
      }
      const r = await this.store.insertCertificate({ certificate: cert, source: 'imported', status: 'active' });
      return { ...base, status: r.created ? 'added' : 'unchanged' };
    } catch (e) {
      const err = e instanceof AppError ? e : new AppError('import.failed', (e as Error).message);
      return { ...base, status: 'rejected', reason: { code: err.code, message: `${file}: ${err.message}` } };
    }
  }

  // ------------------------------------------------------------------------------------------
  // Trust store administration, revocation
  // ------------------------------------------------------------------------------------------

  /** Adds CA certificates to the trusted roots. Each must be a CA certificate (normally self-signed). */
  async addTrustedRoots(bytes: Uint8Array, source: string, addedBy: string): Promise<Array<{ fingerprint: string; subject: string; added: boolean; selfSigned: boolean }>> {
    const input = readCertificateInput(bytes, { source });
    const out: Array<{ fingerprint: string; subject: string; added: boolean; selfSigned: boolean }> = [];
    for (const c of input.certificates) {
      if (!c.isCA) throw new AppError('trust.not_ca', `${source}: ${c.subject || c.serialHex} is not a CA certificate (basicConstraints cA is not set); only CA certificates can be trusted roots`);
      if (this.clock.now() > c.notAfter) throw new AppError('trust.expired', `${source}: ${c.subject} expired on ${c.notAfter.toISOString()}`);
    }
    for (const c of input.certificates) {
      const added = await this.store.addTrustedRoot(c, addedBy);
      out.push({ fingerprint: c.fingerprint256, subject: c.subject, added, selfSigned: equalBytes(c.subjectDer, c.issuerDer) });
      if (added) await this.record(addedBy, 'directory.trust_add', c.fingerprint256, { subject: c.subject });
    }
    return out;
  }

  async removeTrustedRoot(fingerprint: string, actor: string): Promise<boolean> {
    const fp = fingerprint.toLowerCase().replace(/[^0-9a-f]/g, '');
    const removed = await this.store.removeTrustedRoot(fp);
    if (removed) await this.record(actor, 'directory.trust_remove', fp, {});
    return removed;
  }

  async listTrustedRoots(): Promise<TrustedRootInfo[]> {
    const [authorities, roots] = await Promise.all([this.store.authorities(), this.store.trustedRoots()]);
    const out: TrustedRootInfo[] = [];
    for (const a of authorities.filter((x) => x.id === 'root')) {
      try {
        const c = parseCertificate(a.der);
        out.push({ fingerprint: c.fingerprint256, subject: c.subject, notAfter: c.notAfter.toISOString(), addedBy: 'our CA', addedAt: '', source: 'our-ca' });
      } catch {
        /* unreadable authority row */
      }
    }
    for (const r of roots) {
      let notAfter: string | undefined;
      try {
        notAfter = parseCertificate(r.der).notAfter.toISOString();
      } catch {
        notAfter = undefined;
      }
      out.push({ fingerprint: r.fingerprint, subject: r.subjectDn, ...(notAfter ? { notAfter } : {}), addedBy: r.addedBy, addedAt: r.addedAt.toISOString(), source: 'admin' });
    }
    return out;
  }

  /** Marks a directory certificate revoked (by id or SHA-256 fingerprint); takes effect on the next lookup everywhere. */
  async revoke(idOrFingerprint: string, options: { reason?: string; actor?: string } = {}): Promise<StoredCertificate> {
    const key = idOrFingerprint.trim().toLowerCase();
    const row = UUID_RE.test(key) ? await this.store.findById(key) : await this.store.findByFingerprint(key.replace(/[^0-9a-f]/g, ''));
    if (!row) throw new AppError('directory.not_found', `No certificate ${idOrFingerprint} in the directory`, { kind: 'not_found' });
    await this.store.revoke(row.id, this.clock.now(), options.reason ?? null);
    await this.record(options.actor ?? 'admin', 'directory.revoke', row.fingerprint, { id: row.id, reason: options.reason ?? null });
    return { ...row, status: 'revoked', revokedAt: this.clock.now(), revocationReason: options.reason ?? null };
  }
}
