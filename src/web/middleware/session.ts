/**
 * The admin session cookie: 256 random bits, HttpOnly, SameSite=Strict, Path=/. With an https
 * PUBLIC_URL it is `__Host-smimegw_admin` and Secure; otherwise (development over http)
 * `smimegw_admin` without Secure. The value is only ever compared through its SHA-256 (server side).
 * A second short-lived cookie carries the CSRF token of the sign-in form (no session exists yet).
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';

export interface AdminCookies {
  session: string;
  login: string;
  secure: boolean;
}

export function adminCookies(publicUrl: string): AdminCookies {
  const secure = publicUrl.startsWith('https:');
  return secure
    ? { session: '__Host-smimegw_admin', login: '__Host-smimegw_admin_login', secure }
    : { session: 'smimegw_admin', login: 'smimegw_admin_login', secure };
}

export function readCookie(c: Context, name: string): string | undefined {
  const v = getCookie(c, name);
  return v === undefined || v === '' ? undefined : v;
}

/** Sets a cookie the way every admin cookie is set; `maxAgeSeconds` undefined = browser session. */
export function writeCookie(c: Context, cookies: AdminCookies, name: string, value: string, maxAgeSeconds?: number): void {
  setCookie(c, name, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'Strict',
    secure: cookies.secure,
    ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}),
  });
}

export function clearCookie(c: Context, cookies: AdminCookies, name: string): void {
  deleteCookie(c, name, { path: '/', secure: cookies.secure, httpOnly: true, sameSite: 'Strict' });
}
