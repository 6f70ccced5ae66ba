/**
 * The certificate authority service: a root and an issuing intermediate, issuance of the strict
 * mailbox-validated S/MIME profile, revocation, CRLs, OCSP and renewal reminders.
 *
 * It decides nothing about *who* may ask: callers (enrollment web form, admin pages, CLI) prove the
 * mailbox or authenticate the admin first, then pass `authorizedAddress` / `actor`. Every
 * issuance, refusal, revocation, CRL and key load is written to the audit log.
 * See src/ca/index.ts for the API summary.
 */
import { randomBytes } from 'node:crypto';
import { parseCertificate, type Certificate } from '../pki/certificate.js';
import { validateChain } from '../pki/chain.js';
import { AppError, isAppError } from '../shared/errors.js';
import { encodePem, equalBytes, toHex } from '../shared/bytes.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { buildCaCertificate, buildEndEntityCertificate, DAY_MS, pkiUrls, randomSerial, validity, wholeSeconds, type PkiUrls } from './build.js';
import { buildCrl, crlEntryCount, isRevocationReason, type RevocationReason } from './crl.js';
import { parseRequest, requestedMailboxes, verifyRequest, type CertificationRequest } from './csr.js';
import { certificateMailbox, sameMailbox, type CertificateMailbox } from './mailbox.js';
import { buildOcspResponse, certIdIsFor, ocspErrorResponse, parseOcspRequest, type OcspCertStatus } from './ocsp.js';
import { CA_OID } from './oids.js';
import { lintCertificate, MAX_VALIDITY_DAYS } from './profile.js';
import { createSoftwareSigner, decryptPrivateKey, encryptPrivateKey, generateCaKey, type CaKeyType, type Signer } from './signer.js';
import type { AuthorityId, AuthorityRecord, CaStore, IssuedRecord, ReminderCandidate } from './store.js';

/** The audit port (src/db/audit.ts DrizzleAuditLog satisfies it). */
export interface CaAuditLog {
  record(entry: { actor: string; action: string; subject?: string | null; detail?: Record<string, unknown> | null }): Promise<void>;
}

export interface AuthorityOptions {
  store: CaStore;
  audit: CaAuditLog;
  /** PUBLIC_URL: CRL, OCSP and CA-certificate URLs are derived from it (always http://). */
  publicUrl: string;
  clock?: Clock;
  /** Default validity of issued certificates in days (CA_VALIDITY_DAYS), 1..825. Default 365. */
  validityDays?: number;
  /** NODE_ENV=production: development authorities are refused by load() and init(). */
  production?: boolean;
  /**
   * How a stored authority signs. Default: its software key, decrypted with the passphrase. An HSM
   * or cloud KMS plugs in here (records whose `signer` is not 'software').
   */
  signerFor?: (record: AuthorityRecord, passphrase: string) => Promise<Signer>;
}

export interface InitOptions {
  /** CA_KEY_PASSPHRASE: encrypts both private keys at rest. */
  passphrase: string;
  /** A development hierarchy (names say so; refused in production). */
  development: boolean;
  /** Replace an existing development hierarchy (never a production one). */
  replaceDevelopment?: boolean;
  /** Default: rsa4096 (rsa3072 for development). */
  rootKey?: CaKeyType;
  /** Default: rsa3072 (rsa2048 for development). */
  issuingKey?: CaKeyType;
  /** Organisation name: subject O of both CAs and the start of their CN. */
  organization?: string;
  actor?: string;
}

export interface InitResult {
  root: Certificate;
  issuing: Certificate;
  /** Both private keys as encrypted PKCS#8 PEM (for certs-dev/ or an offline backup). */
  rootKeyPem: string;
  issuingKeyPem: string;
}

export interface IssueRequest {
  /** The PKCS#10 request, PEM or DER. */
  csr: Uint8Array | string;
  /** The mailbox the caller has verified (or the admin has vouched for). */
  authorizedAddress: string;
  /** 1..825; default the configured CA_VALIDITY_DAYS. */
  validityDays?: number;
  /** Who asks: the holder's address, "admin:<name>", "cli:<user>"... */
  actor: string;
}

