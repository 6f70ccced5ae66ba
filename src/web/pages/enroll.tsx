/**
 * The enrollment page: three steps on one page (address, code, key and files). The server renders
 * the address step, or the code step when opened from the mailed link (?challenge=&code=); the
 * browser script /assets/enroll.js does the rest through the JSON API, so the bearer token and the
 * private key stay in the page's memory.
 */
import { messagesFor, type Locale } from '../i18n.js';
import { Layout } from './layout.js';

export interface EnrollPageProps {
  locale: Locale;
  switchHref: string;
  /** From the mailed link. */
  challenge?: string;
  code?: string;
}

export const ENROLL_SCRIPT = '/assets/enroll.js';

export function EnrollPage(p: EnrollPageProps) {
  const m = messagesFor(p.locale).enroll;
  const fromLink = p.challenge !== undefined;
  return (
    <Layout locale={p.locale} title={m.title} switchHref={p.switchHref} scripts={[ENROLL_SCRIPT]}>
      <div id="enroll" data-locale={p.locale} data-challenge={p.challenge ?? ''}>
        <h1>{m.title}</h1>
        <p class="lead">{m.intro}</p>
        <noscript>
          <p class="error">{m.noscript}</p>
        </noscript>
        <ol class="steps">
          {m.steps.map((label, i) => (
            <li id={`progress-${i + 1}`} aria-current={(fromLink ? i === 1 : i === 0) ? 'step' : undefined} class={fromLink && i === 0 ? 'done' : undefined}>
              {label}
            </li>
          ))}
        </ol>

        <section class="card" id="step-address" hidden={fromLink}>
          <h2>{m.addressHeading}</h2>
          <form id="address-form" novalidate>
            <label for="email">{m.addressLabel}</label>
            <input type="email" id="email" name="email" autocomplete="email" required maxlength={320} inputmode="email" aria-describedby="email-help" />
            <p class="help" id="email-help">
              {m.addressHelp}
            </p>
            <button type="submit">{m.addressSubmit}</button>
          </form>
        </section>

        <section class="card" id="step-code" hidden={!fromLink}>
          <h2>{m.codeHeading}</h2>
          <p class="notice">
            {m.codeSent}
            <span id="code-sent-to" hidden>
              {' '}
              {m.codeSentTo} <strong id="code-address"></strong>
            </span>
          </p>
          <form id="code-form" novalidate>
            <label for="code">{m.codeLabel}</label>
            <input
              type="text"
              class="code"
              id="code"
              name="code"
              autocomplete="one-time-code"
              autocapitalize="characters"
              spellcheck={false}
              required
              maxlength={64}
              value={p.code ?? ''}
              aria-describedby="code-help"
            />
            <p class="help" id="code-help">
              {m.codeHelp}
            </p>
            <button type="submit">{m.codeSubmit}</button>
            <button type="button" class="link" id="start-over">
              {m.startOver}
            </button>
          </form>
        </section>

        <section class="card" id="step-key" hidden>
          <h2>{m.keyHeading}</h2>
          <p>{m.keyIntro}</p>
          <form id="key-form" novalidate>
            <label for="passphrase">{m.passphraseLabel}</label>
            <input type="password" id="passphrase" name="passphrase" autocomplete="new-password" required minlength={8} maxlength={256} aria-describedby="passphrase-help" />
            <label for="passphrase2">{m.passphraseRepeatLabel}</label>
            <input type="password" id="passphrase2" name="passphrase2" autocomplete="new-password" required minlength={8} maxlength={256} />
            <p class="help" id="passphrase-help">
              {m.passphraseHelp}
            </p>
            <p class="help">{m.keyAlgorithmNote}</p>
            <button type="submit">{m.keySubmit}</button>
          </form>
          <p class="help">{m.privacyNote}</p>
        </section>

        <section class="card" id="step-done" hidden>
          <h2>{m.doneHeading}</h2>
          <p>{m.doneIntro}</p>
          <dl class="facts">
            <dt>{m.certificateFor}</dt>
            <dd id="done-address"></dd>
            <dt>{m.validUntil}</dt>
            <dd id="done-valid-until"></dd>
          </dl>
          <ul class="downloads">
            <li>
              <a class="button" id="download-modern" download="certificate.p12" href="#">
                {m.downloadModern}
              </a>
              <p class="help">{m.downloadModernHelp}</p>
            </li>
            <li>
              <a class="button" id="download-compatible" download="certificate-compatible.p12" href="#">
                {m.downloadCompatible}
              </a>
              <p class="help">{m.downloadCompatibleHelp}</p>
            </li>
            <li>
              <a class="button secondary" id="download-chain" download="issuer-chain.pem" href="#">
                {m.downloadChain}
              </a>
              <p class="help">{m.downloadChainHelp}</p>
            </li>
            <li>
              <a id="download-certificate" download="certificate.pem" href="#">
                {m.downloadCertificate}
              </a>
            </li>
          </ul>
          <p class="notice">{m.keepSafe}</p>
          <p>
            <a href={`/enroll/guide?lang=${p.locale}`} target="_blank" rel="noopener" id="guide-link">
              {m.guideLink}
            </a>
          </p>
        </section>

        <p class="status" id="status" role="status" aria-live="polite"></p>
        <p class="error" id="error" role="alert" hidden></p>
      </div>
    </Layout>
  );
}
