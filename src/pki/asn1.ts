/**
 * A bounded BER/DER reader. Accepts what real S/MIME peers send (indefinite lengths, constructed
 * OCTET STRINGs from streaming encoders) and refuses what attacks it: truncation, lengths past the
 * end, nesting deeper than MAX_DEPTH. Every failure is an AppError with code 'asn1.malformed'.
 */
import { AppError } from '../shared/errors.js';
import { concat } from '../shared/bytes.js';

export const MAX_DEPTH = 64;

export interface Node {
  /** The first identifier octet (class, constructed bit, tag number < 31). */
  tag: number;
  constructed: boolean;
  /** The element's bytes, identifier to end of contents (for indefinite length incl. end-of-contents). */
  raw: Uint8Array;
  /** The contents octets (for indefinite length: between the header and the end-of-contents). */
  value: Uint8Array;
  children: Node[];
}

function malformed(msg: string): AppError {
  return new AppError('asn1.malformed', `Malformed ASN.1 data: ${msg}`);
}

function parseAt(buf: Uint8Array, pos: number, end: number, depth: number): Node {
  if (depth > MAX_DEPTH) throw malformed(`nesting deeper than ${MAX_DEPTH}`);
  if (pos + 2 > end) throw malformed('truncated');
  const start = pos;
  const tag = buf[pos++]!;
  if ((tag & 0x1f) === 0x1f) throw malformed('high tag numbers are not supported');
  const constructed = (tag & 0x20) !== 0;
  let lenByte = buf[pos++]!;
  let length = -1;
  if (lenByte < 0x80) length = lenByte;
  else if (lenByte === 0x80) {
    if (!constructed) throw malformed('indefinite length on a primitive element');
  } else {
    const n = lenByte & 0x7f;
    if (n > 6) throw malformed('length too large');
    if (pos + n > end) throw malformed('truncated length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
  }
  const children: Node[] = [];
  if (length >= 0) {
    const vEnd = pos + length;
    if (vEnd > end) throw malformed('length runs past the end of the data');
    if (constructed) {
      let p = pos;
      while (p < vEnd) {
        const child = parseAt(buf, p, vEnd, depth + 1);
        children.push(child);
        p += child.raw.length;
      }
    }
    return { tag, constructed, raw: buf.subarray(start, vEnd), value: buf.subarray(pos, vEnd), children };
  }
  // indefinite length
  let p = pos;
  for (;;) {
    if (p + 2 > end) throw malformed('missing end-of-contents');
    if (buf[p] === 0 && buf[p + 1] === 0) break;
    const child = parseAt(buf, p, end, depth + 1);
    children.push(child);
    p += child.raw.length;
  }
  return { tag, constructed, raw: buf.subarray(start, p + 2), value: buf.subarray(pos, p), children };
}

/** Parses one element that must span all of `buf` (trailing bytes are an error unless allowTrailing). */
export function parse(buf: Uint8Array, allowTrailing = false): Node {
  if (buf.length === 0) throw malformed('empty input');
  const node = parseAt(buf, 0, buf.length, 0);
  if (!allowTrailing && node.raw.length !== buf.length) throw malformed('trailing data after the structure');
  return node;
}

export function expectTag(node: Node | undefined, tag: number, what: string): Node {
  if (!node) throw malformed(`${what} is missing`);
  // accept constructed form of string types (BER)
  if (node.tag !== tag && node.tag !== (tag | 0x20)) {
    throw malformed(`${what}: expected tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`);
  }
  return node;
}

export function child(node: Node, i: number, what: string): Node {
  const c = node.children[i];
  if (!c) throw malformed(`${what} is missing`);
  return c;
}

/** OCTET STRING (or other string type) content; joins constructed (BER) segments. */
export function stringBytes(node: Node): Uint8Array {
  if (!node.constructed) return node.value;
  return concat(node.children.map(stringBytes));
}

export function readOid(node: Node | undefined): string {
  const n = expectTag(node, 0x06, 'object identifier');
  const v = n.value;
  if (v.length === 0) throw malformed('empty object identifier');
  const arcs: bigint[] = [];
  let acc = 0n;
  for (let i = 0; i < v.length; i++) {
    acc = (acc << 7n) | BigInt(v[i]! & 0x7f);
    if ((v[i]! & 0x80) === 0) {
      arcs.push(acc);
      acc = 0n;
    } else if (i === v.length - 1) throw malformed('truncated object identifier');
  }
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** INTEGER as a bigint (two's complement). */
export function readInt(node: Node | undefined): bigint {
  const n = expectTag(node, 0x02, 'integer');
  const v = n.value;
  if (v.length === 0) throw malformed('empty integer');
  let x = 0n;
  for (const b of v) x = (x << 8n) | BigInt(b);
  if (v[0]! & 0x80) x -= 1n << BigInt(v.length * 8);
  return x;
}

/** INTEGER magnitude bytes (leading zero octet removed). */
export function readUnsigned(node: Node | undefined): Uint8Array {
  const v = expectTag(node, 0x02, 'integer').value;
  return v.length > 1 && v[0] === 0 ? v.subarray(1) : v;
}

const td = new TextDecoder('utf-8');
const tdLatin1 = new TextDecoder('latin1');

/** A string value (UTF8String, PrintableString, IA5String, T61 as latin1, BMPString). */
export function readString(node: Node): string {
  const b = stringBytes(node);
  switch (node.tag & 0x1f) {
    case 0x1e: {
      // BMPString, UTF-16BE
      let s = '';
      for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode((b[i]! << 8) | b[i + 1]!);
      return s;
    }
    case 0x14: // T61String
      return tdLatin1.decode(b);
    default:
      return td.decode(b);
  }
}

/** UTCTime or GeneralizedTime. */
export function readTime(node: Node | undefined): Date {
  if (!node) throw malformed('time is missing');
  const s = td.decode(node.value);
  let m: RegExpMatchArray | null;
  if (node.tag === 0x17) {
    m = s.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/);
    if (!m) throw malformed(`bad UTCTime '${s}'`);
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  }
  if (node.tag === 0x18) {
    m = s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/);
    if (!m) throw malformed(`bad GeneralizedTime '${s}'`);
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  throw malformed(`expected a time, found tag 0x${node.tag.toString(16)}`);
}
