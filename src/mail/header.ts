/**
 * The parts of a message's header the worker decides on, and the header rewrites it makes:
 * - who can see whom: the addresses in To, Cc, Resent-To and Resent-Cc (an envelope recipient not
 *   among them is a Bcc recipient and gets a message of its own);
 * - the From address (it selects the signing identity);
 * - the Subject, with the trigger words (e.g. "[secure]") found and removed;
 * - the output header: Bcc and Resent-Bcc always dropped, Subject rewritten when a trigger was
 *   removed, everything else byte for byte;
 * - for encryption: the outer header (what stays visible) and the inner content header fields.
 *
 * Only the header block is ever parsed here; the body is never touched.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { AppError } from '../shared/errors.js';
import { concat, latin1, utf8 } from '../shared/bytes.js';
import { buildHeaderField, decodeEncodedWords, isContentHeader, splitMessage, toCRLF, type HeaderField } from '../mime/index.js';

const CRLF = utf8('\r\n');
const VISIBLE = new Set(['to', 'cc', 'resent-to', 'resent-cc']);
const NEVER_OUT = new Set(['bcc', 'resent-bcc']);
/** Not copied to the outer header of an encrypted message (the engine's rule: MIME-Version is replaced). */
const NOT_OUTER = new Set(['bcc', 'resent-bcc', 'mime-version']);

export interface MessageHeader {
  fields: HeaderField[];
  /** True when the header was written with bare LF line ends (a local tool, not SMTP). */
  lfOnly: boolean;
  /** The first From mailbox (as written), if any. */
  from: string | undefined;
  /** Lower-cased addresses named in To, Cc, Resent-To, Resent-Cc. */
  visible: Set<string>;
  /** The Subject as text (encoded-words decoded), if any. */
  subject: string | undefined;
}

/** The text of a field: UTF-8 when its bytes are valid UTF-8 (RFC 6532), else latin1; unfolded. */
function fieldText(f: HeaderField): string {
  const raw = f.raw;
  let colon = raw.indexOf(0x3a);
  if (colon < 0) colon = raw.length;
  const bytes = raw.subarray(colon + 1);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = latin1(bytes);
  }
  return text.replace(/\r?\n/g, '').replace(/^[ \t]+/, '');
}

function addressesOf(value: string): string[] {
  const out: string[] = [];
  let list: ReturnType<typeof addressparser>;
  try {
    list = addressparser(value, { flatten: true });
  } catch {
    return out;
  }
  for (const a of list) if (a.address) out.push(a.address.trim());
  return out;
}

/** A message of header fields only (RFC 5322 allows no body): the blank line it lacks, added. */
function withSeparator(block: Uint8Array): Uint8Array {
  const n = block.length;
  if (n === 0) return block;
  const lf = block.indexOf(0x0a);
  const eol = lf > 0 && block[lf - 1] === 0x0d ? '\r\n' : lf >= 0 ? '\n' : '\r\n';
  const endsBlank = (n >= 2 && block[n - 1] === 0x0a && block[n - 2] === 0x0a) || (n >= 4 && block[n - 1] === 0x0a && block[n - 2] === 0x0d && block[n - 3] === 0x0a);
  if (endsBlank || (n <= 2 && block[n - 1] === 0x0a)) return block;
  return concat([block, utf8(block[n - 1] === 0x0a ? eol : eol + eol)]);
}

/**
 * Parses the header block of a message (the bytes up to and including the blank line; a header
 * without body is accepted). Throws AppError 'mail.bad_header' (bad_input: 554 5.6.0) with the
 * line and reason when a line is neither a field nor a continuation.
 */
