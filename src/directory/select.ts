/**
 * Choosing among the certificates on file for one address: of the usable ones (no reasons against
 * them), the newest notBefore wins (rotation: the renewed certificate replaces the old one, which
 * stays listed as superseded). Ties go to the later notAfter, then to the source we trust most
 * (issued by our CA, then confirmed uploads, admin imports, harvested), then to the fingerprint
 * so the choice is deterministic across processes.
 */
import type { Certificate } from '../pki/certificate.js';
import type { CertificateSource, StoredCertificate } from './ports.js';
import type { Reason } from './validate.js';

export interface Candidate {
  row: StoredCertificate;
  /** Undefined when the stored DER could not be parsed (then reasons say why). */
  certificate?: Certificate;
  reasons: Reason[];
  chain?: Certificate[];
  /** How revocation was checked. */
  revocation?: string;
  /** When the verdict may change by itself (CRL update, retry). */
  recheckAt?: Date;
}

/** What the directory says about one certificate of an address. */
export type CandidateStatus = 'active' | 'superseded' | 'pending' | 'revoked' | 'expired' | 'unusable';

const SOURCE_RANK: Record<CertificateSource, number> = { issued: 0, uploaded: 1, imported: 2, harvested: 3 };

export function isUsable(c: Candidate): boolean {
  return c.certificate !== undefined && c.reasons.length === 0;
}

/** Orders candidates: usable first, best first; then the rest, newest first. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  const ua = isUsable(a) ? 0 : 1;
  const ub = isUsable(b) ? 0 : 1;
  if (ua !== ub) return ua - ub;
  const nb = (b.certificate?.notBefore.getTime() ?? 0) - (a.certificate?.notBefore.getTime() ?? 0);
  if (nb !== 0) return nb;
  const na = (b.certificate?.notAfter.getTime() ?? 0) - (a.certificate?.notAfter.getTime() ?? 0);
  if (na !== 0) return na;
  const sr = SOURCE_RANK[a.row.source] - SOURCE_RANK[b.row.source];
  if (sr !== 0) return sr;
  return a.row.fingerprint < b.row.fingerprint ? -1 : a.row.fingerprint > b.row.fingerprint ? 1 : 0;
}

export interface Selection {
  chosen?: Candidate;
  /** All candidates, the chosen one first. */
  ordered: Candidate[];
}

export function selectCandidate(candidates: readonly Candidate[]): Selection {
  const ordered = [...candidates].sort(compareCandidates);
  const first = ordered[0];
  return first && isUsable(first) ? { chosen: first, ordered } : { ordered };
}

export function candidateStatus(c: Candidate, chosen: Candidate | undefined): CandidateStatus {
  if (c === chosen) return 'active';
  if (isUsable(c)) return 'superseded';
  const codes = new Set(c.reasons.map((r) => r.code));
  if (codes.has('cert.pending')) return 'pending';
  if (codes.has('cert.revoked')) return 'revoked';
  if (codes.has('cert.expired')) return 'expired';
  return 'unusable';
}

/** The one-line reason for the choice, e.g. "uploaded certificate, the newest of 2 usable (valid until ...)". */
export function choiceReason(chosen: Candidate, usableCount: number, algorithmsReason: string): string {
  const c = chosen.certificate!;
  const which = usableCount > 1 ? `the newest of ${usableCount} usable certificates` : 'the only usable certificate';
  const others = chosen.revocation ? `; ${chosen.revocation}` : '';
  return `${chosen.row.source} certificate, ${which} (valid ${c.notBefore.toISOString().slice(0, 10)} to ${c.notAfter.toISOString().slice(0, 10)}${others}); ${algorithmsReason}`;
}
