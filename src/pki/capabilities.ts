/**
 * SMIMECapabilities (RFC 8551 2.5.2, RFC 4262): an ordered preference list of algorithms a party
 * can decrypt. Appears as a signed attribute in S/MIME signatures and as a certificate extension.
 */
import { OID } from './oids.js';
import { algId, ctx, oid, seq } from './der.js';
import { type Node, parse, readOid, readInt } from './asn1.js';

export interface SmimeCapability {
  oid: string;
  /** DER of the parameters, if any (e.g. an RC2 key size, OAEP parameters). */
  params?: Uint8Array;
}

/** What the gateway advertises in its own signatures: strongest first, all decryptable everywhere. */
export const DEFAULT_SENDER_CAPABILITIES: readonly SmimeCapability[] = [
  { oid: OID.aes256Cbc },
  { oid: OID.aes192Cbc },
  { oid: OID.aes128Cbc },
];

export function encodeCapabilities(caps: readonly SmimeCapability[]): Uint8Array {
  return seq(...caps.map((c) => (c.params ? seq(oid(c.oid), c.params) : algId(c.oid))));
}

/** Parses a SMIMECapabilities SEQUENCE (bytes or parsed node). Unknown entries are kept. */
export function decodeCapabilities(input: Uint8Array | Node): SmimeCapability[] {
  const node = input instanceof Uint8Array ? parse(input) : input;
  return node.children.map((c) => {
    const cap: SmimeCapability = { oid: readOid(c.children[0]) };
    if (c.children[1]) cap.params = c.children[1].raw;
    return cap;
  });
}

/** RSAES-OAEP-params with SHA-256 and MGF1-SHA-256 (RFC 4055), as advertised and as sent. */
export function oaepSha256Params(): Uint8Array {
  const sha256 = algId(OID.sha256);
  return seq(ctx(0, true, sha256), ctx(1, true, algId(OID.mgf1, sha256)));
}

/** The hash named by RSAES-OAEP-params (default SHA-1 when absent). */
export function oaepHashOf(params: Uint8Array | undefined): string {
  if (!params || params.length === 0) return OID.sha1;
  const node = parse(params);
  if (node.tag === 0x05) return OID.sha1; // NULL params
  for (const c of node.children) {
    if (c.tag === 0xa0) return readOid(c.children[0]?.children[0]);
  }
  return OID.sha1;
}

/** A readable name for a capability, e.g. "aes256-cbc". */
export function capabilityName(c: SmimeCapability): string {
  switch (c.oid) {
    case OID.aes256Cbc:
      return 'aes256-cbc';
    case OID.aes192Cbc:
      return 'aes192-cbc';
    case OID.aes128Cbc:
      return 'aes128-cbc';
    case OID.aes256Gcm:
      return 'aes256-gcm';
    case OID.aes128Gcm:
      return 'aes128-gcm';
    case OID.rsaesOaep:
      return 'rsaes-oaep';
    case OID.desEde3Cbc:
      return '3des-cbc';
    case OID.rc2Cbc: {
      const bits = c.params ? Number(readInt(parse(c.params))) : 0;
      return bits ? `rc2-${bits}` : 'rc2-cbc';
    }
    default:
      return c.oid;
  }
}
