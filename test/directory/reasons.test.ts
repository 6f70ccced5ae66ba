/**
 * Every rejection reason, each from a real certificate (openssl-made), with its stable code and a
 * one-line message; nothing is stored for a rejected certificate, and the directory keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestPki, type IssuedCert, type TestPki } from '../helpers/pki.js';
import { checkCertificate, REASON_CODES, type ReasonCode, type TrustStore } from '../../src/directory/validate.js';
import { certificates } from '../../src/db/schema.js';
import { cert, CA_EXT, DAY, EE_EXT, issueCustom, openTestDirectory, tempDir, trustTestPki, type CustomCert, type TestDirectory } from './helpers.js';

let pki: TestPki;
let other: TestPki;
let tmp: { path: string; remove(): Promise<void> };
let t: TestDirectory;

before(async () => {
  [pki, other, tmp] = await Promise.all([createTestPki(), createTestPki(), tempDir()]);
  t = await openTestDirectory();
  await trustTestPki(t, pki);
});
after(async () => {
  await t?.close();
  await Promise.all([pki?.cleanup(), other?.cleanup(), tmp?.remove()]);
});

async function rejectedWith(name: string, pem: string | Uint8Array, code: ReasonCode): Promise<string> {
  const before = await t.database.db.select({ id: certificates.id }).from(certificates);
  const s = await t.directory.importCertificates([{ name, bytes: typeof pem === 'string' ? Buffer.from(pem) : pem }]);
  assert.equal(s.rejected, 1, `${name}: ${JSON.stringify(s.outcomes)}`);
  assert.equal(s.added, 0);
  const o = s.outcomes[0]!;
  assert.equal(o.reason?.code, code, `${name}: ${o.reason?.message}`);
  assert.ok(!o.reason!.message.includes('\n'), 'one line');
  assert.ok(o.reason!.message.startsWith(`${name}: `), 'the file is named');
  const afterRows = await t.database.db.select({ id: certificates.id }).from(certificates);
  assert.equal(afterRows.length, before.length, 'nothing stored');
  return o.reason!.message;
}

const issuing = () => ({ certPath: pki.intermediate.certPath, keyPath: pki.intermediate.keyPath });

describe('rejection reasons (import)', () => {
  it('cert.no_email: no rfc822Name and no emailAddress', async () => {
    const c = await pki.issue({ email: 'x@example.com', key: 'rsa2048', noEmail: true });
    assert.match(await rejectedWith('noemail.pem', c.certPem, 'cert.no_email'), /names no e-mail address/);
  });

  it('cert.expired and cert.not_yet_valid', async () => {
    const [old, future] = await Promise.all([
      pki.issue({ email: 'old@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) }),
      pki.issue({ email: 'future@example.com', key: 'rsa2048', notBefore: new Date(Date.now() + 10 * DAY) }),
    ]);
    assert.match(await rejectedWith('old.pem', old.certPem, 'cert.expired'), /expired on \d{4}-/);
    assert.match(await rejectedWith('future.pem', future.certPem, 'cert.not_yet_valid'), /not valid before/);
  });

  it('cert.weak_key: RSA-1024', async () => {
    const c = await pki.issue({ email: 'weak@example.com', key: 'rsa1024' });
    assert.match(await rejectedWith('weak.pem', c.certPem, 'cert.weak_key'), /1024-bit RSA key/);
  });

  it('cert.unsupported_key: Ed25519', async () => {
    const c = await issueCustom(tmp.path, { cn: 'ed@example.com', key: 'ed25519', ext: EE_EXT('email:ed@example.com').map((l) => l.replace('keyEncipherment', 'keyAgreement')), issuer: issuing() });
    assert.match(await rejectedWith('ed.pem', c.certPem, 'cert.unsupported_key'), /unsupported public key/);
  });

  it('cert.no_encipherment: RSA without keyEncipherment, EC without keyAgreement', async () => {
    const [rsa, ec] = await Promise.all([
      pki.issue({ email: 'signonly@example.com', key: 'rsa2048', keyUsage: ['digitalSignature'] }),
      pki.issue({ email: 'ecsign@example.com', key: 'p256', keyUsage: ['digitalSignature'] }),
    ]);
    assert.match(await rejectedWith('rsa-sign.pem', rsa.certPem, 'cert.no_encipherment'), /keyEncipherment/);
    assert.match(await rejectedWith('ec-sign.pem', ec.certPem, 'cert.no_encipherment'), /keyAgreement/);
  });

  it('cert.no_email_protection: EKU clientAuth only (no EKU at all is fine)', async () => {
    const [client, none] = await Promise.all([
      pki.issue({ email: 'client@example.com', key: 'rsa2048', eku: ['clientAuth'] }),
      pki.issue({ email: 'noeku@example.com', key: 'rsa2048', eku: [] }),
    ]);
    assert.match(await rejectedWith('client.pem', client.certPem, 'cert.no_email_protection'), /emailProtection/);
    const s = await t.directory.importCertificates([{ name: 'noeku.pem', bytes: Buffer.from(none.certPem) }]);
    assert.equal(s.added, 1, JSON.stringify(s.outcomes));
  });

  it('chain.untrusted: issued by a CA nobody trusts', async () => {
    const c = await other.issue({ email: 'stranger@example.com', key: 'rsa2048' });
    assert.match(await rejectedWith('stranger.pem', c.certPem + c.chainPem, 'chain.untrusted'), /self-signed and not trusted|No trusted issuer/);
  });

  it('chain.loop: two CAs that issued each other', async () => {
    // B0 (self-signed "Loop B") signs A; A signs B (same name and key as B0): A -> B -> A ...
    const b0 = await issueCustom(tmp.path, { cn: 'Loop B', ext: CA_EXT });
    const a = await issueCustom(tmp.path, { cn: 'Loop A', ext: CA_EXT, issuer: b0 });
    const b = await issueCustom(tmp.path, { cn: 'Loop B', ext: CA_EXT, issuer: a, keyPath: b0.keyPath });
    const leaf = await issueCustom(tmp.path, { cn: 'loop@example.com', ext: EE_EXT('email:loop@example.com'), issuer: a });
    assert.match(await rejectedWith('loop.pem', leaf.certPem + a.certPem + b.certPem, 'chain.loop'), /loops back on itself/);
  });

  it('chain.expired / chain.not_yet_valid: a CA of the chain out of its validity', async () => {
    const mk = async (cn: string, notBefore: Date, notAfter: Date) => {
      const ca = await issueCustom(tmp.path, { cn, ext: CA_EXT, issuer: issuing(), notBefore, notAfter });
      const leaf = await issueCustom(tmp.path, { cn: `${cn.replace(/ /g, '')}@example.com`, ext: EE_EXT(`email:${cn.replace(/ /g, '')}@example.com`), issuer: ca });
      return leaf.certPem + ca.certPem;
    };
    const expired = await mk('Expired Sub', new Date(Date.now() - 100 * DAY), new Date(Date.now() - DAY));
    const early = await mk('Early Sub', new Date(Date.now() + DAY), new Date(Date.now() + 100 * DAY));
    assert.match(await rejectedWith('expired-ca.pem', expired, 'chain.expired'), /Expired Sub|expired on/);
    assert.match(await rejectedWith('early-ca.pem', early, 'chain.not_yet_valid'), /not valid before/);
  });

  it('chain.issuer_not_ca: an issuer whose key usage does not allow certificate signing', async () => {
    const ca = await issueCustom(tmp.path, { cn: 'No Sign CA', ext: ['basicConstraints = critical,CA:true', 'keyUsage = critical,digitalSignature', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid'], issuer: issuing() });
    const leaf = await issueCustom(tmp.path, { cn: 'nosign@example.com', ext: EE_EXT('email:nosign@example.com'), issuer: ca });
    assert.match(await rejectedWith('nosign.pem', leaf.certPem + ca.certPem, 'chain.issuer_not_ca'), /not a CA allowed to sign/);
  });

  it('chain.bad_signature: a certificate whose signature was altered', async () => {
    const c = await pki.issue({ email: 'forged@example.com', key: 'rsa2048' });
    const der = Buffer.from(cert(c.certPem).der);
    der[der.length - 10]! ^= 0x01; // inside the signature BIT STRING
    assert.match(await rejectedWith('forged.der', new Uint8Array(der), 'chain.bad_signature'), /does not verify/);
  });

  it('chain.too_long: more than 8 certificates', async () => {
    let issuer: { certPath: string; keyPath: string } = issuing();
    const cas: CustomCert[] = [];
    for (let i = 0; i < 8; i++) {
      const ca = await issueCustom(tmp.path, { cn: `Deep CA ${i}`, ext: CA_EXT, issuer });
      cas.push(ca);
      issuer = ca;
    }
    const leaf = await issueCustom(tmp.path, { cn: 'deep@example.com', ext: EE_EXT('email:deep@example.com'), issuer });
    assert.match(await rejectedWith('deep.pem', leaf.certPem + cas.map((c) => c.certPem).join(''), 'chain.too_long'), /longer than 8/);
  });

  it('the directory keeps serving after all that', async () => {
    const ok = await pki.issue({ email: 'fine@example.com', key: 'rsa2048' });
    await t.directory.importCertificates([{ name: 'fine.pem', bytes: Buffer.from(ok.certPem) }]);
    assert.ok((await t.directory.lookup('fine@example.com')).entry);
  });
});

describe('reasons of certificates on file (lookup)', () => {
  it('removing the trusted root makes its certificates unusable (chain.untrusted), adding it back restores them', async () => {
    const t2 = await openTestDirectory();
    try {
      await trustTestPki(t2, pki);
      const c: IssuedCert = await pki.issue({ email: 'trusted@example.com', key: 'rsa2048' });
      await t2.directory.importCertificates([{ name: 'c.pem', bytes: Buffer.from(c.certPem) }]);
      assert.ok((await t2.directory.lookup('trusted@example.com')).entry);
      assert.equal(await t2.directory.removeTrustedRoot(cert(pki.root.certPem).fingerprint256, 'test'), true);
      const r = await t2.directory.lookup('trusted@example.com');
      assert.equal(r.entry, null);
      assert.equal(r.candidates[0]?.status, 'unusable');
      assert.equal(r.candidates[0]?.reasons[0]?.code, 'chain.untrusted');
      await t2.directory.addTrustedRoots(Buffer.from(pki.root.certPem), 'root.pem', 'test');
      assert.ok((await t2.directory.lookup('trusted@example.com')).entry);
    } finally {
      await t2.close();
    }
  });

  it('cert.unreadable: a damaged row is listed with its reason; other certificates are still served', async () => {
    const t2 = await openTestDirectory();
    try {
      await trustTestPki(t2, pki);
      const [a, b] = await Promise.all([
        pki.issue({ email: 'dmg@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - 5 * DAY) }),
        pki.issue({ email: 'dmg@example.com', key: 'rsa2048', notBefore: new Date(Date.now() - DAY) }),
      ]);
      await t2.directory.importCertificates([{ name: 'a.pem', bytes: Buffer.from(a.certPem) }, { name: 'b.pem', bytes: Buffer.from(b.certPem) }]);
      const newer = await t2.store.findByFingerprint(cert(b.certPem).fingerprint256);
      const { eq } = await import('drizzle-orm');
      await t2.database.db.update(certificates).set({ der: new Uint8Array([0x30, 0x03, 0x02, 0x01]) }).where(eq(certificates.id, newer!.id));
      await t2.store.bumpVersion();
      const r = await t2.directory.lookup('dmg@example.com');
      assert.equal(r.entry?.fingerprint, cert(a.certPem).fingerprint256);
      const damaged = r.candidates.find((c) => c.id === newer!.id)!;
      assert.equal(damaged.reasons[0]?.code, 'cert.unreadable');
    } finally {
      await t2.close();
    }
  });

  it('cert.is_ca (unit): a CA certificate is never a recipient certificate', () => {
    const trust: TrustStore = { anchors: [cert(pki.root.certPem)], intermediates: [], own: new Set() };
    const r = checkCertificate(cert(pki.intermediate.certPem), { now: new Date(), trust, address: 'x@example.com' });
    assert.ok(r.reasons.some((x) => x.code === 'cert.is_ca'));
    assert.ok(r.reasons.some((x) => x.code === 'cert.no_email'));
  });

  it('every reason code is documented', () => {
    for (const [code, text] of Object.entries(REASON_CODES)) {
      assert.match(code, /^(cert|chain|crl)\.[a-z_]+$/);
      assert.ok(text.length > 10);
    }
  });
});
