/**
 * Issuance end to end: openssl-made requests in, certificates that OpenSSL verifies for S/MIME
 * encryption and signing against our chain out; every bad request refused with a 4xx AppError,
 * nothing stored, the refusal audited; mail encrypted by the engine decrypts in OpenSSL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lintCertificate } from '../../src/ca/profile.js';
import { DAY_MS } from '../../src/ca/build.js';
import { encryptMessage } from '../../src/smime/index.js';
import { decodePemAll, encodePem } from '../../src/shared/bytes.js';
import { AppError } from '../../src/shared/errors.js';
import { opensslCmsDecrypt } from '../helpers/clients.js';
import { auditActions, caFixture, countIssued, nodeCsr, opensslCsr, opensslRun, type CaFixture, type CsrKey } from './helpers.js';

describe('ca issue', () => {
  let f: CaFixture;
  let n = 0;
  before(async () => {
    f = await caFixture();
  });
  after(async () => {
    await f.close();
  });

  async function save(pem: string): Promise<string> {
    const path = join(f.dir, `issued-${++n}.pem`);
    await writeFile(path, pem);
    return path;
  }

  async function opensslVerify(certPath: string, purpose: string) {
    return opensslRun(['verify', '-purpose', purpose, '-CAfile', f.rootPath, '-untrusted', f.issuingPath, certPath]);
  }

  for (const key of ['rsa2048', 'rsa3072', 'p256', 'p384'] as CsrKey[]) {
    it(`${key}: openssl verify -purpose ${key.startsWith('p') ? 'smimesign' : 'smimeencrypt and smimesign'} passes; every extension follows the profile`, async () => {
      const { csrPem } = await opensslCsr(f.dir, { key, subject: '/CN=alice@example.com/O=Ignored Corp/C=JP', san: 'email:alice@example.com' });
      const r = await f.authority.issue({ csr: csrPem, authorizedAddress: 'alice@example.com', actor: 'alice@example.com' });
      const path = await save(r.pem);
      for (const purpose of key.startsWith('p') ? ['smimesign'] : ['smimeencrypt', 'smimesign']) {
        const v = await opensslVerify(path, purpose);
        assert.equal(v.code, 0, `${purpose}: ${v.stdout}${v.stderr}`);
        assert.match(v.stdout.toString(), /: OK/);
      }
      if (key.startsWith('p')) {
        // OpenSSL's smimeencrypt purpose insists on keyEncipherment, which the profile forbids for
        // EC keys (they get keyAgreement): the only failure is that one. ECDH encryption to such a
        // certificate is proven below with openssl cms -decrypt.
        const v = await opensslVerify(path, 'smimeencrypt');
        assert.notEqual(v.code, 0);
        assert.match(v.stdout.toString() + v.stderr, /error 26 at 0 depth lookup: unsuitable certificate purpose/);
      }
      assert.deepEqual(lintCertificate(r.certificate.der, { issuer: f.authority.caCertificate('issuing') }), []);

      // What OpenSSL reads, extension by extension.
      const text = (await opensslRun(['x509', '-in', path, '-noout', '-text'])).stdout.toString();
      assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
      assert.match(text, /Subject: CN = alice@example\.com\n/, 'only the CN, whatever else the request asked for');
      assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, (Key Encipherment|Key Agreement)\n/);
      assert.match(text, key.startsWith('p') ? /Digital Signature, Key Agreement/ : /Digital Signature, Key Encipherment/);
      assert.match(text, /X509v3 Extended Key Usage: \n\s+E-mail Protection\n/);
      assert.match(text, /X509v3 Subject Alternative Name: \n\s+email:alice@example\.com\n/);
      assert.match(text, /X509v3 Certificate Policies: \n\s+Policy: 2\.23\.140\.1\.5\.1\.3\n/);
      assert.match(text, /X509v3 CRL Distribution Points: \n\s+Full Name:\n\s+URI:http:\/\/smime\.example\.test\/crl\/issuing\.crl\n/);
      assert.match(text, /Authority Information Access: \n\s+OCSP - URI:http:\/\/smime\.example\.test\/ocsp\n\s+CA Issuers - URI:http:\/\/smime\.example\.test\/ca\/issuing\.crt\n/);
      assert.match(text, /X509v3 Authority Key Identifier: \n\s+[0-9A-F:]{59}\n/);
      assert.match(text, /X509v3 Subject Key Identifier: \n\s+[0-9A-F:]{59}\n/);
      assert.doesNotMatch(text, /Basic Constraints/);
      assert.doesNotMatch(text, /sha1With/i);

      const c = r.certificate;
      assert.equal(c.serialHex.length, 32, 'a 16-octet random serial');
      assert.ok(parseInt(c.serialHex.slice(0, 2), 16) < 0x80);
      assert.equal(c.notAfter.getTime() - c.notBefore.getTime(), 365 * DAY_MS - 1000, 'one year, counted inclusively');
      assert.ok(Math.abs(c.notBefore.getTime() - (Date.now() - 5 * 60_000)) < 60_000, 'back-dated five minutes');
      assert.equal(r.chainPem, f.issuingPem);
    });
  }

  it('serials differ between certificates', async () => {
    const a = await f.authority.issue({ csr: (await opensslCsr(f.dir, { key: 'p256', subject: '/CN=s1@example.com' })).csrPem, authorizedAddress: 's1@example.com', actor: 't' });
    const b = await f.authority.issue({ csr: (await opensslCsr(f.dir, { key: 'p256', subject: '/CN=s1@example.com' })).csrPem, authorizedAddress: 's1@example.com', actor: 't' });
    assert.notEqual(a.certificate.serialHex, b.certificate.serialHex);
  });

  it('a non-ASCII mailbox goes into SmtpUTF8Mailbox; OpenSSL still verifies it', async () => {
    const r = await f.authority.issue({ csr: nodeCsr({ cn: 'ユーザー@例え.jp' }).csrPem, authorizedAddress: 'ユーザー@例え.jp', actor: 't' });
    assert.deepEqual(r.certificate.emails, ['ユーザー@例え.jp']);
    const path = await save(r.pem);
    const v = await opensslVerify(path, 'smimesign');
    assert.equal(v.code, 0, v.stderr);
    const san = (await opensslRun(['x509', '-in', path, '-noout', '-ext', 'subjectAltName'])).stdout.toString();
    assert.match(san, /othername: (SmtpUTF8Mailbox|1\.3\.6\.1\.5\.5\.7\.8\.9)/i);
  });

  it('a CSR without a name gets the authorised address from CN or emailAddress; the authorised spelling wins', async () => {
    const { csrPem } = await opensslCsr(f.dir, { key: 'p256', subject: '/emailAddress=DAVE@Example.com' });
    const r = await f.authority.issue({ csr: csrPem, authorizedAddress: 'dave@example.com', actor: 't' });
    assert.deepEqual(r.certificate.emails, ['dave@example.com']);
    assert.equal(r.certificate.subject, 'CN=dave@example.com');
  });

  it('validity: configurable per request and by default, at most 825 days, capped by the issuing CA', async () => {
    const { csrPem } = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=val@example.com' });
    const r = await f.authority.issue({ csr: csrPem, authorizedAddress: 'val@example.com', validityDays: 825, actor: 't' });
    assert.equal(r.certificate.notAfter.getTime() - r.certificate.notBefore.getTime(), 825 * DAY_MS - 1000);
    for (const days of [0, 826, 1.5, -1]) {
      await assert.rejects(f.authority.issue({ csr: csrPem, authorizedAddress: 'val@example.com', validityDays: days, actor: 't' }), (e: unknown) => e instanceof AppError && e.code === 'ca.bad_validity' && e.status === 400);
    }
    const short = await caFixture({ validityDays: 30 });
    try {
      const s = await short.authority.issue({ csr: (await opensslCsr(short.dir, { key: 'p256', subject: '/CN=val@example.com' })).csrPem, authorizedAddress: 'val@example.com', actor: 't' });
      assert.equal(s.certificate.notAfter.getTime() - s.certificate.notBefore.getTime(), 30 * DAY_MS - 1000);
    } finally {
      await short.close();
    }
  });

  describe('bad input: a clear 4xx error, nothing issued, the attempt audited', () => {
    const cases: Array<{ name: string; csr: () => Promise<string | Uint8Array>; address?: string; code: string; status: number; message: RegExp }> = [
      { name: 'a CSR for another address', csr: async () => (await opensslCsr(f.dir, { key: 'rsa2048', subject: '/CN=mallory@example.com' })).csrPem, code: 'ca.csr_wrong_address', status: 403, message: /for 'mallory@example\.com', but the verified address is victim@example\.com/ },
      { name: 'another address hidden in the SAN', csr: async () => (await opensslCsr(f.dir, { key: 'rsa2048', subject: '/CN=victim@example.com', san: 'email:victim@example.com,email:boss@example.com' })).csrPem, code: 'ca.csr_wrong_address', status: 403, message: /boss@example\.com/ },
      { name: 'a CSR naming no mailbox', csr: async () => (await opensslCsr(f.dir, { key: 'rsa2048', subject: '/CN=Victim/O=Example' })).csrPem, code: 'ca.csr_no_address', status: 400, message: /names no mailbox/ },
      { name: 'a key under 2048 bits', csr: async () => (await opensslCsr(f.dir, { key: 'rsa1024', subject: '/CN=victim@example.com' })).csrPem, code: 'ca.csr_weak_key', status: 400, message: /1024 bits; at least 2048/ },
      { name: 'a SHA-1 signed CSR', csr: async () => (await opensslCsr(f.dir, { key: 'rsa2048', subject: '/CN=victim@example.com', md: 'sha1' })).csrPem, code: 'ca.csr_weak_signature', status: 400, message: /SHA-1/ },
      {
        name: 'a CSR with a bad signature',
        csr: async () => {
          const der = decodePemAll((await opensslCsr(f.dir, { key: 'rsa2048', subject: '/CN=victim@example.com' })).csrPem)[0]!.der.slice();
          der[der.length - 5]! ^= 0x55;
          return encodePem('CERTIFICATE REQUEST', der);
        },
        code: 'ca.csr_bad_signature',
        status: 400,
        message: /does not verify/,
      },
      { name: 'garbage', csr: async () => 'this is not a certificate request', code: 'ca.csr_malformed', status: 400, message: /not a valid PKCS#10 request/ },
      { name: 'binary garbage', csr: async () => Uint8Array.of(0x30, 0x82, 0xff, 0xff, 1, 2, 3), code: 'ca.csr_malformed', status: 400, message: /not a valid PKCS#10 request/ },
      { name: 'an address that cannot go into a certificate', address: 'not an address', csr: async () => (await opensslCsr(f.dir, { key: 'p256', subject: '/CN=victim@example.com' })).csrPem, code: 'ca.bad_address', status: 400, message: /cannot go into a certificate/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const csr = await c.csr();
        const before = await countIssued(f.database);
        const auditBefore = (await auditActions(f.database)).length;
        await assert.rejects(f.authority.issue({ csr, authorizedAddress: c.address ?? 'victim@example.com', actor: 'victim@example.com' }), (e: unknown) => {
          assert.ok(e instanceof AppError, String(e));
          assert.equal(e.code, c.code, e.message);
          assert.equal(e.status, c.status);
          assert.match(e.message, c.message);
          return true;
        });
        assert.equal(await countIssued(f.database), before, 'nothing issued');
        const added = (await auditActions(f.database)).slice(auditBefore);
        assert.equal(added.length, 1);
        assert.equal(added[0]!.action, 'cert.issue_refused');
        assert.equal(added[0]!.actor, 'victim@example.com');
        assert.equal(added[0]!.detail?.['code'], c.code);
      });
    }
  });

  it('renewal re-keys: the same key is not certified twice for a mailbox', async () => {
    const csr = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=erin@example.com' });
    await f.authority.issue({ csr: csr.csrPem, authorizedAddress: 'erin@example.com', actor: 't' });
    await assert.rejects(f.authority.issue({ csr: csr.csrPem, authorizedAddress: 'erin@example.com', actor: 't' }), (e: unknown) => e instanceof AppError && e.code === 'ca.key_reused' && e.status === 409);
    const fresh = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=erin@example.com' });
    const renewed = await f.authority.issue({ csr: fresh.csrPem, authorizedAddress: 'erin@example.com', actor: 't' });
    const all = await f.authority.issuedFor('erin@example.com');
    assert.equal(all.length, 2, 'the older certificate stays in the directory');
    assert.equal(all[0]!.serialHex, renewed.certificate.serialHex, 'newest first');
  });

  it('issued certificates are in the directory tables (source issued, authority issuing) and audited', async () => {
    const { csrPem } = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=frank@example.com' });
    const r = await f.authority.issue({ csr: csrPem, authorizedAddress: 'frank@example.com', actor: 'admin:root' });
    const row = await f.authority.findIssued(r.certificate.serialHex.toUpperCase());
    assert.equal(row?.id, r.id);
    assert.equal(row?.email, 'frank@example.com');
    assert.equal(row?.status, 'active');
    const entry = (await auditActions(f.database)).filter((a) => a.action === 'cert.issued').at(-1)!;
    assert.equal(entry.actor, 'admin:root');
    assert.equal(entry.subject, 'frank@example.com');
    assert.equal(entry.detail?.['serial'], r.certificate.serialHex);
    assert.equal(entry.detail?.['key'], 'P-256');
  });

  it('checkRequest runs the same checks without issuing or auditing', async () => {
    const good = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=gina@example.com' });
    const auditBefore = (await auditActions(f.database)).length;
    const before = await countIssued(f.database);
    const { mailbox } = await f.authority.checkRequest({ csr: good.csrPem, authorizedAddress: 'gina@example.com' });
    assert.equal(mailbox.address, 'gina@example.com');
    await assert.rejects(f.authority.checkRequest({ csr: good.csrPem, authorizedAddress: 'hank@example.com' }), (e: unknown) => e instanceof AppError && e.code === 'ca.csr_wrong_address');
    assert.equal(await countIssued(f.database), before);
    assert.equal((await auditActions(f.database)).length, auditBefore);
  });

  for (const key of ['rsa2048', 'p256'] as const) {
    it(`a mail encrypted by the engine to a freshly issued ${key} certificate decrypts in OpenSSL`, async () => {
      const csr = await opensslCsr(f.dir, { key, subject: '/CN=ivy@example.com' });
      const r = await f.authority.issue({ csr: csr.csrPem, authorizedAddress: 'ivy@example.com', actor: 't' });
      const message = new TextEncoder().encode('From: sender@example.org\r\nTo: ivy@example.com\r\nSubject: Quarterly figures\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe figures are attached. 数字は添付のとおりです。\r\n');
      const eml = await encryptMessage(message, [{ certificate: r.certificate }]);
      const out = await opensslCmsDecrypt(eml, { certPem: r.pem, keyPem: csr.keyPem });
      assert.ok(out.ok, out.stderr);
      assert.match(out.output.toString('utf8'), /数字は添付のとおりです。/);
      assert.match(out.output.toString('utf8'), /The figures are attached\./);
    });
  }

  it('a signer that produces a bad signature is caught by the pre-issuance check (nothing issued)', async () => {
    const { Authority } = await import('../../src/ca/authority.js');
    const { createSoftwareSigner, decryptPrivateKey } = await import('../../src/ca/signer.js');
    const broken = new Authority({
      store: f.store,
      audit: f.audit,
      publicUrl: 'http://smime.example.test',
      signerFor: async (record, passphrase) => {
        const real = createSoftwareSigner(decryptPrivateKey(record.keyEncrypted!, passphrase));
        return record.id === 'root' ? real : { ...real, sign: async () => new Uint8Array(256).fill(7) };
      },
    });
    await broken.load('test-ca-passphrase');
    const before = await countIssued(f.database);
    const { csrPem } = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=jack@example.com' });
    await assert.rejects(broken.issue({ csr: csrPem, authorizedAddress: 'jack@example.com', actor: 't' }), (e: unknown) => e instanceof AppError && e.code === 'ca.profile_violation' && e.status === 500 && /signature: does not verify/.test(e.message));
    assert.equal(await countIssued(f.database), before);
  });
});
