/**
 * A received message: in memory while small, in a spool file once it grows past a threshold, so a
 * session holds at most `spillThreshold` bytes (plus the header block) in memory whatever the
 * message size.
 *
 * Spool files are unlinked right after they are created and used through their open descriptor:
 * nothing is left on disk when the process ends, also after `kill -9`.
 *
 * The header block (up to and including the blank line) is always kept in memory, up to
 * MAX_HEADER_BYTES; a longer header is refused (552 5.3.4).
 */
import { open, mkdir, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../shared/errors.js';
import type { ByteSource } from '../smime/index.js';

/** Header blocks longer than this are refused (a header of 100 KB lines is fine; 1 MB is not mail). */
export const MAX_HEADER_BYTES = 1024 * 1024;

const READ_CHUNK = 256 * 1024;

export interface MessageSource {
  /** Total size in bytes. */
  readonly size: number;
  /** The header block incl. the blank line (or the whole message if it has no blank line). */
  readonly header: Uint8Array;
  /** Offset of the body (= header.length). */
  readonly bodyOffset: number;
  /** True when the message lives in a spool file. */
  readonly spilled: boolean;
  /** Bytes [start, end) as a stream of chunks (at most 256 KB each). */
  chunks(start?: number, end?: number): AsyncIterable<Uint8Array>;
  /** The byte range as a ByteSource (size known up front), for the CMS encoder. */
  range(start: number, end?: number): ByteSource;
  /** The whole message in memory (a copy when spilled: only for messages that must be parsed). */
  bytes(): Promise<Uint8Array>;
  /** Releases the spool file. Safe to call twice. */
  close(): Promise<void>;
}

export interface ReceiveOptions {
  /** Bytes kept in memory before spilling to disk. */
  spillThreshold: number;
  /** Folder for spool files (created if missing). */
  spoolDir: string;
  /** Refuse (but keep draining) beyond this many bytes. */
  maxSize: number;
}

/** Finds the end of the header block (index just after the blank line), or -1. */
function headerEnd(buf: Uint8Array, from: number): number {
  if (from <= 0) {
    if (buf[0] === 0x0a) return 1;
    if (buf[0] === 0x0d && buf[1] === 0x0a) return 2;
  }
  for (let i = Math.max(0, from); i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

class MemorySource implements MessageSource {
  readonly spilled = false;
  readonly bodyOffset: number;
  constructor(
    private readonly data: Uint8Array,
    readonly header: Uint8Array,
  ) {
    this.bodyOffset = header.length;
  }
  get size(): number {
    return this.data.length;
  }
  async *chunks(start = 0, end = this.data.length): AsyncIterable<Uint8Array> {
    for (let i = start; i < end; i += READ_CHUNK) yield this.data.subarray(i, Math.min(end, i + READ_CHUNK));
  }
  range(start: number, end = this.data.length): ByteSource {
    const data = this.data;
    return {
      size: end - start,
      chunks() {
        const out: Uint8Array[] = [];
        for (let i = start; i < end; i += READ_CHUNK) out.push(data.subarray(i, Math.min(end, i + READ_CHUNK)));
        return out;
      },
    };
  }
  async bytes(): Promise<Uint8Array> {
    return this.data;
  }
  async close(): Promise<void> {}
}

class FileSource implements MessageSource {
  readonly spilled = true;
  readonly bodyOffset: number;
  private closed = false;
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly header: Uint8Array,
  ) {
    this.bodyOffset = header.length;
  }
  async *chunks(start = 0, end = this.size): AsyncIterable<Uint8Array> {
    let pos = start;
    while (pos < end) {
      const want = Math.min(READ_CHUNK, end - pos);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await this.fh.read(buf, 0, want, pos);
      if (bytesRead === 0) throw new AppError('mail.spool_short', 'The spool file is shorter than the message', { kind: 'internal' });
      pos += bytesRead;
      yield new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
    }
  }
  range(start: number, end = this.size): ByteSource {
    return { size: end - start, chunks: () => this.chunks(start, end) };
  }
  async bytes(): Promise<Uint8Array> {
    const out = Buffer.allocUnsafe(this.size);
    let pos = 0;
    while (pos < this.size) {
      const { bytesRead } = await this.fh.read(out, pos, this.size - pos, pos);
      if (bytesRead === 0) throw new AppError('mail.spool_short', 'The spool file is shorter than the message', { kind: 'internal' });
      pos += bytesRead;
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
  }
}

/** A spool file that is already unlinked: it disappears with its descriptor. */
export async function openSpoolFile(spoolDir: string): Promise<FileHandle> {
  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  const path = join(spoolDir, `msg-${process.pid}-${randomBytes(8).toString('hex')}`);
  const fh = await open(path, 'wx+', 0o600);
  await unlink(path).catch(async (e: unknown) => {
    await fh.close().catch(() => {});
    throw e;
  });
  return fh;
}

/** Wraps bytes already in memory (tests, the pass-through bench, the CLI). */
export function memorySource(data: Uint8Array): MessageSource {
  const end = headerEnd(data, 0);
  return new MemorySource(data, end < 0 ? data : data.subarray(0, end));
}

export interface Received {
  /** Undefined when the message was refused (too large): the stream was drained. */
  source?: MessageSource;
  /** Bytes the client sent. */
  size: number;
  refusal?: AppError;
}

export function tooLarge(limit: number, what = 'Message'): AppError {
  const mb = limit >= 1024 * 1024 ? `${Math.round((limit / 1024 / 1024) * 10) / 10} MB` : `${limit} bytes`;
  return new AppError('mail.too_large', `${what} exceeds the size limit of ${mb}; send the file another way or split it`, { kind: 'too_large' });
}

/**
 * Reads a DATA stream into a MessageSource. Resolves once the stream ended; rejects when the
 * client went away (the stream errored or closed early). A message over `maxSize` or with a header
 * over MAX_HEADER_BYTES is drained and refused (`refusal`), never stored whole.
 */
export async function receiveMessage(stream: Readable & { sizeExceeded?: boolean }, o: ReceiveOptions): Promise<Received> {
  const mem: Uint8Array[] = [];
  let memBytes = 0;
  let size = 0;
  let fh: FileHandle | undefined;
  let header: Uint8Array | undefined;
  let headerBuf: Uint8Array[] = [];
  let headerBufBytes = 0;
  let refusal: AppError | undefined;
  try {
    for await (const c of stream as AsyncIterable<Buffer>) {
      const chunk = new Uint8Array(c.buffer, c.byteOffset, c.length);
      size += chunk.length;
      if (refusal) continue;
      if (size > o.maxSize || stream.sizeExceeded) {
        refusal = tooLarge(o.maxSize);
        continue;
      }
      if (header === undefined) {
        // look for the blank line in what we have so far (only the new bytes plus 3 of context)
        const prevBytes = headerBufBytes;
        headerBuf.push(chunk);
        headerBufBytes += chunk.length;
        const joined = headerBuf.length === 1 ? chunk : Buffer.concat(headerBuf);
        headerBuf = [joined];
        const end = headerEnd(joined, prevBytes - 3);
        if (end >= 0) {
          header = joined.slice(0, end);
          headerBuf = [];
        } else if (headerBufBytes > MAX_HEADER_BYTES) {
          refusal = tooLarge(MAX_HEADER_BYTES, 'The message header');
          continue;
        }
      }
      if (!fh && memBytes + chunk.length > o.spillThreshold) {
        fh = await openSpoolFile(o.spoolDir);
        let pos = 0;
        for (const m of mem) {
          await fh.write(m, 0, m.length, pos);
          pos += m.length;
        }
        mem.length = 0;
      }
      if (fh) await fh.write(chunk, 0, chunk.length, size - chunk.length);
      else {
        mem.push(Buffer.from(chunk)); // a copy: smtp-server may reuse its buffers
        memBytes += chunk.length;
      }
    }
  } catch (e) {
    await fh?.close().catch(() => {});
    throw new AppError('mail.client_gone', 'The client closed the connection before the end of the message', { kind: 'temporary', cause: e });
  }
  if (stream.sizeExceeded && !refusal) refusal = tooLarge(o.maxSize);
  if (refusal) {
    await fh?.close().catch(() => {});
    return { size, refusal };
  }
  if (header === undefined) header = headerBuf.length ? (headerBuf.length === 1 ? headerBuf[0]! : Buffer.concat(headerBuf)) : new Uint8Array(0);
  if (fh) return { size, source: new FileSource(fh, size, header) };
  const data = mem.length === 1 ? mem[0]! : new Uint8Array(Buffer.concat(mem));
  return { size, source: new MemorySource(data, data.subarray(0, header.length)) };
}
