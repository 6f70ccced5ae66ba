/**
 * Just enough MIME to take an S/MIME .eml apart exactly (for gpgsm and NSS, which want the bare
 * CMS) and to tamper with it while keeping the MIME and base64 structure valid.
 *
 * All offsets are byte offsets: the message is handled as a latin1 string (one char per byte).
 * Line ends are CRLF in a conforming message; a message with no CR at all is read with LF line ends
 * (what some tools write), anything else is taken literally.
 */
import { locateCms, segmentOffset, segmentsLength, OID } from './der.js';

export interface MimeHeader {
  name: string;
  /** Unfolded value (continuation line breaks removed). */
  value: string;
}

export type SmimeParts =
  | {
      kind: 'pkcs7-mime';
      /** The smime-type parameter (enveloped-data, signed-data, authEnveloped-data, ...), lower-case. */
      smimeType: string | undefined;
      /** The CMS ContentInfo (base64 body decoded). */
      der: Buffer;
      headers: MimeHeader[];
    }
  | {
      kind: 'multipart-signed';
      protocol: string | undefined;
      micalg: string | undefined;
      boundary: string;
      /** The first body part, exactly: after the delimiter line's CRLF, up to (not incl.) the CRLF before the next delimiter. */
      signedContent: Buffer;
      /** The detached SignedData (base64 body of the second part, decoded). */
      signature: Buffer;
      headers: MimeHeader[];
    };

export class MimeError extends Error {}

interface Entity {
  headers: MimeHeader[];
  /** Offsets (in the containing string) of the body. */
  bodyStart: number;
  bodyEnd: number;
}

function eolOf(s: string): '\r\n' | '\n' {
  return s.includes('\r') ? '\r\n' : '\n';
}

/** Parses the header block of the entity at [start, end); the body follows the first empty line. */
function parseEntity(s: string, start: number, end: number, eol: string): Entity {
  const headers: MimeHeader[] = [];
  let pos = start;
  let bodyStart = -1;
  while (pos < end) {
    let lineEnd = s.indexOf(eol, pos);
    if (lineEnd < 0 || lineEnd >= end) lineEnd = end;
    const line = s.slice(pos, lineEnd);
    const next = Math.min(lineEnd + eol.length, end);
    if (line === '') {
      bodyStart = next;
      break;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && headers.length) {
      const last = headers[headers.length - 1] as MimeHeader;
      last.value += line;
    } else {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new MimeError(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
      headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
    }
    pos = next;
  }
  if (bodyStart < 0) bodyStart = end; // headers only
  return { headers, bodyStart, bodyEnd: end };
}

export function headerValue(headers: readonly MimeHeader[], name: string): string | undefined {
  const n = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === n)?.value;
}

/** Content-Type value -> lower-case type/subtype and parameters (names lower-cased, quotes removed). */
export function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  if (!value) return { type: 'text/plain', params: {} };
  const params: Record<string, string> = {};
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const re = /;\s*([^=\s;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const name = (m[1] ?? '').toLowerCase();
    params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return { type, params };
}

/** Strict base64 decoding (whitespace ignored; anything else outside the alphabet is an error). */
export function decodeBase64Strict(text: string): Buffer {
  const compact = text.replace(/[\r\n\t ]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new MimeError('body is not valid base64');
  }
  return Buffer.from(compact, 'base64');
}

/** base64 in lines of 76 characters, each ending with eol (the last one too). */
export function encodeBase64Lines(data: Uint8Array, eol = '\r\n'): string {
  const b64 = Buffer.from(data).toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += 76) out += b64.slice(i, i + 76) + eol;
  return out;
}

interface Located {
  s: string;
  eol: string;
  top: Entity;
  kind: 'pkcs7-mime' | 'multipart-signed';
  ct: { type: string; params: Record<string, string> };
  /** pkcs7-mime: the body range; multipart/signed: the signature part's body range. */
  cmsBody: [number, number];
  cmsEncoding: string;
  /** multipart/signed only: the first part's range. */
  signedContent?: [number, number];
}

const PKCS7_MIME = new Set(['application/pkcs7-mime', 'application/x-pkcs7-mime']);
const PKCS7_SIG = new Set(['application/pkcs7-signature', 'application/x-pkcs7-signature']);

function isDelimiterAt(s: string, i: number, dash: string, eol: string): { close: boolean; lineEnd: number } | undefined {
  if (!s.startsWith(dash, i)) return undefined;
  let p = i + dash.length;
  const close = s.startsWith('--', p);
  if (close) p += 2;
  while (s[p] === ' ' || s[p] === '\t') p++; // transport padding
  if (p === s.length) return { close, lineEnd: p };
  if (s.startsWith(eol, p)) return { close, lineEnd: p + eol.length };
  return undefined;
}

