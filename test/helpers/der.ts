/**
 * Minimal BER/DER reader for the test harness: just enough to find the pieces of a CMS
 * ContentInfo that tamper() changes (ciphertext, IV, signature value, eContent). Handles
 * definite and indefinite lengths and constructed (chunked) OCTET STRINGs, as streaming
 * encoders produce them. Not a general ASN.1 library: it never decodes values.
 */

export interface Tlv {
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  cls: number;
  constructed: boolean;
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  contentStart: number;
  /** Offset just past the last content octet (before the end-of-contents octets if indefinite). */
  contentEnd: number;
  /** Offset just past the whole element (including end-of-contents octets). */
  end: number;
  indefinite: boolean;
}

export class DerError extends Error {}

export function readTlv(buf: Uint8Array, pos: number, limit = buf.length): Tlv {
  const at = (i: number): number => {
    if (i >= limit) throw new DerError(`truncated BER at offset ${i}`);
    return buf[i] as number;
  };
  const start = pos;
  const id = at(pos++);
  const cls = id >> 6;
  const constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    let b: number;
    do {
      b = at(pos++);
      tag = tag * 128 + (b & 0x7f);
    } while (b & 0x80);
  }
  const l0 = at(pos++);
  if (l0 === 0x80) {
    if (!constructed) throw new DerError(`indefinite length on primitive element at ${start}`);
    const contentStart = pos;
    let p = pos;
    for (;;) {
      if (at(p) === 0 && at(p + 1) === 0) return { cls, constructed, tag, start, contentStart, contentEnd: p, end: p + 2, indefinite: true };
      p = readTlv(buf, p, limit).end;
    }
  }
  let len = l0;
  if (l0 & 0x80) {
    const n = l0 & 0x7f;
    if (n > 6) throw new DerError(`length too long at ${start}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + at(pos++);
  }
  const contentEnd = pos + len;
  if (contentEnd > limit) throw new DerError(`element at ${start} overruns its container (${contentEnd} > ${limit})`);
  return { cls, constructed, tag, start, contentStart: pos, contentEnd, end: contentEnd, indefinite: false };
}

export function children(buf: Uint8Array, t: Tlv): Tlv[] {
  if (!t.constructed) throw new DerError(`element at ${t.start} is primitive`);
  const out: Tlv[] = [];
  for (let p = t.contentStart; p < t.contentEnd; ) {
    const c = readTlv(buf, p, t.contentEnd);
    out.push(c);
    p = c.end;
  }
  return out;
}

export function isUniversal(t: Tlv | undefined, tag: number): t is Tlv {
  return t !== undefined && t.cls === 0 && t.tag === tag;
}

export function isContext(t: Tlv | undefined, tag: number): t is Tlv {
  return t !== undefined && t.cls === 2 && t.tag === tag;
}

/** [start, end) byte ranges holding the value of a (possibly constructed) string element, in order. */
export function stringSegments(buf: Uint8Array, t: Tlv): Array<[number, number]> {
  if (!t.constructed) return [[t.contentStart, t.contentEnd]];
  return children(buf, t).flatMap((c) => stringSegments(buf, c));
}

/** Dotted form of an OBJECT IDENTIFIER element. */
export function oidOf(buf: Uint8Array, t: Tlv): string {
  if (t.cls !== 0 || t.tag !== 6) throw new DerError(`expected OID at ${t.start}`);
  const arcs: number[] = [];
  let v = 0;
  for (let i = t.contentStart; i < t.contentEnd; i++) {
    const b = buf[i] as number;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  const a0 = first < 80 ? Math.floor(first / 40) : 2;
  return [a0, first - a0 * 40, ...arcs].join('.');
}

export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  aes128cbc: '2.16.840.1.101.3.4.1.2',
  aes192cbc: '2.16.840.1.101.3.4.1.22',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
  desEde3cbc: '1.2.840.113549.3.7',
} as const;

export interface CmsLocations {
  contentType: string;
  /** Enveloped / AuthEnveloped: the encrypted content octets (segments, in order). */
  ciphertext?: Array<[number, number]>;
  /** Enveloped / AuthEnveloped: content-encryption algorithm OID and, for CBC, the IV value range. */
  cipherOid?: string;
  iv?: [number, number];
  /** SignedData: eContent octets (absent for detached signatures). */
  eContent?: Array<[number, number]>;
  /** SignedData: one signature value range per SignerInfo. */
  signatures?: Array<[number, number]>;
}

/** Finds the ranges tamper() needs in a ContentInfo (EnvelopedData, AuthEnvelopedData, SignedData). */
export function locateCms(buf: Uint8Array): CmsLocations {
  const ci = readTlv(buf, 0);
  const [typeEl, explicit] = children(buf, ci);
  if (!typeEl || !isContext(explicit, 0)) throw new DerError('not a CMS ContentInfo');
  const contentType = oidOf(buf, typeEl);
  const inner = children(buf, explicit)[0];
  if (!isUniversal(inner, 16)) throw new DerError('ContentInfo content is not a SEQUENCE');
  const fields = children(buf, inner);
  if (contentType === OID.envelopedData || contentType === OID.authEnvelopedData) {
    // version, originatorInfo [0]?, recipientInfos SET, encryptedContentInfo SEQUENCE, ...
    const eci = fields.find((f, i) => i > 0 && isUniversal(f, 16));
    if (!eci) throw new DerError('no EncryptedContentInfo');
    const [, alg, enc] = children(buf, eci);
    if (!isUniversal(alg, 16)) throw new DerError('no contentEncryptionAlgorithm');
    const [algOid, params] = children(buf, alg);
    if (!algOid) throw new DerError('empty AlgorithmIdentifier');
    const cipherOid = oidOf(buf, algOid);
    const out: CmsLocations = { contentType, cipherOid };
    if (isUniversal(params, 4) && !params.constructed) out.iv = [params.contentStart, params.contentEnd];
    if (isContext(enc, 0)) out.ciphertext = stringSegments(buf, enc);
    return out;
  }
  if (contentType === OID.signedData) {
    // version, digestAlgorithms SET, encapContentInfo SEQUENCE, certificates [0]?, crls [1]?, signerInfos SET
    const eci = fields[2];
    if (!isUniversal(eci, 16)) throw new DerError('no EncapsulatedContentInfo');
    const out: CmsLocations = { contentType };
    const eContentWrapper = children(buf, eci)[1];
    if (isContext(eContentWrapper, 0)) {
      const octets = children(buf, eContentWrapper)[0];
      if (!isUniversal(octets, 4)) throw new DerError('eContent is not an OCTET STRING');
      out.eContent = stringSegments(buf, octets);
    }
    const signerInfos = fields[fields.length - 1];
    if (!isUniversal(signerInfos, 17)) throw new DerError('no SignerInfos SET');
    out.signatures = children(buf, signerInfos).map((si) => {
      // version, sid, digestAlgorithm, signedAttrs [0]?, signatureAlgorithm, signature OCTET STRING, ...
      const sig = children(buf, si).find((f) => isUniversal(f, 4));
      if (!sig || sig.constructed) throw new DerError('SignerInfo without a signature value');
      return [sig.contentStart, sig.contentEnd] as [number, number];
    });
    return out;
  }
  throw new DerError(`unsupported CMS content type ${contentType}`);
}

/** Maps a logical index into the concatenation of segments to a buffer offset. */
export function segmentOffset(segments: ReadonlyArray<readonly [number, number]>, index: number): number {
  let i = index;
  for (const [s, e] of segments) {
    if (i < e - s) return s + i;
    i -= e - s;
  }
  throw new RangeError(`index ${index} beyond segments`);
}

export function segmentsLength(segments: ReadonlyArray<readonly [number, number]>): number {
  return segments.reduce((n, [s, e]) => n + (e - s), 0);
}
