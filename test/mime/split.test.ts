import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getHeader, getHeaders, isContentHeader, splitMessage } from '../../src/mime/index.js';
import { AppError } from '../../src/shared/errors.js';
import { latin1, utf8 } from '../../src/shared/bytes.js';

const b = (s: string): Uint8Array => utf8(s);
const s = (x: Uint8Array): string => latin1(x);

function assertAppError(fn: () => unknown, code: string, re?: RegExp): AppError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof AppError, `expected AppError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.kind, 'bad_input');
  if (re) assert.match(caught.message, re);
  return caught;
}

describe('splitMessage', () => {
  const cases: {
    name: string;
    msg: string;
    headerBytes: string;
    body: string;
    lineEnding: '\r\n' | '\n';
    fields: [name: string, raw: string, value: string][];
  }[] = [
    {
      name: 'CRLF',
      msg: 'From: a@example.com\r\nSubject: Hi\r\n\r\nbody line\r\n',
      headerBytes: 'From: a@example.com\r\nSubject: Hi\r\n',
      body: 'body line\r\n',
      lineEnding: '\r\n',
      fields: [
        ['From', 'From: a@example.com', 'a@example.com'],
        ['Subject', 'Subject: Hi', 'Hi'],
      ],
    },
    {
      name: 'LF only',
      msg: 'From: a@example.com\nSubject: Hi\n\nbody\n',
      headerBytes: 'From: a@example.com\nSubject: Hi\n',
      body: 'body\n',
      lineEnding: '\n',
      fields: [
        ['From', 'From: a@example.com', 'a@example.com'],
        ['Subject', 'Subject: Hi', 'Hi'],
      ],
    },
    {
      name: 'folded fields (space and tab continuations)',
      msg: 'Subject: a long\r\n  subject\r\nContent-Type: multipart/mixed;\r\n\tboundary="x"\r\nX-Empty:\r\n\r\n',
      headerBytes: 'Subject: a long\r\n  subject\r\nContent-Type: multipart/mixed;\r\n\tboundary="x"\r\nX-Empty:\r\n',
      body: '',
      lineEnding: '\r\n',
      fields: [
        ['Subject', 'Subject: a long\r\n  subject', 'a long  subject'],
        ['Content-Type', 'Content-Type: multipart/mixed;\r\n\tboundary="x"', 'multipart/mixed;\tboundary="x"'],
        ['X-Empty', 'X-Empty:', ''],
      ],
    },
    {
      name: 'CRLF header, separator is a lone LF',
      msg: 'Subject: x\r\n\nbody\r\n',
      headerBytes: 'Subject: x\r\n',
      body: 'body\r\n',
      lineEnding: '\r\n',
      fields: [['Subject', 'Subject: x', 'x']],
    },
    {
      name: 'LF-only, empty body after a lone LF separator',
      msg: 'Subject: x\n\n',
      headerBytes: 'Subject: x\n',
      body: '',
      lineEnding: '\n',
      fields: [['Subject', 'Subject: x', 'x']],
    },
    {
      name: 'body keeps a blank first line and has no final line break',
      msg: 'A: 1\r\n\r\n\r\nsecond',
      headerBytes: 'A: 1\r\n',
      body: '\r\nsecond',
      lineEnding: '\r\n',
      fields: [['A', 'A: 1', '1']],
    },
    {
      name: 'whitespace before the colon, colon in value, 8-bit value as latin1, trailing space kept',
      msg: 'Subject : a:b \r\nX-Raw: caf\xc3\xa9\r\n\r\n',
      headerBytes: 'Subject : a:b \r\nX-Raw: caf\xc3\xa9\r\n',
      body: '',
      lineEnding: '\r\n',
      fields: [
        ['Subject', 'Subject : a:b ', 'a:b '],
        ['X-Raw', 'X-Raw: caf\xc3\xa9', 'caf\xc3\xa9'],
      ],
    },
    {
      name: 'no header fields at all (body part starting with the blank line)',
      msg: '\r\nonly body\r\n',
      headerBytes: '',
      body: 'only body\r\n',
      lineEnding: '\r\n',
      fields: [],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      // latin1 bytes so \xc3\xa9 above are single octets
      const msg = Uint8Array.from(c.msg, (ch) => ch.charCodeAt(0));
      const r = splitMessage(msg);
      assert.equal(s(r.headerBytes), c.headerBytes);
      assert.equal(s(r.body), c.body);
      assert.equal(r.lineEnding, c.lineEnding);
      assert.deepEqual(
        r.headers.map((h) => [h.name, s(h.raw), h.value]),
        c.fields,
      );
      for (const h of r.headers) assert.equal(h.lname, h.name.toLowerCase());
      // headerBytes + separator + body = msg
      assert.equal(r.headerBytes.length + r.body.length < msg.length, true);
      assert.equal(r.body.buffer, msg.buffer, 'body is a view, not a copy');
      assert.equal(r.headerBytes.buffer, msg.buffer);
    });
  }

  const errors: { name: string; msg: string; code: string; re: RegExp }[] = [
    { name: '0 bytes', msg: '', code: 'mime.empty', re: /empty/ },
    {
      name: 'headers ending in CRLF but no blank line',
      msg: 'From: a@example.com\r\nSubject: x\r\n',
      code: 'mime.no_separator',
      re: /no blank line between header and body/,
    },
    {
      name: 'headers ending in LF but no blank line',
      msg: 'Subject: x\n',
      code: 'mime.no_separator',
      re: /no blank line between header and body/,
    },
    {
      name: 'header without any line break',
      msg: 'Subject: x',
      code: 'mime.no_separator',
      re: /no blank line between header and body/,
    },
    { name: 'first line starts with whitespace', msg: ' Subject: x\r\n\r\n', code: 'mime.bad_header', re: /line 1/ },
    { name: 'first line has no colon', msg: 'Hello world\r\n\r\nbody', code: 'mime.bad_header', re: /no colon/ },
    {
      name: 'mbox From_ line',
      msg: 'From a@example.com Tue Mar  3 10:15:00 2026\r\nSubject: x\r\n\r\n',
      code: 'mime.bad_header',
      re: /line 1/,
    },
    { name: 'empty field name', msg: ': x\r\n\r\n', code: 'mime.bad_header', re: /empty field name/ },
    { name: 'a later line that is no field', msg: 'A: 1\r\nbroken line\r\n\r\n', code: 'mime.bad_header', re: /line 2/ },
  ];
  for (const c of errors) {
    it(`throws ${c.code}: ${c.name}`, () => {
      assertAppError(() => splitMessage(b(c.msg)), c.code, c.re);
    });
  }

  it('bad_header carries the line number in detail', () => {
    const e = assertAppError(() => splitMessage(b('A: 1\r\nB: 2\r\nnope\r\n\r\n')), 'mime.bad_header');
    assert.deepEqual(e.detail, { line: 3 });
  });

  it('is fast on a 25 MB body and returns a subarray of the input', () => {
    const head = b('Subject: big\r\nContent-Type: application/octet-stream\r\n\r\n');
    const msg = new Uint8Array(head.length + 25 * 1024 * 1024);
    msg.set(head);
    msg.fill(0x41, head.length);
    // a "\r\n\r\n" far into the body must not matter
    msg.set(b('\r\n\r\n'), head.length + 1000);
    const r = splitMessage(msg);
    assert.equal(r.body.buffer, msg.buffer);
    assert.equal(r.body.byteOffset, head.length);
    assert.equal(r.body.length, 25 * 1024 * 1024);
    assert.equal(r.headers.length, 2);
  });
});

describe('header values: unfolding, leading whitespace, latin1', () => {
  // reference: the value as RFC 5322 unfolding and the documented trimming define it
  const unfold = (rawValue: string) => rawValue.replace(/\r?\n/g, '').replace(/^[ \t]+/, '');
  const cases = [':x', ': x', ':\t x', ':', ': ', ':\r\n x', ': \r\n\t\r\n  x y', ':\n x', ': a\r\n b\r\n\tc', ': \r x', ': a\r\r\n b', ':\r\n \r\n '];
  for (const c of cases) {
    for (const eol of ['\r\n', '\n']) {
      it(`X${JSON.stringify(c)} with ${JSON.stringify(eol)} line ends`, () => {
        const field = 'X' + (eol === '\n' ? c.replace(/\r\n/g, '\n') : c);
        const msg = Buffer.from(`${field}${eol}Y: z${eol}${eol}body`, 'latin1');
        const h = splitMessage(msg).headers;
        assert.equal(h.length, 2);
        assert.equal(h[0]!.value, unfold(field.slice(2)));
        assert.equal(h[1]!.value, 'z');
      });
    }
  }
  it('decodes every byte 0x80-0xff one-to-one', () => {
    const high = Buffer.alloc(128);
    for (let i = 0; i < 128; i++) high[i] = 0x80 + i;
    const msg = Buffer.concat([Buffer.from('X-High: '), high, Buffer.from('\r\n\r\n')]);
    const h = splitMessage(msg).headers[0]!;
    assert.equal(h.value, high.toString('latin1'));
    assert.equal(latin1(high), high.toString('latin1'));
    assert.equal(latin1(high.subarray(5, 9)), high.subarray(5, 9).toString('latin1'));
  });
});

describe('getHeader / getHeaders / isContentHeader', () => {
  const { headers } = splitMessage(b('Received: a\r\nreceived: b\r\nContent-Type: text/plain\r\n\r\n'));
  it('finds the first field by lower-case name', () => {
    assert.equal(getHeader(headers, 'received')?.value, 'a');
    assert.equal(getHeader(headers, 'Content-Type')?.value, 'text/plain');
    assert.equal(getHeader(headers, 'subject'), undefined);
    assert.deepEqual(
      getHeaders(headers, 'received').map((h) => h.value),
      ['a', 'b'],
    );
  });
  const table: [string, boolean][] = [
    ['content-type', true],
    ['content-transfer-encoding', true],
    ['Content-Disposition', true],
    ['content-id', true],
    ['mime-version', false],
    ['subject', false],
    ['x-content-type', false],
  ];
  for (const [name, want] of table) {
    it(`isContentHeader(${name}) === ${want}`, () => assert.equal(isContentHeader(name), want));
  }
});
