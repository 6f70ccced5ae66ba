/**
 * CSRF protection for the admin console (synchronizer token pattern):
 * - every form carries the session's token in a hidden field `_csrf` (the sign-in form: the token
 *   of a short-lived cookie, since no session exists yet); every state-changing request must send
 *   it back, compared in constant time;
 * - and a browser's Origin header (or, without one, Sec-Fetch-Site) must say the request comes
 *   from this site: PUBLIC_URL's origin or the origin the request was addressed to.
 */
import type { Context } from 'hono';

export const CSRF_FIELD = '_csrf';

/** Constant-time string equality (no early exit on the first difference). */
export function safeEqual(a: string, b: string): boolean {
  const len = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < len; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * Why the request does not come from this site, or undefined when it does (or cannot tell: a
 * non-browser client; the token still decides). Under Referrer-Policy no-referrer (set on every
 * page) browsers send `Origin: null` with form posts, so then Sec-Fetch-Site decides.
 */
export function crossSiteReason(c: Context, publicUrl: string): string | undefined {
  const origin = c.req.header('origin');
  const site = c.req.header('sec-fetch-site');
  if (origin !== undefined && origin !== 'null') {
    const allowed = new Set([originOf(publicUrl), originOf(c.req.url)].filter((o): o is string => o !== undefined));
    return allowed.has(origin) ? undefined : `Origin ${origin} is not this site`;
  }
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site ${site}`;
  return undefined;
}

/** Why the submitted token does not match `expected`, or undefined when it does. */
export function tokenMismatchReason(expected: string | undefined, submitted: string | null | undefined): string | undefined {
  if (!expected) return 'no CSRF token issued (the form expired)';
  if (!submitted) return 'CSRF token missing';
  return safeEqual(expected, submitted) ? undefined : 'CSRF token does not match';
}

/** 256 random bits, base64url: CSRF tokens made in the web layer (WebCrypto, any runtime). */
export function randomToken(): string {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
