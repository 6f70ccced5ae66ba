/** The re-injection DATA encoder: byte for byte nodemailer's for any input and chunking, and what SMTP requires. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream.js';
import { installFastDataStream, originalTransform, stuffChunk } from '../../src/mail/dot-stuff.js';

/** Runs nodemailer's own encoder (the original _transform) over the chunks. */
function reference(chunks: Buffer[]): { out: Buffer; inBytes: number; outBytes: number } {
  const state = { lastByte: false as number | false, inByteCount: 0, outByteCount: 0, out: [] as Buffer[] };
  const self = Object.assign(state, { push: (b: Buffer) => void state.out.push(b) });
  for (const c of chunks) originalTransform.call(self, c, 'buffer', () => {});
  return { out: Buffer.concat(state.out), inBytes: state.inByteCount, outBytes: state.outByteCount };
}

function fast(chunks: Buffer[]): { out: Buffer; inBytes: number; outBytes: number } {
  const state = { lastByte: false as number | false, inByteCount: 0, outByteCount: 0 };
  const out = chunks.filter((c) => c.length).map((c) => stuffChunk(c, state));
  return { out: Buffer.concat(out), inBytes: state.inByteCount, outBytes: state.outByteCount };
}

function randomChunks(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = Math.min(data.length - i, randomInt(1, 40));
    chunks.push(data.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

describe('DATA encoder (dot-stuffing, line ends)', () => {
  it('matches nodemailer byte for byte on 3,000 random inputs of CR, LF, "." and letters in random chunks', () => {
    const alphabet = [0x0d, 0x0a, 0x2e, 0x61, 0x0d, 0x0a, 0x2e];
    for (let n = 0; n < 3000; n++) {
      const data = Buffer.from(Array.from({ length: randomInt(0, 120) }, () => alphabet[randomInt(alphabet.length)]!));
      const chunks = randomChunks(data);
      const want = reference(chunks);
      const got = fast(chunks);
      assert.deepEqual(got, want, `input ${JSON.stringify(data.toString('latin1'))} in ${chunks.length} chunks`);
    }
  });

  it('follows the SMTP rules on known cases', () => {
    const enc = (...parts: string[]) => fast(parts.map((p) => Buffer.from(p, 'latin1'))).out.toString('latin1');
    assert.equal(enc('.start\r\n..two\r\nmid.dle\r\n'), '..start\r\n...two\r\nmid.dle\r\n');
    assert.equal(enc('bare\nlf\n.dot'), 'bare\r\nlf\r\n..dot');
    assert.equal(enc('bare\rcr\r.dot'), 'bare\r\ncr\r\n..dot');
    assert.equal(enc('split\r', '\n.next\r', '.x'), 'split\r\n..next\r\n..x');
    assert.equal(enc('no change at all\r\n'), 'no change at all\r\n');
  });

  it('installed into nodemailer: a DataStream encodes a 1 MB message exactly as before', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(i % 7 === 0 ? `.line ${i}` : i % 11 === 0 ? `bare ${i}\n` : `line ${i} ${'x'.repeat(i % 40)}`);
    const data = Buffer.from(lines.join('\r\n'), 'latin1');
    const chunks = randomChunks(data).concat(randomChunks(data));
    const want = reference(chunks);
    installFastDataStream();
    const out: Buffer[] = [];
    const ds = new DataStream();
    await pipeline(Readable.from(chunks), ds, new Writable({ write: (c, _e, cb) => (out.push(c), cb()) }));
    const all = Buffer.concat(out);
    // the stream adds the terminating CRLF . CRLF after the data
    assert.deepEqual(all.subarray(0, want.out.length), want.out);
    assert.equal(all.subarray(want.out.length).toString('latin1'), want.out.at(-1) === 0x0a ? '.\r\n' : '\r\n.\r\n');
    assert.equal((ds as unknown as { inByteCount: number }).inByteCount, want.inBytes);
  });
});
