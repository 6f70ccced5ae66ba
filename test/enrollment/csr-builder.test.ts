/**
 * The browser's key pair and PKCS#10 request (src/enrollment/csr-builder.ts), run here on Node's
 * WebCrypto: OpenSSL verifies them, the CA's request checks accept them, and the PKCS#12 files the
 * page builds from them carry the same key.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRequest, requestedMailboxes, verifyRequest } from '../../src/ca/csr.js';
import { buildCsrDer, buildCsrPem, ecdsaRawToDer, generateKeyPair } from '../../src/enrollment/csr-builder.js';
import { requireTool } from '../helpers/clients.js';
import { runOk } from '../helpers/exec.js';

async function opensslText(pem: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'smimegw-csrb-'));
  try {
    await writeFile(join(dir, 'r.pem'), pem);
    const r = await runOk('openssl', ['req', '-in', join(dir, 'r.pem'), '-verify', '-noout', '-text', '-nameopt', 'utf8']);
    return r.stdout.toString('utf8') + r.stderr;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('browser key pair and certificate request', () => {
  it('RSA-2048 by default, SHA-256 signed, the mailbox in CN and subjectAltName; openssl verifies it', async (t: TestContext) => {
    const keys = await generateKeyPair();
    assert.equal((keys.privateKey.algorithm as RsaHashedKeyAlgorithm).modulusLength, 2048);
    assert.equal(keys.privateKey.extractable, true, 'exported into the PKCS#12 later');
    const pem = await buildCsrPem(keys, 'alice@example.com');
    const req = parseRequest(pem);
    verifyRequest(req);
    assert.deepEqual(req.key, { kind: 'rsa', bits: 2048, exponent: 65537n });
    assert.equal(req.signatureAlgorithm, '1.2.840.113549.1.1.11');
    assert.deepEqual(requestedMailboxes(req), ['alice@example.com', 'alice@example.com']);
    if (!(await requireTool(t, 'openssl'))) return;
    const text = await opensslText(pem);
    assert.match(text, /verify OK/i);
    assert.match(text, /Subject: CN ?= ?alice@example\.com/);
    assert.match(text, /email:alice@example\.com/);
    assert.match(text, /sha256WithRSAEncryption/);
  });

  it('EC P-256 (DER signature from WebCrypto r||s) and a non-ASCII mailbox as SmtpUTF8Mailbox', async (t: TestContext) => {
    const keys = await generateKeyPair('p-256');
    const der = await buildCsrDer(keys, 'たろう@例え.jp');
    const req = parseRequest(der);
    verifyRequest(req);
    assert.deepEqual(req.key, { kind: 'ec', curve: 'P-256' });
    assert.deepEqual(req.sanEmails, ['たろう@例え.jp']);
    if (!(await requireTool(t, 'openssl'))) return;
    const text = await opensslText(await buildCsrPem(keys, 'たろう@例え.jp'));
    assert.match(text, /verify OK/i);
    assert.match(text, /SmtpUTF8Mailbox:+たろう@例え\.jp/);
  });

  it('ecdsaRawToDer writes minimal positive INTEGERs', () => {
    const raw = new Uint8Array(64);
    raw[0] = 0x80; // r needs a leading zero
    raw[63] = 1; // s = 1
    assert.deepEqual([...ecdsaRawToDer(raw).subarray(0, 4)], [0x30, 0x26, 0x02, 0x21]);
    assert.deepEqual([...ecdsaRawToDer(raw).subarray(-3)], [0x02, 0x01, 0x01]);
  });
});
