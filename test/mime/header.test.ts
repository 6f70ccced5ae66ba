import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildHeaderField, decodeEncodedWords, isCharsetSupported, splitMessage } from '../../src/mime/index.js';
import { AppError } from '../../src/shared/errors.js';
import { latin1 } from '../../src/shared/bytes.js';

const s = (x: Uint8Array): string => latin1(x);

/** Parses the built field back: its unfolded value, decoded. */
function roundTrip(field: Uint8Array): { name: string; value: string; decoded: string } {
  const msg = new Uint8Array(field.length + 2);
  msg.set(field);
  msg.set([13, 10], field.length);
  const { headers } = splitMessage(msg);
  assert.equal(headers.length, 1);
  const h = headers[0]!;
  return { name: h.name, value: h.value, decoded: decodeEncodedWords(h.value) };
}

function assertLines(field: Uint8Array, max: number): void {
  const text = s(field);
  assert.ok(text.endsWith('\r\n'), 'ends with CRLF');
  const lines = text.slice(0, -2).split('\r\n');
  for (const [i, line] of lines.entries()) {
    assert.ok(line.length <= max, `line ${i} has ${line.length} > ${max}: ${line}`);
    if (i > 0) assert.match(line, /^[ \t]+\S/, 'continuation starts with whitespace then text');
  }
  for (const c of field) assert.ok(c < 0x80, 'only ASCII');
}

describe('buildHeaderField', () => {
  const exact: [name: string, value: string, want: string][] = [
    ['Subject', 'Hello', 'Subject: Hello\r\n'],
    ['Subject', '', 'Subject:\r\n'],
    ['Subject', '  leading dropped, trailing kept ', 'Subject: leading dropped, trailing kept \r\n'],
    ['Subject', 'Grüße', 'Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n'],
    ['Subject', 'Re: Grüße aus Köln', 'Subject: Re: =?UTF-8?B?R3LDvMOfZQ==?= aus =?UTF-8?B?S8O2bG4=?=\r\n'],
    ['Subject', 'Grüße Köln', 'Subject: =?UTF-8?B?R3LDvMOfZSBLw7Zsbg==?=\r\n'],
    ['Subject', 'Grüße an alle', 'Subject: =?UTF-8?B?R3LDvMOfZQ==?= an alle\r\n'],
    [
      'Subject',
      'This is a rather long subject line that needs folding at whitespace somewhere around here',
      'Subject: This is a rather long subject line that needs folding at whitespace\r\n somewhere around here\r\n',
    ],
    ['X-Looks-Encoded', 'see =?utf-8?q?x?= here', 'X-Looks-Encoded: see =?UTF-8?B?PT91dGYtOD9xP3g/PQ==?= here\r\n'],
  ];
  for (const [name, value, want] of exact) {
    it(`${name}: ${JSON.stringify(value)}`, () => {
      const f = buildHeaderField(name, value);
      assert.equal(s(f), want);
      assertLines(f, 78);
      const rt = roundTrip(f);
      assert.equal(rt.name, name);
      assert.equal(rt.decoded, value.replace(/^[ \t]+/, ''));
    });
  }

  const roundTrips: [name: string, value: string][] = [
    ['Subject', '会議資料の送付について（再送）。ご確認のほどよろしくお願いいたします。添付ファイルは3点です。'],
    ['Subject', 'Mixed: naïve café résumé — “quotes” and emoji 📎📎📎 in a subject that goes on and on'],
    ['Subject', 'Zoë  and\tFrançois   (spacing kept)'],
    ['From', 'Jürgen Müller <juergen@example.de>'],
    ['X-Long-Token', 'a'.repeat(1500)],
    ['X-Long-Name-Header-With-A-Very-Long-Field-Name-For-Testing-Folding-Limits', 'ünïcödé value'],
  ];
  for (const [name, value] of roundTrips) {
    it(`round trip (folded, <= 78 columns, ASCII only): ${value.slice(0, 40)}`, () => {
      const f = buildHeaderField(name, value);
      assertLines(f, name.length > 60 ? 998 : 78);
      assert.equal(roundTrip(f).decoded, value);
    });
  }

  it('never splits a UTF-8 character across encoded-words', () => {
    const value = '𝄞'.repeat(40) + 'ä'.repeat(40);
    const f = s(buildHeaderField('Subject', value));
    for (const m of f.matchAll(/=\?UTF-8\?B\?([^?]*)\?=/g)) {
      const bytes = Buffer.from(m[1]!, 'base64');
      assert.equal(new TextDecoder('utf-8', { fatal: true }).decode(bytes).length > 0, true);
      assert.ok(m[0].length <= 75);
    }
    assert.equal(roundTrip(buildHeaderField('Subject', value)).decoded, value);
  });

  it('structured mode folds only outside quoted strings and never encodes', () => {
    const v =
      'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="----=_smimegw_0123456789abcdef0123456789abcdef0123"';
    const f = buildHeaderField('Content-Type', v, { structured: true });
    assert.equal(
      s(f),
      'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n' +
        ' micalg=sha-256; boundary="----=_smimegw_0123456789abcdef0123456789abcdef0123"\r\n',
    );
    assertLines(f, 78);
    assert.equal(roundTrip(f).value, v);
    const q = buildHeaderField('X-Q', 'a "quoted string with many spaces that must stay on one line" b', {
      structured: true,
    });
    assert.match(s(q), /"quoted string with many spaces that must stay on one line"/);
  });

  const errors: [name: string, value: string, options: { structured?: boolean }, code: string][] = [
    ['Subject', 'a\r\nBcc: injected@example.com', {}, 'mime.bad_header_value'],
    ['Subject', 'a\nb', {}, 'mime.bad_header_value'],
    ['Bad Name', 'x', {}, 'mime.bad_header_name'],
    ['Bad:Name', 'x', {}, 'mime.bad_header_name'],
    ['', 'x', {}, 'mime.bad_header_name'],
    ['Content-Type', 'text/plain; name="ä"', { structured: true }, 'mime.bad_header_value'],
    ['X', 'y'.repeat(1200), { structured: true }, 'mime.bad_header_value'],
  ];
  for (const [name, value, options, code] of errors) {
    it(`throws ${code} for ${JSON.stringify(name)}: ${JSON.stringify(value.slice(0, 30))}`, () => {
      assert.throws(
        () => buildHeaderField(name, value, options),
        (e: unknown) => e instanceof AppError && e.code === code,
      );
    });
  }
});

