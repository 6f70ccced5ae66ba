/**
 * "Data-safe" marks: the part of a built message known, by construction, to need nothing from
 * SMTP's DATA encoding (RFC 5321 4.5.2 dot-stuffing, CRLF line ends): from the marked offset to
 * the end, lines that end in CRLF, no bare CR or LF, no line that starts with ".". Base64 lines
 * are such text (their alphabet has neither "." nor CR/LF).
 *
 * The S/MIME engine marks the base64 part of an encrypted message it builds in one buffer; the
 * re-injection's DATA encoder (src/mail/dot-stuff.ts) then sends that part as it is instead of
 * scanning it (137 KB of base64 cost ~60-80 us per message to scan). A mark is a promise by the
 * code that made the bytes: only mark what you built and will not change. An unmarked buffer, or
 * one whose identity is lost on the way (a copy), is simply encoded in full.
 */
const marks = new WeakMap<Uint8Array, number>();

/** Records that `bytes` from `from` to the end are data-safe (see above). */
export function markDataSafe(bytes: Uint8Array, from: number): void {
  if (!Number.isInteger(from) || from < 0 || from > bytes.length) throw new RangeError(`data-safe offset ${from} outside 0..${bytes.length}`);
  marks.set(bytes, from);
}

/** Where the data-safe part of `bytes` begins, if it has been marked. */
export function dataSafeFrom(bytes: Uint8Array): number | undefined {
  return marks.get(bytes);
}
