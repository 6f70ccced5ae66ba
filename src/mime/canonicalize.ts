/**
 * Canonical form of a MIME entity for signing (RFC 8551 3.1): CRLF line breaks, 7bit-safe
 * transfer encodings, no line longer than 998 octets. Runtime-agnostic; works on Uint8Array
 * subarrays and copies the output once.
 */
import { AppError, assert } from '../shared/errors.js';
import { concat, fromLatin1 } from '../shared/bytes.js';
import { CRLF_BYTES, LF, MAX_LINE, isSevenBit, lfToCRLF, scanBody, toCRLF } from './eol.js';
import { type ContentType, formatParameterizedValue, parseContentType, parseParameterizedValue } from './params.js';
import { buildHeaderField, decodeEncodedWords } from './header.js';
import { type HeaderField, type ParsedEntity, getHeader, parseEntity } from './split.js';
import { decodeTransfer, encodeBase64Lines, encodeQuotedPrintable, normalizeEncoding } from './transfer.js';
import { splitMultipart } from './multipart.js';
import { tryUtf8 } from './charset.js';

/** Deeper nesting than this is refused (AppError 'mime.too_deep'). */
export const MAX_MIME_DEPTH = 50;

const TEXT_PLAIN: ContentType = { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } };
const MESSAGE_RFC822: ContentType = { type: 'message', subtype: 'rfc822', params: {} };

/**
 * Canonicalizes a MIME entity (header fields + blank line + body; CRLF or LF-only) for signing:
 *
 * - every line break becomes CRLF (in binary content that gets re-encoded, CR and LF are content);
 * - a leaf part whose Content-Transfer-Encoding is 8bit or binary, or 7bit/absent but containing
 *   octets > 127, NUL or lines over 998 octets, is re-encoded: text/* as quoted-printable (after
 *   CRLF-normalising the text), anything else (and UTF-16/UTF-32 text) as base64; a base64 or quoted-printable part with
 *   such content is decoded and re-encoded; its Content-Transfer-Encoding field is replaced (name
 *   as written, later duplicates dropped) or appended, every other header byte is kept;
 * - multipart/*: each part is canonicalized; preamble, epilogue and delimiter lines are kept
 *   (CRLF-normalised); multipart/signed is kept opaque (only CRLF-normalised) so an inner signature
 *   stays valid;
 * - message/rfc822 (7bit/8bit/binary): the embedded message is canonicalized the same way;
 * - a multipart or message/rfc822 labelled 8bit/binary whose canonical content is 7bit is relabelled
 *   7bit;
 * - header lines over 998 octets are folded at whitespace; a line that cannot be folded has its
 *   field rebuilt (Content-Type/-Disposition with RFC 2231 parameters, others RFC 2047-encoded).
 *
 * Already canonical input comes out byte-identical, so canonicalizeEntity is idempotent.
 * Octets > 127 in header fields, preamble and epilogue are left as they are.
 *
 * Throws AppError 'mime.empty', 'mime.no_separator', 'mime.bad_header' (as splitMessage),
 * 'mime.bad_multipart' (multipart without boundary parameter or delimiter), 'mime.unknown_encoding'
 * (unknown Content-Transfer-Encoding on content that is not 7bit-safe), 'mime.too_deep'.
 */
export function canonicalizeEntity(entity: Uint8Array): Uint8Array {
  assert(entity.length > 0, 'mime.empty', 'The message is empty (0 bytes)');
  const out: Uint8Array[] = [];
  canonEntity(parseEntity(entity, false), out, 0, TEXT_PLAIN);
  return concat(out);
}

