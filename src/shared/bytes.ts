/** Byte, base64 and PEM helpers shared by every layer. Runtime-agnostic (no node: imports). */
import { AppError } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

/** Latin-1 (byte-per-char) view of bytes; lossless for any byte sequence. */
export function latin1(b: Uint8Array): string {
  // ASCII (all of most header fields) decodes the same in UTF-8, natively and cheaper than apply
  let i = 0;
  while (i < b.length && b[i]! < 0x80) i++;
  if (i === b.length) return decoder.decode(b);
  let s = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < b.length; i += CHUNK) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return s;
}

export function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) {
    throw new AppError('bytes.bad_hex', 'Not a hexadecimal string');
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Copy into a fresh ArrayBuffer (what WebCrypto and asn1js want). */
export function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  const ab = new ArrayBuffer(b.byteLength);
  new Uint8Array(ab).set(b);
  return ab;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_LOOKUP = (() => {
  const t = new Int16Array(256).fill(-1);
  for (let i = 0; i < B64.length; i++) t[B64.charCodeAt(i)] = i;
  t['-'.charCodeAt(0)] = 62; // base64url
  t['_'.charCodeAt(0)] = 63;
  return t;
})();

export function toBase64(b: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  if (i < b.length) {
    const rest = b.length - i;
    const n = (b[i]! << 16) | (rest === 2 ? b[i + 1]! << 8 : 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + (rest === 2 ? B64[(n >> 6) & 63]! : '=') + '=';
  }
  return out;
}

export function toBase64Url(b: Uint8Array): string {
  return toBase64(b).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Decodes base64 (standard or url alphabet), ignoring whitespace. Throws a bad_input AppError on
 * any other character or impossible length.
 */
export function fromBase64(s: string): Uint8Array {
  const out = new Uint8Array(Math.floor((s.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let bits = 0;
  let pad = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x3d) {
      pad++;
      continue;
    }
    const v = c < 256 ? B64_LOOKUP[c]! : -1;
    if (v < 0 || pad > 0) throw new AppError('bytes.bad_base64', 'Invalid base64 data');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (bits >= 6 || pad > 2) throw new AppError('bytes.bad_base64', 'Invalid base64 data (truncated)');
  return out.slice(0, o);
}

/**
 * Base64 with CRLF line breaks every 76 characters (RFC 2045), ending with CRLF.
 */
export function toBase64Lines(b: Uint8Array, lineLength = 76): string {
  const perLine = (lineLength / 4) * 3;
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += perLine) lines.push(toBase64(b.subarray(i, i + perLine)));
  return lines.length ? lines.join('\r\n') + '\r\n' : '';
}

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 #]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. */
export function decodePemAll(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const body = m[2]!.replace(/^[A-Za-z-]+:.*$/gm, ''); // drop RFC 1421 headers, if any
    let der: Uint8Array;
    try {
      der = fromBase64(body);
    } catch (e) {
      throw new AppError('pem.bad_base64', `the PEM block ${m[1]} is not valid base64`, { cause: e });
    }
    blocks.push({ label: m[1]!, der });
  }
  return blocks;
}

export function encodePem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** True if the bytes look like PEM text (start with optional whitespace then "-----BEGIN"). */
export function looksLikePem(b: Uint8Array): boolean {
  const head = latin1(b.subarray(0, Math.min(b.length, 4096)));
  return head.includes('-----BEGIN ');
}
