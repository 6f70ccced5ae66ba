import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestPki, party, roots, type Party } from './fixtures.js';
import type { TestPki } from '../helpers/pki.js';
import {
  encryptMessage,
  signMessage,
  signAndEncryptMessage,
  decryptMessage,
  verifyMessage,
  planEnvelopes,
  chooseAlgorithms,
  type ContentAlgorithm,
  type KeyTransport,
} from '../../src/smime/index.js';
import { OID } from '../../src/pki/oids.js';
import { parse, readOid } from '../../src/pki/asn1.js';
import { recipientInfo } from '../../src/smime/envelope.js';
import { oaepSha256Params } from '../../src/pki/capabilities.js';
import { AppError } from '../../src/shared/errors.js';
import { fromUtf8, latin1, utf8 } from '../../src/shared/bytes.js';
import { splitMessage, decodeTransfer } from '../../src/mime/index.js';
import type { Certificate } from '../../src/pki/certificate.js';

let pki: TestPki;
let bob: Party; // RSA-2048, no capabilities
let carol: Party; // P-256
let dave: Party; // RSA with capabilities GCM + OAEP
let erin: Party; // P-384
let signer: Party;
let ecSigner: Party;
let trust: Certificate[];

before(async () => {
  pki = await createTestPki();
  [bob, carol, dave, erin, signer, ecSigner] = await Promise.all([
    party(pki, { email: 'bob@example.com', key: 'rsa2048' }),
    party(pki, { email: 'carol@example.com', key: 'p256' }),
    party(pki, { email: 'dave@example.com', key: 'rsa2048', smimeCapabilities: [OID.aes256Gcm, OID.aes256Cbc, OID.rsaesOaep] }),
    party(pki, { email: 'erin@example.com', key: 'p384' }),
    party(pki, { email: 'sender@corp.example', key: 'rsa2048' }),
    party(pki, { email: 'ecsender@corp.example', key: 'p256' }),
  ]);
  trust = roots(pki);
});
after(() => pki?.cleanup());

const MESSAGE = utf8(
  'From: Sender <sender@corp.example>\r\n' +
    'To: Bob <bob@example.com>\r\n' +
    'Cc: carol@example.com\r\n' +
    'Bcc: secret-boss@corp.example\r\n' +
    'Subject: Quarterly numbers\r\n' +
    'Date: Sun, 22 Nov 2026 05:00:00 +0000\r\n' +
    'Message-ID: <q1@corp.example>\r\n' +
    'X-Mailer: test\r\n' +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Transfer-Encoding: 8bit\r\n' +
    '\r\n' +
    'Grüße, the numbers are attached.\r\n',
);

const INNER = utf8('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, the numbers are attached.\r\n');

function headerNames(msg: Uint8Array): string[] {
  return splitMessage(msg).headers.map((h) => h.lname);
}

test('algorithm choice: interop default unless the recipient advertised more', () => {
  const cases: [string, Party, ContentAlgorithm, KeyTransport][] = [
    ['RSA without capabilities', bob, 'aes256-cbc', 'rsa-pkcs1'],
    // OAEP advertised without parameters means OAEP with SHA-1, which we do not send: PKCS#1 v1.5 it is
    ['RSA advertising GCM and OAEP (default SHA-1 params)', dave, 'aes256-gcm', 'rsa-pkcs1'],
    ['EC P-256', carol, 'aes256-cbc', 'ecdh-sha256kdf'],
    ['EC P-384', erin, 'aes256-cbc', 'ecdh-sha256kdf'],
  ];
  for (const [name, p, content, kt] of cases) {
    const c = chooseAlgorithms(p.certificate);
    assert.deepEqual([c.content, c.keyTransport], [content, kt], name);
  }
  // capabilities supplied by the caller (harvested) win over the certificate's
  const c = chooseAlgorithms(dave.certificate, [{ oid: OID.aes128Cbc }]);
  assert.deepEqual([c.content, c.keyTransport], ['aes128-cbc', 'rsa-pkcs1']);
  const o = chooseAlgorithms(bob.certificate, [{ oid: OID.aes256Cbc }, { oid: OID.rsaesOaep, params: oaepSha256Params() }]);
  assert.deepEqual([o.content, o.keyTransport], ['aes256-cbc', 'rsa-oaep-sha256']);
  assert.match(o.reason, /advertised capabilities/);
});