function canonEntity(e: ParsedEntity, out: Uint8Array[], depth: number, defaultType: ContentType): void {
  if (depth > MAX_MIME_DEPTH) {
    throw new AppError('mime.too_deep', `MIME structure is nested more than ${MAX_MIME_DEPTH} levels deep`);
  }
  if (!e.hasSeparator) {
    // a body part with header fields only (RFC 2046 allows it): nothing to re-encode
    emitHeaders(e, null, out);
    const hb = e.headerBytes;
    if (hb.length > 0 && hb[hb.length - 1] !== LF) out.pop(); // keep "no final line break"
    return;
  }
  const ctField = getHeader(e.headers, 'content-type');
  const ct = ctField ? parseContentType(ctField.value) : defaultType;
  const cteField = getHeader(e.headers, 'content-transfer-encoding');
  const enc = cteField ? normalizeEncoding(cteField.value) || '7bit' : '7bit';
  const identity = enc === '7bit' || enc === '8bit' || enc === 'binary';

  const bodyOut: Uint8Array[] = [];
  let newCte: string | null = null;

  if (ct.type === 'multipart' && identity) {
    if (ct.subtype === 'signed') {
      bodyOut.push(toCRLF(e.body));
    } else {
      canonMultipart(e.body, ct, bodyOut, depth);
    }
    if (enc !== '7bit' && bodyOut.every(isSevenBit)) newCte = '7bit';
  } else if (ct.type === 'message' && ct.subtype === 'rfc822' && identity) {
    if (e.body.length > 0) canonEntity(parseEntity(e.body, true), bodyOut, depth + 1, TEXT_PLAIN);
    if (enc !== '7bit' && bodyOut.every(isSevenBit)) newCte = '7bit';
  } else {
    newCte = canonLeaf(e.body, ct, enc, bodyOut);
  }

  emitHeaders(e, newCte, out);
  out.push(CRLF_BYTES);
  for (const b of bodyOut) out.push(b);
}

function canonMultipart(body: Uint8Array, ct: ContentType, out: Uint8Array[], depth: number): void {
  const boundary = ct.params['boundary'];
  if (!boundary) {
    throw new AppError('mime.bad_multipart', `multipart/${ct.subtype} without a boundary parameter`);
  }
  const mp = splitMultipart(body, boundary);
  if (mp.delimiters.length === 0) {
    throw new AppError('mime.bad_multipart', `multipart/${ct.subtype} body has no boundary delimiter line`);
  }
  const childDefault = ct.subtype === 'digest' ? MESSAGE_RFC822 : TEXT_PLAIN;
  out.push(toCRLF(mp.preamble));
  mp.delimiters.forEach((d, i) => {
    out.push(toCRLF(d));
    const part = mp.parts[i];
    if (part !== undefined && part.length > 0) canonEntity(parseEntity(part, true), out, depth + 1, childDefault);
  });
  out.push(toCRLF(mp.epilogue));
}

/** Canonicalizes a leaf body into `out`; returns the new transfer encoding if it changed. */
function canonLeaf(body: Uint8Array, ct: ContentType, enc: string, out: Uint8Array[]): string | null {
  const known = enc === '7bit' || enc === '8bit' || enc === 'binary' || enc === 'base64' || enc === 'quoted-printable';
  let content: Uint8Array;
  if (enc === '8bit' || enc === 'binary') {
    content = body;
  } else {
    const scan = scanBody(body);
    if (!scan.eightBit && !scan.nul && !scan.longLine) {
      // fast path: already 7bit-safe, at most the line breaks change
      out.push(scan.bareEol ? toCRLF(body) : body);
      return null;
    }
    if (!known) {
      throw new AppError(
        'mime.unknown_encoding',
        `Cannot canonicalize a part with Content-Transfer-Encoding "${enc}" that is not 7bit-safe`,
        { detail: { encoding: enc } },
      );
    }
    content = decodeTransfer(enc, body);
  }
  let newEnc: string;
  // UTF-16/32 text has no octet-level CRLF line breaks: treat it as binary (RFC 2781 4.1)
  const lineBased = ct.type === 'text' && !/^utf-?(16|32)/i.test(ct.params['charset'] ?? '');
  if (lineBased) {
    newEnc = 'quoted-printable';
    out.push(encodeQuotedPrintable(toCRLF(content)));
  } else {
    newEnc = 'base64';
    const b64 = encodeBase64Lines(content);
    // no final CRLF: the line break before a following delimiter (or the end) ends the last line
    out.push(b64.subarray(0, Math.max(0, b64.length - 2)));
  }
  return newEnc === enc ? null : newEnc;
}

