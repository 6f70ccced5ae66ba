/**
 * Mailbox handling for the directory: the lookup key (domain lower-cased, local part exact, RFC 5321
 * 2.4; UTF-8 local parts and domains as written, RFC 6531) and the From addresses of a message.
 */
import { AppError } from '../shared/errors.js';
import { fromLatin1, fromUtf8 } from '../shared/bytes.js';
import { normalizeAddress } from '../pki/certificate.js';
import type { HeaderField } from '../mime/index.js';

/** RFC 5321 limits: 64 octets of local part, 255 of domain; UTF-8 may take up to 4 octets a character. */
const MAX_ADDRESS_CHARS = 320;

/**
 * The directory key for an address a caller gives: trimmed, checked, domain lower-cased. Throws
 * 'directory.bad_address' for anything that is not local@domain.
 */
export function lookupKey(input: string): string {
  const s = typeof input === 'string' ? input.trim() : '';
  const at = s.lastIndexOf('@');
  // eslint-disable-next-line no-control-regex
  const ok = s.length <= MAX_ADDRESS_CHARS && at > 0 && at < s.length - 1 && !/[\s\u0000-\u001f\u007f<>]/.test(s) && !s.slice(at + 1).includes('@');
  if (!ok) throw new AppError('directory.bad_address', `Not an e-mail address: '${s.slice(0, 100)}' (expected local-part@domain)`);
  return normalizeAddress(s);
}

/** Splits a header value at top-level commas (outside quotes, comments and angle brackets). */
function splitList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let comment = 0;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\') cur += value[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"' && comment === 0) quoted = true;
    else if (c === '(') comment++;
    else if (c === ')' && comment > 0) comment--;
    else if (c === '<' && comment === 0) angle = true;
    else if (c === '>' && comment === 0) angle = false;
    else if (c === ',' && comment === 0 && !angle) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

/** The addr-spec of one mailbox: the angle-addr if present, else the text without comments. */
function mailboxAddress(mailbox: string): string | undefined {
  const angle = /<([^<>]*)>\s*(?:\([^)]*\)\s*)*$/.exec(mailbox);
  let spec = angle ? angle[1]! : mailbox.replace(/\([^()]*\)/g, '');
  spec = spec.trim().replace(/^mailto:/i, '');
  if (spec.includes(':')) spec = spec.slice(spec.lastIndexOf(':') + 1); // obsolete route
  const at = spec.lastIndexOf('@');
  if (at <= 0 || at === spec.length - 1) return undefined;
  return spec;
}

/** The mailboxes of the From field(s), normalised (domain lower-cased). UTF-8 headers are decoded. */
export function fromAddresses(headers: readonly HeaderField[]): string[] {
  const out: string[] = [];
  for (const h of headers) {
    if (h.lname !== 'from') continue;
    const value = fromUtf8(fromLatin1(h.value));
    for (const part of splitList(value)) {
      // a group "name: a@b, c@d;" is not allowed in From, but be lenient
      const cleaned = part.replace(/^[^"<]*:(?=[^@]*@)/, '').replace(/;\s*$/, '');
      const a = mailboxAddress(cleaned);
      if (a) out.push(normalizeAddress(a));
    }
  }
  return [...new Set(out)];
}
