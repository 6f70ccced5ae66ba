/**
 * Realistic test messages for MIME / S/MIME / interop tests. Every export is a builder returning a
 * fresh Uint8Array (mutating one cannot affect another test). Each is a complete RFC 5322 message
 * with From, To, Cc, Bcc, Date, Message-ID, Subject, MIME-Version and Content-Type.
 *
 * Built independently of src/mime (base64 via node:buffer), so the fixtures can check it.
 */
import { Buffer } from 'node:buffer';

const enc = new TextEncoder();

type Piece = string | Uint8Array;

/** Joins pieces: strings are UTF-8 encoded, byte arrays copied as they are. */
export function bytesOf(...pieces: Piece[]): Uint8Array {
  const bufs = pieces.map((p) => (typeof p === 'string' ? enc.encode(p) : p));
  const out = new Uint8Array(bufs.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of bufs) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/** Lines joined with CRLF, with a final CRLF. */
function crlf(...lines: string[]): string {
  return lines.map((l) => l + '\r\n').join('');
}

function envelope(id: string, subject: string, date = 'Tue, 03 Mar 2026 10:15:00 +0900'): string[] {
  return [
    'From: Taro Yamada <taro.yamada@example.co.jp>',
    'To: Hanako Suzuki <hanako.suzuki@example.net>, bob@example.org',
    'Cc: Carol Chen <carol@example.com>',
    'Bcc: audit@example.co.jp',
    `Date: ${date}`,
    `Message-ID: <${id}@mail.example.co.jp>`,
    `Subject: ${subject}`,
    'MIME-Version: 1.0',
  ];
}

/** Base64 with CRLF every 76 characters (independent of src/mime). */
export function base64Lines(data: Uint8Array): string {
  const b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += 76) out += b64.slice(i, i + 76) + '\r\n';
  return out;
}

/** Deterministic pseudo-random bytes (xorshift32), fast enough for hundreds of megabytes. */
export function prngBytes(size: number, seed = 0x9e3779b9): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, size);
}

// --- plainText -------------------------------------------------------------------------------

export const PLAIN_TEXT_BODY = crlf(
  'Hi Hanako,',
  '',
  'Please find the quarterly figures below. Revenue is up 4.2% on Q3;',
  'costs = flat. Let me know if anything looks odd.',
  '',
  '-- ',
  'Taro Yamada',
  'Example Trading Co., Ltd.',
);

/** text/plain; charset=us-ascii, 7bit, CRLF: already canonical. */
export function plainText(): Uint8Array {
  return bytesOf(
    crlf(
      ...envelope('20260303101500.plain.4711', 'Quarterly figures'),
      'Content-Type: text/plain; charset=us-ascii; format=flowed',
      'Content-Transfer-Encoding: 7bit',
      '',
    ),
    PLAIN_TEXT_BODY,
  );
}

// --- utf8EightBit ----------------------------------------------------------------------------

export const UTF8_BODY = crlf(
  'Hallo Jürgen,',
  '',
  'anbei die Unterlagen für das Treffen in Köln (Größe: ~2 MB).',
  'Grüße auch an Zoë und François — bis Donnerstag!',
  '日本語のテキストも含まれています。',
  'Emoji: 📎✅',
  '',
  'Viele Grüße',
  'Taro',
);

/** text/plain; charset=utf-8, Content-Transfer-Encoding 8bit, UTF-8 RFC 2047 subject. */
export function utf8EightBit(): Uint8Array {
  return bytesOf(
    crlf(
      ...envelope('20260303101500.utf8.4712', '=?UTF-8?Q?Unterlagen_f=C3=BCr_K=C3=B6ln?='),
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
    ),
    UTF8_BODY,
  );
}

// --- iso2022jp -------------------------------------------------------------------------------

/** The decoded subject of iso2022jp(). */
export const ISO2022JP_SUBJECT = '会議資料の送付について';
/** The decoded body of iso2022jp(). */
export const ISO2022JP_BODY_TEXT = [
  '山田様',
  '',
  'いつもお世話になっております。',
  '株式会社サンプルの佐藤です。',
  '',
  '明日の会議資料を添付いたします。',
  'ご確認のほどよろしくお願いいたします。',
  '',
  '佐藤 一郎',
  '',
].join('\r\n');

/** The ISO-2022-JP body bytes of iso2022jp() (7bit: ESC $ B ... ESC ( B per line). */
export const ISO2022JP_BODY = crlf(
  '\x1b$B;3EDMM\x1b(B',
  '',
  '\x1b$B$$$D$b$*@$OC$K$J$C$F$*$j$^$9!#\x1b(B',
  '\x1b$B3t<02q<R%5%s%W%k$N:4F#$G$9!#\x1b(B',
  '',
  '\x1b$BL@F|$N2q5D;qNA$rE:IU$$$?$7$^$9!#\x1b(B',
  '\x1b$B$43NG\'$N$[$I$h$m$7$/$*4j$$$$$?$7$^$9!#\x1b(B',
  '',
  '\x1b$B:4F#\x1b(B \x1b$B0lO:\x1b(B',
);

