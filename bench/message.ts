/**
 * Realistic RFC 5322 test messages of an exact total size: the usual header fields, then
 * multipart/mixed with a short text/plain part and one base64 attachment (76-column CRLF lines of
 * random, i.e. incompressible, bytes) sized so the whole message is exactly `size` bytes.
 */
import { randomBytes } from 'node:crypto';

const CRLF = '\r\n';

function base64Lines(raw: Buffer): string {
  return raw.toString('base64').replace(/.{1,76}/g, '$&\r\n');
}

export function buildMessage(size: number, from: string, to: string): Buffer {
  const boundary = '----=_Part_' + randomBytes(12).toString('hex');
  const head = [
    'Return-Path: <' + from + '>',
    'Received: from client.example (client.example [192.0.2.10])' + CRLF + '\tby mx.example (Postfix) with ESMTPS id 4Xb2kQ1RzVz9sWB' + CRLF + '\tfor <' + to + '>; Tue, 3 Jun 2025 10:15:02 +0200 (CEST)',
    'From: Sender Example <' + from + '>',
    'To: Recipient Example <' + to + '>',
    'Subject: Quarterly report (benchmark message, ' + size + ' bytes)',
    'Date: Tue, 3 Jun 2025 10:15:00 +0200',
    'Message-ID: <' + randomBytes(8).toString('hex') + '@client.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="' + boundary + '"',
    '',
    'This is a multi-part message in MIME format.',
    '',
    '--' + boundary,
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    'Hello,',
    '',
    'please find the quarterly report attached. The figures are preliminary; the final',
    'numbers will follow after the audit.',
    '',
    'Best regards',
    'Sender',
    '',
  ].join(CRLF);
  const attachHead = [
    '--' + boundary,
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="report.pdf"',
    '',
    '',
  ].join(CRLF);
  // the CRLF ending the last base64 line doubles as the CRLF that belongs to the close delimiter
  const tail = '--' + boundary + '--' + CRLF;
  const fixed = Buffer.byteLength(head + attachHead + tail, 'latin1');
  const room = size - fixed;
  if (room < 200) throw new Error(`message size ${size} is too small`);
  // full 76-column lines (78 bytes with CRLF, 57 raw bytes each); a line of dots in the text part
  // takes up the remaining 78..155 bytes so that the total is exact
  const fullLines = Math.floor(room / 78) - 1;
  const attachment = base64Lines(randomBytes(fullLines * 57));
  const pad = room - attachment.length;
  const out = Buffer.from(head + '.'.repeat(pad - 2) + CRLF + attachHead + attachment + tail, 'latin1');
  if (out.length !== size) throw new Error(`built ${out.length} bytes, wanted ${size}`);
  return out;
}
