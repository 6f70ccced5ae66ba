/**
 * Revocation state of a recipient certificate.
 * - Our own CA (and any administrator action) records revocations in the database: a row with
 *   status 'revoked' or revoked_at set is revoked. Certificates issued by our CA are never checked
 *   over HTTP.
 * - Certificates from external CAs are checked against the CRL at their cRLDistributionPoints
 *   (http/https), downloaded through the CrlFetcher port, verified against the issuer in the chain,
 *   and cached in crl_cache (and in memory) until its nextUpdate.
 * - When no current CRL can be obtained, the policy decides (DIRECTORY_CRL_POLICY):
 *   'fail-open' (default): the certificate stays usable; the last CRL we had, even if stale, is still
 *     applied. A CRL server outage at a public CA should not stop mail to all its customers from
 *     being encrypted, and the alternative for such recipients is less protection, not more.
 *   'fail-closed': the certificate is unusable (reason crl.unavailable) until a current CRL is had.
 * A certificate without a distribution point has no revocation information to check.
 */
import { AppError } from '../shared/errors.js';
import { DIRECTORY_CRL_POLICIES, type DirectoryCrlPolicy } from '../config/index.js';
import type { Clock } from '../shared/clock.js';
import type { Certificate } from '../pki/certificate.js';
import { assertCrlIssuedBy, crlDistributionPoints, MAX_CRL_BYTES, parseCrl, type ParsedCrl } from './crl.js';
import type { CrlFetcher, DirectoryStore, StoredCertificate } from './ports.js';
import { reason, type Reason, type TrustStore } from './validate.js';

export type CrlPolicy = DirectoryCrlPolicy;
export const CRL_POLICIES = DIRECTORY_CRL_POLICIES;
export const DEFAULT_CRL_POLICY: CrlPolicy = 'fail-open';

/** After a failed download, the URL is not tried again for this long. */
export const CRL_RETRY_MS = 60_000;
/** A CRL without nextUpdate is refreshed after this long. */
export const CRL_MAX_AGE_MS = 24 * 3600_000;

export interface RevocationStatus {
  /** Set when revoked (code cert.revoked). */
  revoked?: Reason;
  /** Set when the policy is fail-closed and no current CRL could be had (code crl.unavailable). */
  unavailable?: Reason;
  /** One line on how revocation was checked, e.g. "not on the CRL at http://... (next update ...)". */
  note: string;
  /** When this answer may change (CRL nextUpdate, or a retry after a failed download). */
  recheckAt?: Date;
}

export interface RevocationDeps {
  store: Pick<DirectoryStore, 'getCrl' | 'putCrl' | 'bumpVersion'>;
  fetcher: CrlFetcher;
  policy: CrlPolicy;
  clock: Clock;
}

interface CrlState {
  crl: ParsedCrl;
  /** Fingerprint of the issuer it was verified against. */
  issuer: string;
  fetchedAt: Date;
}

