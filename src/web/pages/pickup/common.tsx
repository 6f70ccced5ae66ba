/** Shared pieces of the secure-pickup pages: the frame, placeholders, dates, sizes, the state pages. */
import type { Child } from 'hono/jsx';
import { messagesFor, type Locale, type PickupMessages } from '../../i18n.js';
import { Layout } from '../layout.js';

/** Fills `{name}` placeholders. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}

export function when(d: Date, locale: Locale): string {
  return d.toLocaleString(locale === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' }) + ' UTC';
}

export function size(n: number, locale: Locale): string {
  if (n < 1024) return locale === 'ja' ? `${n} バイト` : `${n} bytes`;
  const kb = n / 1024;
  return kb < 1024 ? `${kb.toFixed(kb < 10 ? 1 : 0)} KB` : `${(kb / 1024).toFixed(1)} MB`;
}

/** "b***@example.com": enough for the recipient to recognise, little for someone who found the link. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '***';
  const local = [...address.slice(0, at)];
  const shown = local.length <= 2 ? local[0]! : `${local[0]}${'*'.repeat(Math.min(local.length - 2, 6))}${local[local.length - 1]}`;
  return `${shown}@${address.slice(at + 1)}`;
}

export function pickupMessages(locale: Locale): PickupMessages {
  return messagesFor(locale).pickup;
}

export function PickupFrame(p: { locale: Locale; switchHref: string; title: string; homeHref: string; children?: Child }) {
  return (
    <Layout locale={p.locale} title={p.title} switchHref={p.switchHref} homeHref={p.homeHref} footer={pickupMessages(p.locale).footer}>
      {p.children}
    </Layout>
  );
}

export type PickupStateKind = 'not_found' | 'expired' | 'revoked' | 'locked' | 'too_many';

/** A page for a link that cannot be opened (unknown, expired, revoked, locked, throttled). */
export function PickupStatePage(p: { locale: Locale; switchHref: string; kind: PickupStateKind; expiredAt?: Date; minutes?: number; homeHref?: string }) {
  const m = pickupMessages(p.locale);
  const [title, text]: [string, string] = (
    {
    not_found: [m.notFoundTitle, m.notFound],
    expired: [m.expiredTitle, fill(m.expired, { date: p.expiredAt ? when(p.expiredAt, p.locale) : '' })],
    revoked: [m.revokedTitle, m.revoked],
    locked: [m.lockedTitle, m.locked],
      too_many: [m.tooManyTitle, fill(m.tooMany, { n: p.minutes ?? 60 })],
    } satisfies Record<PickupStateKind, [string, string]>
  )[p.kind];
  return (
    <PickupFrame locale={p.locale} switchHref={p.switchHref} title={title} homeHref={p.homeHref ?? '#'}>
      <h1 id="state-title" data-state={p.kind}>
        {title}
      </h1>
      <p class="error" id="state-text">
        {text}
      </p>
    </PickupFrame>
  );
}