export interface IssuedCertificate {
  /** certificates.id of the new row. */
  id: string;
  certificate: Certificate;
  /** The certificate, PEM. */
  pem: string;
  /** The issuing CA certificate, PEM (what a client needs besides the root). */
  chainPem: string;
}

export interface RevokeRequest {
  serialHex: string;
  /** RFC 5280 reason name; 'unspecified' is stored as null and left off the CRL. */
  reason: RevocationReason;
  actor: string;
  /**
   * Set for revocation by the holder (after proving the mailbox again): the certificate must be
   * for this mailbox, and privilegeWithdrawn is not theirs to choose.
   */
  holderAddress?: string;
}

export interface RevokedCertificate {
  id: string;
  serialHex: string;
  email: string;
  revokedAt: Date;
  reason: RevocationReason | null;
}

export interface RenewalReminder {
  certificateId: string;
  email: string;
  serialHex: string;
  notAfter: Date;
  /** Which reminder is due: 30 or 7 days before expiry. */
  which: 30 | 7;
}

/** A served CRL is regenerated once it is older than this (and on every revocation). */
export const CRL_REFRESH_MS = DAY_MS;
/** nextUpdate - thisUpdate of our CRLs (cert-profile.md: at most 10 days; reissued within 7). */
export const CRL_VALIDITY_MS = 7 * DAY_MS;
/** nextUpdate of OCSP responses. */
export const OCSP_VALIDITY_MS = DAY_MS;

const ROOT_DAYS = 20 * 365 + 5;
const ISSUING_DAYS = 10 * 365 + 2;
/** Reasons that may be given for an end-entity certificate (privilegeWithdrawn: admins only). */
export const END_ENTITY_REVOCATION_REASONS: readonly RevocationReason[] = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn'];
const EE_REASONS = END_ENTITY_REVOCATION_REASONS;

interface Loaded {
  root: Certificate;
  issuing: Certificate;
  signers: Record<AuthorityId, Signer>;
  development: boolean;
}

function notReady(): AppError {
  return new AppError('ca.not_ready', 'The certificate authority is not loaded yet', { kind: 'temporary' });
}

/** Lower-case hex of a serial's magnitude, as stored (accepts colons, spaces, 0x, upper case). */
export function normalizeSerialHex(input: string): string {
  let s = String(input).trim().replace(/^0x/i, '').replace(/[\s:]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(s) || s.length > 80) throw new AppError('ca.bad_serial', `'${input}' is not a hexadecimal serial number`);
  if (s.length % 2) s = '0' + s;
  while (s.length > 2 && s.startsWith('00')) s = s.slice(2);
  return s;
}

export class Authority {
  private readonly store: CaStore;
  private readonly audit: CaAuditLog;
  private readonly clock: Clock;
  private readonly urls: PkiUrls;
  private readonly defaultDays: number;
  private readonly production: boolean;
  private readonly signerFor: (record: AuthorityRecord, passphrase: string) => Promise<Signer>;
  private state: Loaded | undefined;

  constructor(options: AuthorityOptions) {
    this.store = options.store;
    this.audit = options.audit;
    this.clock = options.clock ?? systemClock;
    this.urls = pkiUrls(options.publicUrl);
    this.production = options.production ?? false;
    this.defaultDays = checkDays(options.validityDays ?? 365);
    this.signerFor = options.signerFor ?? softwareSigner;
  }

  /** True once init() or load() succeeded. */
  get loaded(): boolean {
    return this.state !== undefined;
  }

  /** True when the loaded hierarchy is a development one. */
  get development(): boolean {
    return this.loaded && this.current().development;
  }

  /** Whether any authority is stored (to decide between init() and load()). */
  async exists(): Promise<boolean> {
    return (await this.store.listAuthorities()).length > 0;
  }

