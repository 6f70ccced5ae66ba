/** The certificate list (search, filters, sortable columns, pages) and one certificate in detail. */
import type { CertificateView } from '../../../admin/certificate-view.js';
import {
  CERT_STATUSES,
  REVOCATION_REASONS,
  type CertificateRecord,
  type CertificateSummary,
  type CertSort,
  type CertStatus,
  type ExpiryFilter,
} from '../../../admin/ports.js';
import { AdminLayout, CsrfField, formatTime, Pager, type AdminUserInfo } from './layout.js';

export interface CertificateListParams {
  q: string;
  status: CertStatus | undefined;
  expiry: ExpiryFilter | undefined;
  sort: CertSort;
  dir: 'asc' | 'desc';
  page: number;
}

export function listHref(p: CertificateListParams, change: Partial<CertificateListParams> = {}): string {
  const v = { ...p, ...change };
  const q = new URLSearchParams();
  if (v.q) q.set('q', v.q);
  if (v.status) q.set('status', v.status);
  if (v.expiry) q.set('expiry', v.expiry);
  q.set('sort', v.sort);
  q.set('dir', v.dir);
  if (v.page > 1) q.set('page', String(v.page));
  return `/admin/certificates?${q.toString()}`;
}

const SORT_LABELS: Record<CertSort, string> = { address: 'Address', notBefore: 'Valid from', notAfter: 'Valid until' };

function SortHeader(p: { params: CertificateListParams; sort: CertSort }) {
  const current = p.params.sort === p.sort;
  const nextDir = current && p.params.dir === 'asc' ? 'desc' : 'asc';
  const arrow = current ? (p.params.dir === 'asc' ? ' ▲' : ' ▼') : '';
  return (
    <th scope="col" aria-sort={current ? (p.params.dir === 'asc' ? 'ascending' : 'descending') : undefined}>
      <a href={listHref(p.params, { sort: p.sort, dir: nextDir, page: 1 })}>{`${SORT_LABELS[p.sort]}${arrow}`}</a>
    </th>
  );
}

export function StatusBadge(p: { status: string }) {
  return <span class={`badge ${p.status}`}>{p.status}</span>;
}