function locate(eml: Uint8Array): Located {
  const s = Buffer.from(eml).toString('latin1');
  const eol = eolOf(s);
  const top = parseEntity(s, 0, s.length, eol);
  const ct = parseContentType(headerValue(top.headers, 'content-type'));
  if (PKCS7_MIME.has(ct.type)) {
    const cte = (headerValue(top.headers, 'content-transfer-encoding') ?? '7bit').toLowerCase();
    return { s, eol, top, kind: 'pkcs7-mime', ct, cmsBody: [top.bodyStart, top.bodyEnd], cmsEncoding: cte };
  }
  if (ct.type !== 'multipart/signed') throw new MimeError(`not an S/MIME message (Content-Type ${ct.type})`);
  const boundary = ct.params.boundary;
  if (!boundary) throw new MimeError('multipart/signed without boundary');
  const dash = '--' + boundary;
  // First delimiter: at the start of the body or after a line end.
  let first = -1;
  let firstEnd = -1;
  for (let i = top.bodyStart; i < s.length; ) {
    const d = isDelimiterAt(s, i, dash, eol);
    if (d && !d.close) {
      first = i;
      firstEnd = d.lineEnd;
      break;
    }
    const nl = s.indexOf(eol, i);
    if (nl < 0) break;
    i = nl + eol.length;
  }
  if (first < 0) throw new MimeError('multipart/signed: no opening boundary');
  // Subsequent delimiters: eol + dash (the eol belongs to the delimiter).
  const delims: Array<{ at: number; lineEnd: number; close: boolean }> = [];
  for (let i = s.indexOf(eol + dash, firstEnd); i >= 0; i = s.indexOf(eol + dash, i + 1)) {
    const d = isDelimiterAt(s, i + eol.length, dash, eol);
    if (d) {
      delims.push({ at: i, lineEnd: d.lineEnd, close: d.close });
      if (d.close) break;
    }
  }
  const second = delims[0];
  const closing = delims[1];
  if (!second || second.close || !closing) throw new MimeError('multipart/signed: expected exactly two body parts');
  if (!closing.close) throw new MimeError('multipart/signed: more than two body parts');
  const sigPart = parseEntity(s, second.lineEnd, closing.at, eol);
  const sigType = parseContentType(headerValue(sigPart.headers, 'content-type')).type;
  if (!PKCS7_SIG.has(sigType)) throw new MimeError(`multipart/signed: second part is ${sigType}, not application/pkcs7-signature`);
  const cte = (headerValue(sigPart.headers, 'content-transfer-encoding') ?? '7bit').toLowerCase();
  return {
    s, eol, top, kind: 'multipart-signed', ct,
    cmsBody: [sigPart.bodyStart, sigPart.bodyEnd], cmsEncoding: cte,
    signedContent: [firstEnd, second.at],
  };
}

function decodeCms(l: Located): Buffer {
  const body = l.s.slice(l.cmsBody[0], l.cmsBody[1]);
  if (l.cmsEncoding === 'base64') return decodeBase64Strict(body);
  if (l.cmsEncoding === 'binary' || l.cmsEncoding === '8bit' || l.cmsEncoding === '7bit') return Buffer.from(body, 'latin1');
  throw new MimeError(`unsupported Content-Transfer-Encoding ${l.cmsEncoding} for the CMS body`);
}

/** Takes an S/MIME message apart. Throws MimeError when it is not one. */
export function extractSmimeParts(eml: Uint8Array): SmimeParts {
  const l = locate(eml);
  const der = decodeCms(l);
  if (l.kind === 'pkcs7-mime') {
    return { kind: 'pkcs7-mime', smimeType: l.ct.params['smime-type']?.toLowerCase(), der, headers: l.top.headers };
  }
  const [cs, ce] = l.signedContent as [number, number];
  return {
    kind: 'multipart-signed',
    protocol: l.ct.params.protocol,
    micalg: l.ct.params.micalg,
    boundary: l.ct.params.boundary as string,
    signedContent: Buffer.from(l.s.slice(cs, ce), 'latin1'),
    signature: der,
    headers: l.top.headers,
  };
}

export type TamperTarget = 'ciphertext' | 'signature' | 'content';