/**
 * A Japanese business mail as Japanese MUAs send it: Subject as two ISO-2022-JP B encoded-words,
 * From display name encoded too, body text/plain; charset=ISO-2022-JP, 7bit (with ESC sequences).
 * Already canonical: canonicalization must not touch it.
 */
export function iso2022jp(): Uint8Array {
  return bytesOf(
    crlf(
      'From: =?ISO-2022-JP?B?GyRCOjRGIxsoQiAbJEIwbE86GyhC?= <ichiro.sato@sample.co.jp>',
      'To: yamada@example.co.jp',
      'Cc: team@sample.co.jp',
      'Bcc: archive@sample.co.jp',
      'Date: Wed, 04 Mar 2026 09:30:12 +0900',
      'Message-ID: <20260304093012.iso2022jp.4713@sample.co.jp>',
      'Subject: =?ISO-2022-JP?B?GyRCMnE1RDtxTkEkThsoQg==?=',
      ' =?ISO-2022-JP?B?GyRCQXdJVSRLJEQkJCRGGyhC?=',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=ISO-2022-JP',
      'Content-Transfer-Encoding: 7bit',
      'X-Mailer: Example Mailer 3.1',
      '',
    ),
    ISO2022JP_BODY,
  );
}

// --- nestedMultipartWithAttachments ----------------------------------------------------------

/** A small valid PNG (1x1 transparent pixel). */
export const PNG_1X1 = Uint8Array.from(
  Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'base64',
  ),
);

/** PDF-like bytes with NUL, bare CR, bare LF, CRLF and 8-bit octets. */
export function pdfLikeBytes(): Uint8Array {
  const head = bytesOf('%PDF-1.4\n%', Uint8Array.from([0xe2, 0xe3, 0xcf, 0xd3]), '\n1 0 obj\n<< /Length 64 >>\nstream\r\n');
  const stream = new Uint8Array(64);
  for (let i = 0; i < 64; i++) stream[i] = (i * 37 + 11) & 0xff;
  stream[3] = 0x00;
  stream[4] = 0x0d; // bare CR
  stream[9] = 0x0a; // bare LF
  stream[20] = 0x0d; // CRLF
  stream[21] = 0x0a;
  stream[30] = 0x2d; // "--" inside content
  stream[31] = 0x2d;
  const tail = bytesOf('\nendstream\nendobj\n', Uint8Array.from([0, 0, 0, 0x0d]), '\r\n%%EOF\n');
  return bytesOf(head, stream, tail);
}

export const CSV_UTF8 = 'Name;Stadt;Betrag\r\nMüller;Köln;1.234,50 €\r\n佐藤;東京;¥98,000\r\n';

/**
 * multipart/mixed [ multipart/alternative [ text/plain (8bit UTF-8),
 * multipart/related [ text/html (quoted-printable), image/png (base64, inline) ] ],
 * application/pdf (base64, RFC 2231 UTF-8 filename), text/csv (8bit UTF-8 attachment) ].
 */
export function nestedMultipartWithAttachments(): Uint8Array {
  const pdf = pdfLikeBytes();
  return bytesOf(
    crlf(
      ...envelope('20260303101500.nested.4714', 'Report with attachments'),
      'Content-Type: multipart/mixed;',
      ' boundary="----=_Part_0_1234567890.1700000000000"',
      '',
      'This is a multi-part message in MIME format.',
      '',
      '------=_Part_0_1234567890.1700000000000',
      'Content-Type: multipart/alternative; boundary="alt-boundary-42"',
      '',
      '--alt-boundary-42',
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Hallo Hanako,',
      'der Bericht für März liegt bei. Grüße, Taro',
      '',
      '--alt-boundary-42',
      'Content-Type: multipart/related; type="text/html"; boundary=rel_7f3a',
      '',
      '--rel_7f3a',
      'Content-Type: text/html; charset=UTF-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<html><body><p>Hallo Hanako,<br>der Bericht f=C3=BCr M=C3=A4rz liegt bei.</p>=',
      '<img src=3D"cid:logo@example.co.jp"></body></html>',
      '--rel_7f3a',
      'Content-Type: image/png',
      'Content-Transfer-Encoding: base64',
      'Content-ID: <logo@example.co.jp>',
      'Content-Disposition: inline; filename="logo.png"',
      '',
    ),
    base64Lines(PNG_1X1),
    crlf(
      '--rel_7f3a--',
      '',
      '--alt-boundary-42--',
      '',
      '------=_Part_0_1234567890.1700000000000',
      'Content-Type: application/pdf; name="=?UTF-8?B?QmVyaWNodCBNw6RyeiAyMDI2LnBkZg==?="',
      'Content-Transfer-Encoding: base64',
      "Content-Disposition: attachment; filename*=UTF-8''Bericht%20M%C3%A4rz%202026.pdf",
      '',
    ),
    base64Lines(pdf),
    crlf(
      '------=_Part_0_1234567890.1700000000000',
      'Content-Type: text/csv; charset=UTF-8; name="umsatz.csv"',
      'Content-Transfer-Encoding: 8bit',
      'Content-Disposition: attachment; filename="umsatz.csv"',
      '',
    ),
    CSV_UTF8,
    crlf('------=_Part_0_1234567890.1700000000000--', ''),
  );
}

