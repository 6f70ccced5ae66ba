/** Multipart bodies (RFC 2046 5.1): exact, copy-free splitting and boundary generation. */
import { AppError } from '../shared/errors.js';
import { fromLatin1, toHex } from '../shared/bytes.js';
import { CR, LF } from './eol.js';

export interface MultipartBody {
  /** Bytes before the first delimiter line (without the line break that belongs to the delimiter). */
  preamble: Uint8Array;
  /**
   * Each delimiter exactly as written: the line break before "--boundary" (absent for a delimiter
   * at the very start of the body), "--boundary", "--" for the close delimiter, transport padding,
   * and the line break after it (absent at the very end of the body).
   */
  delimiters: Uint8Array[];
  /** Each body part exactly as written (between two delimiters). */
  parts: Uint8Array[];
  /** Bytes after the close delimiter line (empty when there is no close delimiter). */
  epilogue: Uint8Array;
  /** Whether a close delimiter ("--boundary--") was found. */
  closed: boolean;
}

/**
 * Splits a multipart body at its boundary delimiters without copying. Concatenating preamble,
 * delimiters[0], parts[0], delimiters[1], parts[1], ..., [close delimiter], epilogue gives back the
 * body exactly, so parts[0] of a multipart/signed is the exact signed content (RFC 1847: the line
 * break before the next delimiter is not part of it).
 *
 * A delimiter is "--boundary" at the start of a line (after CRLF, LF or a bare CR, or at offset 0)
 * followed only by optional "--", spaces/tabs and a line break (or the end of the body). Without a
 * close delimiter the last part runs to the end of the body. Throws AppError 'mime.bad_multipart'
 * for an empty boundary.
 */
export function splitMultipart(body: Uint8Array, boundary: string): MultipartBody {
  if (boundary === '' || boundary.length > 200) {
    throw new AppError('mime.bad_multipart', 'Multipart boundary is empty or too long');
  }
  const dash = fromLatin1('--' + boundary);
  const dl = dash.length;
  const n = body.length;
  const delimiters: Uint8Array[] = [];
  const parts: Uint8Array[] = [];
  let preamble: Uint8Array | undefined;
  let prevEnd = 0;
  let closed = false;
  let from = 0;

  while (from < n) {
    const p = body.indexOf(0x2d, from);
    if (p < 0 || p + dl > n) break;
    from = p + 1;
    let match = true;
    for (let k = 1; k < dl; k++) {
      if (body[p + k] !== dash[k]) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    // at the start of a line?
    let lineStart: number;
    if (p === 0) lineStart = 0;
    else if (body[p - 1] === LF) lineStart = p >= 2 && body[p - 2] === CR ? p - 2 : p - 1;
    else if (body[p - 1] === CR) lineStart = p - 1;
    else continue;
    if (lineStart < prevEnd) lineStart = prevEnd; // "--b\r\n--b": the break was the previous delimiter's
    let q = p + dl;
    let isClose = false;
    if (body[q] === 0x2d && body[q + 1] === 0x2d) {
      isClose = true;
      q += 2;
    }
    while (q < n && (body[q] === 0x20 || body[q] === 0x09)) q++;
    let end: number;
    if (q === n) end = n;
    else if (body[q] === CR) end = body[q + 1] === LF ? q + 2 : q + 1;
    else if (body[q] === LF) end = q + 1;
    else continue; // "--boundary" followed by other text: not a delimiter

    if (preamble === undefined) preamble = body.subarray(0, lineStart);
    else parts.push(body.subarray(prevEnd, lineStart));
    delimiters.push(body.subarray(lineStart, end));
    prevEnd = end;
    from = end;
    if (isClose) {
      closed = true;
      break;
    }
  }

  if (preamble === undefined) {
    return { preamble: body, delimiters, parts, epilogue: body.subarray(n), closed: false };
  }
  if (!closed) {
    parts.push(body.subarray(prevEnd));
    return { preamble, delimiters, parts, epilogue: body.subarray(n), closed };
  }
  return { preamble, delimiters, parts, epilogue: body.subarray(prevEnd), closed };
}

/** Prefix of every boundary: "=_" cannot occur in quoted-printable output, '-' and '_' not in base64. */
export const BOUNDARY_PREFIX = '----=_smimegw_';

/** A fresh random boundary: BOUNDARY_PREFIX + 36 hex digits from crypto.getRandomValues (50 chars). */
export function newBoundary(): string {
  const r = new Uint8Array(18);
  crypto.getRandomValues(r);
  return BOUNDARY_PREFIX + toHex(r);
}
