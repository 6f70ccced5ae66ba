import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  canonicalizeEntity,
  decodeEncodedWords,
  decodeTransfer,
  encodeQuotedPrintable,
  getHeader,
  isCharsetSupported,
  parseContentType,
  splitMessage,
  splitMultipart,
  toCRLF,
} from '../../src/mime/index.js';
import { AppError } from '../../src/shared/errors.js';
import { concat, fromUtf8, latin1, utf8 } from '../../src/shared/bytes.js';
import {
  CSV_UTF8,
  ISO2022JP_BODY,
  ISO2022JP_BODY_TEXT,
  LONG_LINE,
  PLAIN_TEXT_BODY,
  PNG_1X1,
  UTF8_BODY,
  binaryAttachment,
  binaryAttachmentPayload,
  fixtures,
  iso2022jp,
  largeAttachment,
  largeAttachmentPayload,
  lfOnly,
  longLines,
  nestedMultipartWithAttachments,
  pdfLikeBytes,
  plainText,
  utf8EightBit,
} from './fixtures.js';

/** latin1: one char per byte, both ways. */
const L = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const s = (x: Uint8Array): string => latin1(x);
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** CRLF only, no line over 998 octets, and (unless allowed) 7-bit only. */
function assertCanonical(x: Uint8Array, allow8bit = false): void {
  let lineStart = 0;
  for (let i = 0; i < x.length; i++) {
    const c = x[i]!;
    if (c === 0x0a) {
      assert.equal(x[i - 1], 0x0d, `bare LF at ${i}`);
      assert.ok(i - 1 - lineStart <= 998, `line of ${i - 1 - lineStart} octets at ${lineStart}`);
      lineStart = i + 1;
    } else if (c === 0x0d) {
      assert.equal(x[i + 1], 0x0a, `bare CR at ${i}`);
    } else if (!allow8bit) {
      assert.ok(c < 0x80 && c !== 0, `octet ${c} at ${i}`);
    }
  }
  assert.ok(x.length - lineStart <= 998);
}

interface Leaf {
  path: string;
  type: string;
  /** Decoded content; text/* with CRLF line breaks. */
  content: Uint8Array;
}

/** Every leaf of an entity with its decoded content (a test-side walker over the public API). */
function leaves(entity: Uint8Array, path = '1'): Leaf[] {
  const { headers, body } = splitMessage(entity);
  const ctf = getHeader(headers, 'content-type');
  const ct = ctf ? parseContentType(ctf.value) : { type: 'text', subtype: 'plain', params: {} };
  if (ct.type === 'multipart') {
    const mp = splitMultipart(body, ct.params['boundary']!);
    return mp.parts.flatMap((p, i) => leaves(p, `${path}.${i + 1}`));
  }
  const cte = getHeader(headers, 'content-transfer-encoding')?.value ?? '7bit';
  let content = decodeTransfer(cte, body);
  if (ct.type === 'text') content = toCRLF(content);
  return [{ path, type: `${ct.type}/${ct.subtype}`, content }];
}

function assertSameLeaves(a: Uint8Array, b: Uint8Array): void {
  const la = leaves(a);
  const lb = leaves(b);
  assert.deepEqual(
    lb.map((l) => [l.path, l.type]),
    la.map((l) => [l.path, l.type]),
  );
  for (const [i, l] of la.entries()) {
    assert.ok(same(lb[i]!.content, l.content), `content of part ${l.path} (${l.type}) differs`);
  }
}

function assertAppError(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof AppError && e.code === code);
}

