/**
 * The page frame shared by every HTML page (enrollment, import guide, admin): header with the
 * service name and the language switch, main content, footer. Styles come from /assets/app.css and
 * scripts only from /assets/*.js (the Content-Security-Policy allows nothing inline).
 */
import type { Child } from 'hono/jsx';
import { messagesFor, type Locale } from '../i18n.js';

export interface LayoutProps {
  locale: Locale;
  /** The document title (the service name is appended). */
  title: string;
  /** Link to this page in the other language (see switchLanguageHref). */
  switchHref: string;
  /** Module scripts to load, e.g. ['/assets/enroll.js']. */
  scripts?: string[];
  /** Where the service name in the header links to (default /enroll). */
  homeHref?: string;
  /** Footer text; defaults to the service's footer line. */
  footer?: string;
  children?: Child;
}

export function Layout(p: LayoutProps) {
  const m = messagesFor(p.locale);
  return (
    <html lang={p.locale}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${p.title} - ${m.site.name}`}</title>
        <link rel="stylesheet" href="/assets/app.css" />
        {(p.scripts ?? []).map((src) => (
          <script type="module" src={src}></script>
        ))}
      </head>
      <body>
        <a class="skip" href="#content">
          {m.site.skip}
        </a>
        <header class="site">
          <div class="bar">
            <a class="name" href={p.homeHref ?? '/enroll'}>
              {m.site.name}
            </a>
            <a class="lang" href={p.switchHref} hreflang={m.lang.otherName} lang={m.lang.otherName} id="switch-language">
              {m.lang.switchTo}
            </a>
          </div>
        </header>
        <main id="content">{p.children}</main>
        <footer class="site">
          <p>{p.footer ?? m.site.footer}</p>
        </footer>
      </body>
    </html>
  );
}

/** A whole HTML document as a string, with the doctype. */
export function renderDocument(node: unknown): string {
  return '<!doctype html>' + String(node);
}