  /** Creates, stores and loads a new root + issuing CA. */
  async init(o: InitOptions): Promise<InitResult> {
    if (o.development && this.production) {
      throw new AppError('ca.development_in_production', 'A development CA cannot be created with NODE_ENV=production', { kind: 'policy' });
    }
    if (!o.passphrase) throw new AppError('ca.passphrase_missing', 'CA_KEY_PASSPHRASE is required to create a CA', { kind: 'bad_input' });
    const existing = await this.store.listAuthorities();
    if (existing.length > 0 && !(o.replaceDevelopment && existing.every((a) => a.development))) {
      const kind = existing.some((a) => !a.development) ? 'a production CA' : 'a development CA';
      throw new AppError('ca.exists', `This installation already has ${kind}${kind === 'a development CA' ? ' (use --force-dev to replace it)' : ''}; nothing was changed`, { kind: 'conflict' });
    }
    const now = this.clock.now();
    const [rootKey, issuingKey] = await Promise.all([
      generateCaKey(o.rootKey ?? (o.development ? 'rsa3072' : 'rsa4096')),
      generateCaKey(o.issuingKey ?? (o.development ? 'rsa2048' : 'rsa3072')),
    ]);
    const rootSigner = createSoftwareSigner(rootKey);
    const issuingSigner = createSoftwareSigner(issuingKey);
    const label = o.development ? `smimegw DEVELOPMENT ${toHex(randomBytes(3))}` : `${o.organization?.trim() || 'smimegw'} S/MIME`;
    const year = now.getUTCFullYear();
    const org: Array<[string, string]> = o.organization?.trim() ? [[CA_OID.organizationName, o.organization.trim()]] : [];
    const rootValidity = validity(now, ROOT_DAYS);
    const rootDer = await buildCaCertificate({
      serial: randomSerial(),
      subject: [...org, [CA_OID.commonName, `${label} Root CA ${year}`]],
      ...rootValidity,
      spki: rootSigner.publicKeySpki,
      urls: this.urls,
      signer: rootSigner,
    });
    const root = parseCertificate(rootDer);
    const issuingValidity = validity(now, ISSUING_DAYS);
    const issuingDer = await buildCaCertificate({
      serial: randomSerial(),
      subject: [...org, [CA_OID.commonName, `${label} Issuing CA ${year}`]],
      notBefore: issuingValidity.notBefore,
      notAfter: issuingValidity.notAfter < root.notAfter ? issuingValidity.notAfter : root.notAfter,
      spki: issuingSigner.publicKeySpki,
      issuer: { id: 'root', subjectDer: root.subjectDer, spki: root.publicKey.spki },
      urls: this.urls,
      signer: rootSigner,
    });
    const issuing = parseCertificate(issuingDer);
    validateChain(issuing, { trusted: [root], time: now });

    const rootKeyEncrypted = encryptPrivateKey(rootKey, o.passphrase);
    const issuingKeyEncrypted = encryptPrivateKey(issuingKey, o.passphrase);
    await this.store.createAuthorities(
      [
        { id: 'root', certDer: rootDer, keyEncrypted: rootKeyEncrypted, signer: 'software', parentId: null, development: o.development },
        { id: 'issuing', certDer: issuingDer, keyEncrypted: issuingKeyEncrypted, signer: 'software', parentId: 'root', development: o.development },
      ],
      { replaceDevelopment: o.replaceDevelopment ?? false },
    );
    this.state = { root, issuing, signers: { root: rootSigner, issuing: issuingSigner }, development: o.development };
    await this.audit.record({
      actor: o.actor ?? 'system',
      action: 'ca.initialized',
      subject: root.subject,
      detail: {
        development: o.development,
        replacedDevelopment: existing.length > 0,
        root: { subject: root.subject, serial: root.serialHex, fingerprint: root.fingerprint256, signature: rootSigner.algorithm },
        issuing: { subject: issuing.subject, serial: issuing.serialHex, fingerprint: issuing.fingerprint256, signature: issuingSigner.algorithm },
      },
    });
    await this.crl('root', { force: true });
    await this.crl('issuing', { force: true });
    return { root, issuing, rootKeyPem: encodePem('ENCRYPTED PRIVATE KEY', rootKeyEncrypted), issuingKeyPem: encodePem('ENCRYPTED PRIVATE KEY', issuingKeyEncrypted) };
  }

