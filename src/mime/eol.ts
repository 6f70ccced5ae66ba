/**
 * Line-ending helpers. Runtime-agnostic: Uint8Array only.
 *
 * In a body, a line break is CRLF, a bare LF or a bare CR. In a header block only LF (optionally
 * preceded by CR) ends a line; a bare CR there is data (see split.ts).
 */

export const CR = 0x0d;
export const LF = 0x0a;
export const CRLF_BYTES: Uint8Array = new Uint8Array([CR, LF]);

/**
 * Bare LF -> CRLF, bare CR -> CRLF, existing CRLF kept.
 *
 * One counting pass, then one filling pass into an exactly-sized preallocated array (runs between
 * line breaks are block-copied). When nothing needs changing the input array itself is returned
 * (no copy): do not mutate the result unless you own the input.
 */
export function toCRLF(b: Uint8Array): Uint8Array {
  const n = b.length;
  let bareLf = 0;
  let bareCr = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c > CR) continue;
    if (c === CR) {
      if (b[i + 1] === LF) i++;
      else bareCr++;
    } else if (c === LF) {
      bareLf++;
    }
  }
  if (bareLf + bareCr === 0) return b;
  const out = new Uint8Array(n + bareLf + bareCr);
  if (bareCr === 0) {
    // common case (LF-only text): jump from LF to LF natively
    let o = 0;
    let start = 0;
    for (let i = b.indexOf(LF); i >= 0; i = b.indexOf(LF, start)) {
      const end = i > 0 && b[i - 1] === CR ? i - 1 : i;
      out.set(b.subarray(start, end), o);
      o += end - start;
      out[o++] = CR;
      out[o++] = LF;
      start = i + 1;
    }
    out.set(b.subarray(start), o);
    return out;
  }
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === CR) {
      out[o++] = CR;
      out[o++] = LF;
      if (b[i + 1] === LF) i++;
    } else if (c === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else {
      out[o++] = c;
    }
  }
  return out;
}

/**
 * Header-block variant: LF not preceded by CR -> CRLF; a bare CR is left alone (it is data in a
 * header, not a line break). Returns the input when nothing changes.
 */
export function lfToCRLF(b: Uint8Array): Uint8Array {
  let extra = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === LF && (i === 0 || b[i - 1] !== CR)) extra++;
  if (extra === 0) return b;
  const out = new Uint8Array(b.length + extra);
  let o = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === LF && (i === 0 || b[i - 1] !== CR)) out[o++] = CR;
    out[o++] = c;
  }
  return out;
}

export interface BodyScan {
  /** Some octet > 127. */
  eightBit: boolean;
  /** Some NUL octet. */
  nul: boolean;
  /** Some line longer than 998 octets (line breaks excluded). */
  longLine: boolean;
  /** Some bare CR or bare LF (toCRLF would change the bytes). */
  bareEol: boolean;
}

export const MAX_LINE = 998;

/** One pass over a body: what would stop it from being 7bit-safe canonical data. */
export function scanBody(b: Uint8Array): BodyScan {
  const n = b.length;
  let eightBit = false;
  let nul = false;
  let longLine = false;
  let bareEol = false;
  let lineStart = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c > 0x0d) {
      if (c >= 0x80) eightBit = true;
      continue;
    }
    if (c === LF) {
      let end = i;
      if (i > 0 && b[i - 1] === CR) end = i - 1;
      else bareEol = true;
      if (end - lineStart > MAX_LINE) longLine = true;
      lineStart = i + 1;
    } else if (c === CR) {
      if (b[i + 1] !== LF) {
        bareEol = true;
        if (i - lineStart > MAX_LINE) longLine = true;
        lineStart = i + 1;
      }
    } else if (c === 0) {
      nul = true;
    }
  }
  if (n - lineStart > MAX_LINE) longLine = true;
  return { eightBit, nul, longLine, bareEol };
}

/** True if every octet is < 128. */
export function isSevenBit(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}
