/**
 * Attachment names from senders are untrusted: path tricks, control characters, bidi overrides,
 * leading dots, device names and header-breaking characters never reach the Content-Disposition a
 * browser saves under; Unicode names survive in filename* (RFC 8187), read back exactly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { asciiFileName, contentDisposition, downloadContentType, encodeExtValue, fallbackName, safeFileName } from '../../src/pickup/filename.js';

/** Reads filename* back the way a browser does (RFC 8187). */
function extName(disposition: string): string {
  const m = /filename\*=UTF-8''([^;\s]+)/.exec(disposition);
  assert.ok(m, disposition);
  return decodeURIComponent(m[1]!);
}
function plainName(disposition: string): string {
  const m = /filename="([^"]*)"/.exec(disposition);
  assert.ok(m, disposition);
  return m[1]!;
}

describe('attachment names', () => {
  it('keeps ordinary and Japanese names', () => {
    assert.equal(safeFileName('report.pdf', 'x'), 'report.pdf');
    assert.equal(safeFileName('見積書 2026年.xlsx', 'x'), '見積書 2026年.xlsx');
    const d = contentDisposition('見積書.xlsx', 'attachment-1');
    assert.equal(extName(d), '見積書.xlsx');
    assert.equal(plainName(d), 'attachment-1.xlsx');
    assert.match(d, /^attachment; /);
  });

  it('strips directories, dot segments and drive letters', () => {
    for (const [input, want] of [
      ['../../etc/passwd', 'passwd'],
      ['..\\..\\windows\\system32\\evil.dll', 'evil.dll'],
      ['/absolute/path/file.txt', 'file.txt'],
      ['C:\\Users\\x\\doc.docx', 'doc.docx'],
      ['C:evil.bat', 'C_evil.bat'],
      ['dir/', 'dir'],
      ['../', 'fallback'],
      ['..', 'fallback'],
      ['/', 'fallback'],
    ] as const) {
      assert.equal(safeFileName(input, 'fallback'), want, input);
    }
  });

  it('removes control characters, bidi overrides and invisible characters', () => {
    assert.equal(safeFileName('inv\u0000oice\r\n.pdf', 'x'), 'invoice.pdf');
    // "invoice[RLO]fdp.exe" shows as "invoiceexe.pdf": the override goes, the real extension shows
    assert.equal(safeFileName('invoice\u202efdp.exe', 'x'), 'invoicefdp.exe');
    assert.equal(safeFileName('a\u200bb\u2066c\u0085d\u007f.txt', 'x'), 'abcd.txt');
    const d = contentDisposition('a\r\nContent-Type: text/html\r\n\r\n<script>.txt', 'f');
    assert.doesNotMatch(d, /[\r\n]/);
    assert.doesNotMatch(plainName(d), /[<>"\\]/);
  });

  it('no hidden files, no trailing dots or spaces, no device names', () => {
    assert.equal(safeFileName('.bashrc', 'x'), 'bashrc');
    assert.equal(safeFileName('...hidden', 'x'), 'hidden');
    assert.equal(safeFileName('  .  spaced  . ', 'x'), 'spaced');
    assert.equal(safeFileName('name.txt...', 'x'), 'name.txt');
    assert.equal(safeFileName('CON', 'x'), '_CON');
    assert.equal(safeFileName('nul.txt', 'x'), '_nul.txt');
    assert.equal(safeFileName('COM1.log', 'x'), '_COM1.log');
    assert.equal(safeFileName('console.txt', 'x'), 'console.txt');
  });

  it('replaces characters that Windows refuses or that end a header parameter', () => {
    assert.equal(safeFileName('a<b>c:d"e|f?g*h.txt', 'x'), 'a_b_c_d_e_f_g_h.txt');
    const d = contentDisposition('say "hi"; filename=evil.exe', 'f');
    assert.equal((d.match(/filename=/g) ?? []).length, 1, d);
    assert.equal(extName(d), 'say _hi_; filename=evil.exe');
    assert.doesNotMatch(d.replace(/filename\*=\S+$/, ''), /; filename=evil/);
  });

  it('limits the length and keeps the extension', () => {
    const long = 'a'.repeat(500) + '.pdf';
    const safe = safeFileName(long, 'x');
    assert.equal(safe.length, 150);
    assert.ok(safe.endsWith('.pdf'));
  });

  it('falls back for empty names, and the ASCII name never is empty', () => {
    assert.equal(safeFileName(undefined, 'attachment-3'), 'attachment-3');
    assert.equal(safeFileName('', 'attachment-3'), 'attachment-3');
    assert.equal(safeFileName('\u0000\u0001', 'attachment-3'), 'attachment-3');
    assert.equal(asciiFileName('日本語', 'attachment-3'), 'attachment-3');
    assert.equal(asciiFileName('résumé.pdf', 'a'), 'resume.pdf');
    assert.equal(asciiFileName('見積書の送付 (Q3).eml', 'message'), 'message.eml', 'mostly Japanese: the fallback, not underscores');
    assert.equal(asciiFileName('Invoice 請求.pdf', 'x'), 'Invoice _.pdf');
    assert.equal(fallbackName(0, 'image/png'), 'attachment-1.png');
    assert.equal(fallbackName(4, 'application/x-unknown'), 'attachment-5.bin');
    assert.equal(plainName(contentDisposition(undefined, fallbackName(1, 'application/pdf'))), 'attachment-2.pdf');
    assert.equal(plainName(contentDisposition('日本語.pdf', fallbackName(1, 'application/pdf'))), 'attachment-2.pdf');
  });

  it('encodes filename* so that every byte outside attr-char is escaped', () => {
    assert.equal(encodeExtValue("a b'(c)*.txt"), "UTF-8''a%20b%27%28c%29%2A.txt");
    assert.equal(encodeExtValue('€'), "UTF-8''%E2%82%AC");
  });

  it('serves only passive types as themselves', () => {
    assert.equal(downloadContentType('application/pdf'), 'application/pdf');
    assert.equal(downloadContentType('IMAGE/PNG'), 'image/png');
    for (const t of ['text/html', 'image/svg+xml', 'application/javascript', 'application/xhtml+xml', 'text/xml', 'application/x-msdownload', 'multipart/mixed']) {
      assert.equal(downloadContentType(t), 'application/octet-stream', t);
    }
  });
});