// --- binaryAttachment ------------------------------------------------------------------------

/** The attachment bytes of binaryAttachment(). */
export const binaryAttachmentPayload = pdfLikeBytes;

/** multipart/mixed [ text/plain 7bit, application/pdf with Content-Transfer-Encoding: binary ]. */
export function binaryAttachment(): Uint8Array {
  return bytesOf(
    crlf(
      ...envelope('20260303101500.binary.4715', 'Signed contract (PDF)'),
      'Content-Type: multipart/mixed; boundary="b1_binary_boundary"',
      '',
      '--b1_binary_boundary',
      'Content-Type: text/plain; charset=us-ascii',
      'Content-Transfer-Encoding: 7bit',
      '',
      'The signed contract is attached.',
      '',
      '--b1_binary_boundary',
      'Content-Type: application/pdf; name="contract.pdf"',
      'Content-Transfer-Encoding: binary',
      'Content-Disposition: attachment; filename="contract.pdf"',
      '',
    ),
    pdfLikeBytes(),
    '\r\n--b1_binary_boundary--\r\n',
  );
}

// --- lfOnly ----------------------------------------------------------------------------------

/** The same multipart/alternative message as written by a Unix tool: LF line endings only. */
export function lfOnly(): Uint8Array {
  return bytesOf(
    [
      ...envelope('20260303101500.lf.4716', 'Build report (LF only)'),
      'Content-Type: multipart/alternative;',
      '\tboundary="=_lf_alt_0001"',
      '',
      'Preamble line.',
      '--=_lf_alt_0001',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'Build #1234 succeeded.',
      'All 812 tests passed.',
      '',
      '--=_lf_alt_0001',
      'Content-Type: text/html; charset=us-ascii',
      'Content-Transfer-Encoding: 7bit',
      '',
      '<p>Build #1234 <b>succeeded</b>.</p>',
      '--=_lf_alt_0001--',
      'Epilogue line.',
      '',
    ].join('\n'),
  );
}

// --- longLines -------------------------------------------------------------------------------

/** The 1,200-octet line in longLines() (a CSV-like row without line breaks). */
export const LONG_LINE = Array.from({ length: 120 }, (_, i) => `v${String(i).padStart(3, '0')}=12345`).join(',') + ',';

/** text/plain 7bit whose second body line is longer than 998 octets (invalid for SMTP). */
export function longLines(): Uint8Array {
  return bytesOf(
    crlf(
      ...envelope('20260303101500.long.4717', 'Export with a long line'),
      'Content-Type: text/plain; charset=us-ascii',
      'Content-Transfer-Encoding: 7bit',
      '',
      'Export follows:',
      LONG_LINE,
      'End of export.',
    ),
  );
}

// --- largeAttachment -------------------------------------------------------------------------

/** The attachment bytes of largeAttachment(sizeBytes) (deterministic). */
export function largeAttachmentPayload(sizeBytes: number): Uint8Array {
  return prngBytes(sizeBytes, 0x2545f491);
}

/**
 * multipart/mixed [ text/plain, application/octet-stream base64 ] whose attachment has `sizeBytes`
 * decoded bytes (the message is about 1.37 times larger).
 */
export function largeAttachment(sizeBytes: number): Uint8Array {
  const payload = largeAttachmentPayload(sizeBytes);
  const head = bytesOf(
    crlf(
      ...envelope('20260303101500.large.4718', `Large attachment (${sizeBytes} bytes)`),
      'Content-Type: multipart/mixed; boundary="large_boundary_9c1e"',
      '',
      '--large_boundary_9c1e',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'See attachment.',
      '',
      '--large_boundary_9c1e',
      'Content-Type: application/octet-stream; name="data.bin"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="data.bin"',
      '',
    ),
  );
  // base64 with CRLF every 76 chars, written straight into the output
  const b64 = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64');
  const lines = Math.ceil(b64.length / 76);
  const tail = enc.encode('--large_boundary_9c1e--\r\n');
  // with 0 bytes an empty line keeps the blank line between part header and (empty) body
  const out = new Uint8Array(head.length + b64.length + Math.max(1, lines) * 2 + tail.length);
  out.set(head, 0);
  const b64bytes = Buffer.from(b64, 'latin1');
  let o = head.length;
  for (let i = 0; i < b64bytes.length; i += 76) {
    const line = b64bytes.subarray(i, i + 76);
    out.set(line, o);
    o += line.length;
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  if (lines === 0) {
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  out.set(tail, o);
  return out;
}

/** Every fixed fixture by name (largeAttachment excluded: it takes a size). */
export const fixtures: Record<string, () => Uint8Array> = {
  plainText,
  utf8EightBit,
  iso2022jp,
  nestedMultipartWithAttachments,
  binaryAttachment,
  lfOnly,
  longLines,
};
