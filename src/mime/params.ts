/**
 * Parameterised header values: Content-Type, Content-Disposition (RFC 2045, RFC 2183, RFC 2231).
 * Runtime-agnostic.
 */
import { AppError } from '../shared/errors.js';
import { fromLatin1, utf8 } from '../shared/bytes.js';
import { decodeCharsetOrLatin1 } from './charset.js';

export interface ContentType {
  /** Lower case, e.g. "multipart". */
  type: string;
  /** Lower case, e.g. "mixed". */
  subtype: string;
  /** Lower-case keys, quotes removed, RFC 2231 continuations joined and decoded. */
  params: Record<string, string>;
}

export interface ParameterizedValue {
  /** The leading value (e.g. "attachment", or "text/plain"), lower case, comments removed. */
  value: string;
  params: Record<string, string>;
}

const TSPECIALS = '()<>@,;:\\"/[]?=';

function isTokenChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return c > 32 && c < 127 && !TSPECIALS.includes(ch);
}

class Lexer {
  i = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i] ?? '';
  }
  /** Skips whitespace and (nested) comments. */
  skipCFWS(): void {
    const s = this.s;
    while (this.i < s.length) {
      const ch = s[this.i]!;
      if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
        this.i++;
      } else if (ch === '(') {
        let depth = 0;
        while (this.i < s.length) {
          const c = s[this.i]!;
          if (c === '\\') this.i++;
          else if (c === '(') depth++;
          else if (c === ')' && --depth === 0) {
            this.i++;
            break;
          }
          this.i++;
        }
      } else {
        break;
      }
    }
  }
  token(): string {
    const start = this.i;
    while (this.i < this.s.length && isTokenChar(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }
  quoted(): string {
    // at '"'
    this.i++;
    let out = '';
    while (this.i < this.s.length) {
      const ch = this.s[this.i]!;
      if (ch === '\\' && this.i + 1 < this.s.length) {
        out += this.s[this.i + 1]!;
        this.i += 2;
        continue;
      }
      this.i++;
      if (ch === '"') return out;
      if (ch === '\r' || ch === '\n') continue; // folding inside a quoted string
      out += ch;
    }
    return out; // unterminated: take the rest
  }
  /** Lenient unquoted value: up to ';', whitespace or '"' (accepts tspecials such as '=' or '/'). */
  looseValue(): string {
    const start = this.i;
    while (this.i < this.s.length) {
      const ch = this.s[this.i]!;
      if (ch === ';' || ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '"') break;
      this.i++;
    }
    return this.s.slice(start, this.i);
  }
  /** Skips to just after the next ';' outside quotes (error recovery). */
  skipPastSemicolon(): void {
    while (this.i < this.s.length) {
      const ch = this.s[this.i]!;
      if (ch === '"') {
        this.quoted();
        continue;
      }
      this.i++;
      if (ch === ';') return;
    }
  }
}

interface RawParam {
  name: string; // lower case, as written incl. '*'
  value: string;
}

function parseParamList(lx: Lexer): RawParam[] {
  const out: RawParam[] = [];
  for (;;) {
    lx.skipCFWS();
    if (lx.done) break;
    if (lx.peek() !== ';') {
      lx.skipPastSemicolon(); // garbage between parameters
    } else {
      lx.i++;
    }
    lx.skipCFWS();
    if (lx.done) break;
    if (lx.peek() === ';') continue;
    const name = lx.token().toLowerCase();
    lx.skipCFWS();
    if (name === '' || lx.peek() !== '=') {
      continue; // loop skips to the next ';'
    }
    lx.i++;
    lx.skipCFWS();
    const value = lx.peek() === '"' ? lx.quoted() : lx.looseValue();
    out.push({ name, value });
  }
  return out;
}

function percentDecode(s: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(s.charCodeAt(i) & 0xff);
    }
  }
  return Uint8Array.from(bytes);
}

