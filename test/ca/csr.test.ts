import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRequest, requestedMailboxes, verifyRequest } from '../../src/ca/csr.js';
import { certificateMailbox, mailboxKey, sameMailbox } from '../../src/ca/mailbox.js';
import { decodePemAll, encodePem } from '../../src/shared/bytes.js';
import { AppError } from '../../src/shared/errors.js';
import { nodeCsr, opensslCsr } from './helpers.js';

function code(c: string) {
  return (e: unknown) => e instanceof AppError && e.code === c;
}

describe('ca/mailbox', () => {
  it('ASCII local parts go into rfc822Name with an A-label domain; non-ASCII into SmtpUTF8Mailbox', () => {
    assert.deepEqual(certificateMailbox(' Alice@EXAMPLE.com '), { address: 'Alice@example.com', form: 'rfc822Name' });
    assert.deepEqual(certificateMailbox('bob@bücher.de'), { address: 'bob@xn--bcher-kva.de', form: 'rfc822Name' });
    assert.deepEqual(certificateMailbox('ユーザー@例え.jp'), { address: 'ユーザー@例え.jp', form: 'smtpUtf8Mailbox' });
  });
  for (const bad of ['', 'alice', '@example.com', 'alice@', 'a..b@example.com', '.a@example.com', '"q"@example.com', 'a b@example.com', 'a@localhost', 'a@-x.com', `${'x'.repeat(65)}@example.com`]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => certificateMailbox(bad), code('ca.bad_address'));
    });
  }
  it('compares mailboxes case-insensitively, domains in either label form', () => {
    assert.ok(sameMailbox('ALICE@Example.COM', 'alice@example.com'));
    assert.ok(sameMailbox('a@bücher.de', 'A@xn--bcher-kva.de'));
    assert.ok(!sameMailbox('alice@example.com', 'alice@example.org'));
    assert.equal(mailboxKey('Bob@Example.com'), 'bob@example.com');
  });
});

describe('ca/csr', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smimegw-csr-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an openssl request: key, CN, emailAddress and SAN mailboxes; proof of possession verifies', async () => {
    const { csrPem } = await opensslCsr(dir, { key: 'rsa2048', subject: '/CN=Alice Example/emailAddress=alice@example.com', san: 'email:alice@example.com,email:a2@example.com' });
    const req = parseRequest(csrPem);
    assert.deepEqual(req.key, { kind: 'rsa', bits: 2048, exponent: 65537n });
    assert.deepEqual(req.commonNames, ['Alice Example']);
    assert.deepEqual(req.subjectEmails, ['alice@example.com']);
    assert.deepEqual(req.sanEmails, ['alice@example.com', 'a2@example.com']);
    assert.deepEqual(requestedMailboxes(req), ['alice@example.com', 'alice@example.com', 'a2@example.com']);
    verifyRequest(req);
    // DER works too.
    const der = decodePemAll(csrPem)[0]!.der;
    verifyRequest(parseRequest(der));
  });

  for (const key of ['rsa3072', 'p256', 'p384', 'p521'] as const) {
    it(`accepts a ${key} request`, async () => {
      const { csrPem } = await opensslCsr(dir, { key, subject: '/CN=alice@example.com' });
      const req = parseRequest(csrPem);
      verifyRequest(req);
      assert.deepEqual(requestedMailboxes(req), ['alice@example.com']);
    });
  }

  it('a CN that is a person name is not a mailbox; a UTF-8 CN mailbox is', () => {
    assert.deepEqual(requestedMailboxes(parseRequest(nodeCsr({ cn: 'Alice' }).csrPem)), []);
    const utf = parseRequest(nodeCsr({ cn: 'ユーザー@例え.jp' }).csrPem);
    verifyRequest(utf);
    assert.deepEqual(requestedMailboxes(utf), ['ユーザー@例え.jp']);
  });

  it('refuses SHA-1 signed requests', async () => {
    const { csrPem } = await opensslCsr(dir, { key: 'rsa2048', subject: '/CN=alice@example.com', md: 'sha1' });
    assert.throws(() => verifyRequest(parseRequest(csrPem)), code('ca.csr_weak_signature'));
  });

  it('refuses keys under 2048 bits and unsupported key types', async () => {
    const small = await opensslCsr(dir, { key: 'rsa1024', subject: '/CN=alice@example.com' });
    assert.throws(() => verifyRequest(parseRequest(small.csrPem)), (e: unknown) => e instanceof AppError && e.code === 'ca.csr_weak_key' && /1024 bits/.test(e.message));
    const ed = await opensslCsr(dir, { key: 'ed25519', subject: '/CN=alice@example.com' });
    assert.throws(() => verifyRequest(parseRequest(ed.csrPem)), (e: unknown) => e instanceof AppError && (e.code === 'ca.csr_bad_signature' || e.code === 'ca.csr_weak_key'));
  });

  it('refuses a request whose signature does not verify (altered)', async () => {
    const { csrPem } = await opensslCsr(dir, { key: 'p256', subject: '/CN=alice@example.com' });
    const der = decodePemAll(csrPem)[0]!.der.slice();
    // Change one byte of the subject: the signature no longer covers what is there.
    const at = Buffer.from(der).indexOf('alice');
    der[at] = 'm'.charCodeAt(0);
    assert.throws(() => verifyRequest(parseRequest(encodePem('CERTIFICATE REQUEST', der))), code('ca.csr_bad_signature'));
  });

  it('refuses garbage with ca.csr_malformed', () => {
    for (const junk of ['', 'hello', '-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n', '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n', Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), Uint8Array.of(0x30, 0x80)]) {
      assert.throws(() => parseRequest(junk), code('ca.csr_malformed'), String(junk));
    }
    assert.throws(() => parseRequest(new Uint8Array(20_000)), code('ca.csr_too_large'));
  });
});
