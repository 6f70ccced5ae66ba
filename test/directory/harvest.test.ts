/**
 * Harvesting from signed mail: messages signed by our engine and by `openssl cms -sign` register
 * the sender's certificate and SMIMECapabilities (RFC 8551 2.7.1: only a newer signingTime replaces
 * them; a far-future signingTime is ignored). Forged, untrusted, mismatched and unusable ones are
 * refused with a reason and leave nothing behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { party, type Party } from '../smime/fixtures.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { opensslCmsSign, tamper } from '../helpers/clients.js';
import { signMessage } from '../../src/smime/index.js';
import { OID } from '../../src/pki/oids.js';
import { oaepSha256Params } from '../../src/pki/capabilities.js';
import { AppError } from '../../src/shared/errors.js';
import { concat, utf8 } from '../../src/shared/bytes.js';
import { certificates, recipientCapabilities } from '../../src/db/schema.js';
import { cert, DAY, openTestDirectory, trustTestPki, type TestDirectory } from './helpers.js';

let pki: TestPki;
let stranger: TestPki;
let sender: Party;
let ecSender: Party;
let signOnly: Party;
let encOnly: Party;
let outsider: Party;

before(async () => {
  [pki, stranger] = await Promise.all([createTestPki(), createTestPki()]);
  [sender, ecSender, signOnly, encOnly, outsider] = await Promise.all([
    party(pki, { email: 'sender@partner.example', key: 'rsa2048' }),
    party(pki, { email: 'ec@partner.example', key: 'p256' }),
    party(pki, { email: 'split@partner.example', key: 'rsa2048', keyUsage: ['digitalSignature'] }),
    party(pki, { email: 'split@partner.example', key: 'rsa2048', keyUsage: ['keyEncipherment'] }),
    party(stranger, { email: 'outsider@elsewhere.example', key: 'rsa2048' }),
  ]);
});
after(async () => {
  await Promise.all([pki?.cleanup(), stranger?.cleanup()]);
});

function message(from: string, body = 'Hello from a partner.'): Uint8Array {
  return utf8(`From: "Partner, Inc." <${from}>\r\nTo: us@corp.example\r\nSubject: signed\r\nDate: Sun, 22 Nov 2026 05:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body}\r\n`);
}

async function engineSigned(p: Party, opts: { signingTime?: Date; capabilities?: { oid: string; params?: Uint8Array }[]; from?: string; mode?: 'detached' | 'opaque'; chain?: Party['chain']; encryptionCertificate?: Party['certificate'] } = {}): Promise<Uint8Array> {
  return signMessage(
    message(opts.from ?? p.issued.email),
    { certificate: p.certificate, key: p.key, chain: opts.chain ?? p.chain, ...(opts.capabilities ? { capabilities: opts.capabilities } : {}), ...(opts.encryptionCertificate ? { encryptionCertificate: opts.encryptionCertificate } : {}) },
    { ...(opts.signingTime ? { signingTime: opts.signingTime } : {}), mode: opts.mode ?? 'detached' },
  );
}

/** `openssl cms -sign` over a MIME entity, then the message header in front of the signed entity. */
async function opensslSigned(p: Party, detached: boolean): Promise<Uint8Array> {
  const entity = utf8('Content-Type: text/plain; charset=us-ascii\r\n\r\nSigned by openssl.\r\n');
  const signed = await opensslCmsSign(entity, { certPem: p.issued.certPem, keyPem: p.issued.keyPem, chainPem: p.issued.chainPem }, { detached });
  return concat([utf8(`From: ${p.issued.email}\r\nTo: us@corp.example\r\nSubject: openssl\r\n`), signed]);
}

async function rowCount(t: TestDirectory): Promise<[number, number]> {
  const c = await t.database.db.select({ id: certificates.id }).from(certificates);
  const k = await t.database.db.select({ a: recipientCapabilities.address }).from(recipientCapabilities);
  return [c.length, k.length];
}

async function refused(t: TestDirectory, msg: Uint8Array, code: string | RegExp): Promise<AppError> {
  const before = await rowCount(t);
  const e = await t.directory.harvest(msg).then(
    () => assert.fail('expected a rejection'),
    (err: unknown) => err as AppError,
  );
  assert.ok(e instanceof AppError, String(e));
  if (typeof code === 'string') assert.equal(e.code, code, e.message);
  else assert.match(e.code, code, e.message);
  assert.equal(e.status, 400);
  assert.ok(!e.message.includes('\n'));
  assert.deepEqual(await rowCount(t), before, 'nothing stored');
  return e;
}