/** Joins RFC 2231 continuations and decodes charset'lang'%XX values. */
function assembleParams(raw: RawParam[]): Record<string, string> {
  const plain = new Map<string, string>();
  const sections = new Map<string, Map<number, { value: string; encoded: boolean }>>();
  for (const p of raw) {
    const m = /^(.+?)\*(?:(\d+)(\*)?)?$/.exec(p.name);
    if (!m) {
      if (!plain.has(p.name)) plain.set(p.name, p.value);
      continue;
    }
    const base = m[1]!;
    const index = m[2] === undefined ? 0 : parseInt(m[2], 10);
    const encoded = m[2] === undefined ? true : m[3] === '*';
    let map = sections.get(base);
    if (!map) sections.set(base, (map = new Map()));
    if (!map.has(index)) map.set(index, { value: p.value, encoded });
  }
  const params: Record<string, string> = {};
  for (const [k, v] of plain) params[k] = v;
  for (const [base, map] of sections) {
    let charset = '';
    const chunks: Uint8Array[] = [];
    let anyEncoded = false;
    let joined = '';
    for (let i = 0; map.has(i); i++) {
      const sec = map.get(i)!;
      joined += sec.value;
      let v = sec.value;
      if (sec.encoded) {
        anyEncoded = true;
        if (i === 0) {
          const m = /^([^']*)'([^']*)'(.*)$/s.exec(v);
          if (m) {
            charset = m[1]!;
            v = m[3]!;
          }
        }
        chunks.push(percentDecode(v));
      } else {
        chunks.push(fromLatin1(v));
      }
    }
    if (chunks.length === 0) continue; // only sections > 0: unusable
    if (!anyEncoded) {
      params[base] = joined;
      continue;
    }
    let total = 0;
    for (const c of chunks) total += c.length;
    const bytes = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    params[base] = decodeCharsetOrLatin1(bytes, charset);
  }
  return params;
}

/**
 * Parses "value; name=value; ..." (Content-Disposition and the like). Comments are skipped,
 * parameter names are lower-cased, quoted strings unquoted, RFC 2231 continuations joined and
 * charset'lang'%XX decoded (utf-8 / us-ascii / '' as UTF-8, other charsets through TextDecoder when
 * the runtime knows them, else byte-per-char). An RFC 2231 parameter wins over a plain one of the
 * same name; among duplicates the first wins. Never throws.
 */
export function parseParameterizedValue(value: string): ParameterizedValue {
  const lx = new Lexer(value);
  lx.skipCFWS();
  const start = lx.i;
  while (!lx.done && lx.peek() !== ';') {
    if (lx.peek() === '(') lx.skipCFWS();
    else if (lx.peek() === '"') lx.quoted();
    else lx.i++;
  }
  const head = value
    .slice(start, lx.i)
    .replace(/\([^)]*\)/g, '')
    .trim()
    .toLowerCase();
  return { value: head, params: assembleParams(parseParamList(lx)) };
}

/**
 * Parses a Content-Type value. A missing or syntactically invalid type/subtype yields the RFC 2045
 * 5.2 default, text/plain; charset=us-ascii. Never throws.
 */
export function parseContentType(value: string): ContentType {
  const lx = new Lexer(value);
  lx.skipCFWS();
  const type = lx.token().toLowerCase();
  lx.skipCFWS();
  let subtype = '';
  if (lx.peek() === '/') {
    lx.i++;
    lx.skipCFWS();
    subtype = lx.token().toLowerCase();
  }
  lx.skipCFWS();
  if (type === '' || subtype === '' || !(lx.done || lx.peek() === ';')) {
    return { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } };
  }
  return { type, subtype, params: assembleParams(parseParamList(lx)) };
}

// --- formatting --------------------------------------------------------------------------------

/** attribute-char of RFC 2231 (token chars minus '*', "'", '%'). */
function isAttrChar(c: number): boolean {
  return c > 32 && c < 127 && !TSPECIALS.includes(String.fromCharCode(c)) && c !== 0x2a && c !== 0x27 && c !== 0x25;
}

function quoteIfNeeded(v: string): string {
  if (v !== '' && [...v].every(isTokenChar)) return v;
  return '"' + v.replace(/[\\"]/g, (m) => '\\' + m) + '"';
}

/** Plain (unencoded) values longer than this are split into RFC 2231 continuations. */
const MAX_PLAIN_VALUE = 900;
/** Encoded RFC 2231 sections are cut to at most this many characters. */
const ENCODED_SECTION = 60;

function formatParam(name: string, value: string): string[] {
  const lname = name.toLowerCase();
  if (!/^[!#$%&'+\-.0-9A-Z^_`a-z|~]+$/.test(lname) || lname.includes('*')) {
    throw new AppError('mime.bad_param', `Invalid MIME parameter name "${name}"`);
  }
  const printable = /^[\x20-\x7e]*$/.test(value);
  if (printable && value.length <= MAX_PLAIN_VALUE) return [`${lname}=${quoteIfNeeded(value)}`];
  if (printable) {
    const out: string[] = [];
    for (let i = 0, k = 0; i < value.length; i += ENCODED_SECTION, k++) {
      out.push(`${lname}*${k}=${quoteIfNeeded(value.slice(i, i + ENCODED_SECTION))}`);
    }
    return out;
  }
  // RFC 2231 extended value in UTF-8, cut between whole %XX escapes
  const bytes = utf8(value);
  const pieces: string[] = [];
  let cur = "utf-8''";
  for (const b of bytes) {
    const enc = isAttrChar(b) ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
    if (cur.length + enc.length > ENCODED_SECTION) {
      pieces.push(cur);
      cur = '';
    }
    cur += enc;
  }
  pieces.push(cur);
  if (pieces.length === 1) return [`${lname}*=${pieces[0]!}`];
  return pieces.map((p, k) => `${lname}*${k}*=${p}`);
}

/**
 * Formats "value; name=value; ..." with quoting where needed and RFC 2231 (UTF-8, continuations)
 * for non-ASCII or very long values. Pass the result to buildHeaderField(name, v, { structured:
 * true }) to fold it.
 */
export function formatParameterizedValue(value: string, params: Record<string, string> = {}): string {
  const parts = [value];
  for (const [k, v] of Object.entries(params)) parts.push(...formatParam(k, v));
  return parts.join('; ');
}

/** formatParameterizedValue(`${type}/${subtype}`, params). */
export function formatContentType(type: string, subtype: string, params: Record<string, string> = {}): string {
  return formatParameterizedValue(`${type}/${subtype}`, params);
}
