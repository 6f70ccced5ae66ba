/**
 * Splitting a message (or a MIME entity) into its header fields and body without copying the body.
 * Runtime-agnostic.
 */
import { AppError, assert } from '../shared/errors.js';
import { latin1 } from '../shared/bytes.js';
import { CR, LF } from './eol.js';

export interface HeaderField {
  /** The field name as written (whitespace before the colon removed). */
  name: string;
  /** The field name in lower case. */
  lname: string;
  /** The whole field incl. folded continuation lines, WITHOUT the final line break. */
  raw: Uint8Array;
  /** Unfolded value, latin1-decoded, leading whitespace trimmed. */
  value: string;
}

export interface SplitMessage {
  headers: HeaderField[];
  /** The header block as written, incl. its final line break, excluding the blank separator line. */
  headerBytes: Uint8Array;
  /** Everything after the blank line (a subarray of the input, not a copy). */
  body: Uint8Array;
  /** The line ending of the first header line. */
  lineEnding: '\r\n' | '\n';
}

/** Internal: like SplitMessage, plus whether a blank separator line was present. */
export interface ParsedEntity extends SplitMessage {
  hasSeparator: boolean;
}

function isFieldNameByte(c: number): boolean {
  return c >= 33 && c <= 126 && c !== 0x3a;
}

function badHeader(lineNo: number, why: string): AppError {
  return new AppError('mime.bad_header', `Header line ${lineNo} is not a header field (${why})`, {
    detail: { line: lineNo },
  });
}

/**
 * The header/body split behind splitMessage. With `allowMissingSeparator` (used for body parts,
 * where RFC 2046 makes the blank line and body optional) a block that ends without a blank line is
 * all header and the body is empty.
 */
export function parseEntity(msg: Uint8Array, allowMissingSeparator: boolean): ParsedEntity {
  const n = msg.length;
  const headers: HeaderField[] = [];
  let lineEnding: '\r\n' | '\n' | undefined;
  // the field being collected: [start, end) where end excludes its final line break
  let fStart = -1;
  let fEnd = -1;
  let fColon = -1;
  let fNameEnd = -1;
  let fFolded = false;
  let pos = 0;
  let lineNo = 0;

  const finishField = (): void => {
    if (fStart < 0) return;
    const raw = msg.subarray(fStart, fEnd);
    const name = latin1(msg.subarray(fStart, fNameEnd));
    // the unfolded value without leading whitespace: skip blanks and line breaks before decoding,
    // and remove line breaks only from folded fields
    let v = fColon + 1;
    for (;;) {
      const c = msg[v];
      if (v < fEnd && (c === 0x20 || c === 0x09 || c === LF)) v++;
      else if (v + 1 < fEnd && c === CR && msg[v + 1] === LF) v += 2;
      else break;
    }
    let value = latin1(msg.subarray(v, fEnd));
    if (fFolded) value = value.replace(/\r?\n/g, '');
    headers.push({ name, lname: name.toLowerCase(), raw, value });
    fStart = -1;
  };

  while (pos < n) {
    lineNo++;
    const lf = msg.indexOf(LF, pos);
    const next = lf < 0 ? n : lf + 1;
    const contentEnd = lf < 0 ? n : lf > pos && msg[lf - 1] === CR ? lf - 1 : lf;
    if (lineEnding === undefined && lf >= 0) lineEnding = contentEnd < lf ? '\r\n' : '\n';

    if (contentEnd === pos && lf >= 0) {
      // the blank separator line
      finishField();
      return {
        headers,
        headerBytes: msg.subarray(0, pos),
        body: msg.subarray(next),
        lineEnding: lineEnding ?? '\r\n',
        hasSeparator: true,
      };
    }

    const first = msg[pos]!;
    if (first === 0x20 || first === 0x09) {
      if (fStart < 0) throw badHeader(lineNo, 'it starts with whitespace but continues no field');
      fEnd = contentEnd;
      fFolded = true;
    } else {
      finishField();
      const colon = msg.indexOf(0x3a, pos);
      if (colon < 0 || colon >= contentEnd) throw badHeader(lineNo, 'no colon');
      let nameEnd = colon;
      while (nameEnd > pos && (msg[nameEnd - 1] === 0x20 || msg[nameEnd - 1] === 0x09)) nameEnd--;
      if (nameEnd === pos) throw badHeader(lineNo, 'empty field name');
      for (let i = pos; i < nameEnd; i++) {
        if (!isFieldNameByte(msg[i]!)) throw badHeader(lineNo, 'invalid character in field name');
      }
      fStart = pos;
      fEnd = contentEnd;
      fColon = colon;
      fNameEnd = nameEnd;
      fFolded = false;
    }
    pos = next;
  }

  // ran out of data without a blank line
  assert(
    allowMissingSeparator,
    'mime.no_separator',
    'Malformed message: no blank line between header and body',
  );
  finishField();
  return {
    headers,
    headerBytes: msg,
    body: msg.subarray(n),
    lineEnding: lineEnding ?? '\r\n',
    hasSeparator: false,
  };
}

/**
 * Splits an RFC 5322 message or MIME entity into header fields and body. CRLF and LF-only input
 * are accepted. Only the header is scanned; `body` is a subarray of `msg`.
 *
 * An empty header block (the input starts with a blank line) is accepted: RFC 2046 allows body
 * parts without header fields.
 *
 * Throws AppError 'mime.empty' (0 bytes), 'mime.no_separator' (no blank line after the header,
 * including header-only input that ends in a line break), 'mime.bad_header' (a header line that is
 * neither a field "name: value" nor a whitespace continuation of one; detail.line is 1-based).
 */
export function splitMessage(msg: Uint8Array): SplitMessage {
  assert(msg.length > 0, 'mime.empty', 'The message is empty (0 bytes)');
  const { headers, headerBytes, body, lineEnding } = parseEntity(msg, false);
  return { headers, headerBytes, body, lineEnding };
}

/** The first field named `lname` (lower case), if any. */
export function getHeader(headers: HeaderField[], lname: string): HeaderField | undefined {
  const want = lname.toLowerCase();
  return headers.find((h) => h.lname === want);
}

/** Every field named `lname` (lower case), in order. */
export function getHeaders(headers: HeaderField[], lname: string): HeaderField[] {
  const want = lname.toLowerCase();
  return headers.filter((h) => h.lname === want);
}

/** True for Content-* fields (MIME-Version is not a content header). */
export function isContentHeader(lname: string): boolean {
  return lname.toLowerCase().startsWith('content-');
}
