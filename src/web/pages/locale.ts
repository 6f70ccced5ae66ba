/**
 * The language of a page request: ?lang=ja|en (remembered in a cookie), the cookie, then
 * Accept-Language. Shared by every HTML route (enrollment, admin).
 */
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { LANG_COOKIE, isLocale, pickLocale, type Locale } from '../i18n.js';

/** Picks the locale for this request; an explicit ?lang= choice is stored in the `lang` cookie for a year. */
export function requestLocale(c: Context): Locale {
  const query = c.req.query('lang');
  const locale = pickLocale({ query, cookie: getCookie(c, LANG_COOKIE), acceptLanguage: c.req.header('accept-language') });
  if (isLocale(query)) {
    setCookie(c, LANG_COOKIE, query, { path: '/', maxAge: 365 * 86400, sameSite: 'Lax', httpOnly: true, secure: new URL(c.req.url).protocol === 'https:' });
  }
  return locale;
}

/** The current page's path and query with `lang` set to `locale` (for the language switch link). */
export function switchLanguageHref(c: Context, locale: Locale): string {
  const url = new URL(c.req.url);
  url.searchParams.set('lang', locale);
  return `${url.pathname}?${url.searchParams.toString()}`;
}

/** The language switch link for a page shown in `current`. */
export function otherLocaleHref(c: Context, current: Locale): string {
  return switchLanguageHref(c, current === 'ja' ? 'en' : 'ja');
}
