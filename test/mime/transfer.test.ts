import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  decodeTransfer,
  encodeBase64Lines,
  encodeQuotedPrintable,
  newBoundary,
  splitMultipart,
  toCRLF,
  BOUNDARY_PREFIX,
} from '../../src/mime/index.js';
import { AppError } from '../../src/shared/errors.js';
import { concat, latin1, utf8 } from '../../src/shared/bytes.js';
import { base64Lines, prngBytes } from './fixtures.js';

const L = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const s = (x: Uint8Array): string => latin1(x);

function lines(x: Uint8Array): string[] {
  return s(x).split('\r\n');
}

describe('toCRLF', () => {
  const table: [string, string][] = [
    ['', ''],
    ['abc', 'abc'],
    ['a\r\nb\r\n', 'a\r\nb\r\n'],
    ['a\nb\n', 'a\r\nb\r\n'],
    ['a\rb\r', 'a\r\nb\r\n'],
    ['\n\n', '\r\n\r\n'],
    ['\r\r\n\n', '\r\n\r\n\r\n'],
    ['a\r\n\rb\nc', 'a\r\n\r\nb\r\nc'],
    ['\n\r', '\r\n\r\n'],
  ];
  for (const [input, want] of table) {
    it(JSON.stringify(input), () => assert.equal(s(toCRLF(L(input))), want));
  }
  it('returns the input itself when already CRLF (no copy)', () => {
    const x = L('a\r\nb');
    assert.equal(toCRLF(x), x);
  });
  it('converts 25 MB of LF text quickly', () => {
    const line = L('x'.repeat(77) + '\n');
    const big = new Uint8Array(25 * 1024 * 1024);
    for (let o = 0; o < big.length; o += line.length) big.set(line.subarray(0, Math.min(line.length, big.length - o)), o);
    const out = toCRLF(big);
    const lfs = big.length / 78;
    assert.ok(out.length > big.length && out.length <= big.length + Math.ceil(lfs));
    assert.equal(out[76], 0x78);
    assert.equal(out[77], 0x0d);
    assert.equal(out[78], 0x0a);
  });
});

describe('encodeBase64Lines', () => {
  const table: [string, string][] = [
    ['', ''],
    ['f', 'Zg==\r\n'],
    ['fo', 'Zm8=\r\n'],
    ['foo', 'Zm9v\r\n'],
    ['foobar', 'Zm9vYmFy\r\n'],
  ];
  for (const [input, want] of table) {
    it(JSON.stringify(input), () => assert.equal(s(encodeBase64Lines(L(input))), want));
  }
  for (const n of [56, 57, 58, 113, 114, 115, 1000, 4096]) {
    it(`${n} bytes match node:buffer base64 wrapped at 76 with CRLF`, () => {
      const data = prngBytes(n, n);
      const out = encodeBase64Lines(data);
      assert.equal(s(out), base64Lines(data));
      for (const line of lines(out).slice(0, -1)) assert.ok(line.length <= 76);
      assert.deepEqual(decodeTransfer('base64', out), data);
    });
  }
  it('encodes and decodes 25 MB exactly', () => {
    const data = prngBytes(25 * 1024 * 1024);
    const out = encodeBase64Lines(data);
    assert.equal(out.length, (Math.ceil(data.length / 3) * 4) + Math.ceil((Math.ceil(data.length / 3) * 4) / 76) * 2);
    const back = decodeTransfer('BASE64', out);
    assert.ok(Buffer.from(back).equals(Buffer.from(data)));
  });
});

