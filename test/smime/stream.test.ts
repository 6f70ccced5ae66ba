import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { base64Lines, base64LinesLength, collect, writeLinesOfParts } from '../../src/smime/stream.js';

function reference(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).map((l) => l + '\r\n').join('');
}

test('base64Lines: 76-column CRLF base64, identical whatever the chunking', async () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  // 58,368 bytes (1,024 lines) is the piece one base64 string is made of: sizes around its multiples too
  for (const size of [0, 1, 56, 57, 58, 113, 114, 1000, 58_367, 58_368, 58_369, 58_425, 65_537, 116_736, 116_737, 300_001, 600_000]) {
    const data = randomBytes(size);
    for (let round = 0; round < 20; round++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < size; ) {
        const n = Math.min(size - i, 1 + rnd(round % 3 === 0 ? 200 : round % 3 === 1 ? 70_000 : 400_000));
        chunks.push(data.subarray(i, i + n));
        i += n;
      }
      const out = Buffer.from(await collect(base64Lines(chunks))).toString('latin1');
      assert.equal(out, reference(data), `size ${size}, round ${round}`);
    }
  }
});

test('writeLinesOfParts writes what base64Lines streams, at the given offset', async () => {
  for (const sizes of [[], [0], [5], [57], [56, 1, 57], [300, 58_368, 7], [100_000, 3, 200_000], [1, 1, 1, 116_736]]) {
    const parts = sizes.map((n) => randomBytes(n));
    const all = Buffer.concat(parts);
    const out = Buffer.alloc(3 + base64LinesLength(all.length) + 2, 0xee);
    const end = writeLinesOfParts(out, 3, parts);
    assert.equal(end, out.length - 2, `sizes ${sizes}`);
    assert.equal(out.subarray(3, end).toString('latin1'), reference(all), `sizes ${sizes}`);
    assert.equal(out.subarray(3, end).toString('latin1'), Buffer.from(await collect(base64Lines(parts))).toString('latin1'));
    assert.deepEqual([...out.subarray(0, 3), ...out.subarray(end)], [0xee, 0xee, 0xee, 0xee, 0xee]);
  }
});