export function analyseHeader(headerBlock: Uint8Array): MessageHeader {
  let split;
  try {
    split = splitMessage(withSeparator(headerBlock));
  } catch (e) {
    const why = e instanceof AppError ? e.message : String(e);
    throw new AppError('mail.bad_header', `Malformed message header: ${why}. The message was not sent; fix the sending program`, { kind: 'bad_input', cause: e });
  }
  const fields = split.headers;
  const visible = new Set<string>();
  let from: string | undefined;
  let subject: string | undefined;
  for (const f of fields) {
    if (VISIBLE.has(f.lname)) for (const a of addressesOf(fieldText(f))) visible.add(a.toLowerCase());
    else if (f.lname === 'from' && from === undefined) from = addressesOf(fieldText(f))[0];
    else if (f.lname === 'subject' && subject === undefined) subject = decodeEncodedWords(fieldText(f));
  }
  return { fields, lfOnly: split.lineEnding === '\n', from, visible, subject };
}

export interface TriggerMatch {
  /** The triggers found (as configured). */
  found: string[];
  /** The subject without them (whitespace around a removed trigger collapsed). */
  subject: string;
}

const triggerPatterns = new Map<string, RegExp>();

/** The pattern of one trigger (compiled once: the configured triggers are few). */
function triggerPattern(trigger: string): RegExp {
  let re = triggerPatterns.get(trigger);
  if (!re) {
    re = new RegExp(`[ \\t]*${trigger.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*`, 'giu');
    if (triggerPatterns.size < 1000) triggerPatterns.set(trigger, re);
  }
  return re;
}

/** Finds and removes the trigger words in `subject` (case-insensitive). */
export function removeTriggers(subject: string, triggers: readonly string[]): TriggerMatch {
  let out = subject;
  const found: string[] = [];
  for (const t of triggers) {
    if (!t) continue;
    const re = triggerPattern(t);
    re.lastIndex = 0;
    if (re.test(out)) {
      found.push(t);
      out = out.replace(re, (m, offset: number, whole: string) => (offset === 0 || offset + m.length === whole.length ? '' : ' '));
    }
  }
  return { found, subject: found.length ? out.trim() : subject };
}

/** The rewritten Subject field (CRLF-terminated; folded, RFC 2047 for non-ASCII). */
function subjectField(subject: string): Uint8Array {
  return subject === '' ? utf8('Subject:\r\n') : buildHeaderField('Subject', subject);
}

function line(f: HeaderField, lfOnly: boolean): Uint8Array {
  return concat([lfOnly ? toCRLF(f.raw) : f.raw, CRLF]);
}

/**
 * The header block to send (CRLF line ends, final CRLF, no blank line): Bcc and Resent-Bcc dropped,
 * the first Subject replaced when `subject` is given.
 */
export function outputHeader(h: MessageHeader, subject?: string): Uint8Array {
  const parts: Uint8Array[] = [];
  let subjectDone = false;
  for (const f of h.fields) {
    if (NEVER_OUT.has(f.lname)) continue;
    if (f.lname === 'subject' && subject !== undefined) {
      if (subjectDone) continue;
      subjectDone = true;
      parts.push(subjectField(subject));
      continue;
    }
    parts.push(line(f, h.lfOnly));
  }
  return concat(parts);
}

/**
 * For encryption: the outer header (every field except Bcc, Resent-Bcc, MIME-Version and the
 * Content-* fields) and the inner entity's header (the Content-* fields), both CRLF-terminated.
 * This is the split the S/MIME engine makes (src/smime/message.ts), done on the header alone so
 * that the body can stay in a spool file.
 */
export function encryptionHeaders(h: MessageHeader, subject?: string): { outer: Uint8Array; inner: Uint8Array } {
  const outer: Uint8Array[] = [];
  const inner: Uint8Array[] = [];
  let subjectDone = false;
  for (const f of h.fields) {
    if (isContentHeader(f.lname)) inner.push(line(f, h.lfOnly));
    else if (NOT_OUTER.has(f.lname)) continue;
    else if (f.lname === 'subject' && subject !== undefined) {
      if (subjectDone) continue;
      subjectDone = true;
      outer.push(subjectField(subject));
    } else outer.push(line(f, h.lfOnly));
  }
  return { outer: concat(outer), inner: concat(inner) };
}

/** Lower-cased comparison form of an envelope address. */
export function addressKey(address: string): string {
  return address.trim().toLowerCase();
}

