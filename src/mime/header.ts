/**
 * Building header fields (folding, RFC 2047 encoded-words) and decoding encoded-words.
 * Runtime-agnostic.
 */
import { AppError } from '../shared/errors.js';
import { fromLatin1, toBase64, utf8 } from '../shared/bytes.js';
import { decodeCharset, tryDecodeCharset } from './charset.js';
import { decodeBase64Bytes } from './transfer.js';

/** Preferred maximum line length (RFC 5322 2.1.1 SHOULD). */
const SOFT_LIMIT = 78;
/** Hard maximum line length (RFC 5322 2.1.1 MUST). */
const HARD_LIMIT = 998;
/** UTF-8 bytes per encoded-word: "=?UTF-8?B?" + 60 base64 chars + "?=" = 72 <= 75. */
const EW_MAX_BYTES = 45;

export interface BuildHeaderOptions {
  /**
   * Structured field (Content-Type, addresses, ...): never RFC 2047-encode, never fold inside a
   * quoted string. Non-ASCII or control characters, or a word that cannot fit in 998 octets, throw
   * AppError 'mime.bad_header_value'. Default false (unstructured text such as Subject).
   */
  structured?: boolean;
}

interface Atom {
  /** Whitespace written before the atom; folding happens only here (CRLF goes before it). */
  lead: string;
  text: string;
}

const NEEDS_ENCODING = /[^\x20-\x7e\t]/;
const LOOKS_ENCODED = /=\?[^?]*\?[^?]*\?[^?]*\?=/;

/** Splits into [leading whitespace, word] pairs; structured mode keeps quoted strings whole. */
function tokenize(value: string, structured: boolean): Atom[] {
  const atoms: Atom[] = [];
  let i = 0;
  const s = value;
  while (i < s.length) {
    let j = i;
    while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
    const lead = s.slice(i, j);
    let k = j;
    let inQuote = false;
    while (k < s.length) {
      const ch = s[k]!;
      if (structured && ch === '\\' && inQuote) {
        k += 2;
        continue;
      }
      if (structured && ch === '"') inQuote = !inQuote;
      else if (!inQuote && (ch === ' ' || ch === '\t')) break;
      k++;
    }
    k = Math.min(k, s.length);
    atoms.push({ lead, text: s.slice(j, k) });
    i = k;
  }
  return atoms;
}

/**
 * Builds one header field "Name: value" as bytes, folded with CRLF + whitespace at whitespace so
 * lines stay within 78 columns where possible and within 998 always, and ending with CRLF.
 *
 * Unstructured mode (default): words containing non-ASCII or control characters, words that look
 * like encoded-words, and words too long for 998 octets are written as RFC 2047 B encoded-words in
 * UTF-8 (adjacent such words are encoded together, with the whitespace between them, so decoding
 * restores the value exactly). Pure ASCII values are only folded.
 *
 * The value must not contain CR or LF (AppError 'mime.bad_header_value'); the name must be
 * printable ASCII without ':' (AppError 'mime.bad_header_name'). Leading whitespace of the value
 * is dropped (the unfolded value of a parsed field has none either).
 */
export function buildHeaderField(name: string, value: string, options: BuildHeaderOptions = {}): Uint8Array {
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
    throw new AppError('mime.bad_header_name', `Invalid header field name "${name}"`);
  }
  if (/[\r\n]/.test(value)) {
    throw new AppError('mime.bad_header_value', `Header field ${name} must not contain line breaks`);
  }
  const structured = options.structured === true;
  const atoms = tokenize(value.replace(/^[ \t]+/, ''), structured);
  const firstRoom = HARD_LIMIT - name.length - 2;

  if (structured) {
    for (const [idx, a] of atoms.entries()) {
      if (NEEDS_ENCODING.test(a.text)) {
        throw new AppError('mime.bad_header_value', `Header field ${name} contains non-ASCII or control characters`);
      }
      if (a.lead.length + a.text.length > (idx === 0 ? firstRoom : HARD_LIMIT)) {
        throw new AppError('mime.bad_header_value', `Header field ${name} has a word longer than 998 octets`);
      }
    }
  }
  const needs = atoms.map(
    (a, idx) =>
      !structured &&
      (NEEDS_ENCODING.test(a.text) ||
        LOOKS_ENCODED.test(a.text) ||
        a.lead.length + a.text.length > (idx === 0 ? firstRoom : HARD_LIMIT)),
  );

  let out = name + ':';
  let col = out.length;
  let first = true;
  const place = (lead: string, text: string): void => {
    const ld = first ? ' ' : lead;
    if (!first && ld !== '' && text !== '' && col + ld.length + text.length > SOFT_LIMIT) {
      out += '\r\n' + ld + text;
      col = ld.length + text.length;
    } else {
      out += ld + text;
      col += ld.length + text.length;
    }
    first = false;
  };

  for (let i = 0; i < atoms.length; ) {
    const atom = atoms[i]!;
    if (!needs[i]) {
      place(atom.lead, atom.text);
      i++;
      continue;
    }
    // a run of words to encode together, with the whitespace between them
    let text = atom.text;
    let j = i + 1;
    while (j < atoms.length && needs[j]) {
      text += atoms[j]!.lead + atoms[j]!.text;
      j++;
    }
    i = j;
    // cut into encoded-words of whole characters, each sized to the room left on its line
    const chars = [...text].map((ch) => utf8(ch));
    let lead = atom.lead;
    for (let k = 0; k < chars.length; ) {
      const ld = first ? ' ' : lead;
      const room = Math.min(EW_MAX_BYTES, Math.floor((SOFT_LIMIT - col - ld.length - 12) / 4) * 3);
      let budget = room;
      if (room < chars[k]!.length) {
        if (!first) {
          out += '\r\n';
          col = 0;
        }
        budget = EW_MAX_BYTES;
      }
      const bytes: number[] = [];
      while (k < chars.length && (bytes.length === 0 || bytes.length + chars[k]!.length <= budget)) {
        for (const b of chars[k]!) bytes.push(b);
        k++;
      }
      const word = `=?UTF-8?B?${toBase64(Uint8Array.from(bytes))}?=`;
      out += ld + word;
      col += ld.length + word.length;
      first = false;
      lead = ' ';
    }
  }
  return fromLatin1(out + '\r\n');
}