describe('harvest from signed mail', () => {
  let t: TestDirectory;
  before(async () => {
    t = await openTestDirectory();
    await t.store.addTrustedRoot(cert(pki.root.certPem), 'test'); // intermediates come with the messages
  });
  after(() => t?.close());

  it('a message signed by the engine registers the sender with the capabilities it advertised', async () => {
    const r = await t.directory.harvest(await engineSigned(sender, { capabilities: [{ oid: OID.aes256Gcm }, { oid: OID.rsaesOaep, params: oaepSha256Params() }, { oid: OID.aes256Cbc }] }));
    assert.deepEqual(r.addresses, ['sender@partner.example']);
    assert.equal(r.created, true);
    assert.equal(r.capabilities, 'stored');
    const l = await t.directory.lookup('sender@partner.example');
    assert.equal(l.entry?.source, 'harvested');
    assert.equal(l.entry?.fingerprint, sender.certificate.fingerprint256);
    assert.deepEqual([l.entry!.algorithms.content, l.entry!.algorithms.keyTransport], ['aes256-gcm', 'rsa-oaep-sha256']);
    assert.match(l.entry!.reason, /harvested from signed mail/);
    assert.equal(l.entry!.chain.length, 2, 'the intermediate from the message was kept');
  });

  it('capabilities: an older signingTime does not replace them, a newer one does, a far-future one is ignored', async () => {
    const now = Date.now();
    const older = await t.directory.harvest(await engineSigned(sender, { signingTime: new Date(now - DAY), capabilities: [{ oid: OID.aes128Cbc }] }));
    assert.deepEqual([older.created, older.capabilities], [false, 'older']);
    assert.equal((await t.directory.lookup('sender@partner.example')).entry?.algorithms.content, 'aes256-gcm');

    const future = await t.directory.harvest(await engineSigned(sender, { signingTime: new Date(now + 30 * DAY), capabilities: [{ oid: OID.aes128Cbc }] }));
    assert.equal(future.capabilities, 'future');
    assert.equal((await t.directory.lookup('sender@partner.example')).entry?.algorithms.content, 'aes256-gcm');

    const newer = await t.directory.harvest(await engineSigned(sender, { signingTime: new Date(now + 60_000), capabilities: [{ oid: OID.aes128Cbc }] }));
    assert.equal(newer.capabilities, 'stored');
    const l = await t.directory.lookup('sender@partner.example');
    assert.deepEqual([l.entry!.algorithms.content, l.entry!.algorithms.keyTransport], ['aes128-cbc', 'rsa-pkcs1'], 'the newer list wins, even if weaker');
  });

  it('opaque signed-data and an EC signer', async () => {
    const r = await t.directory.harvest(await engineSigned(ecSender, { mode: 'opaque' }));
    assert.equal(r.created, true);
    const l = await t.directory.lookup('ec@partner.example');
    assert.deepEqual([l.entry!.algorithms.content, l.entry!.algorithms.keyTransport], ['aes256-cbc', 'ecdh-sha256kdf']);
  });

  it('messages signed by openssl cms -sign (detached and opaque)', async () => {
    const t2 = await openTestDirectory();
    try {
      await t2.store.addTrustedRoot(cert(pki.root.certPem), 'test');
      const r = await t2.directory.harvest(await opensslSigned(sender, true));
      assert.deepEqual([r.created, r.capabilities], [true, 'stored']);
      assert.equal((await t2.directory.lookup('sender@partner.example')).entry?.source, 'harvested');
      const caps = await t2.store.getCapabilities('sender@partner.example');
      assert.equal(caps?.capabilities[0]?.oid, OID.aes256Cbc, "openssl's list starts with AES-256-CBC");
      const r2 = await t2.directory.harvest(await opensslSigned(ecSender, false));
      assert.equal(r2.created, true);
      assert.ok((await t2.directory.lookup('ec@partner.example')).entry);
    } finally {
      await t2.close();
    }
  });

  it('separate signing and encryption certificates: the one named by SMIMEEncryptionKeyPreference is registered', async () => {
    const r = await t.directory.harvest(await engineSigned(signOnly, { encryptionCertificate: encOnly.certificate, chain: [...signOnly.chain, encOnly.certificate] }));
    assert.equal(r.fingerprint, encOnly.certificate.fingerprint256);
    assert.equal((await t.directory.lookup('split@partner.example')).entry?.fingerprint, encOnly.certificate.fingerprint256);
  });

  it('refuses a forged signature, an untrusted signer, a From the certificate does not carry, a signing-only certificate', async () => {
    const good = await engineSigned(sender, { from: 'sender@partner.example' });
    await refused(t, new Uint8Array(tamper(Buffer.from(good), 'content')), 'smime.bad_signature');
    await refused(t, new Uint8Array(tamper(Buffer.from(good), 'signature')), /^smime\.(bad_signature|malformed)$/);
    const e = await refused(t, await engineSigned(outsider), 'smime.untrusted');
    assert.match(e.message, /not trusted/);
    const m = await refused(t, await engineSigned(sender, { from: 'ceo@partner.example' }), 'harvest.address_mismatch');
    assert.match(m.message, /signed by a certificate for sender@partner\.example, but comes from ceo@partner\.example/);
    const s = await refused(t, await engineSigned(signOnly), 'cert.no_encipherment');
    assert.match(s.message, /keyEncipherment/);
    await refused(t, message('sender@partner.example'), 'smime.not_signed');
    await refused(t, utf8('garbage without a header'), /^(mime|smime)\./);
    await refused(t, utf8('From: x@y.example\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIBAAAA\r\n'), /^(asn1|smime)\./);
  });

  it('a revoked certificate is not brought back by a harvest', async () => {
    const p = await party(pki, { email: 'gone@partner.example', key: 'rsa2048' });
    await t.directory.harvest(await engineSigned(p));
    await t.directory.revoke(p.certificate.fingerprint256, { actor: 'test' });
    await refused(t, await engineSigned(p), 'cert.revoked');
    assert.equal((await t.directory.lookup('gone@partner.example')).entry, null);
  });
});
