/** Enrollments (pending and failed) and the audit log with its chain status. */
import type { ChainedAuditEntry, ChainStatus, EnrollmentRow, EnrollmentView } from '../../../admin/ports.js';
import { AdminLayout, formatTime, Pager, type AdminUserInfo } from './layout.js';

export function EnrollmentsPage(p: { user: AdminUserInfo; view: EnrollmentView; rows: EnrollmentRow[]; total: number; page: number; pageSize: number }) {
  const pages = Math.max(1, Math.ceil(p.total / p.pageSize));
  const href = (view: EnrollmentView, page = 1) => `/admin/enrollments?view=${view}${page > 1 ? `&page=${page}` : ''}`;
  return (
    <AdminLayout title="Enrollments" user={p.user} section="enrollments">
      <h1>Enrollments</h1>
      <nav class="pager" aria-label="Views">
        <a href={href('pending')} aria-current={p.view === 'pending' ? 'page' : undefined}>
          Pending
        </a>
        <a href={href('failed')} aria-current={p.view === 'failed' ? 'page' : undefined}>
          Failed
        </a>
      </nav>
      <p class="lead">
        {p.view === 'pending'
          ? 'Addresses that were sent a confirmation code which has not been entered yet.'
          : 'Requests whose code was never confirmed before it expired, or that were locked after too many wrong codes.'}
      </p>
      <p class="count" id="result-count">
        {p.total === 0 ? 'None.' : `${p.total} enrollment${p.total === 1 ? '' : 's'}`}
      </p>
      {p.rows.length > 0 ? (
        <table class="list" id="enrollments">
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">State</th>
              <th scope="col">Requested</th>
              <th scope="col">Code expires</th>
              <th scope="col">Wrong codes</th>
              <th scope="col">Client</th>
            </tr>
          </thead>
          <tbody>
            {p.rows.map((r) => (
              <tr>
                <td>{r.address}</td>
                <td>
                  <span class={`badge ${r.state}`}>{r.state}</span>
                </td>
                <td>{formatTime(r.createdAt)}</td>
                <td>{formatTime(r.expiresAt)}</td>
                <td>{r.attempts}</td>
                <td class="mono">{r.clientIp ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager page={p.page} pages={pages} href={(page) => href(p.view, page)} />
    </AdminLayout>
  );
}

export function AuditPage(p: { user: AdminUserInfo; entries: ChainedAuditEntry[]; chain: ChainStatus; olderHref?: string; newestHref?: string }) {
  return (
    <AdminLayout title="Audit log" user={p.user} section="audit">
      <h1>Audit log</h1>
      {p.chain.ok ? (
        <p class="chain ok" id="chain-status" role="status">
          Hash chain intact: all {p.chain.entries} entries link to the one before and match their content.
        </p>
      ) : (
        <p class="chain broken" id="chain-status" role="alert">
          Hash chain BROKEN at entry #{p.chain.brokenAt}: {p.chain.reason}. The log was changed outside the application from this entry on.
        </p>
      )}
      <table class="list" id="audit">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Subject</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {p.entries.map((e) => (
            <tr>
              <td>
                {e.id}
                {!p.chain.ok && p.chain.brokenAt === e.id ? <span class="badge broken">broken</span> : null}
              </td>
              <td>{formatTime(e.at)}</td>
              <td>{e.actor}</td>
              <td class="mono action">{e.action}</td>
              <td>{e.subject ?? '—'}</td>
              <td>
                {e.detail ? (
                  <details class="json">
                    <summary>{summarize(e.detail)}</summary>
                    <pre>{JSON.stringify(e.detail, null, 2)}</pre>
                  </details>
                ) : (
                  '—'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        {p.newestHref ? <a href={p.newestHref}>← Newest</a> : null}
        {p.olderHref ? <a href={p.olderHref}>Older →</a> : null}
      </nav>
    </AdminLayout>
  );
}

function summarize(detail: Record<string, unknown>): string {
  const s = Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? '…' : String(v)}`)
    .join(', ');
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}
