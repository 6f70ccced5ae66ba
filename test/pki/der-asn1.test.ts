import { test } from 'node:test';
import assert from 'node:assert/strict';
import { algId, header, headerLength, writeHeader, int, oid, seq, setOf, time, octets } from '../../src/pki/der.js';
import { parse, readOid, readInt, readTime, stringBytes, MAX_DEPTH } from '../../src/pki/asn1.js';
import { toHex, fromHex } from '../../src/shared/bytes.js';
import { AppError } from '../../src/shared/errors.js';

test('DER encoder: known answers', () => {
  const cases: [string, Uint8Array, string][] = [
    ['OID sha256', oid('2.16.840.1.101.3.4.2.1'), '0609608648016503040201'],
    ['OID rsaEncryption', oid('1.2.840.113549.1.1.1'), '06092a864886f70d010101'],
    ['INTEGER 0', int(0), '020100'],
    ['INTEGER 128 gets a leading zero', int(128), '02020080'],
    ['INTEGER from magnitude with leading zeros', int(fromHex('0000ff')), '020200ff'],
    ['long-form length', header(0x04, 300), '0482012c'],
    ['AlgorithmIdentifier with NULL', algId('1.2.840.113549.1.1.1', null), '300d06092a864886f70d0101010500'],
    ['AlgorithmIdentifier absent params', algId('2.16.840.1.101.3.4.2.1'), '300b0609608648016503040201'],
    ['UTCTime', time(new Date(Date.UTC(2026, 10, 22, 5, 6, 7))), '170d3236313132323035303630375a'],
    ['GeneralizedTime after 2049', time(new Date(Date.UTC(2050, 0, 1, 0, 0, 0))), '180f32303530303130313030303030305a'],
  ];
  for (const [name, got, want] of cases) assert.equal(toHex(got), want, name);
});

test('DER headers: short and long form lengths, written in place at an offset', () => {
  const cases: [number, string][] = [
    [0, '0400'],
    [127, '047f'],
    [128, '048180'],
    [255, '0481ff'],
    [256, '04820100'],
    [65_535, '0482ffff'],
    [65_536, '0483010000'],
    [26_214_400, '048401900000'],
    [2 ** 32 + 5, '04850100000005'],
  ];
  for (const [length, want] of cases) {
    assert.equal(toHex(header(0x04, length)), want, `length ${length}`);
    assert.equal(headerLength(length), want.length / 2, `headerLength(${length})`);
    const out = new Uint8Array(want.length / 2 + 3).fill(0xee);
    assert.equal(writeHeader(out, 1, 0x04, length), 1 + want.length / 2);
    assert.equal(toHex(out), 'ee' + want + 'eeee', `writeHeader(${length}) at offset 1`);
  }
});

test('DER SET OF is sorted by encoding', () => {
  const a = octets(fromHex('02'));
  const b = octets(fromHex('01'));
  assert.equal(toHex(setOf(a, b)), '3106' + '040101' + '040102');
});

test('reader round-trips what the writer writes', () => {
  const der = seq(oid('1.3.132.1.11.1'), int(65537n), time(new Date(Date.UTC(2030, 0, 2, 3, 4, 5))));
  const n = parse(der);
  assert.equal(readOid(n.children[0]), '1.3.132.1.11.1');
  assert.equal(readInt(n.children[1]), 65537n);
  assert.equal(readTime(n.children[2]).toISOString(), '2030-01-02T03:04:05.000Z');
});

test('reader accepts BER indefinite length and constructed OCTET STRING', () => {
  // SEQUENCE (indefinite) { OCTET STRING constructed (indefinite) { 04 02 'ab', 04 01 'c' } }
  const ber = fromHex('3080' + '2480' + '04026162' + '040163' + '0000' + '0000');
  const n = parse(ber);
  assert.equal(Buffer.from(stringBytes(n.children[0]!)).toString(), 'abc');
});

test('reader refuses malformed input with asn1.malformed', () => {
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['truncated', fromHex('3005020101')],
    ['length past end', fromHex('04ff00')],
    ['trailing data', fromHex('020100ff')],
    ['indefinite primitive', fromHex('04800000')],
    ['missing end-of-contents', fromHex('3080020100')],
    ['deep nesting bomb', new Uint8Array([...Array(MAX_DEPTH + 5)].flatMap(() => [0x30, 0x80]))],
  ];
  for (const [name, input] of bad) {
    assert.throws(() => parse(input), (e: unknown) => e instanceof AppError && e.code === 'asn1.malformed', name);
  }
});
