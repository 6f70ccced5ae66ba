/**
 * Security headers for every response, and small request guards shared by the route modules.
 *
 * - A strict Content-Security-Policy: scripts and styles only from this origin (no inline script or
 *   style), no plugins, no framing, no <base>, forms only to this origin. A route that sets its own
 *   Content-Security-Policy (and X-Frame-Options) keeps them.
 * - Referrer-Policy no-referrer: the mailed link carries a one-time code in its query string.
 * - Cache-Control no-store unless a route set its own (pages and API answers carry codes and tokens).
 * - HSTS when the service is reached over https.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { AppError } from '../../shared/errors.js';
import { concat, fromUtf8 } from '../../shared/bytes.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

export interface SecurityHeadersOptions {
  /** Send Strict-Transport-Security (only meaningful when served over https). */
  hsts?: boolean;
}

export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const h = c.res.headers;
    // A route may set its own, stricter or purpose-made policy (the pickup page's sandboxed
    // message frame); every other response gets the default.
    if (!h.has('Content-Security-Policy')) h.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    h.set('X-Content-Type-Options', 'nosniff');
    if (!h.has('X-Frame-Options')) h.set('X-Frame-Options', 'DENY');
    h.set('Referrer-Policy', 'no-referrer');
    h.set('Cross-Origin-Opener-Policy', 'same-origin');
    h.set('Cross-Origin-Resource-Policy', 'same-origin');
    h.set('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');
    if (!h.has('Cache-Control')) h.set('Cache-Control', 'no-store');
    if (options.hsts) h.set('Strict-Transport-Security', 'max-age=31536000');
  };
}

/** The media type of the request without parameters, lower-cased ('' if none). */
export function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Throws 415 unless the request's media type is one of `allowed`. */
export function requireMediaType(c: Context, allowed: readonly string[]): string {
  const type = mediaType(c);
  if (!allowed.includes(type)) {
    throw new AppError('http.unsupported_media_type', `Send the body as ${allowed.join(' or ')}${type ? `, not ${type}` : ''}`, {
      status: 415,
      detail: { accepted: [...allowed] },
    });
  }
  return type;
}

/**
 * Reads the body, refusing more than `maxBytes` (413) whatever Content-Length claims. Nothing past
 * the limit is buffered.
 */
export async function readBodyBytes(c: Context, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  const tooLarge = () => new AppError('http.too_large', `The request body is larger than ${maxBytes} bytes`, { kind: 'too_large' });
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const body = c.req.raw.body;
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concat(chunks);
}

/** readBodyBytes decoded as UTF-8. */
export async function readBodyText(c: Context, maxBytes: number): Promise<string> {
  return fromUtf8(await readBodyBytes(c, maxBytes));
}

/** Reads a JSON object body: 415 unless application/json, 413 past `maxBytes`, 400 if not an object. */
export async function readJsonObject(c: Context, maxBytes: number): Promise<Record<string, unknown>> {
  requireMediaType(c, ['application/json']);
  const text = await readBodyText(c, maxBytes);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AppError('http.bad_json', 'The request body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AppError('http.bad_json', 'The request body must be a JSON object');
  return v as Record<string, unknown>;
}
