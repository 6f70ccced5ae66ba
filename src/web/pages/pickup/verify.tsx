/**
 * The pickup link before verification: who sent it and until when, then either "send me a code"
 * and the code form (default), or the password form (out-of-band mode). Plain HTML forms, no script.
 */
import type { Locale } from '../../i18n.js';
import { fill, maskAddress, pickupMessages, PickupFrame, when } from './common.js';

export interface VerifyPageProps {
  locale: Locale;
  switchHref: string;
  token: string;
  sender: string;
  recipient: string;
  expiresAt: Date;
  mode: 'code' | 'password';
  /** Code mode: the challenge whose code is awaited (after "send me a code" or from the mailed link). */
  challenge?: string;
  /** The code from the mailed link, prefilled. */
  code?: string;
  /** A localized error to show (wrong code, ...). */
  error?: string;
  /** A localized notice (e.g. the session ended). */
  notice?: string;
}

export function VerifyPage(p: VerifyPageProps) {
  const m = pickupMessages(p.locale);
  const base = `/pickup/${p.token}`;
  const q = `?lang=${p.locale}`;
  const masked = maskAddress(p.recipient);
  return (
    <PickupFrame locale={p.locale} switchHref={p.switchHref} title={m.title} homeHref={base}>
      <h1>{m.title}</h1>
      <p class="lead" id="waiting">
        {fill(m.waiting, { sender: p.sender })}
      </p>
      <dl class="facts">
        <dt>{m.from}</dt>
        <dd>{p.sender}</dd>
        <dt>{m.expires}</dt>
        <dd>{when(p.expiresAt, p.locale)}</dd>
      </dl>
      {p.notice ? <p class="notice">{p.notice}</p> : null}
      {p.error ? (
        <p class="error" id="error" role="alert">
          {p.error}
        </p>
      ) : null}

      {p.mode === 'password' ? (
        <section class="card" id="step-password">
          <p>{m.passwordIntro}</p>
          <form method="post" action={`${base}/verify${q}`} id="password-form">
            <label for="password">{m.passwordLabel}</label>
            <input type="password" id="password" name="password" autocomplete="off" required maxlength={100} />
            <button type="submit">{m.passwordSubmit}</button>
          </form>
        </section>
      ) : p.challenge ? (
        <section class="card" id="step-code">
          <p class="notice">{fill(m.codeSent, { address: masked })}</p>
          <form method="post" action={`${base}/verify${q}`} id="code-form">
            <input type="hidden" name="challenge" value={p.challenge} />
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
          </form>
          <form method="post" action={`${base}/code${q}`} id="new-code-form">
            <button type="submit" class="link">
              {m.newCode}
            </button>
          </form>
        </section>
      ) : (
        <section class="card" id="step-start">
          <p>{fill(m.codeIntro, { address: masked })}</p>
          <form method="post" action={`${base}/code${q}`} id="send-code-form">
            <button type="submit">{m.sendCode}</button>
          </form>
        </section>
      )}
    </PickupFrame>
  );
}
