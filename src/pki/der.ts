/**
 * A small, exact DER encoder. The S/MIME engine writes its CMS structures with it so that lengths
 * are known before a (possibly 25 MB) ciphertext is streamed, and so that SET OF ordering and
 * optional-field encodings are under our control. Parsing uses asn1js (see ./asn1.ts).
 */
import { concat, utf8 } from '../shared/bytes.js';

export type Der = Uint8Array;

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The identifier and length octets for a value of `length` bytes. */
export function header(tag: number, length: number): Uint8Array {
  const out = new Uint8Array(headerLength(length));
  writeHeader(out, 0, tag, length);
  return out;
}

/** How many bytes `header(tag, length)` takes (one identifier octet, definite length). */
export function headerLength(length: number): number {
  if (length < 0x80) return 2;
  let n = 2;
  for (let v = length; v >= 1; v = Math.floor(v / 256)) n++;
  return n;
}

/** Writes `header(tag, length)` into `out` at `offset`; returns the offset after it. */
export function writeHeader(out: Uint8Array, offset: number, tag: number, length: number): number {
  out[offset++] = tag;
  if (length < 0x80) {
    out[offset++] = length;
    return offset;
  }
  const n = headerLength(length) - 2;
  out[offset++] = 0x80 | n;
  let v = length;
  for (let i = offset + n - 1; i >= offset; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return offset + n;
}

export function tlv(tag: number, ...content: Uint8Array[]): Der {
  const body = content.length === 1 ? content[0]! : concat(content);
  return concat([header(tag, body.length), body]);
}

export const seq = (...items: Der[]): Der => tlv(TAG.SEQUENCE, ...items);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The elements of a SET OF in DER order (sorted by their encodings); a new array. */
export function derOrder(items: readonly Der[]): Der[] {
  return items.length < 2 ? [...items] : [...items].sort(compareBytes);
}

/** SET OF with DER ordering (elements sorted by their encodings). */
export function setOf(...items: Der[]): Der {
  return tlv(TAG.SET, ...derOrder(items));
}

/** Context-specific tag [n]; constructed for EXPLICIT tagging or IMPLICIT constructed types. */
export function ctx(n: number, constructed: boolean, ...content: Uint8Array[]): Der {
  return tlv(0x80 | (constructed ? 0x20 : 0) | n, ...content);
}

/** Re-tags an encoded element (IMPLICIT tagging): replaces the first identifier octet. */
export function retag(der: Der, tag: number): Der {
  const out = der.slice();
  out[0] = tag;
  return out;
}

const oidCache = new Map<string, Der>();

export function oid(dotted: string): Der {
  const hit = oidCache.get(dotted);
  if (hit) return hit.slice();
  const der = encodeOid(dotted);
  oidCache.set(dotted, der);
  return der.slice();
}

function encodeOid(dotted: string): Der {
  const parts = dotted.split('.').map((p) => BigInt(p));
  if (parts.length < 2) throw new Error(`bad OID ${dotted}`);
  const bytes: number[] = [];
  const encodeArc = (v: bigint) => {
    const tmp: number[] = [Number(v & 0x7fn)];
    v >>= 7n;
    while (v > 0n) {
      tmp.unshift(Number((v & 0x7fn) | 0x80n));
      v >>= 7n;
    }
    bytes.push(...tmp);
  };
  encodeArc(parts[0]! * 40n + parts[1]!);
  for (const p of parts.slice(2)) encodeArc(p);
  return tlv(TAG.OID, Uint8Array.from(bytes));
}

/** INTEGER from a non-negative number or big-endian unsigned magnitude. */
export function int(value: number | bigint | Uint8Array): Der {
  let mag: Uint8Array;
  if (value instanceof Uint8Array) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    mag = value.subarray(i);
    if (mag.length === 0) mag = Uint8Array.of(0);
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new Error('negative INTEGER not supported');
    const tmp: number[] = [];
    do {
      tmp.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    mag = Uint8Array.from(tmp);
  }
  if (mag[0]! & 0x80) mag = concat([Uint8Array.of(0), mag]);
  return tlv(TAG.INTEGER, mag);
}

export const octets = (b: Uint8Array): Der => tlv(TAG.OCTET_STRING, b);
export const nul = (): Der => Uint8Array.of(TAG.NULL, 0);
export const bitString = (b: Uint8Array, unusedBits = 0): Der => tlv(TAG.BIT_STRING, Uint8Array.of(unusedBits), b);
export const utf8String = (s: string): Der => tlv(TAG.UTF8_STRING, utf8(s));
export const ia5String = (s: string): Der => tlv(TAG.IA5_STRING, utf8(s));

/** AlgorithmIdentifier; `params` undefined means absent, `null` means an explicit NULL. */
export function algId(oidStr: string, params?: Der | null): Der {
  if (params === undefined) return seq(oid(oidStr));
  return seq(oid(oidStr), params === null ? nul() : params);
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Time as UTCTime for 1950..2049, else GeneralizedTime (RFC 5280 4.1.2.5). Seconds precision. */
export function time(d: Date): Der {
  const y = d.getUTCFullYear();
  const rest = `${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, utf8(`${pad2(y % 100)}${rest}`));
  return tlv(TAG.GENERALIZED_TIME, utf8(`${String(y).padStart(4, '0')}${rest}`));
}
