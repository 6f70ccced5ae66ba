/** Content keys and IVs drawn from the engine's random pool: never the same bytes twice. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freshRandom } from '../../src/smime/random.js';

describe('freshRandom', () => {
  it('hands out every byte once: 20,000 draws across many pool refills are all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const n = [16, 28, 44, 48, 64][i % 5]!;
      const b = freshRandom(n);
      assert.equal(b.length, n);
      seen.add(b.toString('hex'));
    }
    assert.equal(seen.size, 20_000);
  });

  it('a drawn buffer is a copy: changing it changes no later draw, and larger requests come straight from the CSPRNG', () => {
    const a = freshRandom(32);
    a.fill(0);
    const b = freshRandom(32);
    assert.notDeepEqual(b, Buffer.alloc(32));
    const big = freshRandom(1000);
    assert.equal(big.length, 1000);
    assert.ok(new Set(big).size > 200, 'looks random');
  });
});
