/** Short import guides (Outlook, Thunderbird, Apple Mail, iPhone) in the page's language. */
import { messagesFor, type Locale } from '../i18n.js';
import { Layout } from './layout.js';

export function GuidePage(p: { locale: Locale; switchHref: string }) {
  const g = messagesFor(p.locale).guide;
  return (
    <Layout locale={p.locale} title={g.title} switchHref={p.switchHref}>
      <div class="guide">
        <h1>{g.title}</h1>
        <p class="lead">{g.intro}</p>
        <nav>
          <ul>
            {g.sections.map((s) => (
              <li>
                <a href={`#${s.id}`}>{s.title}</a>
              </li>
            ))}
          </ul>
        </nav>
        {g.sections.map((s) => (
          <section class="card" id={s.id}>
            <h2>{s.title}</h2>
            <p>
              <strong>{g.whichFile}</strong> {s.file}
            </p>
            <ol>
              {s.steps.map((step) => (
                <li>{step}</li>
              ))}
            </ol>
          </section>
        ))}
        <p>
          <a href="/enroll">{g.back}</a>
        </p>
      </div>
    </Layout>
  );
}