describe('decodeEncodedWords', () => {
  const table: [input: string, want: string][] = [
    ['plain text', 'plain text'],
    ['=?UTF-8?B?R3LDvMOfZQ==?=', 'Grüße'],
    ['=?utf-8?q?Gr=C3=BC=C3=9Fe_an_alle?=', 'Grüße an alle'],
    ['=?ISO-8859-1?Q?Caf=E9?= au lait', 'Café au lait'],
    ['=?UTF-8?Q?a?= =?UTF-8?Q?b?=', 'ab'],
    ['=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=', 'ab'],
    ['=?UTF-8?Q?a?= b =?UTF-8?Q?c?=', 'a b c'],
    ['=?UTF-8?Q?a_?= b', 'a  b'],
    ['(=?ISO-8859-1?Q?a?=)', '(a)'],
    // a UTF-8 character split across two encoded-words (non-conforming but common)
    ['=?UTF-8?B?5pel?= =?UTF-8?B?5pys?=', '日本'],
    ['=?UTF-8?B?5g==?= =?UTF-8?B?l6U=?=', '日'],
    ['=?UTF-8?Q?=E6?= =?UTF-8?Q?=97=A5?=', '日'],
    // RFC 2231 language suffix
    ['=?US-ASCII*EN?Q?Keith_Moore?=', 'Keith Moore'],
    // unknown charset: left as written
    ['=?x-unknown-charset?Q?abc?=', '=?x-unknown-charset?Q?abc?='],
    // not an encoded-word (space inside)
    ['=?UTF-8?Q?a b?=', '=?UTF-8?Q?a b?='],
  ];
  for (const [input, want] of table) {
    it(JSON.stringify(input), () => assert.equal(decodeEncodedWords(input), want));
  }

  it('decodes ISO-2022-JP B-encoded subjects (real Japanese mail)', { skip: !isCharsetSupported('iso-2022-jp') }, () => {
    assert.equal(
      decodeEncodedWords('=?ISO-2022-JP?B?GyRCMnE1RDtxTkEkThsoQg==?= =?ISO-2022-JP?B?GyRCQXdJVSRLJEQkJCRGGyhC?='),
      '会議資料の送付について',
    );
    assert.equal(decodeEncodedWords('=?iso-2022-jp?B?GyRCOjRGIxsoQiAbJEIwbE86GyhC?= <x@y>'), '佐藤 一郎 <x@y>');
  });
});