describe('encodeQuotedPrintable', () => {
  const table: [name: string, input: string, want: string][] = [
    ['empty', '', ''],
    ['plain ASCII unchanged', 'Hello, world!\r\n', 'Hello, world!\r\n'],
    ['equals sign', 'a=b\r\n', 'a=3Db\r\n'],
    ['UTF-8 octets upper-case hex', 'Gr\xc3\xbc\xc3\x9fe', 'Gr=C3=BC=C3=9Fe'],
    ['trailing space before CRLF', 'end \r\nnext', 'end=20\r\nnext'],
    ['trailing tab at end of data', 'end\t', 'end=09'],
    ['inner whitespace literal', 'a b\tc\r\n', 'a b\tc\r\n'],
    ['bare LF and bare CR are encoded', 'a\nb\rc\r\n', 'a=0Ab=0Dc\r\n'],
    ['NUL and DEL', '\x00\x7f', '=00=7F'],
    ['From_ at line start', 'From me\r\nFrom\r\nx From y', '=46rom me\r\nFrom\r\nx From y'],
    ['76 characters fit on one line', 'x'.repeat(76) + '\r\n', 'x'.repeat(76) + '\r\n'],
    ['77 characters get a soft break', 'x'.repeat(77), 'x'.repeat(75) + '=\r\n' + 'xx'],
    [
      'escapes are not split by a soft break',
      'x'.repeat(74) + '\xff' + 'y',
      'x'.repeat(74) + '=\r\n=FFy',
    ],
    ['last escape may end at column 76', 'x'.repeat(73) + '\xff', 'x'.repeat(73) + '=FF'],
    ['space before a soft break stays literal', 'x'.repeat(74) + ' yy', 'x'.repeat(74) + ' =\r\nyy'],
  ];
  for (const [name, input, want] of table) {
    it(name, () => {
      const out = encodeQuotedPrintable(L(input));
      assert.equal(s(out), want);
      assert.equal(s(decodeTransfer('quoted-printable', out)), input);
    });
  }

  it('round-trips random bytes; every line <= 76, no trailing whitespace, 7bit only', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const raw = prngBytes(3000, seed);
      // make it texty: many CRLFs, spaces and tabs
      for (let i = 0; i < raw.length; i += 7) raw[i] = [0x20, 0x09, 0x0d, 0x0a, 0x3d][raw[i]! % 5]!;
      for (let i = 50; i < raw.length - 1; i += 61) {
        raw[i] = 0x0d;
        raw[i + 1] = 0x0a;
      }
      const out = encodeQuotedPrintable(raw);
      for (const line of lines(out)) {
        assert.ok(line.length <= 76, `line of ${line.length}`);
        assert.ok(!/[ \t]$/.test(line), 'trailing whitespace');
        assert.ok(!/=(?![0-9A-F]{2}|$)/.test(line), `bad = escape in ${line}`);
      }
      for (const x of out) assert.ok(x < 0x80);
      assert.deepEqual(decodeTransfer('quoted-printable', out), raw);
    }
  });
});

describe('decodeTransfer', () => {
  const table: [encoding: string, input: string, want: string][] = [
    ['base64', 'Zm9v\r\nYmFy\r\n', 'foobar'],
    ['base64', 'Zm9 vYm\tFy', 'foobar'],
    ['base64', 'Zg==Zg==', 'ff'],
    ['base64', 'Zm9v!!YmFy', 'foobar'],
    ['Base64 (comment)', 'Zm9v', 'foo'],
    ['quoted-printable', 'a=3Db=\r\nc', 'a=bc'],
    ['quoted-printable', 'a=3db', 'a=b'],
    ['quoted-printable', 'soft =  \r\nbreak', 'soft break'],
    ['quoted-printable', 'lf soft=\nbreak', 'lf softbreak'],
    ['quoted-printable', 'trailing   \r\nws\t\r\n', 'trailing\r\nws\r\n'],
    ['quoted-printable', 'bad =ZZ escape =', 'bad =ZZ escape '],
    ['quoted-printable', 'end=', 'end'],
    ['7bit', 'a\r\nb', 'a\r\nb'],
    ['8bit', '\xe4', '\xe4'],
    ['binary', '\x00\r\n', '\x00\r\n'],
    ['', 'x', 'x'],
  ];
  for (const [encoding, input, want] of table) {
    it(`${encoding || '(empty)'}: ${JSON.stringify(input)}`, () => {
      assert.equal(s(decodeTransfer(encoding, L(input))), want);
    });
  }
  it('identity encodings return the same array', () => {
    const x = L('abc');
    assert.equal(decodeTransfer('7BIT', x), x);
  });
  it('throws mime.unknown_encoding for x-uuencode', () => {
    assert.throws(
      () => decodeTransfer('x-uuencode', L('begin 644 x')),
      (e: unknown) => e instanceof AppError && e.code === 'mime.unknown_encoding',
    );
  });
});

