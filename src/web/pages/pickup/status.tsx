/**
 * The sender's status page (the link in the sender's notice): state, expiry, downloads, wrong
 * attempts, the access log (time, what, recipient confirmed, client address), and the buttons to
 * revoke, extend and unlock.
 */
import type { Locale } from '../../i18n.js';
import type { AccessEntry } from '../../../pickup/ports.js';
import type { PickupState } from '../../../pickup/service.js';
import { fill, pickupMessages, PickupFrame, size, when } from './common.js';

export interface StatusPageProps {
  locale: Locale;
  switchHref: string;
  senderToken: string;
  recipient: string;
  subject: string | null;
  createdAt: Date;
  expiresAt: Date;
  sizeBytes: number;
  downloads: number;
  failedAttempts: number;
  mode: 'code' | 'password';
  state: PickupState;
  log: AccessEntry[];
  extendDays: number;
  maxDays: number;
  /** A localized confirmation (after revoke, extend, unlock) or error. */
  flash?: { kind: 'notice' | 'error'; text: string };
}

function iso(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

/** One button of the status page, as a form that posts to `href`. */
function Action(p: { href: string; id: string; label: string; help: string }) {
  return (
    <form method="post" action={p.href} id={`${p.id}-form`}>
      <button type="submit" id={p.id}>
        {p.label}
      </button>
      <p class="help">{p.help}</p>
    </form>
  );
}

export function StatusPage(p: StatusPageProps) {
  const m = pickupMessages(p.locale);
  const base = `/pickup/status/${p.senderToken}`;
  const q = `?lang=${p.locale}`;
  const live = p.state === 'active' || p.state === 'locked';
  return (
    <PickupFrame locale={p.locale} switchHref={p.switchHref} title={m.statusTitle} homeHref={base}>
      <h1>{m.statusTitle}</h1>
      <p class="lead">{fill(m.statusIntro, { recipient: p.recipient })}</p>
      {p.flash ? (
        <p class={p.flash.kind} id="flash" role={p.flash.kind === 'error' ? 'alert' : 'status'}>
          {p.flash.text}
        </p>
      ) : null}
      <dl class="facts" id="facts">
        <dt>{m.state}</dt>
        <dd id="state" data-state={p.state}>
          {m.states[p.state]}
        </dd>
        <dt>{m.subject}</dt>
        <dd>{p.subject ?? ''}</dd>
        <dt>{m.sent}</dt>
        <dd>{when(p.createdAt, p.locale)}</dd>
        <dt>{m.expires}</dt>
        <dd id="expires">{when(p.expiresAt, p.locale)}</dd>
        <dt>{m.size}</dt>
        <dd>{size(p.sizeBytes, p.locale)}</dd>
        <dt>{m.downloads}</dt>
        <dd id="downloads">{p.downloads}</dd>
        <dt>{m.failedAttempts}</dt>
        <dd id="failed">{p.failedAttempts}</dd>
        <dt>{m.mode}</dt>
        <dd>{m.modes[p.mode]}</dd>
      </dl>

      {live ? (
        <section class="card" id="actions">
          <Action href={`${base}/extend${q}`} id="extend" label={fill(m.extend, { n: p.extendDays })} help={fill(m.extendHelp, { max: p.maxDays })} />
          {p.state === 'locked' ? <Action href={`${base}/unlock${q}`} id="unlock" label={m.unlock} help={m.unlockHelp} /> : null}
          <Action href={`${base}/revoke${q}`} id="revoke" label={m.revoke} help={m.revokeHelp} />
        </section>
      ) : null}

      <section class="card" id="access-log">
        <h2>{m.accessLog}</h2>
        {p.log.length ? (
          <ul class="downloads">
            {p.log.map((e) => (
              <li data-action={e.action}>
                <strong>{m.actions[e.action] ?? e.action}</strong>
                {typeof e.detail?.name === 'string' ? ` (${e.detail.name})` : ''}
                <p class="help">
                  {m.logAt}: {iso(e.at)} · {m.logVerified}: {e.verified ? m.yes : m.no} · {m.logClient}: {e.clientIp ?? '-'}
                </p>
              </li>
            ))}
          </ul>
        ) : (
          <p>{m.logEmpty}</p>
        )}
      </section>
    </PickupFrame>
  );
}
