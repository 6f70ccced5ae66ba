/**
 * Content-Transfer-Encoding codecs (RFC 2045) on Uint8Arrays. No per-byte string building, so
 * they stay fast on tens of megabytes. Runtime-agnostic.
 */
import { AppError } from '../shared/errors.js';
import { CR, LF } from './eol.js';

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_ENC = new Uint8Array(64);
for (let i = 0; i < 64; i++) B64_ENC[i] = B64_ALPHABET.charCodeAt(i);

/** -1: ignored (not in the alphabet), -2: '=' padding, else the 6-bit value. */
const B64_DEC = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64_DEC[B64_ALPHABET.charCodeAt(i)] = i;
B64_DEC[0x3d] = -2;

const HEX_UPPER = new Uint8Array([...'0123456789ABCDEF'].map((c) => c.charCodeAt(0)));
/** -1 for non-hex, else the nibble value; accepts lower case too. */
const HEX_DEC = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_DEC['0123456789ABCDEF'.charCodeAt(i)] = i;
  HEX_DEC['0123456789abcdef'.charCodeAt(i)] = i;
}

/** Base64 with CRLF after every 76 characters and after the last line (empty input -> empty). */
export function encodeBase64Lines(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  if (n === 0) return new Uint8Array(0);
  const b64len = Math.ceil(n / 3) * 4;
  const lines = Math.ceil(b64len / 76);
  const out = new Uint8Array(b64len + lines * 2);
  let o = 0;
  let col = 0;
  let i = 0;
  const full = n - (n % 3);
  for (; i < full; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o] = B64_ENC[v >>> 18]!;
    out[o + 1] = B64_ENC[(v >>> 12) & 63]!;
    out[o + 2] = B64_ENC[(v >>> 6) & 63]!;
    out[o + 3] = B64_ENC[v & 63]!;
    o += 4;
    col += 4;
    if (col === 76) {
      out[o++] = CR;
      out[o++] = LF;
      col = 0;
    }
  }
  const rest = n - full;
  if (rest > 0) {
    const v = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[o++] = B64_ENC[v >>> 18]!;
    out[o++] = B64_ENC[(v >>> 12) & 63]!;
    out[o++] = rest === 2 ? B64_ENC[(v >>> 6) & 63]! : 0x3d;
    out[o++] = 0x3d;
    col += 4;
  }
  if (col > 0) {
    out[o++] = CR;
    out[o++] = LF;
  }
  return out;
}

/**
 * Base64 decoding as RFC 2045 6.8 asks: characters outside the alphabet (line breaks, spaces,
 * garbage) are ignored. '=' ends a quantum; decoding resumes after it, so concatenated padded
 * blocks decode as their concatenation.
 */
export function decodeBase64Bytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.floor((b.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < b.length; i++) {
    const v = B64_DEC[b[i]!]!;
    if (v >= 0) {
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >>> bits) & 0xff;
      }
    } else if (v === -2) {
      acc = 0;
      bits = 0;
    }
  }
  return out.slice(0, o);
}