export function CertificatesPage(p: { user: AdminUserInfo; params: CertificateListParams; rows: CertificateSummary[]; total: number; pageSize: number; now: Date }) {
  const { params } = p;
  const pages = Math.max(1, Math.ceil(p.total / p.pageSize));
  const first = p.total === 0 ? 0 : (params.page - 1) * p.pageSize + 1;
  const last = Math.min(p.total, params.page * p.pageSize);
  return (
    <AdminLayout title="Certificates" user={p.user} section="certificates">
      <h1>Certificates</h1>
      <form method="get" action="/admin/certificates" class="filters card" role="search">
        <div class="field">
          <label for="q">Address contains</label>
          <input id="q" name="q" type="text" value={params.q} placeholder="name@example.com" />
        </div>
        <div class="field">
          <label for="status">Status</label>
          <select id="status" name="status">
            <option value="">any</option>
            {CERT_STATUSES.map((s) => (
              <option value={s} selected={params.status === s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="expiry">Expiry</label>
          <select id="expiry" name="expiry">
            <option value="">any</option>
            <option value="expiring" selected={params.expiry === 'expiring'}>
              expiring within 30 days
            </option>
            <option value="expired" selected={params.expiry === 'expired'}>
              expired
            </option>
          </select>
        </div>
        <input type="hidden" name="sort" value={params.sort} />
        <input type="hidden" name="dir" value={params.dir} />
        <button type="submit">Search</button>
        <a href="/admin/certificates">Clear</a>
      </form>
      <p class="count" id="result-count">
        {p.total === 0 ? 'No certificates match.' : `${first}–${last} of ${p.total} certificate${p.total === 1 ? '' : 's'}`}
      </p>
      {p.rows.length > 0 ? (
        <table class="list" id="certificates">
          <thead>
            <tr>
              <SortHeader params={params} sort="address" />
              <th scope="col">Status</th>
              <th scope="col">Source</th>
              <SortHeader params={params} sort="notBefore" />
              <SortHeader params={params} sort="notAfter" />
              <th scope="col">Serial</th>
            </tr>
          </thead>
          <tbody>
            {p.rows.map((r) => (
              <tr>
                <td>
                  <a href={`/admin/certificates/${r.id}`}>{r.email}</a>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                  {r.notAfter && r.notAfter.getTime() < p.now.getTime() ? <span class="badge expired">expired</span> : null}
                </td>
                <td>{r.source}</td>
                <td>{formatTime(r.notBefore)}</td>
                <td>{formatTime(r.notAfter)}</td>
                <td class="mono">{r.serialHex ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager page={params.page} pages={pages} href={(page) => listHref(params, { page })} />
    </AdminLayout>
  );
}

function Fact(p: { term: string; children?: unknown; mono?: boolean }) {
  return (
    <>
      <dt>{p.term}</dt>
      <dd class={p.mono ? 'mono' : undefined}>{p.children as never}</dd>
    </>
  );
}

export function CertificatePage(p: {
  user: AdminUserInfo;
  record: CertificateRecord;
  view: CertificateView | undefined;
  parseError?: string;
  canRevoke: boolean;
  /** Why revocation is not offered (when the user may revoke but this certificate cannot be). */
  revokeUnavailable?: string;
  notice?: string;
}) {
  const { record: r, view: v } = p;
  return (
    <AdminLayout title={`Certificate ${r.email}`} user={p.user} section="certificates">
      <p>
        <a href="/admin/certificates">← Certificates</a>
      </p>
      <h1>{r.email}</h1>
      {p.notice ? (
        <p class="notice" role="status">
          {p.notice}
        </p>
      ) : null}
      <div class="card">
        <dl class="facts" id="facts">
          <Fact term="Status">
            <StatusBadge status={r.status} />
            {r.revokedAt ? ` since ${formatTime(r.revokedAt)}${r.revocationReason ? ` (${r.revocationReason})` : ''}` : ''}
          </Fact>
          <Fact term="Source">{r.source}</Fact>
          <Fact term="Subject">{v?.subject ?? r.subjectDn ?? '—'}</Fact>
          <Fact term="Issuer">{v?.issuer ?? r.issuerDn ?? '—'}</Fact>
          <Fact term="Addresses (SAN)">{(v?.addresses ?? r.addresses).join(', ') || '—'}</Fact>
          <Fact term="Serial" mono>
            {v?.serialHex ?? r.serialHex ?? '—'}
          </Fact>
          <Fact term="SHA-256 fingerprint" mono>
            {v?.sha256 ?? r.fingerprintSha256}
          </Fact>
          {v ? (
            <Fact term="SHA-1 fingerprint" mono>
              {v.sha1}
            </Fact>
          ) : null}
          <Fact term="Valid from">{formatTime(v?.notBefore ?? r.notBefore)}</Fact>
          <Fact term="Valid until">{formatTime(v?.notAfter ?? r.notAfter)}</Fact>
          {v ? <Fact term="Key">{v.key}</Fact> : null}
          {v ? <Fact term="Signature">{v.signatureAlgorithm}</Fact> : null}
          <Fact term="Added">{formatTime(r.createdAt)}</Fact>
        </dl>
        {r.der ? (
          <a class="button secondary" href={`/admin/certificates/${r.id}/pem`} download>
            Download PEM
          </a>
        ) : (
          <p class="help">No certificate data is stored for this entry.</p>
        )}
      </div>
      {p.parseError ? (
        <p class="error" role="alert">
          The stored certificate cannot be read: {p.parseError}
        </p>
      ) : null}
      {v ? (
        <div class="card">
          <h2>Extensions</h2>
          <dl class="facts ext" id="extensions">
            {v.extensions.map((e) => (
              <>
                <dt>
                  {e.name}
                  {e.critical ? ' (critical)' : ''}
                </dt>
                <dd>
                  <ul>
                    {e.values.map((line) => (
                      <li>{line}</li>
                    ))}
                  </ul>
                </dd>
              </>
            ))}
          </dl>
        </div>
      ) : null}
      {p.canRevoke ? (
        <form method="post" action={`/admin/certificates/${r.id}/revoke`} class="card danger" id="revoke">
          <h2>Revoke</h2>
          <p class="help">Revocation is final: the certificate is put on the CRL and OCSP answers "revoked" at once.</p>
          <CsrfField token={p.user.csrfToken} />
          <label for="reason">Reason</label>
          <select id="reason" name="reason" required>
            {REVOCATION_REASONS.map((reason) => (
              <option value={reason}>{reason}</option>
            ))}
          </select>
          <label class="check">
            <input type="checkbox" name="confirm" value="yes" required /> I want to revoke this certificate
          </label>
          <button type="submit">Revoke certificate</button>
        </form>
      ) : p.revokeUnavailable ? (
        <p class="help">{p.revokeUnavailable}</p>
      ) : null}
    </AdminLayout>
  );
}