describe('canonicalizeEntity: exact output', () => {
  const table: [name: string, input: string, want: string][] = [
    [
      'plain 7bit CRLF stays identical',
      'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello\r\nWorld\r\n',
      'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello\r\nWorld\r\n',
    ],
    [
      'no Content-Type, no final line break',
      'Subject: x\r\n\r\nHello',
      'Subject: x\r\n\r\nHello',
    ],
    [
      'LF-only becomes CRLF (headers, folds, separator, body)',
      'Content-Type: text/plain;\n charset=us-ascii\n\nHello\nWorld\n',
      'Content-Type: text/plain;\r\n charset=us-ascii\r\n\r\nHello\r\nWorld\r\n',
    ],
    [
      'bare CR in a 7bit body becomes CRLF',
      'Content-Type: text/plain\r\n\r\nold\rmac\r',
      'Content-Type: text/plain\r\n\r\nold\r\nmac\r\n',
    ],
    [
      '8bit UTF-8 text/plain (LF-only) -> quoted-printable, CTE replaced in place',
      'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\nContent-Language: de\n\nH\xc3\xa4llo = Welt \nFrom here\n',
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Language: de\r\n\r\nH=C3=A4llo =3D Welt=20\r\n=46rom here\r\n',
    ],
    [
      'absent CTE with 8-bit text: CTE appended at the end of the header',
      'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: inline\r\n\r\ncaf\xe9',
      'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9',
    ],
    [
      'CTE name spelling kept, later duplicate CTE fields dropped',
      'content-transfer-encoding: 8BIT\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\xff',
      'content-transfer-encoding: quoted-printable\r\nContent-Type: text/plain\r\n\r\n=FF',
    ],
    [
      'binary non-text -> base64 (CR, LF, NUL are content)',
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\xff\n\r\x00',
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAH/Cg0A',
    ],
    [
      '7bit-labelled application/* with NUL -> base64',
      'Content-Type: application/json\r\n\r\n{"a":"\x00"}',
      'Content-Type: application/json\r\nContent-Transfer-Encoding: base64\r\n\r\neyJhIjoiACJ9',
    ],
    [
      'quoted-printable containing raw 8-bit octets is re-encoded, CTE untouched',
      'Content-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\na=3D\xe9\r\n',
      'Content-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\na=3D=E9\r\n',
    ],
    [
      'base64 with 8-bit garbage is decoded and re-encoded',
      'Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nZm9v\xffYmFy\r\n',
      'Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nZm9vYmFy',
    ],
    [
      'empty 8bit body: only the label changes',
      'Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      'Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
    ],
    [
      'unknown CTE on 7bit-safe data is kept',
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\n`\nend\n',
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n`\r\nend\r\n',
    ],
    [
      'UTF-16 text is binary: base64, no line-break conversion',
      'Content-Type: text/plain; charset=UTF-16LE\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00\n\x00',
      'Content-Type: text/plain; charset=UTF-16LE\r\nContent-Transfer-Encoding: base64\r\n\r\nYQAKAA==',
    ],
    [
      'bare CR inside a header field is data, not a line break',
      'X-Odd: a\rb\nContent-Type: text/plain\n\nx\n',
      'X-Odd: a\rb\r\nContent-Type: text/plain\r\n\r\nx\r\n',
    ],
  ];
  for (const [name, input, want] of table) {
    it(name, () => {
      const out = canonicalizeEntity(L(input));
      assert.equal(s(out), want);
      assert.equal(s(canonicalizeEntity(out)), want, 'idempotent');
    });
  }

  it('nested multipart/mixed inside multipart/alternative with attachments', () => {
    const input = [
      'Content-Type: multipart/alternative; boundary="alt"',
      'MIME-Version: 1.0',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Gr\xc3\xbc\xc3\x9fe',
      '--alt',
      'Content-Type: multipart/mixed; boundary=mix',
      '',
      'preamble',
      '--mix',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>\xc3\xa4</p>',
      '--mix',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: binary',
      'Content-Disposition: attachment; filename="x.bin"',
      '',
      '\x00\x01\xff\n\r\x00',
      '--mix',
      'Content-Type: application/pdf',
      'Content-Transfer-Encoding: base64',
      '',
      'JVBERi0=',
      '--mix--',
      '--alt--',
      'epilogue',
      '',
    ].join('\r\n');
    const want = [
      'Content-Type: multipart/alternative; boundary="alt"',
      'MIME-Version: 1.0',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=C3=BC=C3=9Fe',
      '--alt',
      'Content-Type: multipart/mixed; boundary=mix',
      '',
      'preamble',
      '--mix',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<p>=C3=A4</p>',
      '--mix',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="x.bin"',
      '',
      'AAH/Cg0A',
      '--mix',
      'Content-Type: application/pdf',
      'Content-Transfer-Encoding: base64',
      '',
      'JVBERi0=',
      '--mix--',
      '--alt--',
      'epilogue',
      '',
    ].join('\r\n');
    const out = canonicalizeEntity(L(input));
    assert.equal(s(out), want);
    assertCanonical(out);
    assertSameLeaves(L(input), out);
    assert.ok(same(canonicalizeEntity(out), out));
  });

  it('LF-only multipart: delimiters, preamble, epilogue and transport padding kept, CRLF-normalised', () => {
    const input = 'Content-Type: multipart/mixed; boundary=b\n\npre\n--b \nContent-Type: text/plain\n\nx\n--b--\t\npost\n';
    const want = 'Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b \r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\t\r\npost\r\n';
    assert.equal(s(canonicalizeEntity(L(input))), want);
  });

  it('header-only, header-less and empty body parts are kept as written', () => {
    const input =
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n--b\r\n\r\nno headers\r\n--b\r\n--b\nContent-Type: text/plain\n\n\xe9\n--b--';
    const want =
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n--b\r\n\r\nno headers\r\n--b\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n--b--';
    assert.equal(s(canonicalizeEntity(L(input))), want);
  });

  it('multipart/digest parts default to message/rfc822', () => {
    const input =
      'Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xe9\r\n--d--\r\n';
    const want =
      'Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n--d--\r\n';
    assert.equal(s(canonicalizeEntity(L(input))), want);
  });

  it('message/rfc822 with 8-bit content: the embedded message is canonicalized, 8bit -> 7bit', () => {
    const input = [
      'Content-Type: multipart/mixed; boundary=m',
      '',
      '--m',
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: 8bit',
      'Content-Disposition: attachment',
      '',
      'From: a@example.com',
      'Subject: fwd',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      '\xc3\xa4',
      '--inner',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: binary',
      '',
      '\xff',
      '--inner--',
      '',
      '--m--',
      '',
    ].join('\n');
    const want = [
      'Content-Type: multipart/mixed; boundary=m',
      '',
      '--m',
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: 7bit',
      'Content-Disposition: attachment',
      '',
      'From: a@example.com',
      'Subject: fwd',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '=C3=A4',
      '--inner',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      '/w==',
      '--inner--',
      '',
      '--m--',
      '',
    ].join('\r\n');
    const out = canonicalizeEntity(L(input));
    assert.equal(s(out), want);
    assert.ok(same(canonicalizeEntity(out), out));
  });

  it('multipart with 8bit CTE whose parts become 7bit is relabelled 7bit', () => {
    const input = 'Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: 8bit\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xe9\r\n--b--\r\n';
    const want = 'Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: 7bit\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n--b--\r\n';
    assert.equal(s(canonicalizeEntity(L(input))), want);
  });

  it('multipart/signed is kept opaque (only CRLF-normalised) so the inner signature stays valid', () => {
    const input =
      'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=s\n\n--s\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n\xe9\n--s\nContent-Type: application/pkcs7-signature\nContent-Transfer-Encoding: base64\n\nMIIB\n--s--\n';
    assert.equal(s(canonicalizeEntity(L(input))), input.replace(/\n/g, '\r\n'));
  });

  it('a line over 998 octets in a 7bit text part -> quoted-printable with soft breaks', () => {
    const long = 'a'.repeat(1200);
    const input = `Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nshort\r\n${long}\r\nend\r\n`;
    const want =
      'Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nshort\r\n' +
      ('a'.repeat(75) + '=\r\n').repeat(15) +
      'a'.repeat(75) +
      '\r\nend\r\n';
    const out = canonicalizeEntity(L(input));
    assert.equal(s(out), want);
    assertCanonical(out);
  });

  it('a 7bit line of exactly 998 octets is left alone, 999 is re-encoded', () => {
    const ok = `Content-Type: text/plain\r\n\r\n${'b'.repeat(998)}\r\n`;
    assert.equal(s(canonicalizeEntity(L(ok))), ok);
    const over = `Content-Type: text/plain\r\n\r\n${'b'.repeat(999)}\r\n`;
    assert.match(s(canonicalizeEntity(L(over))), /quoted-printable/);
  });

  it('base64 written as one very long line is re-wrapped at 76', () => {
    const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
    const input = concat([L('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'), L(Buffer.from(data).toString('base64')), L('\r\n')]);
    const out = canonicalizeEntity(input);
    assertCanonical(out);
    const { body } = splitMessage(out);
    for (const line of s(body).split('\r\n')) assert.ok(line.length <= 76);
    assert.ok(same(decodeTransfer('base64', body), data));
  });

  it('header lines over 998 octets are folded at whitespace', () => {
    const refs = Array.from({ length: 60 }, (_, i) => `<message-${i}-abcdefgh@example.com>`).join(' ');
    const input = `References: ${refs}\r\nContent-Type: text/plain\r\n\r\nx\r\n`;
    const out = canonicalizeEntity(L(input));
    assertCanonical(out);
    const h = getHeader(splitMessage(out).headers, 'references')!;
    assert.equal(h.value, refs, 'unfolds to the same value');
    assert.ok(same(canonicalizeEntity(out), out));
  });

  it('an unfoldable long header is RFC 2047-encoded; a long Content-Type parameter uses RFC 2231', () => {
    const token = 'x'.repeat(1100);
    const name = 'ü'.repeat(10) + 'y'.repeat(1100) + '.bin';
    const input = `X-Token: ${token}\r\nContent-Type: application/octet-stream; name="${name}"\r\n\r\nAAAA\r\n`;
    const out = canonicalizeEntity(utf8(input));
    assertCanonical(out);
    const { headers } = splitMessage(out);
    assert.match(headers[0]!.value, /^=\?UTF-8\?B\?/);
    assert.equal(decodeEncodedWords(headers[0]!.value), token);
    assert.deepEqual(parseContentType(headers[1]!.value), {
      type: 'application',
      subtype: 'octet-stream',
      params: { name },
    });
    assert.ok(same(canonicalizeEntity(out), out));
  });

  const errors: [name: string, input: string, code: string][] = [
    ['0 bytes', '', 'mime.empty'],
    ['no blank line', 'Content-Type: text/plain\r\n', 'mime.no_separator'],
    ['multipart without boundary', 'Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\na\r\n--x--\r\n', 'mime.bad_multipart'],
    ['multipart without delimiter', 'Content-Type: multipart/mixed; boundary=x\r\n\r\nnothing\r\n', 'mime.bad_multipart'],
    [
      'unknown CTE on 8-bit data',
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n\xff',
      'mime.unknown_encoding',
    ],
    ['bad header in a part', 'Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nnot a header\r\n\r\n--x--', 'mime.bad_header'],
  ];
  for (const [name, input, code] of errors) {
    it(`throws ${code}: ${name}`, () => assertAppError(() => canonicalizeEntity(L(input)), code));
  }

  it('throws mime.too_deep for absurd nesting', () => {
    let entity = 'Content-Type: text/plain\r\n\r\nx';
    for (let i = 0; i < 60; i++) {
      entity = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${entity}\r\n--b${i}--`;
    }
    assertAppError(() => canonicalizeEntity(L(entity)), 'mime.too_deep');
  });
});

describe('canonicalizeEntity: fixtures', () => {
  it('plainText stays byte-identical', () => {
    const m = plainText();
    assert.ok(same(canonicalizeEntity(m), m));
    assert.equal(s(splitMessage(m).body), PLAIN_TEXT_BODY);
  });

  it('iso2022jp (7bit with ESC sequences) stays byte-identical', () => {
    const m = iso2022jp();
    const out = canonicalizeEntity(m);
    assert.ok(same(out, m));
    assert.equal(s(splitMessage(out).body), ISO2022JP_BODY);
  });

  it('iso2022jp body and subject decode to the Japanese text', { skip: !isCharsetSupported('iso-2022-jp') }, () => {
    const { headers, body } = splitMessage(iso2022jp());
    assert.equal(new TextDecoder('iso-2022-jp').decode(body), ISO2022JP_BODY_TEXT);
    assert.equal(decodeEncodedWords(getHeader(headers, 'subject')!.value), '会議資料の送付について');
  });

  it('lfOnly -> exactly the CRLF version', () => {
    const m = lfOnly();
    const out = canonicalizeEntity(m);
    assert.equal(s(out), s(m).replace(/\n/g, '\r\n'));
    assertCanonical(out);
  });

  it('utf8EightBit -> quoted-printable that decodes to the same bytes; other headers untouched', () => {
    const m = utf8EightBit();
    const out = canonicalizeEntity(m);
    assertCanonical(out);
    const a = splitMessage(m);
    const b = splitMessage(out);
    assert.deepEqual(
      b.headers.map((h) => s(h.raw)),
      a.headers.map((h) => (h.lname === 'content-transfer-encoding' ? 'Content-Transfer-Encoding: quoted-printable' : s(h.raw))),
    );
    assert.ok(same(decodeTransfer('quoted-printable', b.body), utf8(UTF8_BODY)));
  });

  it('binaryAttachment -> base64 that decodes to the identical PDF bytes', () => {
    const m = binaryAttachment();
    const out = canonicalizeEntity(m);
    assertCanonical(out);
    const leafs = leaves(out);
    assert.equal(leafs.length, 2);
    assert.equal(leafs[1]!.type, 'application/pdf');
    assert.ok(same(leafs[1]!.content, binaryAttachmentPayload()));
    assert.match(s(out), /Content-Type: application\/pdf; name="contract.pdf"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="contract.pdf"\r\n\r\n/);
    // the text part is untouched
    assert.ok(s(out).includes('--b1_binary_boundary\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nThe signed contract is attached.\r\n\r\n--b1'));
  });

  it('nestedMultipartWithAttachments: 8bit parts re-encoded, everything else identical, contents preserved', () => {
    const m = nestedMultipartWithAttachments();
    const out = canonicalizeEntity(m);
    assertCanonical(out);
    assertSameLeaves(m, out);
    const l = leaves(out);
    assert.deepEqual(
      l.map((x) => [x.path, x.type]),
      [
        ['1.1.1', 'text/plain'],
        ['1.1.2.1', 'text/html'],
        ['1.1.2.2', 'image/png'],
        ['1.2', 'application/pdf'],
        ['1.3', 'text/csv'],
      ],
    );
    assert.ok(same(l[2]!.content, PNG_1X1));
    assert.ok(same(l[3]!.content, pdfLikeBytes()));
    assert.equal(fromUtf8(l[4]!.content), CSV_UTF8.slice(0, -2)); // the last CRLF belongs to the delimiter
    // only the two 8bit text parts changed: replace them back and the input reappears
    const expected = s(m)
      .replace(
        'Content-Transfer-Encoding: 8bit\r\n\r\nHallo Hanako,\r\nder Bericht f\xc3\xbcr M\xc3\xa4rz liegt bei. Gr\xc3\xbc\xc3\x9fe, Taro\r\n',
        'Content-Transfer-Encoding: quoted-printable\r\n\r\nHallo Hanako,\r\nder Bericht f=C3=BCr M=C3=A4rz liegt bei. Gr=C3=BC=C3=9Fe, Taro\r\n',
      )
      .replace('Content-Transfer-Encoding: 8bit\r\nContent-Disposition: attachment; filename="umsatz.csv"', 'Content-Transfer-Encoding: quoted-printable\r\nContent-Disposition: attachment; filename="umsatz.csv"')
      .replace(s(utf8(CSV_UTF8.slice(0, -2))), s(encodeQuotedPrintable(utf8(CSV_UTF8.slice(0, -2)))));
    assert.equal(s(out), expected);
  });

  it('longLines -> quoted-printable, every line <= 76, decodes to the original text', () => {
    const out = canonicalizeEntity(longLines());
    assertCanonical(out);
    const { headers, body } = splitMessage(out);
    assert.equal(getHeader(headers, 'content-transfer-encoding')!.value, 'quoted-printable');
    for (const line of s(body).split('\r\n')) assert.ok(line.length <= 76);
    assert.equal(s(decodeTransfer('quoted-printable', body)), `Export follows:\r\n${LONG_LINE}\r\nEnd of export.\r\n`);
  });

  for (const [name, build] of Object.entries(fixtures)) {
    it(`${name}: idempotent, canonical, same leaf contents`, () => {
      const m = build();
      const once = canonicalizeEntity(m);
      const twice = canonicalizeEntity(once);
      assert.ok(same(once, twice), 'canonicalize(canonicalize(x)) == canonicalize(x)');
      assertCanonical(once);
      assertSameLeaves(m, once);
    });
  }
});

describe('canonicalizeEntity: 25 MB', () => {
  const SIZE = 25 * 1024 * 1024;

  it('a canonical message with a 25 MB base64 attachment comes out identical', () => {
    const m = largeAttachment(SIZE);
    const out = canonicalizeEntity(m);
    assert.ok(same(out, m));
    const leaf = leaves(out)[1]!;
    assert.ok(same(leaf.content, largeAttachmentPayload(SIZE)));
  });

  it('the same message LF-only is converted to exactly the CRLF original', () => {
    const crlf = largeAttachment(SIZE);
    const lf = Uint8Array.from(Buffer.from(s(crlf).replace(/\r\n/g, '\n'), 'latin1'));
    const out = canonicalizeEntity(lf);
    assert.ok(same(out, crlf));
  });

  it('a 25 MB binary attachment is base64-encoded and decodes back identically', () => {
    const payload = largeAttachmentPayload(SIZE);
    const m = concat([L('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), payload]);
    const out = canonicalizeEntity(m);
    const { body } = splitMessage(out);
    assert.ok(same(decodeTransfer('base64', body), payload));
  });
});

describe('canonicalizeEntity: generated MIME trees (seeded)', () => {
  /** xorshift32 */
  function rng(seed: number): () => number {
    let x = Math.imul(seed, 0x9e3779b1) >>> 0 || 1;
    const next = (): number => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x / 0x100000000;
    };
    for (let i = 0; i < 8; i++) next(); // small seeds: warm up
    return next;
  }

  function build(seed: number): Uint8Array {
    const r = rng(seed);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const eol = r() < 0.5 ? '\r\n' : '\n';
    const words = ['alpha', 'beta', 'Grüße', '日本語', 'x=y', 'tab\there', 'trailing ', 'From', '.', '--dash'];
    const textLines = (n: number, ascii: boolean): string[] =>
      Array.from({ length: n }, () => {
        if (r() < 0.05) return 'L'.repeat(999 + Math.floor(r() * 300));
        return Array.from({ length: 1 + Math.floor(r() * 12) }, () => {
          const w = pick(words);
          return ascii ? w.replace(/[^\x20-\x7e\t]/g, 'u') : w;
        }).join(' ');
      });
    const binary = (): Uint8Array => {
      const b = Uint8Array.from({ length: Math.floor(r() * 400) }, () => Math.floor(r() * 256));
      if (b.length && b[b.length - 1] === 0x0d) b[b.length - 1] = 0; // a trailing CR is ambiguous before an LF-only delimiter
      return b;
    };
    const leaf = (): Uint8Array[] => {
      const kind = Math.floor(r() * 8);
      switch (kind) {
        case 0:
          return [utf8(`Content-Type: text/plain; charset=us-ascii${eol}${eol}${textLines(3, true).join(eol)}`)];
        case 1:
          return [utf8(`Content-Type: text/plain; charset=utf-8${eol}Content-Transfer-Encoding: 8bit${eol}${eol}${textLines(4, false).join(eol)}${eol}`)];
        case 2:
          return [utf8(`Content-Type: text/html; charset=utf-8${eol}${eol}<p>${textLines(2, false).join(eol)}</p>`)];
        case 3: {
          const qp = s(encodeQuotedPrintable(utf8(textLines(3, false).join('\r\n')))).replace(/\r\n/g, eol);
          return [utf8(`Content-Type: text/plain; charset=utf-8${eol}Content-Transfer-Encoding: quoted-printable${eol}${eol}`), L(qp)];
        }
        case 4:
          return [utf8(`Content-Type: application/octet-stream${eol}Content-Transfer-Encoding: binary${eol}${eol}`), binary()];
        case 5: {
          const b64 = Buffer.from(binary()).toString('base64');
          const body = r() < 0.3 ? b64 : (b64.match(/.{1,76}/g) ?? []).join(eol);
          return [utf8(`Content-Type: image/png${eol}Content-Transfer-Encoding: base64${eol}Content-Disposition: attachment; filename="p.png"${eol}${eol}${body}`)];
        }
        case 6:
          return [utf8(`Content-Type: text/plain; charset=ISO-2022-JP${eol}Content-Transfer-Encoding: 7bit${eol}${eol}`), L(ISO2022JP_BODY.replace(/\r\n/g, eol))];
        default:
          return [utf8(`Content-Type: application/json${eol}${eol}{"k": "${pick(words)}"}`)];
      }
    };
    const node = (depth: number): Uint8Array[] => {
      if (depth >= 3 || r() < 0.45) return leaf();
      const boundary = `=_b${depth}_${Math.floor(r() * 1e9).toString(36)}`;
      const n = 1 + Math.floor(r() * 3);
      const out: Uint8Array[] = [
        utf8(`Content-Type: multipart/${pick(['mixed', 'alternative', 'related'])}; boundary="${boundary}"${eol}${eol}`),
      ];
      if (r() < 0.5) out.push(utf8(`preamble text${eol}`));
      for (let i = 0; i < n; i++) {
        out.push(utf8(`--${boundary}${eol}`), ...node(depth + 1), utf8(eol));
      }
      out.push(utf8(`--${boundary}--${eol}`));
      if (r() < 0.5) out.push(utf8(`epilogue${eol}`));
      return out;
    };
    return concat([utf8(`MIME-Version: 1.0${eol}`), ...node(0)]);
  }

  /** Leaves with 7bit/8bit/binary text and 7bit-labelled content CRLF-normalised (as canonical form defines). */
  function normLeaves(x: Uint8Array): [string, string][] {
    return leaves(x).map((l) => [l.path + ' ' + l.type, Buffer.from(l.type.startsWith('application/json') ? toCRLF(l.content) : l.content).toString('hex')]);
  }

  for (let seed = 1; seed <= 150; seed++) {
    it(`seed ${seed}`, () => {
      const m = build(seed);
      const out = canonicalizeEntity(m);
      assertCanonical(out);
      assert.ok(same(canonicalizeEntity(out), out), 'idempotent');
      assert.deepEqual(normLeaves(out), normLeaves(m));
    });
  }
});
