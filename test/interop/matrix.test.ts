/**
 * Every S/MIME output of the engine, read by independent implementations: OpenSSL cms and smime,
 * gpgsm and NSS cmsutil (Thunderbird's engine). The matrix itself lives in ./matrix.ts; this file
 * asserts it:
 *  - each default combination is read by every client, byte-identical, and tampering fails in each;
 *  - each combination a client is known to read (interop.md, re-measured) is still read by it;
 *  - wherever a client reads our output, a tampered copy fails in that client;
 *  - wherever a client cannot read a combination, that combination is not a default (recorded).
 * Missing tools skip loudly locally and fail under CI=true (see requireTool).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { runMatrix, messageCombinations, CLIENTS, COMBINATIONS, type MatrixResult, type Cell } from './matrix.js';
import { requireTool } from '../helpers/clients.js';
import { DEFAULT_CONTENT, defaultSignatureAlgorithm } from '../../src/smime/index.js';
import type { PrivateKey } from '../../src/pki/keys.js';

let result: MatrixResult;

before(async () => {
  result = await runMatrix({ includeLarge: true });
});

const TOOL = { 'openssl-cms': 'openssl', 'openssl-smime': 'openssl', gpgsm: 'gpgsm', nss: 'nss' } as const;

function describeCell(c: Cell): string {
  return `${c.combination.id} / ${c.client}: ${c.ok ? 'read' : 'not read'}${c.detail ? ` (${c.detail.trim()})` : ''}`;
}

for (const client of CLIENTS) {
  test(`${client}: reads every default and every combination it is known to support, byte for byte; rejects tampering`, async (t) => {
    if (!(await requireTool(t, TOOL[client]))) return;
    const mine = result.cells.filter((c) => c.client === client);
    assert.equal(mine.length, COMBINATIONS.length + messageCombinations(true).length, 'every combination and message ran');
    for (const cell of mine) {
      const c = cell.combination;
      if (c.isDefault || c.required.includes(client)) {
        assert.ok(cell.ok, `must be read: ${describeCell(cell)}`);
      }
      if (cell.ok) {
        assert.ok(cell.identical, `output must be byte-identical: ${describeCell(cell)}`);
        assert.equal(cell.tamperRejected, true, `tampered copy must fail: ${describeCell(cell)}`);
      } else {
        assert.equal(c.isDefault, false, `a combination ${client} cannot read must not be a default: ${describeCell(cell)}`);
        t.diagnostic(`recorded: ${describeCell(cell)}`);
      }
    }
  });
}

test('the combinations marked default are what the engine sends when nobody advertised more', () => {
  const defaults = COMBINATIONS.filter((c) => c.isDefault);
  const enc = defaults.find((c) => c.operation === 'encrypt')!;
  assert.equal(enc.content, DEFAULT_CONTENT);
  assert.equal(enc.keyTransport, 'rsa-pkcs1');
  const sign = defaults.find((c) => c.operation === 'sign')!;
  assert.equal(sign.signature, defaultSignatureAlgorithm({ kind: 'rsa' } as PrivateKey));
  assert.equal(sign.mode, 'detached');
  const readByAll = (id: string) => CLIENTS.every((cl) => result.cells.find((c) => c.combination.id === id && c.client === cl)?.ok);
  for (const d of defaults) assert.ok(readByAll(d.id) || result.cells.some((c) => c.skipped), `${d.id} read by all clients`);
});

test('every test message went through every default operation, including the 25 MB attachment', () => {
  const messages = new Set(result.cells.filter((c) => c.combination.id.includes(':')).map((c) => c.combination.message));
  for (const m of ['plainText', 'utf8EightBit', 'iso2022jp', 'nestedMultipartWithAttachments', 'binaryAttachment', 'lfOnly', 'longLines', 'largeAttachment25MB']) {
    assert.ok(messages.has(m), m);
  }
});