/** A growable byte buffer. */
class Sink {
  buf: Uint8Array;
  len = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(64, capacity));
  }
  ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function isWsp(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Quoted-printable (RFC 2045 6.7). CRLF in the input is a hard line break and is written as CRLF;
 * a bare CR or bare LF is encoded (=0D, =0A), so decodeTransfer('quoted-printable', out) returns
 * exactly the input for any bytes. Encoded lines are at most 76 characters (soft breaks "=" CRLF
 * included). Space and tab are literal except at the end of a line (then =20 / =09), '=' is =3D,
 * octets outside 33..126 are =XX (upper-case hex). "From " at the start of a line is written
 * "=46rom " so mbox-style munging cannot alter signed text. Output ends with CRLF exactly when the
 * input does.
 */
export function encodeQuotedPrintable(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  const sink = new Sink(n + (n >>> 3) + 16);
  let lineStart = 0;
  while (lineStart <= n) {
    // find the end of this line: the next CRLF or the end of the data
    let lineEnd = lineStart;
    while (lineEnd < n && !(bytes[lineEnd] === CR && bytes[lineEnd + 1] === LF)) lineEnd++;
    const hardBreak = lineEnd < n;
    const lineLen = lineEnd - lineStart;
    // worst case: 3 per byte + a soft break (3) every 25 input bytes + CRLF
    sink.ensure(lineLen * 3 + Math.ceil(lineLen / 25) * 3 + 4);
    const buf = sink.buf;
    let o = sink.len;
    let col = 0;
    for (let j = lineStart; j < lineEnd; j++) {
      const c = bytes[j]!;
      const last = j === lineEnd - 1;
      let literal = (c >= 33 && c <= 126 && c !== 61) || ((c === 0x20 || c === 0x09) && !last);
      let width = literal ? 1 : 3;
      if (col + width > (last ? 76 : 75)) {
        buf[o++] = 0x3d;
        buf[o++] = CR;
        buf[o++] = LF;
        col = 0;
      }
      if (
        col === 0 &&
        c === 0x46 &&
        bytes[j + 1] === 0x72 &&
        bytes[j + 2] === 0x6f &&
        bytes[j + 3] === 0x6d &&
        bytes[j + 4] === 0x20 &&
        j + 4 < lineEnd
      ) {
        literal = false; // "From " at the start of an encoded line
        width = 3;
      }
      if (literal) {
        buf[o++] = c;
      } else {
        buf[o++] = 0x3d;
        buf[o++] = HEX_UPPER[c >>> 4]!;
        buf[o++] = HEX_UPPER[c & 15]!;
      }
      col += width;
    }
    if (hardBreak) {
      buf[o++] = CR;
      buf[o++] = LF;
    }
    sink.len = o;
    if (!hardBreak) break;
    lineStart = lineEnd + 2;
  }
  return sink.result();
}

/**
 * Quoted-printable decoding, tolerant as RFC 2045 6.7 recommends: =XX (either case) -> octet;
 * "=" followed by optional whitespace and a line break (CRLF or LF) is a soft break; "=" at the
 * very end is dropped; any other "=" is kept literally; whitespace at the end of a line is deleted.
 * Line breaks are kept as they are.
 */
export function decodeQuotedPrintableBytes(b: Uint8Array): Uint8Array {
  const n = b.length;
  const out = new Uint8Array(n);
  let o = 0;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c === 0x3d) {
      const h = HEX_DEC[b[i + 1] ?? 0]!;
      const l = HEX_DEC[b[i + 2] ?? 0]!;
      if (i + 2 < n && h >= 0 && l >= 0) {
        out[o++] = (h << 4) | l;
        i += 3;
        continue;
      }
      let j = i + 1;
      while (j < n && isWsp(b[j])) j++;
      if (j === n) {
        i = n; // trailing "=" (soft break at end of data)
        continue;
      }
      if (b[j] === CR && b[j + 1] === LF) {
        i = j + 2;
        continue;
      }
      if (b[j] === LF) {
        i = j + 1;
        continue;
      }
      out[o++] = c; // malformed: keep the "=" literally
      i++;
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      let j = i;
      while (j < n && isWsp(b[j])) j++;
      if (j === n || b[j] === LF || (b[j] === CR && b[j + 1] === LF)) {
        i = j; // trailing whitespace: added by transport, delete
        continue;
      }
      while (i < j) out[o++] = b[i++]!;
      continue;
    }
    out[o++] = c;
    i++;
  }
  return out.slice(0, o);
}

/** Normalises a Content-Transfer-Encoding value: lower case, comments and whitespace dropped. */
export function normalizeEncoding(encoding: string): string {
  return encoding
    .replace(/\([^)]*\)/g, ' ')
    .trim()
    .toLowerCase();
}

/**
 * Decodes a body according to its Content-Transfer-Encoding: base64, quoted-printable, or
 * 7bit / 8bit / binary / '' (identity: the same array is returned). Anything else throws
 * AppError 'mime.unknown_encoding'.
 */
export function decodeTransfer(encoding: string, body: Uint8Array): Uint8Array {
  const enc = normalizeEncoding(encoding);
  switch (enc) {
    case 'base64':
      return decodeBase64Bytes(body);
    case 'quoted-printable':
      return decodeQuotedPrintableBytes(body);
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return body;
    default:
      throw new AppError('mime.unknown_encoding', `Unsupported Content-Transfer-Encoding "${enc}"`, {
        detail: { encoding: enc },
      });
  }
}
