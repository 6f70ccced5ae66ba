/** The re-injection DATA encoder: byte for byte nodemailer's for any input and chunking, and what SMTP requires. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream.js';
import { SMTPServer } from 'smtp-server';
import { after, before } from 'node:test';
import { installFastDataStream, originalTransform, safeStart, stuffChunk } from '../../src/mail/dot-stuff.js';
import { Reinjector } from '../../src/mail/reinject.js';
import { dataSafeFrom, markDataSafe } from '../../src/mime/index.js';
import { encryptMessage } from '../../src/smime/message.js';
import { createTestPki, party, type Party } from '../smime/fixtures.js';
import type { TestPki } from '../helpers/pki.js';

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

/** Runs the installed encoder in a real DataStream over `chunks`; returns what it pushed. */
async function throughDataStream(chunks: Buffer[]): Promise<{ pushed: Buffer[]; all: Buffer }> {
  installFastDataStream();
  const pushed: Buffer[] = [];
  await pipeline(Readable.from(chunks), new DataStream(), new Writable({ write: (c, _e, cb) => (pushed.push(c), cb()) }));
  return { pushed, all: Buffer.concat(pushed) };
}

describe('DATA encoder: data-safe parts of messages the engine built', () => {
  let pki: TestPki;
  let bob: Party;
  before(async () => {
    pki = await createTestPki();
    bob = await party(pki, { email: 'bob@example.com', key: 'rsa2048' });
  });
  after(() => pki?.cleanup());

  const inputs: Array<[string, string]> = [
    ['CRLF text with dotted lines', 'From: a@corp.example\r\nTo: bob@example.com\r\nSubject: dots\r\n\r\n.one\r\n..two\r\n.\r\nend\r\n'],
    ['LF-only input', 'From: a@corp.example\nTo: bob@example.com\nSubject: lf\n\n.lf body\nmore\n'],
    ['a header field that starts with a dot', 'From: a@corp.example\r\n.X-Odd: 1\r\nTo: bob@example.com\r\n\r\nbody\r\n'],
    ['100 KB', `From: a@corp.example\r\nTo: bob@example.com\r\n\r\n${'.x line\r\n'.repeat(12_000)}`],
  ];
  for (const [name, text] of inputs) {
    it(`${name}: marked from the engine's own header fields on, and encoded exactly as nodemailer does`, async () => {
      const built = (await encryptMessage(Buffer.from(text, 'latin1'), [{ certificate: bob.certificate }])) as Buffer;
      assert.ok(Buffer.isBuffer(built));
      const from = dataSafeFrom(built);
      assert.ok(from !== undefined && from > 0, 'the engine marks what it built');
      assert.match(built.subarray(from).toString('latin1'), /^MIME-Version: 1\.0\r\n/);
      const want = reference([built]).out;
      // the part the mark vouches for really needed nothing
      assert.deepEqual(want.subarray(want.length - (built.length - from)), built.subarray(from));
      const { pushed, all } = await throughDataStream([built]);
      assert.deepEqual(all.subarray(0, want.length), want);
      assert.equal(all.subarray(want.length).toString('latin1'), '.\r\n');
      // the marked part was passed on, not copied or scanned into a new buffer
      assert.ok(pushed.some((p) => p.buffer === built.buffer && p.byteOffset === built.byteOffset + from && p.length === built.length - from));
    });
  }

  it('a mark is used only at a line start that is not a dot, and only at the start of the stream for offset 0', () => {
    const mk = (text: string, from: number) => {
      const b = Buffer.from(text, 'latin1');
      markDataSafe(b, from);
      return b;
    };
    const fresh = { lastByte: false as number | false, inByteCount: 0, outByteCount: 0 };
    assert.equal(safeStart(mk('ab\r\ncd\r\n', 4), fresh), 4);
    assert.equal(safeStart(mk('ab\ncd\r\n', 3), fresh), undefined, 'after a bare LF');
    assert.equal(safeStart(mk('ab\r\n.d\r\n', 4), fresh), undefined, 'a dot at the mark');
    assert.equal(safeStart(mk('ab\r\ncd\r\n', 3), fresh), undefined, 'not a line start');
    assert.equal(safeStart(mk('cd\r\n', 0), fresh), 0);
    assert.equal(safeStart(mk('cd\r\n', 0), { ...fresh, lastByte: 0x0a }), undefined, 'offset 0 after other data');
    assert.equal(safeStart(mk('ab\r\n', 4), fresh), undefined, 'an empty marked part');
    assert.equal(safeStart(Buffer.from('ab\r\ncd\r\n'), fresh), undefined, 'unmarked');
    assert.throws(() => markDataSafe(Buffer.alloc(2), 3), RangeError);
  });

  it('the mark reaches the encoder through the re-injection (nodemailer raw): shown by a mark that lies', async () => {
    // A buffer marked data-safe although its marked part has a line starting with "..": if the mark
    // reaches the encoder, those dots are not stuffed and the receiving server takes one away; a
    // lost mark would stuff them and the server would get the line unchanged.
    const received: Buffer[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disableReverseLookup: true,
      hideSTARTTLS: true,
      logger: false,
      onData(stream, _s, cb) {
        const parts: Buffer[] = [];
        stream.on('data', (c: Buffer) => parts.push(c));
        stream.on('end', () => (received.push(Buffer.concat(parts)), cb()));
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.server.address() as { port: number }).port;
    const reinject = new Reinjector({ url: `smtp://127.0.0.1:${port}` });
    try {
      const honest = Buffer.from('Subject: t\r\n\r\n.head dot\r\nline\r\n', 'latin1');
      markDataSafe(honest, honest.indexOf('line'));
      await reinject.send({ from: 'a@corp.example', recipients: [{ address: 'b@example.com' }] }, honest);
      assert.deepEqual(received[0], honest, 'an honest mark: the bytes arrive unchanged');
      // marked from the line before "..lie" (a line start that is not a dot), so the lie is inside
      const lie2 = Buffer.from('Subject: t\r\n\r\nok\r\n..lie\r\n', 'latin1');
      markDataSafe(lie2, lie2.indexOf('ok'));
      await reinject.send({ from: 'a@corp.example', recipients: [{ address: 'b@example.com' }] }, lie2);
      assert.equal(received[1]!.toString('latin1'), 'Subject: t\r\n\r\nok\r\n.lie\r\n', 'the marked part went unstuffed: the mark got through');
      // the same bytes copied (identity lost) are encoded in full and arrive intact
      await reinject.send({ from: 'a@corp.example', recipients: [{ address: 'b@example.com' }] }, new Uint8Array(lie2));
      assert.deepEqual(received[2], lie2);
    } finally {
      reinject.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