// --- decoding --------------------------------------------------------------------------------

const EW_RE = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

function qDecode(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '_') out.push(0x20);
    else if (ch === '=' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i) & 0xff);
  }
  return Uint8Array.from(out);
}

/**
 * Decodes RFC 2047 encoded-words (B and Q) in a header value. Whitespace between adjacent
 * encoded-words is dropped. Adjacent words in the same charset are decoded one by one (stateful
 * ISO-2022-JP needs that); if one of them is not valid on its own (a character split across words,
 * non-conforming but common) their bytes are decoded together instead. Charsets are whatever TextDecoder supports
 * (utf-8, iso-2022-jp, iso-8859-*, shift_jis, ... with full ICU); an encoded-word in an
 * unsupported charset is left as written. RFC 2231 language suffixes (charset*lang) are ignored.
 */
export function decodeEncodedWords(value: string): string {
  interface Piece {
    kind: 'text' | 'word';
    text: string;
    charset?: string;
    bytes?: Uint8Array;
  }
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of value.matchAll(EW_RE)) {
    const at = m.index!;
    if (at > last) pieces.push({ kind: 'text', text: value.slice(last, at) });
    const charset = m[1]!.split('*')[0]!.toLowerCase();
    const enc = m[2]!.toUpperCase();
    const bytes = enc === 'B' ? decodeBase64Bytes(fromLatin1(m[3]!)) : qDecode(m[3]!);
    pieces.push({ kind: 'word', text: m[0], charset, bytes });
    last = at + m[0].length;
  }
  if (pieces.length === 0) return value;
  if (last < value.length) pieces.push({ kind: 'text', text: value.slice(last) });

  // drop whitespace-only text between two encoded-words
  const kept = pieces.filter(
    (p, i) =>
      !(
        p.kind === 'text' &&
        /^[ \t\r\n]*$/.test(p.text) &&
        pieces[i - 1]?.kind === 'word' &&
        pieces[i + 1]?.kind === 'word'
      ),
  );

  let out = '';
  for (let i = 0; i < kept.length; ) {
    const p = kept[i]!;
    if (p.kind === 'text') {
      out += p.text;
      i++;
      continue;
    }
    // gather adjacent words with the same charset
    const group: Piece[] = [p];
    let j = i + 1;
    while (j < kept.length && kept[j]!.kind === 'word' && kept[j]!.charset === p.charset) group.push(kept[j++]!);
    // words are meant to decode on their own (RFC 2047 6.2; stateful ISO-2022-JP needs it);
    // only when one does not (a character split across words) are the bytes decoded together
    const alone = group.map((g) => tryDecodeCharset(g.bytes!, p.charset!));
    if (alone.every((t) => t !== undefined)) {
      out += alone.join('');
      i = j;
      continue;
    }
    let total = 0;
    for (const g of group) total += g.bytes!.length;
    const bytes = new Uint8Array(total);
    let o = 0;
    for (const g of group) {
      bytes.set(g.bytes!, o);
      o += g.bytes!.length;
    }
    const text = decodeCharset(bytes, p.charset!);
    out += text ?? group.map((g) => g.text).join('');
    i = j;
  }
  return out;
}
