/**
 * Reading stored messages for the pickup page: bodies (text and HTML, charsets, alternatives),
 * attachments byte for byte (base64, quoted-printable, RFC 2231 and encoded-word names, nested
 * messages), inline images by Content-ID, and malformed input that still shows something.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readMessage } from '../../src/pickup/message.js';

const enc = (s: string) => new TextEncoder().encode(s.replace(/\n/g, '\r\n'));
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64').replace(/.{76}/g, '$&\n');

describe('readMessage', () => {
  it('finds the text and HTML alternatives and every attachment with its exact bytes', () => {
    const pdf = new Uint8Array(randomBytes(3000));
    const bin = new Uint8Array(randomBytes(257));
    const msg = enc(`From: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@int.test>
To: bob@ext.test
Subject: =?UTF-8?B?6KaL56mN5pu4?= Q3
Date: Tue, 03 Mar 2026 09:00:00 +0900
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=iso-2022-jp
Content-Transfer-Encoding: 7bit

\x1b$B$3$s$K$A$O\x1b(B
--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>=E3=81=93=E3=82=93=E3=81=AB=E3=81=A1=E3=81=AF</p>
--alt--
--outer
Content-Type: application/pdf; name="ignored.pdf"
Content-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf
Content-Transfer-Encoding: base64

${b64(pdf)}
--outer
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="=?UTF-8?B?44OH44O844K/LmJpbg==?="
Content-Transfer-Encoding: base64

${b64(bin)}
--outer
Content-Type: message/rfc822

Subject: inner one
From: x@y.test

inner body
--outer--
`);
    const m = readMessage(msg);
    assert.equal(m.from, '山田太郎 <taro@int.test>');
    assert.equal(m.subject, '見積書 Q3');
    assert.equal(m.to, 'bob@ext.test');
    assert.equal(m.text?.trim(), 'こんにちは');
    assert.equal(m.html?.trim(), '<p>こんにちは</p>');
    assert.equal(m.attachments.length, 3);
    const [a, b, c] = m.attachments;
    assert.equal(a!.filename, '見積書.pdf');
    assert.equal(a!.contentType, 'application/pdf');
    assert.deepEqual(a!.data, pdf);
    assert.equal(b!.filename, 'データ.bin');
    assert.deepEqual(b!.data, bin);
    assert.equal(c!.filename, 'inner one.eml');
    assert.equal(c!.contentType, 'message/rfc822');
    assert.match(new TextDecoder().decode(c!.data), /inner body/);
    assert.deepEqual(m.attachments.map((x) => x.index), [0, 1, 2]);
  });

  it('lists inline images of an HTML body with their Content-ID', () => {
    const png = new Uint8Array(randomBytes(100));
    const m = readMessage(
      enc(`Subject: logo
Content-Type: multipart/related; boundary="r"

--r
Content-Type: text/html

<img src="cid:logo@x">
--r
Content-Type: image/png
Content-ID: <logo@x>
Content-Transfer-Encoding: base64

${b64(png)}
--r--
`),
    );
    assert.equal(m.html?.trim(), '<img src="cid:logo@x">');
    assert.equal(m.attachments.length, 1);
    assert.equal(m.attachments[0]!.contentId, 'logo@x');
    assert.equal(m.attachments[0]!.inline, true);
    assert.deepEqual(m.attachments[0]!.data, png);
  });

  it('a plain single-part message is its text; raw UTF-8 headers are read as UTF-8', () => {
    const m = readMessage(enc('Subject: 見積\nFrom: 太郎 <t@x.test>\n\nline 1\nline 2\n'));
    assert.equal(m.subject, '見積');
    assert.equal(m.from, '太郎 <t@x.test>');
    assert.equal(m.text, 'line 1\r\nline 2\r\n');
    assert.equal(m.attachments.length, 0);
  });

  it('shows something for malformed input and never throws', () => {
    assert.match(readMessage(enc('not a header line\nat all')).text ?? '', /not a header/);
    const broken = readMessage(enc('Content-Type: multipart/mixed; boundary="b"\n\n--b\nbad header line\n\nx\n--b\nContent-Transfer-Encoding: x-unknown\nContent-Disposition: attachment; filename=a.bin\n\nraw\n--b'));
    assert.ok(broken.attachments.length >= 1);
    let deep = 'x';
    for (let i = 0; i < 60; i++) deep = `Content-Type: multipart/mixed; boundary="b${i}"\n\n--b${i}\n${deep}\n--b${i}--\n`;
    assert.doesNotThrow(() => readMessage(enc(deep)));
  });
});

describe('notices', () => {
  it('a subject or name that decodes to line breaks cannot add header fields, and the notice is 7-bit', async () => {
    const { recipientNotice, senderNotice } = await import('../../src/pickup/notice.js');
    const ctx = {
      senderName: 'Eve\r\nBcc: victim@example.com',
      senderAddress: 'eve@int.test',
      recipient: 'bob@ext.test',
      subject: 'Hello\r\nBcc: victim@example.com\r\n\r\nbody',
      link: 'https://gw.example/pickup/x',
      statusLink: 'https://gw.example/pickup/status/y',
      expiresAt: new Date('2026-03-10T00:00:00Z'),
      mode: 'code' as const,
      sizeBytes: 1234,
      now: new Date('2026-03-03T00:00:00Z'),
      host: 'gw.example',
      noticeFrom: 'smimegw <no-reply@gw.example>',
    };
    for (const bytes of [recipientNotice(ctx, []), senderNotice(ctx)]) {
      const text = Buffer.from(bytes).toString('latin1');
      const header = text.slice(0, text.indexOf('\r\n\r\n'));
      assert.doesNotMatch(header, /^Bcc:/im);
      assert.match(text, /^[\x00-\x7f]*$/);
      const m = readMessage(bytes);
      assert.match(m.subject ?? '', /Hello Bcc: victim@example\.com body/);
    }
  });
});