/** Flips one byte in a chosen place; the MIME and base64 structure stay valid. */
export function tamper(eml: Uint8Array, where: TamperTarget): Buffer {
  const l = locate(eml);
  const der = decodeCms(l);
  const cms = locateCms(der);

  const replaceCmsBody = (newDer: Uint8Array): Buffer => {
    const [bs, be] = l.cmsBody;
    const oldBody = l.s.slice(bs, be);
    let body: string;
    if (l.cmsEncoding === 'base64') {
      // Keep the original body's line-end convention after the last line, re-wrap at 76 columns CRLF.
      body = encodeBase64Lines(newDer, l.eol);
      if (!/\r?\n$/.test(oldBody)) body = body.slice(0, -l.eol.length);
    } else {
      body = Buffer.from(newDer).toString('latin1');
    }
    return Buffer.from(l.s.slice(0, bs) + body + l.s.slice(be), 'latin1');
  };

  if (where === 'ciphertext') {
    if (!cms.ciphertext) throw new Error(`tamper(ciphertext): message is ${cms.contentType}, not (auth)enveloped data with content`);
    const out = Buffer.from(der);
    const len = segmentsLength(cms.ciphertext);
    const block = cms.cipherOid === OID.desEde3cbc ? 8 : 16;
    const isCbc = [OID.aes128cbc, OID.aes192cbc, OID.aes256cbc, OID.desEde3cbc].includes(cms.cipherOid as never);
    if (isCbc) {
      // CBC has no integrity check: flip the bit 0x80 of the last byte of the second-to-last
      // ciphertext block (or of the IV for a one-block message). That turns the padding-length byte
      // (1..16) of the last plaintext block into 0x81..0x90, so every padding check must fail.
      if (len >= 2 * block) {
        const off = segmentOffset(cms.ciphertext, len - block - 1);
        out[off] = (out[off] as number) ^ 0x80;
      } else if (cms.iv && cms.iv[1] > cms.iv[0]) {
        const off = cms.iv[1] - 1;
        out[off] = (out[off] as number) ^ 0x80;
      } else {
        throw new Error('tamper(ciphertext): CBC ciphertext too short and no IV found');
      }
    } else {
      if (len === 0) throw new Error('tamper(ciphertext): empty ciphertext');
      const off = segmentOffset(cms.ciphertext, Math.max(0, len - 17)); // AEAD: any flip must fail
      out[off] = (out[off] as number) ^ 0x80;
    }
    return replaceCmsBody(out);
  }

  if (where === 'signature') {
    if (!cms.signatures?.length) throw new Error(`tamper(signature): message is ${cms.contentType}, not signed data`);
    const out = Buffer.from(der);
    for (const [s, e] of cms.signatures) {
      if (e <= s) throw new Error('tamper(signature): empty signature value');
      // The last octet: for RSA the low byte of the signature integer, for ECDSA the low byte of s
      // (still a well-formed DER INTEGER).
      out[e - 1] = (out[e - 1] as number) ^ 0x01;
    }
    return replaceCmsBody(out);
  }

  // where === 'content': toggle the case of the last ASCII letter of the signed entity's body,
  // skipping boundary lines ("--...") so nested multiparts stay intact. Case toggling keeps 7-bit,
  // quoted-printable and base64 bodies well-formed.
  const toggleLastLetter = (bytes: Buffer, from: number): number => {
    const text = bytes.toString('latin1');
    for (let i = bytes.length - 1; i >= from; i--) {
      const c = bytes[i] as number;
      if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) continue;
      const lineStart = text.lastIndexOf('\n', i) + 1;
      if (text.startsWith('--', Math.max(lineStart, from))) continue;
      bytes[i] = c ^ 0x20;
      return i;
    }
    return -1;
  };
  const bodyOffset = (bytes: Buffer): number => {
    const t = bytes.toString('latin1');
    const crlf = t.indexOf('\r\n\r\n');
    if (crlf >= 0) return crlf + 4;
    const lf = t.indexOf('\n\n');
    return lf >= 0 ? lf + 2 : 0;
  };
  if (l.kind === 'multipart-signed') {
    const [cs, ce] = l.signedContent as [number, number];
    const content = Buffer.from(l.s.slice(cs, ce), 'latin1');
    if (toggleLastLetter(content, bodyOffset(content)) < 0 && toggleLastLetter(content, 0) < 0) {
      throw new Error('tamper(content): no letter in the signed content');
    }
    return Buffer.from(l.s.slice(0, cs) + content.toString('latin1') + l.s.slice(ce), 'latin1');
  }
  if (!cms.eContent) throw new Error(`tamper(content): ${cms.contentType} has no encapsulated content (encrypted? detached?)`);
  const segs = cms.eContent;
  const content = Buffer.concat(segs.map(([s, e]) => der.subarray(s, e)));
  let idx = toggleLastLetter(content, bodyOffset(content));
  if (idx < 0) idx = toggleLastLetter(content, 0);
  if (idx < 0) throw new Error('tamper(content): no letter in the signed content');
  const out = Buffer.from(der);
  out[segmentOffset(segs, idx)] = content[idx] as number;
  return replaceCmsBody(out);
}
