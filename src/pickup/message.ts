/**
 * Reading a stored message for the pickup page: the header lines a person wants (From, To, Cc,
 * Date, Subject), the text and HTML bodies, and every other part as an attachment with its exact
 * decoded bytes. Tolerant: a part that cannot be parsed becomes an attachment of its raw bytes, so
 * nothing the sender sent is lost from view (and the original .eml is always downloadable).
 * Runtime-agnostic.
 */
import { latin1 } from '../shared/bytes.js';
import { decodeCharset, decodeEncodedWords, decodeTransfer, getHeader, parseContentType, parseParameterizedValue, splitMultipart, type HeaderField } from '../mime/index.js';
import { parseEntity } from '../mime/split.js';

/** Nesting deeper than this is shown as attachments, not walked. */
export const MAX_DEPTH = 20;
/** Parts beyond this many are not listed (the .eml still has them). */
export const MAX_PARTS = 500;

export interface MessagePart {
  /** Position in the list of attachments (0-based): the download URL names it. */
  index: number;
  /** The file name the sender gave (decoded), if any. */
  filename: string | undefined;
  /** type/subtype, lower case. */
  contentType: string;
  /** The decoded bytes. */
  data: Uint8Array;
  /** Content-ID without angle brackets (inline images of an HTML body). */
  contentId: string | undefined;
  /** True when the part was marked inline or is referenced by the HTML body only. */
  inline: boolean;
}

export interface ReadMessage {
  from: string | undefined;
  to: string | undefined;
  cc: string | undefined;
  date: string | undefined;
  subject: string | undefined;
  text: string | undefined;
  html: string | undefined;
  attachments: MessagePart[];
}

/** A header field's text: UTF-8 when its bytes are valid UTF-8 (RFC 6532), else latin1; unfolded, encoded-words decoded. */
export function headerText(f: HeaderField | undefined): string | undefined {
  if (!f) return undefined;
  const colon = f.raw.indexOf(0x3a);
  const bytes = f.raw.subarray(colon < 0 ? f.raw.length : colon + 1);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = latin1(bytes);
  }
  return decodeEncodedWords(text.replace(/\r?\n/g, '').replace(/^[ \t]+/, '')).trim();
}

interface Entity {
  headers: HeaderField[];
  body: Uint8Array;
}

function parse(bytes: Uint8Array): Entity | undefined {
  try {
    const e = parseEntity(bytes, true);
    return { headers: e.headers, body: e.body };
  } catch {
    return undefined;
  }
}

function decodeBody(e: Entity): Uint8Array {
  const cte = getHeader(e.headers, 'content-transfer-encoding')?.value ?? '';
  try {
    return decodeTransfer(cte, e.body);
  } catch {
    return e.body;
  }
}

function textOf(bytes: Uint8Array, charset: string | undefined): string {
  return decodeCharset(bytes, charset ?? 'utf-8') ?? decodeCharset(bytes, 'utf-8')!;
}

/** A file name from a parameter: RFC 2231 is decoded by the parser; encoded-words (common, non-standard) here. */
function fileNameParam(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = decodeEncodedWords(v).trim();
  return s === '' ? undefined : s;
}

/** Reads a whole message (RFC 5322 bytes). Never throws. */
export function readMessage(bytes: Uint8Array): ReadMessage {
  const out: ReadMessage = { from: undefined, to: undefined, cc: undefined, date: undefined, subject: undefined, text: undefined, html: undefined, attachments: [] };
  const top = parse(bytes);
  if (!top) {
    out.text = textOf(bytes, 'utf-8');
    return out;
  }
  out.from = headerText(getHeader(top.headers, 'from'));
  out.to = headerText(getHeader(top.headers, 'to'));
  out.cc = headerText(getHeader(top.headers, 'cc'));
  out.date = headerText(getHeader(top.headers, 'date'));
  out.subject = headerText(getHeader(top.headers, 'subject'));

  const attach = (p: Omit<MessagePart, 'index'>): void => {
    if (out.attachments.length < MAX_PARTS) out.attachments.push({ ...p, index: out.attachments.length });
  };

  const walk = (e: Entity, depth: number, inAlternative: boolean): void => {
    const ct = parseContentType(getHeader(e.headers, 'content-type')?.value ?? 'text/plain; charset=us-ascii');
    const type = `${ct.type}/${ct.subtype}`;
    const disposition = parseParameterizedValue(getHeader(e.headers, 'content-disposition')?.value ?? '');
    const filename = fileNameParam(disposition.params.filename) ?? fileNameParam(ct.params.name);
    const cidRaw = getHeader(e.headers, 'content-id')?.value.trim();
    const contentId = cidRaw ? cidRaw.replace(/^<|>$/g, '').trim() || undefined : undefined;

    if (ct.type === 'multipart' && depth < MAX_DEPTH && ct.params.boundary) {
      let parts: Uint8Array[];
      try {
        parts = splitMultipart(e.body, ct.params.boundary).parts;
      } catch {
        parts = [];
      }
      const alternative = ct.subtype === 'alternative';
      for (const raw of parts) {
        const child = parse(raw);
        if (child) walk(child, depth + 1, alternative);
        else attach({ filename: undefined, contentType: 'application/octet-stream', data: raw, contentId: undefined, inline: false });
      }
      return;
    }

    const isAttachment = disposition.value === 'attachment' || (filename !== undefined && disposition.value !== 'inline' && ct.type !== 'text');
    if (!isAttachment && ct.type === 'text' && (ct.subtype === 'plain' || ct.subtype === 'html') && filename === undefined) {
      const text = textOf(decodeBody(e), ct.params.charset);
      if (ct.subtype === 'plain' && out.text === undefined) {
        out.text = text;
        return;
      }
      if (ct.subtype === 'html' && out.html === undefined) {
        out.html = text;
        return;
      }
      // a second body of the same kind: an alternative we already have, or a later text part
      if (inAlternative) return;
      if (ct.subtype === 'plain') {
        out.text += `\n\n${text}`;
        return;
      }
    }
    if (type === 'message/rfc822') {
      const inner = parse(decodeBody(e));
      const innerSubject = inner ? headerText(getHeader(inner.headers, 'subject')) : undefined;
      attach({ filename: filename ?? `${innerSubject || 'message'}.eml`, contentType: type, data: decodeBody(e), contentId, inline: false });
      return;
    }
    attach({ filename, contentType: type, data: decodeBody(e), contentId, inline: disposition.value === 'inline' || (!isAttachment && contentId !== undefined) });
  };

  walk(top, 0, false);
  return out;
}
