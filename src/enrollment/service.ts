/**
 * Recipient enrollment: a person proves control of a mailbox (MailboxProof: a code mailed to it),
 * the browser makes the key pair and a PKCS#10 request, and the CA issues a certificate for the
 * proven address only. The private key never reaches this service.
 *
 * Token rule: the bearer token from a confirmed code authorises one issuance. A request the CA
 * refuses (bad signature, weak key, SHA-1, another address, garbage) does not spend it, so the
 * person can retry with a fixed request; an issued certificate spends it. To keep "one token, one
 * certificate" even under concurrent requests, the request is checked first (CertificateIssuer.check),
 * then the token is spent, then the certificate is issued.
 *
 * Every step, refusal and issuance is written to the audit log. Runtime-agnostic.
 */
import type { AuditLog } from '../db/audit.js';
import type { MailboxProof } from '../proof/mailbox.js';
import type { Locale } from '../proof/messages.js';
import { AppError, toAppError } from '../shared/errors.js';
import { enforceRateLimits, type RateLimiter } from '../shared/rate-limit.js';

export interface IssueRequest {
  /** The PKCS#10 request, PEM. */
  csrPem: string;
  /** The mailbox the person proved to control: the only one the certificate may name. */
  authorizedAddress: string;
  /** Who caused the issuance, for the CA's audit trail. */
  actor: string;
}

export interface IssuedCertificate {
  /** The end-entity certificate, PEM. */
  certificatePem: string;
  /** The issuer chain (intermediate first, then the root), PEM. */
  chainPem: string;
}

/** The CA as enrollment sees it (adapter over src/ca: src/enrollment/ca-issuer.ts). */
export interface CertificateIssuer {
  /**
   * Throws the AppError that issue() would throw for this request (malformed, bad proof of
   * possession, weak key or signature, another mailbox), without issuing anything.
   */
  check(input: Omit<IssueRequest, 'actor'>): Promise<void>;
  /** Issues the certificate and registers it in the recipient directory. */
  issue(input: IssueRequest): Promise<IssuedCertificate>;
}

export interface EnrollmentDeps {
  proof: MailboxProof;
  issuer: CertificateIssuer;
  audit: AuditLog;
  /** Optional per-client limits on code checks and certificate requests (starting is limited by MailboxProof). */
  limiter?: RateLimiter;
}

export interface ClientInfo {
  /** The client's IP address, when the runtime knows it. */
  ip?: string;
}

/** Code checks and certificate requests per client per hour. */
export const VERIFY_LIMIT_PER_CLIENT = 60;
export const ISSUE_LIMIT_PER_CLIENT = 30;
const HOUR = 3600_000;

export class EnrollmentService {
  constructor(private readonly deps: EnrollmentDeps) {}

  /** Mails a code to `email`. */
  async start(input: { email: unknown; locale?: Locale }, client: ClientInfo = {}): Promise<{ id: string; expiresAt: Date }> {
    try {
      const r = await this.deps.proof.start({
        address: input.email as string,
        purpose: 'enroll',
        ...(input.locale ? { locale: input.locale } : {}),
        ...(client.ip ? { clientIp: client.ip } : {}),
      });
      await this.audit('enroll.code_sent', r.id, { address: input.email, client: client.ip ?? null });
      return r;
    } catch (e) {
      await this.refused('enroll.start_refused', null, e, client, { email: typeof input.email === 'string' ? input.email.slice(0, 320) : null });
      throw e;
    }
  }

  /**
   * Starts an enrollment for the address that a completed check proved (the challenge `provenBy`,
   * e.g. the code that opened a secure pickup), without mailing a new code: the code is returned
   * for the caller to hand to that person. Refused when the check is unknown, unconfirmed or more
   * than 30 days old. Audited with the proof it reuses.
   */
  async startFromProof(input: { provenBy: string; locale?: Locale; via: string; reference?: string }, client: ClientInfo = {}): Promise<{ id: string; code: string; address: string; expiresAt: Date }> {
    try {
      const r = await this.deps.proof.reuse({
        provenBy: input.provenBy,
        purpose: 'enroll',
        ...(input.locale ? { locale: input.locale } : {}),
        ...(client.ip ? { clientIp: client.ip } : {}),
        payload: { via: input.via, ...(input.reference ? { reference: input.reference } : {}) },
      });
      await this.audit(
        'enroll.started_from_proof',
        r.id,
        { address: r.address, provenBy: input.provenBy, provenAt: r.provenAt.toISOString(), via: input.via, reference: input.reference ?? null, client: client.ip ?? null },
        r.address,
      );
      return { id: r.id, code: r.code, address: r.address, expiresAt: r.expiresAt };
    } catch (e) {
      await this.refused('enroll.start_refused', null, e, client, { provenBy: input.provenBy, via: input.via });
      throw e;
    }
  }