// --- header fields -----------------------------------------------------------------------------

function maxLineLength(b: Uint8Array): number {
  let max = 0;
  let start = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === LF) {
      const end = i > start && b[i - 1] === 0x0d ? i - 1 : i;
      if (end - start > max) max = end - start;
      start = i + 1;
    }
  }
  return max;
}

function emitHeaders(e: ParsedEntity, newCte: string | null, out: Uint8Array[]): void {
  const hb = e.headerBytes;
  if (newCte === null && lfToCRLF(hb) === hb && maxLineLength(hb) <= MAX_LINE) {
    // fast path: header block already canonical (or without final break: handled by the caller)
    if (hb.length > 0) {
      if (hb[hb.length - 1] === LF) {
        out.push(hb);
      } else {
        out.push(hb, CRLF_BYTES);
      }
    }
    return;
  }
  let replaced = false;
  for (const f of e.headers) {
    if (newCte !== null && f.lname === 'content-transfer-encoding') {
      if (!replaced) out.push(fromLatin1(`${f.name}: ${newCte}\r\n`));
      replaced = true;
      continue;
    }
    out.push(canonicalField(f), CRLF_BYTES);
  }
  if (newCte !== null && !replaced) out.push(fromLatin1(`Content-Transfer-Encoding: ${newCte}\r\n`));
}

function isWsp(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09;
}

/** The field with CRLF folds and no line over 998 octets (without the final line break). */
function canonicalField(f: HeaderField): Uint8Array {
  const raw = lfToCRLF(f.raw);
  if (maxLineLength(raw) <= MAX_LINE) return raw;
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= raw.length; i++) {
    if (i === raw.length || (raw[i] === LF && raw[i - 1] === 0x0d)) {
      const end = i === raw.length ? i : i - 1;
      lines.push(raw.subarray(start, end));
      start = i + 1;
    }
  }
  const pieces: Uint8Array[] = [];
  for (const line of lines) {
    const folded = foldLine(line);
    if (folded === null) return rebuildField(f);
    pieces.push(...folded);
  }
  const joined: Uint8Array[] = [];
  pieces.forEach((p, i) => {
    if (i > 0) joined.push(CRLF_BYTES);
    joined.push(p);
  });
  return concat(joined);
}

/**
 * Cuts one over-long header line before whitespace so that every piece is at most 998 octets,
 * preferring pieces of at most 78; every piece keeps some non-whitespace. Null if impossible.
 */
function foldLine(line: Uint8Array): Uint8Array[] | null {
  if (line.length <= MAX_LINE) return [line];
  let lastNonWsp = line.length - 1;
  while (lastNonWsp >= 0 && isWsp(line[lastNonWsp])) lastNonWsp--;
  const pieces: Uint8Array[] = [];
  let s = 0;
  while (line.length - s > MAX_LINE) {
    let soft = -1;
    let hard = -1;
    const limit = Math.min(s + MAX_LINE, lastNonWsp);
    for (let k = s + 1; k <= limit; k++) {
      if (isWsp(line[k]) && !isWsp(line[k - 1])) {
        if (k - s <= 78) soft = k;
        hard = k;
      }
    }
    const k = soft > 0 ? soft : hard;
    if (k < 0) return null;
    pieces.push(line.subarray(s, k));
    s = k;
  }
  pieces.push(line.subarray(s));
  return pieces;
}

/** Re-encodes a field whose lines cannot be folded under 998 octets. */
function rebuildField(f: HeaderField): Uint8Array {
  const value = tryUtf8(fromLatin1(f.value)) ?? f.value;
  let built: Uint8Array;
  if (f.lname === 'content-type' || f.lname === 'content-disposition') {
    const pv = parseParameterizedValue(value);
    built = buildHeaderField(f.name, formatParameterizedValue(pv.value, pv.params), { structured: true });
  } else {
    built = buildHeaderField(f.name, decodeEncodedWords(value));
  }
  return built.subarray(0, built.length - 2);
}
