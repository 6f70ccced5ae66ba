/**
 * The pre-issuance linter, table-driven: certificates made by OpenSSL (`openssl x509 -req` with
 * our issuing CA's key) that follow the profile pass; each one that breaks one rule gets the
 * finding for that rule.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lintCertificate } from '../../src/ca/profile.js';
import { parseCertificate, type Certificate } from '../../src/pki/certificate.js';
import { decodePemAll } from '../../src/shared/bytes.js';
import { runOk } from '../helpers/exec.js';
import { caFixture, nodeCsr, opensslCsr, PASSPHRASE, type CaFixture, type CsrKey } from './helpers.js';

const BASE: Record<string, string> = {
  keyUsage: 'critical,digitalSignature,keyEncipherment',
  extendedKeyUsage: 'emailProtection',
  subjectAltName: 'email:alice@example.com',
  certificatePolicies: '2.23.140.1.5.1.3',
  crlDistributionPoints: 'URI:http://smime.example.test/crl/issuing.crl',
  authorityInfoAccess: 'OCSP;URI:http://smime.example.test/ocsp,caIssuers;URI:http://smime.example.test/ca/issuing.crt',
  subjectKeyIdentifier: 'hash',
  authorityKeyIdentifier: 'keyid',
};

interface Case {
  name: string;
  key?: CsrKey;
  subject?: string;
  /** Extension lines replacing BASE's (value null removes the extension). */
  ext?: Record<string, string | null>;
  md?: 'sha1' | 'sha256';
  days?: number;
  serial?: string;
  /** Self-signed with the subject's key instead of our issuing CA. */
  selfSigned?: boolean;
  /** Expected findings: [] or regexes that must all match some finding. */
  expect: RegExp[];
}

const EC_KU = { keyUsage: 'critical,digitalSignature,keyAgreement' };

