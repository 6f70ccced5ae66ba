/**
 * The admin console's page frame: the shared stylesheet plus /admin/assets/admin.css, a header
 * with the console's sections, who is signed in, and a sign-out form (POST with the CSRF token).
 * English only (the recipient pages are bilingual; administrators share one console).
 */
import type { Child } from 'hono/jsx';
import { CSRF_FIELD } from '../../middleware/csrf.js';

export interface AdminUserInfo {
  username: string;
  role: string;
  csrfToken: string;
}

export type AdminSection = 'certificates' | 'enrollments' | 'audit';

export function AdminLayout(p: { title: string; user?: AdminUserInfo; section?: AdminSection; children?: Child }) {
  const link = (section: AdminSection, href: string, label: string) => (
    <a href={href} aria-current={p.section === section ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <meta name="robots" content="noindex" />
        <title>{`${p.title} - smimegw admin`}</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <link rel="stylesheet" href="/admin/assets/admin.css" />
      </head>
      <body class="admin">
        <a class="skip" href="#content">
          Skip to content
        </a>
        <header class="site">
          <div class="bar">
            <a class="name" href="/admin/certificates">
              smimegw admin
            </a>
            {p.user ? (
              <nav class="admin" aria-label="Sections">
                {link('certificates', '/admin/certificates', 'Certificates')}
                {link('enrollments', '/admin/enrollments', 'Enrollments')}
                {link('audit', '/admin/audit', 'Audit log')}
              </nav>
            ) : null}
            {p.user ? (
              <div class="who">
                <span>
                  {p.user.username} ({p.user.role})
                </span>
                <form method="post" action="/admin/logout">
                  <input type="hidden" name={CSRF_FIELD} value={p.user.csrfToken} />
                  <button type="submit">Sign out</button>
                </form>
              </div>
            ) : null}
          </div>
        </header>
        <main id="content">{p.children}</main>
        <footer class="site">
          <p>smimegw administration. Every action here is recorded in the audit log.</p>
        </footer>
      </body>
    </html>
  );
}

/** "2024-05-01 10:00 UTC" (or an em dash). */
export function formatTime(d: Date | null | undefined): string {
  if (!d) return '—';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function CsrfField(p: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={p.token} />;
}

/** Previous / "Page n of m" / Next links (nothing when everything fits on one page). */
export function Pager(p: { page: number; pages: number; href: (page: number) => string }) {
  if (p.pages <= 1) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {p.page > 1 ? <a href={p.href(p.page - 1)}>← Previous</a> : null}
      <span>
        Page {p.page} of {p.pages}
      </span>
      {p.page < p.pages ? <a href={p.href(p.page + 1)}>Next →</a> : null}
    </nav>
  );
}