  /** Loads the stored hierarchy and its signers. Refuses a development CA in production. */
  async load(passphrase: string, actor = 'system'): Promise<void> {
    const records = await this.store.listAuthorities();
    const rootRec = records.find((r) => r.id === 'root');
    const issuingRec = records.find((r) => r.id === 'issuing');
    if (!rootRec || !issuingRec) {
      throw new AppError('ca.not_initialized', 'No certificate authority is set up: run `smimegw ca init` first', { kind: 'temporary' });
    }
    const development = rootRec.development || issuingRec.development;
    if (development && this.production) {
      throw new AppError('ca.development_in_production', 'The stored CA is a development CA, which NODE_ENV=production refuses: run `smimegw ca init --force-dev` to replace it with a production CA', { kind: 'policy' });
    }
    const root = parseCertificate(rootRec.certDer);
    const issuing = parseCertificate(issuingRec.certDer);
    const signers = { root: await this.signerFor(rootRec, passphrase), issuing: await this.signerFor(issuingRec, passphrase) };
    for (const [id, cert] of [['root', root], ['issuing', issuing]] as const) {
      if (!equalBytes(signers[id].publicKeySpki, cert.publicKey.spki)) {
        throw new AppError('ca.key_mismatch', `The ${id} CA key does not belong to the ${id} CA certificate`, { kind: 'internal' });
      }
    }
    const now = this.clock.now();
    validateChain(issuing, { trusted: [root], time: now });
    this.state = { root, issuing, signers, development };
    await this.audit.record({
      actor,
      action: 'ca.keys_loaded',
      subject: issuing.subject,
      detail: { development, signers: { root: rootRec.signer, issuing: issuingRec.signer }, issuingNotAfter: issuing.notAfter.toISOString() },
    });
  }

  /** The root or issuing CA certificate. */
  caCertificate(id: AuthorityId): Certificate {
    const s = this.current();
    return id === 'root' ? s.root : s.issuing;
  }

  /** PEM of the root or issuing CA certificate. */
  caCertificatePem(id: AuthorityId): string {
    return encodePem('CERTIFICATE', this.caCertificate(id).der);
  }

  /** Where relying parties find CRLs, OCSP and CA certificates. */
  get pkiUrls(): PkiUrls {
    return this.urls;
  }