/** Downloads CRLs with fetch(): http(s) only, a timeout, and a size limit. */
export function fetchCrlFetcher(options: { timeoutMs?: number; maxBytes?: number } = {}): CrlFetcher {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxBytes = options.maxBytes ?? MAX_CRL_BYTES;
  return {
    async fetch(url: string): Promise<Uint8Array> {
      if (!/^https?:\/\//i.test(url)) throw new AppError('crl.fetch_failed', `Not an http(s) CRL URL: ${url}`);
      const get = () => fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow', headers: { accept: 'application/pkix-crl, */*' } });
      let res: Response;
      try {
        try {
          res = await get();
        } catch (first) {
          // a pooled keep-alive connection the server closed meanwhile fails at once ("fetch failed"):
          // one fresh attempt; timeouts are not retried
          if ((first as Error).name === 'TimeoutError') throw first;
          res = await get();
        }
      } catch (e) {
        throw new AppError('crl.fetch_failed', `Cannot download the CRL ${url}: ${(e as Error).message}`, { kind: 'temporary', cause: e });
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        throw new AppError('crl.fetch_failed', `Cannot download the CRL ${url}: HTTP ${res.status}`, { kind: 'temporary' });
      }
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > maxBytes) {
        await res.body?.cancel().catch(() => {});
        throw new AppError('crl.too_large', `The CRL ${url} is ${declared} bytes; the limit is ${maxBytes}`);
      }
      const body = new Uint8Array(await res.arrayBuffer());
      if (body.length > maxBytes) throw new AppError('crl.too_large', `The CRL ${url} is ${body.length} bytes; the limit is ${maxBytes}`);
      return body;
    },
  };
}

const iso = (d: Date) => d.toISOString();

export class RevocationChecker {
  private readonly memory = new Map<string, CrlState>();
  private readonly inflight = new Map<string, Promise<CrlState>>();
  private readonly failedAt = new Map<string, { at: number; error: string }>();

  constructor(private readonly deps: RevocationDeps) {}

  get policy(): CrlPolicy {
    return this.deps.policy;
  }

  /** Revocation state of `chain[0]` (and of the external CAs above it), given its directory row. */
  async check(row: Pick<StoredCertificate, 'status' | 'revokedAt' | 'revocationReason' | 'authorityId'> | undefined, chain: readonly Certificate[], trust: TrustStore): Promise<RevocationStatus> {
    if (row && (row.status === 'revoked' || row.revokedAt)) {
      const by = row.authorityId ? 'by our CA' : 'in the directory';
      const when = row.revokedAt ? ` on ${iso(row.revokedAt)}` : '';
      return { revoked: reason('cert.revoked', `was revoked ${by}${when}${row.revocationReason ? ` (${row.revocationReason})` : ''}`), note: `revoked ${by}` };
    }
    const notes: string[] = [];
    let recheckAt: Date | undefined;
    const later = (d: Date | undefined) => {
      if (d && (!recheckAt || d < recheckAt)) recheckAt = d;
    };
    for (let i = 0; i + 1 < chain.length; i++) {
      const cert = chain[i]!;
      const issuer = chain[i + 1]!;
      const who = i === 0 ? 'the certificate' : `the CA certificate ${cert.subject}`;
      if (trust.own.has(issuer.fingerprint256)) {
        if (i === 0) notes.push('issued by our CA: revocation state from our database');
        continue;
      }
      const urls = crlDistributionPoints(cert);
      if (urls.length === 0) {
        if (i === 0) notes.push('no CRL distribution point to check');
        continue;
      }
      const got = await this.crlFor(urls, issuer);
      if (!got.state) {
        const why = got.error ?? 'no CRL';
        later(new Date(this.deps.clock.now().getTime() + CRL_RETRY_MS));
        if (this.deps.policy === 'fail-closed') {
          return { unavailable: reason('crl.unavailable', `the CRL for ${who} could not be obtained (${why}) and DIRECTORY_CRL_POLICY is fail-closed`), note: 'CRL unavailable (fail-closed)', recheckAt };
        }
        notes.push(`CRL unavailable, revocation not checked (fail-open: ${why})`);
        continue;
      }
      const { state, url, stale } = got;
      const entry = state.crl.revoked.get(cert.serialHex);
      if (entry) {
        return {
          revoked: reason('cert.revoked', `${i === 0 ? 'is' : `has an issuing CA (${cert.subject}) that is`} revoked since ${iso(entry.revokedAt)}${entry.reason ? ` (${entry.reason})` : ''} according to the CRL at ${url}`),
          note: `revoked on the CRL at ${url}`,
          recheckAt,
        };
      }
      if (stale) {
        later(new Date(this.deps.clock.now().getTime() + CRL_RETRY_MS));
        if (this.deps.policy === 'fail-closed') {
          return { unavailable: reason('crl.unavailable', `only an outdated CRL for ${who} is available (next update was ${state.crl.nextUpdate ? iso(state.crl.nextUpdate) : 'unknown'}) and DIRECTORY_CRL_POLICY is fail-closed`), note: 'CRL outdated (fail-closed)', recheckAt };
        }
        notes.push(`not on the last CRL at ${url}, which is outdated (fail-open)`);
      } else {
        later(state.crl.nextUpdate ?? new Date(state.fetchedAt.getTime() + CRL_MAX_AGE_MS));
        if (i === 0) notes.push(`not on the CRL at ${url}`);
      }
    }
    return { note: notes.join('; ') || 'not revoked', ...(recheckAt ? { recheckAt } : {}) };
  }

  private fresh(state: CrlState, now: Date): boolean {
    const next = state.crl.nextUpdate ?? new Date(state.fetchedAt.getTime() + CRL_MAX_AGE_MS);
    return now < next;
  }

  /** A verified CRL for `issuer` from one of `urls`: current if possible, else the last one we had. */
  private async crlFor(urls: string[], issuer: Certificate): Promise<{ state?: undefined; error?: string } | { state: CrlState; url: string; stale: boolean }> {
    const now = this.deps.clock.now();
    let stale: { state: CrlState; url: string } | undefined;
    let error: string | undefined;
    for (const url of urls) {
      let state = this.memory.get(url);
      // not in memory, or outdated: another process may have stored a newer one
      if (!state || state.issuer !== issuer.fingerprint256 || !this.fresh(state, now)) state = (await this.fromDatabase(url, issuer)) ?? state;
      if (state && state.issuer !== issuer.fingerprint256) state = undefined;
      if (state && this.fresh(state, now)) return { state, url, stale: false };
      if (state && !stale) stale = { state, url };
      const failed = this.failedAt.get(url);
      if (failed !== undefined && now.getTime() - failed.at < CRL_RETRY_MS) {
        error ??= `${failed.error}; not retried for ${CRL_RETRY_MS / 1000} s`;
        continue;
      }
      try {
        const fetched = await this.download(url, issuer, state);
        if (this.fresh(fetched, now)) return { state: fetched, url, stale: false };
        stale = { state: fetched, url };
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
        this.failedAt.set(url, { at: now.getTime(), error });
      }
    }
    return stale ? { ...stale, stale: true } : { error };
  }

  private async fromDatabase(url: string, issuer: Certificate): Promise<CrlState | undefined> {
    const row = await this.deps.store.getCrl(url);
    if (!row) return undefined;
    try {
      const crl = parseCrl(row.der);
      assertCrlIssuedBy(crl, issuer);
      const state = { crl, issuer: issuer.fingerprint256, fetchedAt: row.fetchedAt };
      this.memory.set(url, state);
      return state;
    } catch {
      return undefined; // a cached CRL of another issuer or a damaged row: download again
    }
  }

  private download(url: string, issuer: Certificate, previous: CrlState | undefined): Promise<CrlState> {
    const key = `${url} ${issuer.fingerprint256}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = (async () => {
        const der = await this.deps.fetcher.fetch(url);
        const crl = parseCrl(der);
        assertCrlIssuedBy(crl, issuer);
        if (previous && crl.thisUpdate < previous.crl.thisUpdate) return previous; // never go back in time
        const state: CrlState = { crl, issuer: issuer.fingerprint256, fetchedAt: this.deps.clock.now() };
        await this.deps.store.putCrl({ url, issuerDn: issuer.subject, der, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate ?? null, fetchedAt: state.fetchedAt });
        this.memory.set(url, state);
        this.failedAt.delete(url);
        if (previous ? !sameRevocations(previous.crl, crl) : crl.revoked.size > 0) await this.deps.store.bumpVersion(); // other processes drop cached answers
        return state;
      })().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }
}

function sameRevocations(a: ParsedCrl, b: ParsedCrl): boolean {
  if (a.revoked.size !== b.revoked.size) return false;
  for (const k of a.revoked.keys()) if (!b.revoked.has(k)) return false;
  return true;
}
