import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { iteratedHash, sha1, sha256 } from '../../src/pki/pkcs12-sha.js';
import { toHex } from '../../src/shared/bytes.js';

const ref = (alg: 'sha1' | 'sha256', b: Uint8Array) => new Uint8Array(createHash(alg).update(b).digest());

test('sha1/sha256 match node:crypto at every padding boundary', () => {
  // 0..200 covers 55/56 (length fits / does not fit the last block), 63/64, 119/120 and multi-block input.
  for (let n = 0; n <= 200; n++) {
    const msg = randomBytes(n);
    assert.equal(toHex(sha256(msg)), toHex(ref('sha256', msg)), `sha256 of ${n} bytes`);
    assert.equal(toHex(sha1(msg)), toHex(ref('sha1', msg)), `sha1 of ${n} bytes`);
  }
  const big = randomBytes(100_003);
  assert.equal(toHex(sha256(big)), toHex(ref('sha256', big)));
  assert.equal(toHex(sha1(big)), toHex(ref('sha1', big)));
});

test('FIPS 180 known answers ("abc")', () => {
  const abc = new TextEncoder().encode('abc');
  assert.equal(toHex(sha256(abc)), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(toHex(sha1(abc)), 'a9993e364706816aba3e25717850c26c9cd0d89d');
});

test('iteratedHash = the digest hashed again rounds-1 times', () => {
  for (const [name, alg] of [['SHA-256', 'sha256'], ['SHA-1', 'sha1']] as const) {
    for (const rounds of [1, 2, 3, 1000]) {
      const msg = randomBytes(128);
      let want = ref(alg, msg);
      for (let r = 1; r < rounds; r++) want = ref(alg, want);
      assert.equal(toHex(iteratedHash(name, msg, rounds)), toHex(want), `${name} x${rounds}`);
    }
  }
});