  /**
   * Issues a certificate for `authorizedAddress` from a CSR. The CSR must name that mailbox (CN,
   * emailAddress or subjectAltName) and no other, prove possession of an acceptable new key and be
   * signed with SHA-256 or stronger. The certificate is linted before it leaves; any finding
   * refuses it. Refusals throw an AppError (4xx kinds for bad input) and are audited.
   */
  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    const s = this.current();
    let mailboxForAudit = String(req.authorizedAddress ?? '');
    try {
      const days = checkDays(req.validityDays ?? this.defaultDays);
      const { mailbox, request: csr } = await this.checkRequest(req);
      mailboxForAudit = mailbox.address;

      const now = this.clock.now();
      const v = validity(now, days);
      const notAfter = v.notAfter < s.issuing.notAfter ? v.notAfter : s.issuing.notAfter;
      const der = await buildEndEntityCertificate({
        serial: randomSerial(),
        mailbox,
        notBefore: v.notBefore,
        notAfter,
        spki: csr.spki,
        keyKind: csr.key.kind === 'rsa' ? 'rsa' : 'ec',
        issuer: { id: 'issuing', subjectDer: s.issuing.subjectDer, spki: s.issuing.publicKey.spki },
        urls: this.urls,
        signer: s.signers.issuing,
      });
      const findings = lintCertificate(der, { issuer: s.issuing });
      if (findings.length > 0) {
        throw new AppError('ca.profile_violation', `The certificate was not issued: it would break the certificate profile (${findings.join('; ')})`, { kind: 'internal', detail: { findings } });
      }
      const certificate = parseCertificate(der);
      const id = await this.store.insertIssued(certificate, 'issuing');
      await this.audit.record({
        actor: req.actor,
        action: 'cert.issued',
        subject: mailbox.address,
        detail: {
          id,
          serial: certificate.serialHex,
          fingerprint: certificate.fingerprint256,
          notBefore: certificate.notBefore.toISOString(),
          notAfter: certificate.notAfter.toISOString(),
          key: csr.key.kind === 'rsa' ? `RSA-${csr.key.bits}` : csr.key.kind === 'ec' ? csr.key.curve : 'other',
          development: s.development,
        },
      });
      return { id, certificate, pem: encodePem('CERTIFICATE', der), chainPem: encodePem('CERTIFICATE', s.issuing.der) };
    } catch (e) {
      const err = isAppError(e) ? e : new AppError('ca.issue_failed', 'The certificate could not be issued', { kind: 'internal', cause: e });
      await this.audit.record({
        actor: req.actor,
        action: 'cert.issue_refused',
        subject: mailboxForAudit || null,
        detail: { code: err.code, reason: err.message },
      });
      throw err;
    }
  }

  /**
   * The checks issue() makes before signing, without issuing or auditing (so a form can refuse a
   * request early): the mailbox can go into a certificate; the CSR parses, proves possession with
   * SHA-256 or stronger, carries an acceptable key that was never certified for this mailbox nor
   * revoked for key compromise, and names this mailbox (CN, emailAddress or subjectAltName) and no
   * other. Throws the AppError issue() would throw.
   */
  async checkRequest(req: Pick<IssueRequest, 'csr' | 'authorizedAddress'>): Promise<{ mailbox: CertificateMailbox; request: CertificationRequest }> {
    const s = this.current();
    const mailbox = certificateMailbox(String(req.authorizedAddress ?? ''));
    const request = parseRequest(req.csr);
    verifyRequest(request);
    const named = requestedMailboxes(request);
    if (named.length === 0) {
      throw new AppError('ca.csr_no_address', `The certificate request names no mailbox; put ${mailbox.address} in its CN or subjectAltName`);
    }
    const other = named.find((n) => !sameMailbox(n, mailbox.address));
    if (other !== undefined) {
      throw new AppError('ca.csr_wrong_address', `The certificate request is for '${other}', but the verified address is ${mailbox.address}`, { kind: 'forbidden' });
    }
    await this.checkKeyIsNew(request.spki, mailbox.address, s);
    return { mailbox, request };
  }

  /** Revokes a certificate we issued; regenerates the CRL at once. Refusals are audited. */
  async revoke(req: RevokeRequest): Promise<RevokedCertificate> {
    const s = this.current();
    let result: RevokedCertificate;
    try {
      result = await this.markRevoked(req, s);
    } catch (e) {
      if (isAppError(e)) {
        await this.audit.record({ actor: req.actor, action: 'cert.revoke_refused', subject: req.holderAddress ?? null, detail: { serial: String(req.serialHex), code: e.code, reason: e.message } });
      }
      throw e;
    }
    await this.crl('issuing', { force: true });
    return result;
  }

  private async markRevoked(req: RevokeRequest, s: Loaded): Promise<RevokedCertificate> {
    const serialHex = normalizeSerialHex(req.serialHex);
    if (!isRevocationReason(req.reason) || !EE_REASONS.includes(req.reason)) {
      throw new AppError('ca.bad_reason', `'${String(req.reason)}' is not a revocation reason for a mailbox certificate (${EE_REASONS.join(', ')})`);
    }
    if (req.holderAddress !== undefined && req.reason === 'privilegeWithdrawn') {
      throw new AppError('ca.bad_reason', 'privilegeWithdrawn is for the CA to give, not the certificate holder', { kind: 'forbidden' });
    }
    const row = await this.store.findIssued('issuing', s.issuing.subject, serialHex);
    if (!row || (req.holderAddress !== undefined && !sameMailbox(row.email, req.holderAddress))) {
      throw new AppError('ca.not_found', `No certificate with serial ${serialHex} was issued${req.holderAddress !== undefined ? ' for this address' : ''} by this CA`, { kind: 'not_found' });
    }
    const revokedAt = wholeSeconds(this.clock.now());
    const reason = req.reason === 'unspecified' ? null : req.reason;
    if (row.status === 'revoked' || !(await this.store.markRevoked(row.id, revokedAt, reason))) {
      throw new AppError('ca.already_revoked', `The certificate with serial ${serialHex} is already revoked`, { kind: 'conflict' });
    }
    await this.audit.record({
      actor: req.actor,
      action: 'cert.revoked',
      subject: row.email,
      detail: { id: row.id, serial: serialHex, fingerprint: row.fingerprint, reason: reason ?? 'unspecified', byHolder: req.holderAddress !== undefined },
    });
    return { id: row.id, serialHex, email: row.email, revokedAt, reason };
  }

  /**
   * The newest CRL (DER) of `id`: the stored one while younger than CRL_REFRESH_MS, otherwise (or
   * with force) a new one, numbered, stored and audited. nextUpdate = thisUpdate + 7 days.
   */
  async crl(id: AuthorityId = 'issuing', options: { force?: boolean; actor?: string } = {}): Promise<Uint8Array> {
    const s = this.current();
    const now = this.clock.now();
    const issuer = id === 'root' ? s.root : s.issuing;
    if (!options.force) {
      const latest = await this.store.latestCrl(id);
      if (latest && now.getTime() - latest.thisUpdate.getTime() < CRL_REFRESH_MS && latest.nextUpdate > now) {
        // revoke() regenerates at once; this catches a revocation whose regeneration failed.
        if (crlEntryCount(latest.der) === (await this.store.countRevoked(id, issuer.subject))) return latest.der;
      }
    }
    // The number is taken before the revoked list is read: a CRL with a higher number always
    // includes every revocation committed before a lower-numbered one was started.
    const number = await this.store.nextCrlNumber(id);
    const revoked = await this.store.listRevoked(id, issuer.subject);
    const thisUpdate = wholeSeconds(now);
    const nextUpdate = new Date(thisUpdate.getTime() + CRL_VALIDITY_MS);
    const der = await buildCrl({ issuer, signer: s.signers[id], number, thisUpdate, nextUpdate, revoked });
    await this.store.saveCrl({ authorityId: id, number, thisUpdate, nextUpdate, der });
    await this.audit.record({
      actor: options.actor ?? 'system',
      action: 'ca.crl_issued',
      subject: id,
      detail: { number, thisUpdate: thisUpdate.toISOString(), nextUpdate: nextUpdate.toISOString(), revoked: revoked.length },
    });
    return der;
  }

  /** Regenerates both CRLs if they are due (for a periodic job). */
  async refreshCrls(): Promise<void> {
    await this.crl('root');
    await this.crl('issuing');
  }

  /**
   * Answers an OCSP request (DER) with a DER OCSPResponse; never throws. "good" only for a serial
   * this CA issued and did not revoke; "revoked" with time and reason; "unknown" otherwise.
   * Malformed requests get malformedRequest; CertIDs for other CAs get unauthorized.
   */
  async ocsp(requestDer: Uint8Array): Promise<Uint8Array> {
    let request;
    try {
      request = parseOcspRequest(requestDer);
    } catch {
      return ocspErrorResponse('malformedRequest');
    }
    const s = this.state;
    if (!s) return ocspErrorResponse('tryLater');
    try {
      const forIssuing = request.certIds.every((c) => certIdIsFor(c, s.issuing));
      const forRoot = !forIssuing && request.certIds.every((c) => certIdIsFor(c, s.root));
      if (!forIssuing && !forRoot) return ocspErrorResponse('unauthorized');
      const responses = [];
      for (const certId of request.certIds) {
        let status: OcspCertStatus = { status: 'unknown' };
        if (forRoot) {
          if (certId.serialHex === s.issuing.serialHex) status = { status: 'good' };
        } else {
          const row = await this.store.findIssued('issuing', s.issuing.subject, certId.serialHex);
          if (row?.status === 'revoked') status = { status: 'revoked', revokedAt: row.revokedAt ?? new Date(0), reason: row.revocationReason };
          else if (row && row.status !== 'pending') status = { status: 'good' };
        }
        responses.push({ certId, status });
      }
      const now = wholeSeconds(this.clock.now());
      return await buildOcspResponse({
        responder: forRoot ? s.root : s.issuing,
        signer: forRoot ? s.signers.root : s.signers.issuing,
        producedAt: now,
        nextUpdate: new Date(now.getTime() + OCSP_VALIDITY_MS),
        responses,
        ...(request.nonceExtension ? { nonceExtension: request.nonceExtension } : {}),
      });
    } catch (e) {
      console.error('OCSP responder failed:', e);
      return ocspErrorResponse('internalError');
    }
  }

  /** Certificates whose 30- or 7-day renewal reminder is due at `now`. */
  async remindersDue(now: Date = this.clock.now()): Promise<RenewalReminder[]> {
    const candidates = await this.store.reminderCandidates(now, 30);
    const out: RenewalReminder[] = [];
    for (const c of candidates) {
      const which = dueReminder(c, now);
      if (which) out.push({ certificateId: c.certificateId, email: c.email, serialHex: c.serialHex, notAfter: c.notAfter, which });
    }
    return out;
  }

  /** Records that a reminder went out (a 7-day reminder also settles a missed 30-day one). */
  async markReminded(certificateId: string, which: 30 | 7, at: Date = this.clock.now()): Promise<void> {
    await this.store.markReminded(certificateId, which, at);
    if (which === 7) await this.store.markReminded(certificateId, 30, at);
  }

  /** A certificate we issued, by serial (admin pages, holder revocation forms). */
  async findIssued(serialHex: string): Promise<IssuedRecord | undefined> {
    const s = this.current();
    return this.store.findIssued('issuing', s.issuing.subject, normalizeSerialHex(serialHex));
  }

  /** Every certificate we issued for a mailbox, newest first (renewal pages, admin pages). */
  async issuedFor(address: string): Promise<IssuedRecord[]> {
    return this.store.listIssuedFor(certificateMailbox(address).address);
  }

  private current(): Loaded {
    if (!this.state) throw notReady();
    return this.state;
  }

  /** Renewal re-keys: a key we certified for this mailbox, a compromised key or a CA key is refused. */
  private async checkKeyIsNew(spki: Uint8Array, address: string, s: Loaded): Promise<void> {
    if (equalBytes(spki, s.root.publicKey.spki) || equalBytes(spki, s.issuing.publicKey.spki)) {
      throw new AppError('ca.key_reused', 'The certificate request carries a CA key');
    }
    for (const row of await this.store.listIssuedFor(address)) {
      if (row.der && equalBytes(parseCertificate(row.der).publicKey.spki, spki)) {
        throw new AppError('ca.key_reused', 'This key was already certified for this address; renewal needs a new key (generate a new request)', { kind: 'conflict' });
      }
    }
    for (const der of await this.store.listKeyCompromised()) {
      if (equalBytes(parseCertificate(der).publicKey.spki, spki)) {
        throw new AppError('ca.key_compromised', 'This key belongs to a certificate revoked for key compromise; generate a new key');
      }
    }
  }
}

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new AppError('ca.bad_validity', `Validity must be a whole number of days from 1 to ${MAX_VALIDITY_DAYS}, got ${days}`);
  }
  return days;
}

/** Which reminder (if any) is due for a candidate at `now`. */
export function dueReminder(c: Pick<ReminderCandidate, 'notAfter' | 'reminded30At' | 'reminded7At'>, now: Date): 30 | 7 | undefined {
  const left = c.notAfter.getTime() - now.getTime();
  if (left <= 0 || left > 30 * DAY_MS) return undefined;
  if (left <= 7 * DAY_MS) return c.reminded7At ? undefined : 7;
  return c.reminded30At ? undefined : 30;
}

async function softwareSigner(record: AuthorityRecord, passphrase: string): Promise<Signer> {
  if (record.signer !== 'software' || !record.keyEncrypted) {
    throw new AppError('ca.signer_unavailable', `The ${record.id} CA key is held by '${record.signer}', for which no signer is configured`, { kind: 'internal' });
  }
  return createSoftwareSigner(decryptPrivateKey(record.keyEncrypted, passphrase, `${record.id} CA key`));
}
