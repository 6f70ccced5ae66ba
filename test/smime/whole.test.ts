import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTestPki, party, type Party } from './fixtures.js';
import { decryptMessage, planEnvelopes, partsSource, collect, type ByteSource } from '../../src/smime/index.js';
import { encryptPrepared } from '../../src/smime/message.js';
import { utf8 } from '../../src/shared/bytes.js';
import { splitMessage } from '../../src/mime/index.js';

// encryptPrepared builds small messages in one buffer and streams large or asynchronous ones; both
// paths must give the same message (same header, same length, 76-column lines, same plaintext).
let bob: Party;
let dave: Party;

before(async () => {
  const pki = await createTestPki();
  [bob, dave] = await Promise.all([
    party(pki, { email: 'bob@example.com', key: 'rsa2048' }),
    party(pki, { email: 'dave@example.com', key: 'rsa2048' }),
  ]);
});

const OUTER = utf8('From: a@example.com\r\nTo: bob@example.com\r\nSubject: s\r\n');

function inner(bodySize: number): Uint8Array[] {
  return [utf8('Content-Type: application/octet-stream\r\n\r\n'), randomBytes(bodySize)];
}

async function chunksOf(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

function asyncSource(parts: Uint8Array[]): ByteSource {
  const sync = partsSource(parts);
  return {
    size: sync.size,
    async *chunks() {
      yield* sync.chunks();
    },
  };
}

for (const content of ['aes256-cbc', 'aes128-cbc', 'aes256-gcm'] as const) {
  test(`one-buffer and streamed encryption give the same message (${content})`, async () => {
    const who = content === 'aes256-gcm' ? dave : bob;
    const group = planEnvelopes([{ certificate: who.certificate, algorithms: { content, keyTransport: content === 'aes256-gcm' ? 'rsa-oaep-sha256' : 'rsa-pkcs1' } }])[0]!;
    for (const size of [0, 1, 15, 16, 57, 1000, 58_368, 102_400, 300_001, 600_000]) {
      const parts = inner(size);
      const whole = await chunksOf(encryptPrepared(OUTER, partsSource(parts), group, Infinity));
      const streamed = await chunksOf(encryptPrepared(OUTER, partsSource(parts), group, 0));
      const fromAsync = await chunksOf(encryptPrepared(OUTER, asyncSource(parts), group, Infinity));
      assert.equal(whole.length, 1, `size ${size}: built in one buffer`);
      assert.ok(streamed.length > 1 && fromAsync.length > 1, `size ${size}: streamed`);
      const outs = [whole, streamed, fromAsync].map((c) => Buffer.concat(c));
      const expected = Buffer.concat(parts);
      for (const out of outs) {
        assert.equal(out.length, outs[0]!.length, `size ${size}: same length`);
        const split = splitMessage(out);
        assert.deepEqual(Buffer.from(split.headerBytes), Buffer.from(splitMessage(outs[0]!).headerBytes));
        const lines = Buffer.from(split.body).toString('latin1').split('\r\n');
        assert.equal(lines.pop(), '');
        for (const l of lines.slice(0, -1)) assert.equal(l.length, 76);
        assert.ok(lines.at(-1)!.length <= 76 && !/[^A-Za-z0-9+/=]/.test(lines.join('')));
        const r = await decryptMessage(out, { key: who.key, certificate: who.certificate });
        assert.ok(Buffer.from(r.entity).equals(expected), `size ${size}: decrypts to the content`);
      }
    }
  });
}

test('the default threshold: 10 KB in one buffer, 2 MB streamed in slices', async () => {
  const group = planEnvelopes([{ certificate: bob.certificate }])[0]!;
  assert.equal((await chunksOf(encryptPrepared(OUTER, partsSource(inner(10 * 1024)), group))).length, 1);
  const big = await chunksOf(encryptPrepared(OUTER, partsSource(inner(2 * 1024 * 1024)), group));
  assert.ok(big.length > 4 && big.every((c) => c.length < 1024 * 1024));
  const r = await decryptMessage(await collect(big), { key: bob.key, certificate: bob.certificate });
  assert.equal(r.entity.length, 2 * 1024 * 1024 + inner(0)[0]!.length);
});
