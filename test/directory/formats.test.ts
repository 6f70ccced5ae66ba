/**
 * Certificate containers: PEM, DER, certs-only PKCS#7 (openssl crl2pkcs7), PKCS#12 (openssl pkcs12
 * -export, legacy 3DES and PBES2/AES), and what is refused (garbage, truncation, bombs) with a code.
 * The .p7c the directory writes is read back by openssl.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestPki, type IssuedCert, type TestPki } from '../helpers/pki.js';
import { runOk } from '../helpers/exec.js';
import { certsOnlyPkcs7, MAX_CERTIFICATES_PER_INPUT, MAX_INPUT_BYTES, readCertificateInput } from '../../src/directory/formats.js';
import { readPkcs12Certificates } from '../../src/directory/pkcs12.js';
import { AppError } from '../../src/shared/errors.js';
import { concat, utf8 } from '../../src/shared/bytes.js';
import { header, seq, octets, bitString } from '../../src/pki/der.js';
import { cert, openTestDirectory, tempDir, trustTestPki } from './helpers.js';

let pki: TestPki;
let alice: IssuedCert;
let bob: IssuedCert;
let tmp: { path: string; remove(): Promise<void> };

before(async () => {
  [pki, tmp] = await Promise.all([createTestPki(), tempDir()]);
  [alice, bob] = await Promise.all([
    pki.issue({ email: 'alice@example.com', key: 'rsa2048' }),
    pki.issue({ email: 'bob@example.com', key: 'p256', p12Format: 'pbes2-aes256' }),
  ]);
});
after(async () => {
  await pki?.cleanup();
  await tmp?.remove();
});

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof AppError, String(e));
    assert.ok(!e.message.includes('\n'));
    return e.code;
  }
  assert.fail('expected a rejection');
}

const fps = (certs: { fingerprint256: string }[]) => certs.map((c) => c.fingerprint256);

describe('reading certificate containers', () => {
  it('PEM (certificate + chain), DER, PKCS#7 DER and PEM from openssl crl2pkcs7', async () => {
    const leaf = cert(alice.certPem);
    const inter = cert(pki.intermediate.certPem);
    assert.deepEqual(fps(readCertificateInput(utf8(alice.certPem + alice.chainPem)).certificates), [leaf.fingerprint256, inter.fingerprint256]);
    const der = readCertificateInput(leaf.der);
    assert.equal(der.format, 'der');
    assert.deepEqual(fps(der.certificates), [leaf.fingerprint256]);
    const p7der = (await runOk('openssl', ['crl2pkcs7', '-nocrl', '-certfile', alice.certPath, '-certfile', alice.chainPath, '-outform', 'DER'])).stdout;
    const p7 = readCertificateInput(new Uint8Array(p7der));
    assert.equal(p7.format, 'pkcs7');
    assert.deepEqual(new Set(fps(p7.certificates)), new Set([leaf.fingerprint256, inter.fingerprint256]));
    const p7pem = (await runOk('openssl', ['crl2pkcs7', '-nocrl', '-certfile', alice.certPath])).stdout;
    assert.deepEqual(fps(readCertificateInput(new Uint8Array(p7pem)).certificates), [leaf.fingerprint256]);
  });

  it('PKCS#12: legacy PBE-SHA1-3DES and PBES2 AES-256 (openssl 3 default), certificates only', () => {
    for (const c of [alice, bob]) {
      const ders = readPkcs12Certificates(new Uint8Array(c.p12), c.p12Password);
      assert.deepEqual(new Set(ders.map((d) => cert(Buffer.from(d)).fingerprint256)), new Set([cert(c.certPem).fingerprint256, cert(pki.intermediate.certPem).fingerprint256]));
      assert.equal(readCertificateInput(new Uint8Array(c.p12), { p12Password: c.p12Password }).format, 'pkcs12');
    }
  });

  it('PKCS#12: a wrong or missing password is said so; an unencrypted certificate bag needs none', async () => {
    assert.equal(code(() => readCertificateInput(new Uint8Array(alice.p12), { p12Password: 'wrong' })), 'p12.bad_password');
    assert.equal(code(() => readCertificateInput(new Uint8Array(bob.p12), { p12Password: 'wrong' })), 'p12.bad_password');
    assert.equal(code(() => readCertificateInput(new Uint8Array(alice.p12))), 'p12.password_required');
    const plain = join(tmp.path, 'plain.p12');
    await runOk('openssl', ['pkcs12', '-export', '-nokeys', '-in', alice.certPath, '-certpbe', 'NONE', '-passout', 'pass:', '-out', plain]);
    const { readFile } = await import('node:fs/promises');
    const ders = readPkcs12Certificates(new Uint8Array(await readFile(plain)), undefined);
    assert.deepEqual(ders.map((d) => cert(Buffer.from(d)).fingerprint256), [cert(alice.certPem).fingerprint256]);
  });

  it('refuses garbage, truncation, a key instead of a certificate, and certificate bombs, with a code', () => {
    const leafDer = cert(alice.certPem).der;
    assert.equal(code(() => readCertificateInput(new Uint8Array(0))), 'cert.empty');
    assert.equal(code(() => readCertificateInput(utf8('hello, this is not a certificate'))), 'cert.malformed');
    assert.equal(code(() => readCertificateInput(crypto.getRandomValues(new Uint8Array(3000)))), 'cert.malformed');
    assert.equal(code(() => readCertificateInput(leafDer.subarray(0, leafDer.length >> 1))), 'cert.malformed');
    assert.equal(code(() => readCertificateInput(utf8(alice.keyPem))), 'cert.not_certificate');
    assert.equal(code(() => readCertificateInput(utf8('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'))), 'cert.malformed');
    // deeply nested ASN.1 (indefinite lengths, 10,000 levels)
    const deep = concat([new Uint8Array(20_000).map((_, i) => (i % 2 ? 0x80 : 0x30)), new Uint8Array(20_000)]);
    const e1 = (() => {
      try {
        readCertificateInput(deep);
      } catch (e) {
        return e as AppError;
      }
      return undefined;
    })();
    assert.equal(e1?.code, 'cert.malformed');
    assert.match(e1!.message, /nesting deeper than/);
    // a certificate-shaped structure of 200 KB
    const huge = seq(seq(octets(new Uint8Array(200_000))), seq(), bitString(new Uint8Array(4)));
    assert.equal(code(() => readCertificateInput(huge)), 'cert.too_large');
    // a bundle of too many certificates, and a file over the size limit
    const many = certsOnlyPkcs7(Array.from({ length: MAX_CERTIFICATES_PER_INPUT + 1 }, () => cert(alice.certPem)));
    assert.equal(code(() => readCertificateInput(many)), 'input.too_many');
    assert.equal(code(() => readCertificateInput(concat([header(0x30, MAX_INPUT_BYTES + 10), new Uint8Array(MAX_INPUT_BYTES + 10)]))), 'input.too_large');
    // a PKCS#7 that is not signedData
    assert.equal(code(() => readCertificateInput(seq(new Uint8Array([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]), new Uint8Array([0xa0, 0x02, 0x04, 0x00])))), 'input.unrecognized');
  });

  it('the certs-only .p7c the directory serves is read by openssl', async () => {
    const der = certsOnlyPkcs7([cert(alice.certPem), cert(pki.intermediate.certPem)]);
    const path = join(tmp.path, 'out.p7c');
    await writeFile(path, der);
    const r = await runOk('openssl', ['pkcs7', '-inform', 'DER', '-in', path, '-print_certs', '-noout']);
    const text = r.stdout.toString();
    assert.match(text, /subject=CN = alice@example.com/);
    assert.match(text, /subject=CN = smimegw Test Issuing CA/);
  });
});

describe('admin import of every format', () => {
  it('imports PEM, DER, .p7c and both .p12 kinds; learns the intermediate once; re-import is unchanged', async () => {
    const t = await openTestDirectory();
    try {
      await t.store.addTrustedRoot(cert(pki.root.certPem), 'test'); // the intermediate comes with the files
      const carol = await pki.issue({ email: 'carol@example.com', key: 'rsa2048' });
      const dave = await pki.issue({ email: 'dave@example.com', key: 'rsa2048' });
      const p7 = (await runOk('openssl', ['crl2pkcs7', '-nocrl', '-certfile', dave.certPath, '-certfile', dave.chainPath, '-outform', 'DER'])).stdout;
      const items = [
        { name: 'alice.p12', bytes: new Uint8Array(alice.p12) },
        { name: 'carol.der', bytes: cert(carol.certPem).der },
        { name: 'dave.p7c', bytes: new Uint8Array(p7) },
        { name: 'chain.pem', bytes: utf8(pki.intermediate.certPem) },
      ];
      // one password for the whole run: alice's; bob's file (another password) is rejected with the reason
      const s = await t.directory.importCertificates([...items, { name: 'bob.p12', bytes: new Uint8Array(bob.p12) }], { p12Password: alice.p12Password });
      assert.deepEqual([s.added, s.rejected, s.intermediates], [3, 1, 1], JSON.stringify(s.outcomes));
      assert.equal(s.outcomes.find((o) => o.file === 'bob.p12')?.reason?.code, 'p12.bad_password');
      for (const a of ['alice@example.com', 'carol@example.com', 'dave@example.com']) {
        const r = await t.directory.lookup(a);
        assert.equal(r.entry?.source, 'imported', a);
        assert.equal(r.entry?.chain.length, 2, 'leaf + intermediate');
      }
      const again = await t.directory.importCertificates(items, { p12Password: alice.p12Password });
      assert.deepEqual([again.added, again.unchanged, again.rejected, again.intermediates], [0, 4, 0, 0]);
      const b = await t.directory.importCertificates([{ name: 'bob.p12', bytes: new Uint8Array(bob.p12) }], { p12Password: bob.p12Password });
      assert.equal(b.added, 1);
      assert.equal((await t.directory.lookup('bob@example.com')).entry?.algorithms.keyTransport, 'ecdh-sha256kdf');
    } finally {
      await t.close();
    }
  });

  it('SmtpUTF8 mailboxes: a UTF-8 local part is found exactly, the domain case-insensitively', async () => {
    const t = await openTestDirectory();
    try {
      await trustTestPki(t, pki);
      const { issueCustom, EE_EXT } = await import('./helpers.js');
      const c = await issueCustom(tmp.path, {
        cn: 'utf8 user',
        // a section, so that the comma of FORMAT:UTF8 (the value is UTF-8, not Latin-1) is not a list separator
        ext: [...EE_EXT('@san'), '[san]', 'otherName.0 = 1.3.6.1.5.5.7.8.9;FORMAT:UTF8,UTF8:jörg.müller@Beispiel.example'],
        issuer: { certPath: pki.intermediate.certPath, keyPath: pki.intermediate.keyPath },
      });
      const s = await t.directory.importCertificates([{ name: 'utf8.pem', bytes: utf8(c.certPem) }]);
      assert.equal(s.added, 1, JSON.stringify(s.outcomes));
      assert.deepEqual(s.outcomes[0]?.addresses, ['jörg.müller@beispiel.example']);
      assert.ok((await t.directory.lookup('jörg.müller@BEISPIEL.example')).entry);
      assert.equal((await t.directory.lookup('Jörg.müller@beispiel.example')).entry, null);
      assert.equal((await t.directory.lookup('jorg.muller@beispiel.example')).entry, null);
    } finally {
      await t.close();
    }
  });
});
