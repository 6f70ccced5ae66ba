/** The development outbox: mail the service would have sent (only without NOTIFY_SMTP_URL, never in production). */
import { messagesFor, type Locale } from '../i18n.js';
import { Layout } from './layout.js';

export interface OutboxMail {
  id: number;
  to: string;
  subject: string;
  text: string;
  createdAt: Date;
}

export function OutboxPage(p: { locale: Locale; switchHref: string; mails: OutboxMail[] }) {
  const m = messagesFor(p.locale).outbox;
  return (
    <Layout locale={p.locale} title={m.title} switchHref={p.switchHref} footer={m.intro}>
      <h1>{m.title}</h1>
      <p class="lead">{m.intro}</p>
      <div class="card">
        {p.mails.length === 0 ? <p>{m.empty}</p> : null}
        {p.mails.map((mail) => (
          <article class="mail" id={`mail-${mail.id}`}>
            <dl class="facts">
              <dt>{m.to}</dt>
              <dd>{mail.to}</dd>
              <dt>{m.subject}</dt>
              <dd>{mail.subject}</dd>
              <dt>{m.at}</dt>
              <dd>{mail.createdAt.toISOString()}</dd>
            </dl>
            <pre>{mail.text}</pre>
          </article>
        ))}
      </div>
    </Layout>
  );
}