describe('newBoundary', () => {
  it('is random, prefixed, short and made of safe characters', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const bd = newBoundary();
      assert.ok(bd.startsWith(BOUNDARY_PREFIX));
      assert.equal(BOUNDARY_PREFIX, '----=_smimegw_');
      assert.match(bd, /^[A-Za-z0-9'()+_,\-./:=?]{1,70}$/);
      seen.add(bd);
    }
    assert.equal(seen.size, 100);
  });
  it('cannot occur in base64 or quoted-printable output', () => {
    const bd = newBoundary();
    const data = prngBytes(10000, 7);
    assert.ok(!s(encodeBase64Lines(data)).includes('=_'));
    assert.ok(!s(encodeQuotedPrintable(data)).includes('=_'));
    assert.ok(!s(encodeQuotedPrintable(L(bd))).includes(bd));
  });
});

describe('splitMultipart', () => {
  it('splits exactly and the pieces concatenate back to the body', () => {
    const body = L(
      'preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b  \r\n\r\ntwo\r\n\r\n--b--\t\r\nepilogue\r\n--b\r\nnot a part',
    );
    const mp = splitMultipart(body, 'b');
    assert.equal(s(mp.preamble), 'preamble');
    assert.deepEqual(mp.delimiters.map(s), ['\r\n--b\r\n', '\r\n--b  \r\n', '\r\n--b--\t\r\n']);
    assert.deepEqual(mp.parts.map(s), ['A: 1\r\n\r\none', '\r\ntwo\r\n']);
    assert.equal(s(mp.epilogue), 'epilogue\r\n--b\r\nnot a part');
    assert.equal(mp.closed, true);
    const joined = concat([mp.preamble, mp.delimiters[0]!, mp.parts[0]!, mp.delimiters[1]!, mp.parts[1]!, mp.delimiters[2]!, mp.epilogue]);
    assert.deepEqual(joined, body);
    for (const p of mp.parts) assert.equal(p.buffer, body.buffer);
  });
  it('delimiter at offset 0, LF-only, boundary prefix lines are not delimiters', () => {
    const mp = splitMultipart(L('--b\nx\n--bc\n--b-\n--b--'), 'b');
    assert.equal(s(mp.preamble), '');
    assert.deepEqual(mp.delimiters.map(s), ['--b\n', '\n--b--']);
    assert.deepEqual(mp.parts.map(s), ['x\n--bc\n--b-']);
    assert.equal(s(mp.epilogue), '');
    assert.equal(mp.closed, true);
  });
  it('without a close delimiter the last part runs to the end', () => {
    const mp = splitMultipart(L('--b\r\n\r\nx\r\n'), 'b');
    assert.deepEqual(mp.parts.map(s), ['\r\nx\r\n']);
    assert.equal(mp.closed, false);
  });
  it('no delimiter: everything is preamble', () => {
    const mp = splitMultipart(L('just text'), 'b');
    assert.equal(s(mp.preamble), 'just text');
    assert.equal(mp.delimiters.length, 0);
  });
  it('finds delimiters quickly in a 25 MB base64 part', () => {
    const data = base64Lines(prngBytes(18 * 1024 * 1024, 3));
    const body = concat([L('--q\r\nContent-Transfer-Encoding: base64\r\n\r\n'), utf8(data), L('--q--\r\n')]);
    const mp = splitMultipart(body, 'q');
    assert.equal(mp.parts.length, 1);
    assert.equal(mp.closed, true);
  });
});
