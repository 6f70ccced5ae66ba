import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildHeaderField,
  formatContentType,
  formatParameterizedValue,
  parseContentType,
  parseParameterizedValue,
  splitMessage,
  type ContentType,
} from '../../src/mime/index.js';
import { latin1 } from '../../src/shared/bytes.js';

describe('parseContentType', () => {
  const table: [input: string, want: ContentType][] = [
    ['text/plain', { type: 'text', subtype: 'plain', params: {} }],
    ['TEXT/Plain; CHARSET=UTF-8', { type: 'text', subtype: 'plain', params: { charset: 'UTF-8' } }],
    [
      'multipart/mixed; boundary="----=_Part_0_1.2"',
      { type: 'multipart', subtype: 'mixed', params: { boundary: '----=_Part_0_1.2' } },
    ],
    [
      'multipart/mixed;\tboundary=----=_Part_unquoted_1.2 ; x=y',
      { type: 'multipart', subtype: 'mixed', params: { boundary: '----=_Part_unquoted_1.2', x: 'y' } },
    ],
    [
      'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
      { type: 'application', subtype: 'pkcs7-mime', params: { 'smime-type': 'enveloped-data', name: 'smime.p7m' } },
    ],
    [
      'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b;1"',
      {
        type: 'multipart',
        subtype: 'signed',
        params: { protocol: 'application/pkcs7-signature', micalg: 'sha-256', boundary: 'b;1' },
      },
    ],
    [
      'text/plain; name="a \\"quoted\\" \\\\ name"',
      { type: 'text', subtype: 'plain', params: { name: 'a "quoted" \\ name' } },
    ],
    ['text/plain;', { type: 'text', subtype: 'plain', params: {} }],
    ['text/plain; ; charset=us-ascii;;', { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } }],
    [
      'text/plain (comment) ; charset=us-ascii (another (nested) one)',
      { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } },
    ],
    ['text/plain; charset=a; charset=b', { type: 'text', subtype: 'plain', params: { charset: 'a' } }],
    ['text/plain; garbage; charset=x', { type: 'text', subtype: 'plain', params: { charset: 'x' } }],
    // RFC 2231
    [
      "application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
      { type: 'application', subtype: 'x-stuff', params: { title: 'This is ***fun***' } },
    ],
    [
      'message/external-body; access-type=URL; URL*0="ftp://"; URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"',
      {
        type: 'message',
        subtype: 'external-body',
        params: { 'access-type': 'URL', url: 'ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar' },
      },
    ],
    [
      "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
      { type: 'application', subtype: 'x-stuff', params: { title: "This is even more ***fun*** isn't it!" } },
    ],
    [
      "application/pdf; name*=UTF-8''Bericht%20M%C3%A4rz.pdf; name=\"fallback.pdf\"",
      { type: 'application', subtype: 'pdf', params: { name: 'Bericht März.pdf' } },
    ],
    [
      // a UTF-8 character split across continuation sections; sections out of order
      "application/pdf; name*1*=%97%A5%E6%9C%AC.pdf; name*0*=utf-8''%E6",
      { type: 'application', subtype: 'pdf', params: { name: '日本.pdf' } },
    ],
    [
      "text/plain; name*=iso-8859-1''caf%E9",
      { type: 'text', subtype: 'plain', params: { name: 'café' } },
    ],
    [
      "text/plain; name*=''no%20charset",
      { type: 'text', subtype: 'plain', params: { name: 'no charset' } },
    ],
    [
      // a missing section 0 makes the parameter unusable
      'text/plain; name*1="x"',
      { type: 'text', subtype: 'plain', params: {} },
    ],
    // invalid: the RFC 2045 default
    ['', { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } }],
    ['text', { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } }],
    ['text/', { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } }],
    ['text/plain garbage', { type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } }],
  ];
  for (const [input, want] of table) {
    it(JSON.stringify(input), () => assert.deepEqual(parseContentType(input), want));
  }

  it('works on a folded, parsed header value', () => {
    const { headers } = splitMessage(
      new TextEncoder().encode('Content-Type: multipart/mixed;\r\n\tboundary="x y";\r\n charset=utf-8\r\n\r\n'),
    );
    assert.deepEqual(parseContentType(headers[0]!.value), {
      type: 'multipart',
      subtype: 'mixed',
      params: { boundary: 'x y', charset: 'utf-8' },
    });
  });
});

describe('parseParameterizedValue', () => {
  it('parses Content-Disposition', () => {
    assert.deepEqual(parseParameterizedValue('Attachment; filename="a b.pdf"; size=123'), {
      value: 'attachment',
      params: { filename: 'a b.pdf', size: '123' },
    });
    assert.deepEqual(parseParameterizedValue("inline; filename*=UTF-8''%E2%82%AC.txt"), {
      value: 'inline',
      params: { filename: '€.txt' },
    });
  });
});

describe('formatParameterizedValue / formatContentType', () => {
  const table: [value: string, params: Record<string, string>, want: string][] = [
    ['text/plain', {}, 'text/plain'],
    [
      'application/pkcs7-mime',
      { 'smime-type': 'enveloped-data', name: 'smime.p7m' },
      'application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m',
    ],
    ['attachment', { filename: 'a b.txt', size: '42' }, 'attachment; filename="a b.txt"; size=42'],
    ['attachment', { filename: 'a "b".txt' }, 'attachment; filename="a \\"b\\".txt"'],
    ['attachment', { filename: '' }, 'attachment; filename=""'],
    ['attachment', { filename: 'Größe.pdf' }, "attachment; filename*=utf-8''Gr%C3%B6%C3%9Fe.pdf"],
  ];
  for (const [value, params, want] of table) {
    it(want, () => {
      const out = formatParameterizedValue(value, params);
      assert.equal(out, want);
      const back = parseParameterizedValue(out);
      assert.deepEqual(back.params, params);
    });
  }
  it('splits long non-ASCII values into RFC 2231 sections that fold and parse back', () => {
    const filename = '請求書_2026年3月分_株式会社サンプル御中_最終版_確定.pdf';
    const v = formatContentType('application', 'pdf', { name: filename });
    assert.match(v, /name\*0\*=utf-8''%E8%AB%8B/);
    assert.match(v, /name\*1\*=/);
    const field = buildHeaderField('Content-Type', v, { structured: true });
    const text = latin1(field);
    for (const line of text.split('\r\n')) assert.ok(line.length <= 78, `${line.length}: ${line}`);
    const parsed = parseContentType(splitMessage(new Uint8Array([...field, 13, 10])).headers[0]!.value);
    assert.deepEqual(parsed, { type: 'application', subtype: 'pdf', params: { name: filename } });
  });
});
