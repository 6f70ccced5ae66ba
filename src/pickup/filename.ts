/**
 * Attachment names and download headers. A name comes from the sender and is untrusted: it may
 * carry directories ("../../etc/passwd", "C:\\x"), control characters, a right-to-left override
 * that hides the real extension ("invoice\u202Efdp.exe"), leading dots (hidden files), reserved
 * device names (CON, NUL) or characters that end a header parameter. What is left is offered as
 *
 *   Content-Disposition: attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>
 *
 * (RFC 6266 / RFC 8187), with X-Content-Type-Options: nosniff and a content type that a browser
 * never renders as active content. Runtime-agnostic.
 */

/** Longest name offered (characters); longer names keep their extension. */
export const MAX_NAME_LENGTH = 150;

// C0, DEL, C1, soft hyphen, zero-width and bidi controls, line/paragraph separators, BOM
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
const RESERVED = /[<>:"|?*]/g;
const DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)(\.|$)/i;

function limit(name: string): string {
  const chars = [...name];
  if (chars.length <= MAX_NAME_LENGTH) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? [...name.slice(dot)] : [];
  if (ext.length > 0 && ext.length <= 16) return chars.slice(0, MAX_NAME_LENGTH - ext.length).join('') + ext.join('');
  return chars.slice(0, MAX_NAME_LENGTH).join('');
}

/**
 * The name to save under (Unicode kept): the last path segment, without invisible and reserved
 * characters, leading dots or spaces, trailing dots or spaces, never a device name; `fallback`
 * when nothing is left.
 */
export function safeFileName(name: string | undefined, fallback: string): string {
  let s = (name ?? '').normalize('NFC').replace(INVISIBLE, '');
  const segments = s.split(/[/\\]+/).filter((p) => p.trim() !== '' && p.trim() !== '.' && p.trim() !== '..');
  s = segments.length ? segments[segments.length - 1]! : '';
  s = s.replace(RESERVED, '_').replace(/^[\s.]+/, '').replace(/[\s.]+$/, '');
  if (DEVICE.test(s)) s = `_${s}`;
  s = limit(s);
  return s === '' ? fallback : s;
}

/** An ASCII rendering of a safe name for the plain `filename` parameter. */
export function asciiFileName(safe: string, fallback: string): string {
  const plain = safe.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  const ext = /\.[A-Za-z0-9]{1,10}$/.exec(plain)?.[0] ?? '';
  const stem = plain.slice(0, plain.length - ext.length);
  const readable = stem.replace(/[^A-Za-z0-9]/g, '').length;
  const replaced = stem.replace(/[\x20-\x7e]/g, '').length;
  // mostly non-ASCII (e.g. Japanese): the fallback with the extension reads better than underscores
  let s = readable === 0 || replaced > readable ? fallback + ext : plain.replace(/[^A-Za-z0-9._()+,@!#$&[\]^`{}~' -]/g, '_').replace(/_+/g, '_');
  s = s.replace(/^[\s.]+/, '').replace(/[\s.]+$/, '');
  if (DEVICE.test(s)) s = `_${s}`;
  return s || fallback;
}

const EXTENSIONS: Record<string, string> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'image/webp': '.webp',
  'application/pdf': '.pdf',
  'text/plain': '.txt',
  'text/html': '.html',
  'text/calendar': '.ics',
  'message/rfc822': '.eml',
};

/** The name for a part that has none: "attachment-<n>" with an extension from its type. */
export function fallbackName(index: number, contentType: string): string {
  return `attachment-${index + 1}${EXTENSIONS[contentType.toLowerCase()] ?? '.bin'}`;
}

/** RFC 8187 ext-value: UTF-8 with every byte outside attr-char percent-encoded. */
export function encodeExtValue(s: string): string {
  return `UTF-8''${encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

/** The Content-Disposition value for a download of `name` (untrusted) as an attachment. */
export function contentDisposition(name: string | undefined, fallback: string): string {
  const safe = safeFileName(name, fallback);
  const ascii = asciiFileName(safe, fallback.replace(/\.[A-Za-z0-9]{1,10}$/, ''));
  return `attachment; filename="${ascii}"; filename*=${encodeExtValue(safe)}`;
}

/** Types served as such (downloads that no browser executes); everything else is application/octet-stream. */
const SAFE_TYPES = new Set([
  'application/pdf',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'text/plain',
  'text/csv',
  'application/zip',
  'application/msword',
  'application/vnd.ms-excel',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'message/rfc822',
]);

export function downloadContentType(type: string): string {
  const t = type.toLowerCase();
  if (!SAFE_TYPES.has(t)) return 'application/octet-stream';
  return t;
}