test('recipients sharing algorithms share one envelope; others are split', () => {
  const groups = planEnvelopes([{ certificate: bob.certificate }, { certificate: signer.certificate }, { certificate: dave.certificate }, { certificate: carol.certificate }]);
  assert.equal(groups.length, 3);
  const sizes = groups.map((g) => g.recipients.length).sort();
  assert.deepEqual(sizes, [1, 1, 2]);
});

test('encrypt: outer header keeps addressing fields, drops Bcc; body is base64 at 76 columns CRLF', async () => {
  const out = await encryptMessage(MESSAGE, [{ certificate: bob.certificate }]);
  const names = headerNames(out);
  for (const h of ['from', 'to', 'cc', 'subject', 'date', 'message-id', 'x-mailer', 'mime-version', 'content-type']) assert.ok(names.includes(h), h);
  assert.ok(!names.includes('bcc'));
  assert.ok(!latin1(out).includes('secret-boss'), 'Bcc address must not appear anywhere');
  const split = splitMessage(out);
  const ct = split.headers.find((h) => h.lname === 'content-type')!.value;
  assert.match(ct, /^application\/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"$/);
  const lines = latin1(split.body).split('\r\n');
  assert.equal(lines.pop(), '');
  assert.ok(lines.length > 2);
  for (const l of lines.slice(0, -1)) assert.equal(l.length, 76);
  assert.ok(lines.at(-1)!.length <= 76);
  assert.ok(!/[^\r]\n/.test(latin1(out)), 'no bare LF');
});

for (const [label, who, content, kt] of [
  ['RSA PKCS#1 v1.5, AES-256-CBC', 'bob', 'aes256-cbc', 'rsa-pkcs1'],
  ['RSA PKCS#1 v1.5, AES-128-CBC', 'bob', 'aes128-cbc', 'rsa-pkcs1'],
  ['RSA OAEP-SHA256, AES-256-GCM (AuthEnvelopedData)', 'dave', 'aes256-gcm', 'rsa-oaep-sha256'],
  ['RSA OAEP-SHA256, AES-256-CBC', 'bob', 'aes256-cbc', 'rsa-oaep-sha256'],
  ['ECDH P-256', 'carol', 'aes256-cbc', 'ecdh-sha256kdf'],
  ['ECDH P-384', 'erin', 'aes128-cbc', 'ecdh-sha256kdf'],
  ['ECDH P-256, AES-256-GCM', 'carol', 'aes256-gcm', 'ecdh-sha256kdf'],
] as const) {
  test(`encrypt then decrypt round trip: ${label}`, async () => {
    const p = { bob, dave, carol, erin }[who];
    const out = await encryptMessage(MESSAGE, [{ certificate: p.certificate, algorithms: { content, keyTransport: kt } }]);
    if (content === 'aes256-gcm') assert.match(latin1(out), /smime-type=authEnveloped-data/);
    const r = await decryptMessage(out, { key: p.key, certificate: p.certificate });
    assert.deepEqual(Buffer.from(r.entity), Buffer.from(INNER));
  });
}

test('one envelope for two recipients: each decrypts; a third cannot', async () => {
  const out = await encryptMessage(MESSAGE, [{ certificate: bob.certificate }, { certificate: signer.certificate }]);
  for (const p of [bob, signer]) {
    const r = await decryptMessage(out, { key: p.key, certificate: p.certificate });
    assert.equal(r.recipientCount, 2);
    assert.deepEqual(Buffer.from(r.entity), Buffer.from(INNER));
  }
  await assert.rejects(decryptMessage(out, { key: dave.key, certificate: dave.certificate }), (e: unknown) => e instanceof AppError && e.code === 'smime.not_for_me');
});

/** The KeyTransRecipientInfos of an encrypted message: [issuer, serial, key encryption OID]. */
function keyTransRecipients(eml: Uint8Array): { issuer: Uint8Array; serial: Uint8Array; alg: string; encryptedKey: Uint8Array }[] {
  const split = splitMessage(eml);
  const der = parse(decodeTransfer('base64', split.body));
  const envelopedData = der.children[1]!.children[0]!;
  return envelopedData.children[1]!.children.map((ktri) => ({
    issuer: ktri.children[1]!.children[0]!.raw,
    serial: ktri.children[1]!.children[1]!.raw,
    alg: readOid(ktri.children[2]!.children[0]),
    encryptedKey: ktri.children[3]!.value,
  }));
}

test('recipient infos always name the certificate and key transport of this message (cached parts cannot leak between certificates)', async () => {
  // alternate certificates and key transports so that a per-certificate cache returning another entry would show
  const rounds: [Party, KeyTransport][] = [
    [bob, 'rsa-pkcs1'],
    [signer, 'rsa-pkcs1'],
    [bob, 'rsa-oaep-sha256'],
    [signer, 'rsa-oaep-sha256'],
    [bob, 'rsa-pkcs1'],
    [dave, 'rsa-pkcs1'],
    [signer, 'rsa-pkcs1'],
  ];
  const seen = new Map<Party, Uint8Array>();
  for (const [p, keyTransport] of rounds) {
    const out = await encryptMessage(MESSAGE, [{ certificate: p.certificate, algorithms: { content: 'aes256-cbc', keyTransport } }]);
    const [ri, ...more] = keyTransRecipients(out);
    assert.equal(more.length, 0);
    assert.deepEqual(Buffer.from(ri!.issuer), Buffer.from(p.certificate.issuerDer));
    assert.deepEqual(Buffer.from(ri!.serial), Buffer.from(p.certificate.serialDer));
    assert.equal(ri!.alg, keyTransport === 'rsa-pkcs1' ? OID.rsaEncryption : OID.rsaesOaep);
    assert.equal(ri!.encryptedKey.length, 256);
    const r = await decryptMessage(out, { key: p.key, certificate: p.certificate });
    assert.deepEqual(Buffer.from(r.entity), Buffer.from(INNER));
    for (const other of [bob, signer, dave].filter((o) => o !== p)) {
      await assert.rejects(decryptMessage(out, { key: other.key, certificate: other.certificate }), (e: unknown) => e instanceof AppError && e.code === 'smime.not_for_me');
    }
    seen.set(p, ri!.serial);
  }
  assert.notDeepEqual(Buffer.from(seen.get(bob)!), Buffer.from(seen.get(signer)!));
});

test('a recipient info handed out and then changed does not change the next one', () => {
  const cek = new Uint8Array(32).fill(7);
  const first = recipientInfo({ certificate: bob.certificate, keyTransport: 'rsa-pkcs1' }, cek);
  const fixedEnd = first.length - 256 - 4; // before OCTET STRING header (04 82 01 00) and the encrypted key
  const fixed = Buffer.from(first.subarray(0, fixedEnd));
  first.fill(0);
  const second = recipientInfo({ certificate: bob.certificate, keyTransport: 'rsa-pkcs1' }, cek);
  assert.deepEqual(Buffer.from(second.subarray(0, fixedEnd)), fixed);
  // PKCS #1 v1.5 padding is random: even the same CEK encrypts to a different key each time
  assert.notDeepEqual(Buffer.from(second.subarray(fixedEnd)), Buffer.from(recipientInfo({ certificate: bob.certificate, keyTransport: 'rsa-pkcs1' }, cek).subarray(fixedEnd)));
});

test('encrypt refuses recipients needing different algorithms in one message', async () => {
  await assert.rejects(encryptMessage(MESSAGE, [{ certificate: bob.certificate }, { certificate: carol.certificate }]), (e: unknown) => e instanceof AppError && e.code === 'smime.mixed_algorithms');
});

test('sign (multipart/signed) then verify returns the canonical entity, signer and capabilities', async () => {
  const out = await signMessage(MESSAGE, { certificate: signer.certificate, key: signer.key, chain: signer.chain });
  const ct = splitMessage(out).headers.find((h) => h.lname === 'content-type')!.value;
  assert.match(ct, /^multipart\/signed; protocol="application\/pkcs7-signature"; micalg=sha-256; boundary="/);
  assert.ok(!headerNames(out).includes('bcc'));
  const v = await verifyMessage(out, { trusted: trust });
  assert.equal(v.mode, 'detached');
  assert.equal(v.signer.certificate.fingerprint256, signer.certificate.fingerprint256);
  assert.equal(v.signer.chain.length, 3);
  assert.deepEqual(v.signer.capabilities?.map((c) => c.oid), [OID.aes256Cbc, OID.aes192Cbc, OID.aes128Cbc]);
  assert.ok(v.signer.signingTime && Math.abs(v.signer.signingTime.getTime() - Date.now()) < 60_000);
  assert.ok(v.signer.encryptionKeyPreference && 'serialDer' in v.signer.encryptionKeyPreference);
  // 8-bit body was re-encoded to quoted-printable before signing
  const entity = fromUtf8(v.entity);
  assert.match(entity, /Content-Transfer-Encoding: quoted-printable/i);
  assert.match(entity, /Gr=C3=BC=C3=9Fe/);
});

for (const [alg, who] of [
  ['rsa-pss-sha256', 'signer'],
  ['ecdsa-sha256', 'ecSigner'],
] as const) {
  test(`sign with ${alg} verifies`, async () => {
    const p = who === 'signer' ? signer : ecSigner;
    const out = await signMessage(MESSAGE, { certificate: p.certificate, key: p.key, chain: p.chain }, { algorithm: alg });
    const v = await verifyMessage(out, { trusted: trust });
    assert.equal(v.signer.certificate.emails[0], p.certificate.emails[0]);
  });
}

test('opaque signed-data verifies and carries the content', async () => {
  const out = await signMessage(MESSAGE, { certificate: signer.certificate, key: signer.key, chain: signer.chain }, { mode: 'opaque' });
  assert.match(latin1(out), /smime-type=signed-data/);
  const v = await verifyMessage(out, { trusted: trust });
  assert.equal(v.mode, 'opaque');
  assert.match(fromUtf8(v.entity), /Gr=C3=BC=C3=9Fe/);
});

test('sign-then-encrypt: decrypts to a signed entity that verifies', async () => {
  const out = await signAndEncryptMessage(MESSAGE, { certificate: signer.certificate, key: signer.key, chain: signer.chain }, [{ certificate: bob.certificate }]);
  const d = await decryptMessage(out, { key: bob.key, certificate: bob.certificate });
  const v = await verifyMessage(d.entity, { trusted: trust });
  assert.equal(v.signer.certificate.emails[0], 'sender@corp.example');
});

test('verify fails on altered content, an untrusted root, and a time outside validity', async () => {
  const out = await signMessage(MESSAGE, { certificate: signer.certificate, key: signer.key, chain: signer.chain });
  const altered = utf8(latin1(out).replace('the numbers', 'the NUMBERS'));
  await assert.rejects(verifyMessage(altered, { trusted: trust }), (e: unknown) => e instanceof AppError && e.code === 'smime.bad_signature');
  const other = await createTestPki();
  try {
    await assert.rejects(verifyMessage(out, { trusted: roots(other) }), (e: unknown) => e instanceof AppError && e.code === 'smime.untrusted');
  } finally {
    await other.cleanup();
  }
  await assert.rejects(verifyMessage(out, { trusted: trust, time: new Date(Date.now() + 3 * 365 * 86400_000) }), (e: unknown) => e instanceof AppError && e.code === 'smime.bad_chain' && /expired/.test(e.message));
});

test('decrypt fails cleanly on a flipped ciphertext byte (CBC and GCM)', async () => {
  for (const p of [bob, dave]) {
    const out = await encryptMessage(MESSAGE, [{ certificate: p.certificate }]);
    const split = splitMessage(out);
    const der = Buffer.from(latin1(split.body), 'base64');
    der[der.length - 20]! ^= 0x01; // inside the last ciphertext blocks (or the GCM tag region)
    const b64 = der.toString('base64').replace(/.{1,76}/g, '$&\r\n');
    const tampered = Buffer.concat([Buffer.from(out.subarray(0, out.length - split.body.length)), Buffer.from(b64)]);
    await assert.rejects(decryptMessage(tampered, { key: p.key, certificate: p.certificate }), (e: unknown) => e instanceof AppError && e.code === 'smime.decrypt_failed');
  }
});

test('bad recipient certificates are refused with a reason naming the problem', async () => {
  const now = Date.now();
  const cases: [string, Promise<Party>, string][] = [
    ['no email', party(pki, { email: 'noemail@example.com', key: 'rsa2048', noEmail: true }), 'cert.no_email'],
    ['expired', party(pki, { email: 'old@example.com', key: 'rsa2048', notBefore: new Date(now - 400 * 86400_000), notAfter: new Date(now - 86400_000) }), 'cert.expired'],
    ['not yet valid', party(pki, { email: 'future@example.com', key: 'rsa2048', notBefore: new Date(now + 86400_000), notAfter: new Date(now + 400 * 86400_000) }), 'cert.not_yet_valid'],
    ['no keyEncipherment', party(pki, { email: 'signonly@example.com', key: 'rsa2048', keyUsage: ['digitalSignature'] }), 'cert.no_encipherment'],
    ['EC without keyAgreement', party(pki, { email: 'ecsign@example.com', key: 'p256', keyUsage: ['digitalSignature'] }), 'cert.no_encipherment'],
    ['RSA-1024', party(pki, { email: 'weak@example.com', key: 'rsa1024' }), 'cert.weak_key'],
    ['EKU without emailProtection', party(pki, { email: 'tls@example.com', key: 'rsa2048', eku: ['clientAuth'] }), 'cert.no_email_protection'],
  ];
  for (const [name, pp, code] of cases) {
    const p = await pp;
    await assert.rejects(encryptMessage(MESSAGE, [{ certificate: p.certificate }]), (e: unknown) => e instanceof AppError && e.code === code && e.message.length > 20, name);
  }
});

test('bad messages are refused with a reason', async () => {
  const cases: [string, Uint8Array, string][] = [
    ['0 bytes', new Uint8Array(0), 'mime.empty'],
    ['no header/body separator', utf8('From: a@b.example\r\nSubject: x\r\n'), 'mime.no_separator'],
  ];
  for (const [name, msg, code] of cases) {
    await assert.rejects(encryptMessage(msg, [{ certificate: bob.certificate }]), (e: unknown) => e instanceof AppError && e.code === code, name);
    await assert.rejects(signMessage(msg, { certificate: signer.certificate, key: signer.key }), (e: unknown) => e instanceof AppError && e.code === code, name);
  }
  await assert.rejects(decryptMessage(MESSAGE, { key: bob.key, certificate: bob.certificate }), (e: unknown) => e instanceof AppError && e.code === 'smime.not_encrypted');
  await assert.rejects(verifyMessage(MESSAGE, { trusted: trust }), (e: unknown) => e instanceof AppError && e.code === 'smime.not_signed');
});

test('LF-only input is encrypted as CRLF and the Bcc is still dropped', async () => {
  const lf = new Uint8Array(Buffer.from(latin1(MESSAGE).replace(/\r\n/g, '\n'), 'latin1'));
  const out = await encryptMessage(lf, [{ certificate: bob.certificate }]);
  assert.ok(!latin1(out).includes('secret-boss'));
  assert.ok(!/[^\r]\n/.test(latin1(out)));
  const r = await decryptMessage(out, { key: bob.key, certificate: bob.certificate });
  assert.deepEqual(Buffer.from(r.entity), Buffer.from(INNER));
});

test('binary attachments survive byte for byte: encrypt keeps them, sign re-encodes them to base64', async () => {
  const { binaryAttachment, binaryAttachmentPayload } = await import('../mime/fixtures.js');
  const { splitMultipart, parseContentType, decodeTransfer, getHeader } = await import('../../src/mime/index.js');
  const payload = Buffer.from(binaryAttachmentPayload());
  const attachmentOf = (entity: Uint8Array): Buffer => {
    const top = splitMessage(entity);
    const ct = parseContentType(getHeader(top.headers, 'content-type')!.value);
    const part = splitMessage(splitMultipart(top.body, ct.params['boundary']!).parts[1]!);
    return Buffer.from(decodeTransfer(getHeader(part.headers, 'content-transfer-encoding')!.value, part.body));
  };
  const enc = await encryptMessage(binaryAttachment(), [{ certificate: bob.certificate }]);
  const d = await decryptMessage(enc, { key: bob.key, certificate: bob.certificate });
  assert.deepEqual(attachmentOf(d.entity), payload);
  const signed = await signMessage(binaryAttachment(), { certificate: signer.certificate, key: signer.key, chain: signer.chain });
  const v = await verifyMessage(signed, { trusted: trust });
  assert.match(fromUtf8(v.entity), /Content-Transfer-Encoding: base64/i);
  assert.deepEqual(attachmentOf(v.entity), payload);
});
