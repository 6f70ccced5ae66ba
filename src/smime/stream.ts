/**
 * Byte sources and the streaming base64 line encoder used for large S/MIME bodies.
 * Node's Buffer is used for speed (available in workerd with nodejs_compat).
 */
export interface ByteSource {
  /** Total length in bytes, known before streaming (CMS uses definite lengths). */
  readonly size: number;
  chunks(): Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

export const SLICE = 256 * 1024;

/** A source over in-memory parts, sliced so that downstream buffers stay small. */
export function partsSource(parts: readonly Uint8Array[]): ByteSource {
  let size = 0;
  for (const p of parts) size += p.length;
  return {
    size,
    *chunks() {
      for (const p of parts) for (let i = 0; i < p.length; i += SLICE) yield p.subarray(i, Math.min(p.length, i + SLICE));
    },
  };
}

/**
 * The chunks joined in one buffer. A single chunk (an encrypted message built in one buffer) is
 * returned as it is, not copied (137 KB cost ~50 us): callers must not change what they collect.
 */
export async function collect(chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of chunks) {
    parts.push(c);
    n += c.length;
  }
  if (parts.length === 1) return parts[0]!;
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

const LINE = 76;
const LINE_BYTES = 57;
/**
 * Input bytes per base64 string: 1,024 lines (77,824 characters). A string above ~128 K characters
 * is allocated in V8's large-object space (a fresh mmap and page faults per call), which made one
 * toString over a 100 KB chunk ~100x slower than over 57 KB (see docs/PERFORMANCE.md).
 */
const PIECE_BYTES = 1024 * LINE_BYTES;

/** Output length of `n` input bytes as 76-column CRLF base64 lines. */
export function base64LinesLength(n: number): number {
  const b64 = Math.ceil(n / 3) * 4;
  return b64 + Math.ceil(b64 / LINE) * 2;
}

/**
 * Writes the base64 lines of `bytes` (a multiple of 57 bytes, except for the last call of a
 * stream) into `out` at `o`; returns the offset after them.
 */
export function writeLines(out: Buffer, o: number, bytes: Uint8Array): number {
  const src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 0; p < src.length; p += PIECE_BYTES) {
    const b64 = src.toString('base64', p, Math.min(src.length, p + PIECE_BYTES));
    const n = b64.length;
    const lines = Math.ceil(n / LINE);
    out.write(b64, o, n, 'latin1');
    // spread the lines out in place, last first (a line only ever moves towards the end)
    for (let k = lines - 1; k >= 0; k--) {
      const from = o + k * LINE;
      const end = k * LINE + LINE < n ? from + LINE : o + n;
      const dst = o + k * (LINE + 2);
      if (dst !== from) out.copyWithin(dst, from, end);
      const e = dst + (end - from);
      out[e] = 13;
      out[e + 1] = 10;
    }
    o += n + lines * 2;
  }
  return o;
}

/** Base64 of `bytes` (a multiple of 57 bytes, except for the last call) as 76-column CRLF lines. */
function linesOf(bytes: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(base64LinesLength(bytes.length));
  writeLines(out, 0, bytes);
  return out;
}

/**
 * Cuts a byte stream into runs of whole 57-byte lines for `encode`, holding a partial line across
 * chunk boundaries (completed from the head of the next chunk instead of concatenating chunks).
 * A run may be the internal carry buffer: `encode` must be done with it when it returns.
 */
class LineRuns {
  private readonly carry = new Uint8Array(LINE_BYTES);
  private held = 0;

  constructor(private readonly encode: (run: Uint8Array) => void) {}

  push(chunk: Uint8Array): void {
    let data = chunk;
    if (this.held) {
      const take = Math.min(LINE_BYTES - this.held, data.length);
      this.carry.set(data.subarray(0, take), this.held);
      this.held += take;
      data = data.subarray(take);
      if (this.held < LINE_BYTES) return;
      this.encode(this.carry);
      this.held = 0;
    }
    const usable = data.length - (data.length % LINE_BYTES);
    if (usable > 0) this.encode(data.subarray(0, usable));
    if (usable < data.length) {
      this.carry.set(data.subarray(usable));
      this.held = data.length - usable;
    }
  }

  /** Encodes the final partial line, if any. */
  end(): void {
    if (this.held) this.encode(this.carry.subarray(0, this.held));
    this.held = 0;
  }
}

/** Streams base64 lines (76 columns, CRLF, final CRLF) of the concatenated input chunks. */
export async function* base64Lines(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const ready: Uint8Array[] = [];
  const runs = new LineRuns((run) => ready.push(linesOf(run)));
  for await (const chunk of input) {
    runs.push(chunk);
    for (const lines of ready) yield lines;
    ready.length = 0;
  }
  runs.end();
  if (ready.length) yield ready[0]!;
}

/**
 * The base64 lines of the concatenated `parts` written into `out` at `o` (the synchronous
 * counterpart of base64Lines, for output built in one buffer); returns the offset after them.
 */
export function writeLinesOfParts(out: Buffer, o: number, parts: Iterable<Uint8Array>): number {
  const runs = new LineRuns((run) => {
    o = writeLines(out, o, run);
  });
  for (const part of parts) runs.push(part);
  runs.end();
  return o;
}