const CASES: Case[] = [
  { name: 'conformant RSA-2048 (OpenSSL-made)', expect: [] },
  { name: 'conformant P-256 (OpenSSL-made)', key: 'p256', ext: EC_KU, expect: [] },
  { name: 'conformant P-384 with basicConstraints critical CA:FALSE', key: 'p384', ext: { ...EC_KU, basicConstraints: 'critical,CA:FALSE' }, expect: [] },
  { name: 'SHA-1 signature', md: 'sha1', expect: [/^signature: algorithm 1\.2\.840\.113549\.1\.1\.5 is not allowed/] },
  { name: 'keyUsage not critical', ext: { keyUsage: 'digitalSignature,keyEncipherment' }, expect: [/^keyUsage: must be critical/] },
  { name: 'RSA keyUsage with nonRepudiation', ext: { keyUsage: 'critical,digitalSignature,nonRepudiation,keyEncipherment' }, expect: [/^keyUsage: RSA keys must have exactly digitalSignature and keyEncipherment/] },
  { name: 'EC key with keyEncipherment', key: 'p256', expect: [/^keyUsage: EC keys must have exactly digitalSignature and keyAgreement/] },
  { name: 'keyUsage missing', ext: { keyUsage: null }, expect: [/^keyUsage: missing/] },
  { name: 'extKeyUsage with clientAuth', ext: { extendedKeyUsage: 'emailProtection,clientAuth' }, expect: [/^extKeyUsage: must be id-kp-emailProtection only/] },
  { name: 'extKeyUsage critical', ext: { extendedKeyUsage: 'critical,emailProtection' }, expect: [/^extKeyUsage: must not be critical/] },
  { name: 'subject with O', subject: '/O=Example KK/CN=alice@example.com', expect: [/^subject: attribute 2\.5\.4\.10 is not allowed/] },
  { name: 'subject CN not repeated in the SAN', ext: { subjectAltName: 'email:bob@example.com' }, expect: [/^subject: 'alice@example\.com' is not repeated in subjectAltName/] },
  { name: 'subjectAltName missing', ext: { subjectAltName: null }, expect: [/^subjectAltName: missing/] },
  { name: 'subjectAltName with a DNS name', ext: { subjectAltName: 'email:alice@example.com,DNS:example.com' }, expect: [/^subjectAltName: only rfc822Name and SmtpUTF8Mailbox are allowed/] },
  { name: 'subjectAltName domain not lower-case', ext: { subjectAltName: 'email:alice@Example.com' }, expect: [/^subjectAltName: rfc822Name 'alice@Example\.com' is not a normalised ASCII mailbox/] },
  { name: 'no CRL distribution point', ext: { crlDistributionPoints: null }, expect: [/^cRLDistributionPoints: missing/] },
  { name: 'https CRL distribution point', ext: { crlDistributionPoints: 'URI:https://smime.example.test/crl/issuing.crl' }, expect: [/^cRLDistributionPoints: 'https:\/\/smime\.example\.test\/crl\/issuing\.crl' is not an http:\/\/ URL/] },
  { name: 'AIA without caIssuers', ext: { authorityInfoAccess: 'OCSP;URI:http://smime.example.test/ocsp' }, expect: [/^authorityInfoAccess: no caIssuers http:\/\/ URL/] },
  { name: 'AIA missing', ext: { authorityInfoAccess: null }, expect: [/^authorityInfoAccess: missing/] },
  { name: 'another certificate policy', ext: { certificatePolicies: '2.23.140.1.5.1.1' }, expect: [/^certificatePolicies: must be exactly 2\.23\.140\.1\.5\.1\.3/] },
  { name: 'certificatePolicies missing', ext: { certificatePolicies: null }, expect: [/^certificatePolicies: missing/] },
  { name: 'AKI with issuer name and serial', ext: { authorityKeyIdentifier: 'keyid:always,issuer:always' }, expect: [/^authorityKeyIdentifier: must hold keyIdentifier only/] },
  { name: 'AKI missing', ext: { authorityKeyIdentifier: 'none' }, expect: [/^authorityKeyIdentifier: missing/] },
  { name: 'SKI missing', ext: { subjectKeyIdentifier: 'none' }, expect: [/^subjectKeyIdentifier: missing/] },
  { name: 'basicConstraints CA:TRUE', ext: { basicConstraints: 'critical,CA:TRUE' }, expect: [/^basicConstraints: cA must be false/] },
  { name: 'basicConstraints with pathlen', ext: { basicConstraints: 'CA:FALSE,pathlen:0' }, expect: [/^basicConstraints: /] },
  { name: 'an extension outside the profile', ext: { nsComment: '"made by openssl"' }, expect: [/^extensions: 2\.16\.840\.1\.113730\.1\.13 is not part of the profile/] },
  { name: 'validity of 900 days', days: 900, expect: [/^validity: longer than 825 days/] },
  { name: 'validity of 825 days counted inclusively (one second too long)', days: 825, expect: [/^validity: longer than 825 days/] },
  { name: 'RSA-1024 key', key: 'rsa1024', expect: [/^subjectPublicKeyInfo: the RSA key has 1024 bits; at least 2048 are required/] },
  { name: 'serial 1', serial: '1', expect: [/^serialNumber: only 1 bits; at least 64 random bits are required/] },
  { name: 'not issued by our issuing CA (self-signed)', selfSigned: true, expect: [/^issuer: does not match the issuing CA subject/, /^signature: does not verify with the issuing CA's key/, /^authorityKeyIdentifier: (missing|does not match)/] },
];

describe('ca/profile lintCertificate', () => {
  let f: CaFixture;
  let issuing: Certificate;
  let n = 0;
  const csrs = new Map<string, { csrPath: string; keyPath: string }>();

  before(async () => {
    f = await caFixture();
    issuing = f.authority.caCertificate('issuing');
  });
  after(async () => {
    await f.close();
  });

  async function csrFor(key: CsrKey, subject: string) {
    const id = `${key} ${subject}`;
    let c = csrs.get(id);
    if (!c) {
      const made = await opensslCsr(f.dir, { key, subject });
      const i = csrs.size;
      c = { csrPath: join(f.dir, `lint-${i}.csr`), keyPath: join(f.dir, `lint-${i}.key`) };
      await Promise.all([writeFile(c.csrPath, made.csrPem), writeFile(c.keyPath, made.keyPem)]);
      csrs.set(id, c);
    }
    return c;
  }

  async function make(c: Case): Promise<Uint8Array> {
    const i = ++n;
    const csr = await csrFor(c.key ?? 'rsa2048', c.subject ?? '/CN=alice@example.com');
    const ext = { ...BASE, ...c.ext };
    const lines = Object.entries(ext).flatMap(([k, v]) => (v === null ? (k === 'subjectKeyIdentifier' || k === 'authorityKeyIdentifier' ? [`${k}=none`] : []) : [`${k}=${v}`]));
    const extPath = join(f.dir, `lint-${i}.cnf`);
    const out = join(f.dir, `lint-${i}.pem`);
    await writeFile(extPath, lines.join('\n') + '\n');
    const signer = c.selfSigned ? ['-signkey', csr.keyPath] : ['-CA', f.issuingPath, '-CAkey', f.issuingKeyPath, '-passin', `pass:${PASSPHRASE}`];
    await runOk('openssl', [
      'x509', '-req', '-in', csr.csrPath, ...signer,
      '-set_serial', c.serial ?? '0x4f1e2d3c4b5a69788796a5b4c3d2e1f0', '-days', String(c.days ?? 365), `-${c.md ?? 'sha256'}`,
      '-extfile', extPath, '-out', out,
    ]);
    return decodePemAll(await readFile(out, 'utf8'))[0]!.der;
  }

  for (const c of CASES) {
    it(c.name, async () => {
      const der = await make(c);
      const findings = lintCertificate(der, { issuer: issuing });
      if (c.expect.length === 0) {
        assert.deepEqual(findings, []);
        return;
      }
      for (const re of c.expect) assert.ok(findings.some((x) => re.test(x)), `expected a finding matching ${re}, got:\n  ${findings.join('\n  ')}`);
    });
  }

  it('our own certificates lint clean, also without the issuer at hand', async () => {
    for (const [key, csrPem] of [
      ['rsa2048', (await opensslCsr(f.dir, { key: 'rsa2048', subject: '/CN=carol@example.com' })).csrPem],
      ['p384', (await opensslCsr(f.dir, { key: 'p384', subject: '/CN=carol@example.com' })).csrPem],
      ['utf8', nodeCsr({ cn: 'ユーザー@例え.jp' }).csrPem],
    ] as const) {
      const address = key === 'utf8' ? 'ユーザー@例え.jp' : 'carol@example.com';
      const issued = await f.authority.issue({ csr: csrPem, authorizedAddress: address, actor: 'test' });
      assert.deepEqual(lintCertificate(issued.certificate.der, { issuer: issuing }), [], key);
      assert.deepEqual(lintCertificate(issued.certificate.der), [], key);
    }
  });

  it('a stricter validity ceiling is honoured', async () => {
    const der = await make(CASES[0]!);
    // openssl -days 365 spans 365 days plus the second notAfter itself is valid (RFC 5280 counts both ends).
    assert.deepEqual(lintCertificate(der, { issuer: issuing, maxValidityDays: 366 }), []);
    assert.deepEqual(lintCertificate(der, { issuer: issuing, maxValidityDays: 365 }), ['validity: longer than 365 days']);
  });

  it('the CA certificates themselves are not end-entity certificates', () => {
    const findings = lintCertificate(issuing.der);
    assert.ok(findings.some((x) => /^basicConstraints: cA must be false/.test(x)), findings.join('\n'));
    assert.ok(findings.some((x) => /^keyUsage: RSA keys must have exactly/.test(x)));
    assert.ok(findings.some((x) => /^validity: longer than 825 days/.test(x)));
  });

  it('garbage is one structural finding, not an exception', () => {
    for (const junk of [new Uint8Array(0), Uint8Array.of(1, 2, 3), Uint8Array.of(0x30, 0x00)]) {
      const findings = lintCertificate(junk);
      assert.equal(findings.length, 1);
      assert.match(findings[0]!, /^structure: the certificate cannot be read/);
    }
  });

  it('parses what it lints (sanity: the conformant case is a readable S/MIME certificate)', async () => {
    const der = await make(CASES[0]!);
    const cert = parseCertificate(der);
    assert.deepEqual(cert.emails, ['alice@example.com']);
    assert.deepEqual(cert.extKeyUsage, ['1.3.6.1.5.5.7.3.4']);
  });
});