  /** Checks the code of challenge `id`; returns the one-use token that authorises the certificate. */
  async verify(id: string, code: unknown, client: ClientInfo = {}): Promise<{ token: string; address: string; expiresAt: Date }> {
    try {
      await this.limit('enroll:verify', VERIFY_LIMIT_PER_CLIENT, client, 'Too many code checks from your network');
      if (typeof code !== 'string' || code.trim() === '' || code.length > 100) {
        throw new AppError('enroll.bad_code', 'Enter the code from the mail', { detail: { field: 'code' } });
      }
      const v = await this.deps.proof.verify(id, code);
      if (v.purpose !== 'enroll') throw new AppError('proof.not_found', 'This verification request does not exist; request a new code', { kind: 'not_found' });
      await this.audit('enroll.verified', id, { address: v.address, client: client.ip ?? null }, v.address);
      return { token: v.token, address: v.address, expiresAt: v.tokenExpiresAt };
    } catch (e) {
      await this.refused('enroll.verify_refused', id, e, client);
      throw e;
    }
  }

  /**
   * Issues a certificate for the request `csrPem` under the token of challenge `id`. A refused
   * request leaves the token usable; an issued certificate spends it.
   */
  async issue(id: string, token: string | undefined, csrPem: string, client: ClientInfo = {}): Promise<IssuedCertificate & { address: string }> {
    let address: string | undefined;
    try {
      await this.limit('enroll:issue', ISSUE_LIMIT_PER_CLIENT, client, 'Too many certificate requests from your network');
      if (!token) throw new AppError('enroll.no_token', 'Send the authorisation from the confirmed code as "Authorization: Bearer <token>"', { kind: 'unauthorized' });
      const row = await this.deps.proof.check(token, 'enroll');
      if (row.id !== id) throw new AppError('enroll.mismatch', 'This authorisation belongs to another enrollment; confirm your address again', { kind: 'forbidden' });
      address = row.address;
      await this.deps.issuer.check({ csrPem, authorizedAddress: address });
      await this.deps.proof.redeem(token, 'enroll');
    } catch (e) {
      await this.refused('enroll.certificate_refused', id, e, client, address ? { address } : {}, address);
      throw e;
    }
    let issued: IssuedCertificate;
    try {
      issued = await this.deps.issuer.issue({ csrPem, authorizedAddress: address, actor: address });
    } catch (e) {
      // The token is spent: the request passed every check, so this is the CA's trouble, not the person's.
      await this.refused('enroll.certificate_failed', id, e, client, { address, tokenSpent: true }, address);
      throw e;
    }
    await this.audit('enroll.certificate_issued', id, { address, client: client.ip ?? null }, address);
    return { ...issued, address };
  }

  private async limit(prefix: string, limit: number, client: ClientInfo, message: string): Promise<void> {
    if (!this.deps.limiter || !client.ip) return;
    await enforceRateLimits(this.deps.limiter, [{ key: `${prefix}:ip:${client.ip}`, limit, windowMs: HOUR, message }]);
  }

  private async audit(action: string, subject: string | null, detail: Record<string, unknown>, actor = 'enrollment'): Promise<void> {
    await this.deps.audit.record({ actor, action, subject, detail });
  }

  private async refused(action: string, subject: string | null, e: unknown, client: ClientInfo, extra: Record<string, unknown> = {}, actor?: string): Promise<void> {
    const err = toAppError(e);
    try {
      await this.audit(action, subject, { code: err.code, status: err.status, reason: err.message, client: client.ip ?? null, ...extra }, actor);
    } catch (auditError) {
      // Never hide the person's error behind an audit failure; the caller still sees the refusal.
      console.error('enrollment: cannot write the audit entry', auditError);
    }
  }
}
