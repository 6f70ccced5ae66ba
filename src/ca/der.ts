/**
 * What the CA needs beyond src/pki/der.ts: GeneralizedTime (OCSP always uses it), BOOLEAN,
 * ENUMERATED, X.509 extensions and names. Everything is exact DER.
 */
import { ctx, ia5String, int, octets, oid, seq, setOf, tlv, utf8String, type Der } from '../pki/der.js';
import { utf8 } from '../shared/bytes.js';
import { CA_OID } from './oids.js';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** GeneralizedTime YYYYMMDDHHMMSSZ (seconds precision, no fraction: RFC 5280 4.1.2.5.2). */
export function generalizedTime(d: Date): Der {
  const s = `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  return tlv(0x18, utf8(s));
}

export const boolTrue = (): Der => Uint8Array.of(0x01, 0x01, 0xff);

export function enumerated(n: number): Der {
  const body = int(n).subarray(2); // same content octets as INTEGER for small non-negative values
  return tlv(0x0a, body);
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
export function extension(oidStr: string, critical: boolean, value: Der): Der {
  return critical ? seq(oid(oidStr), boolTrue(), octets(value)) : seq(oid(oidStr), octets(value));
}

/** KeyUsage / other named BIT STRING from bit numbers (bit 0 = the most significant), DER minimal. */
export function namedBits(bits: readonly number[]): Der {
  const max = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3] = (bytes[b >> 3] ?? 0) | (0x80 >> (b & 7));
  const unused = 7 - (max % 8);
  return tlv(0x03, Uint8Array.of(unused), bytes);
}

/** GeneralName uniformResourceIdentifier [6] IA5String. */
export const uriName = (uri: string): Der => tlv(0x86, utf8(uri));

/** A Name of single-valued RDNs; each value a UTF8String except emailAddress (IA5String). */
export function name(attrs: ReadonlyArray<readonly [string, string]>): Der {
  return seq(...attrs.map(([type, value]) => setOf(seq(oid(type), type === CA_OID.emailAddress ? ia5String(value) : utf8String(value)))));
}

/** A DistributionPointName / AccessDescription helper: [0] fullName { uri }. */
export function distributionPoint(uri: string): Der {
  return seq(ctx(0, true, ctx(0, true, uriName(uri))));
}
