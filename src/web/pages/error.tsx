/** An error shown as a page (for browser routes), with the message a person can act on. */
import { messagesFor, type Locale } from '../i18n.js';
import { Layout } from './layout.js';

export function ErrorPage(p: { locale: Locale; switchHref: string; message: string; backHref?: string }) {
  const m = messagesFor(p.locale).errorPage;
  return (
    <Layout locale={p.locale} title={m.title} switchHref={p.switchHref}>
      <h1>{m.title}</h1>
      <p class="error">{p.message}</p>
      <p>
        <a href={p.backHref ?? '/enroll'}>{m.back}</a>
      </p>
    </Layout>
  );
}
