/**
 * Creating, storing and loading the hierarchy: keys encrypted at rest, reload from the database,
 * development CAs refused in production, start-up behaviour (startAuthority), replacing a
 * development CA, the HSM/KMS seam.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { Authority } from '../../src/ca/authority.js';
import { startAuthority, type DevCaFile } from '../../src/ca/bootstrap.js';
import { createSoftwareSigner, decryptPrivateKey } from '../../src/ca/signer.js';
import { CA_OID } from '../../src/ca/oids.js';
import { validateChain } from '../../src/pki/chain.js';
import { parse, readOid } from '../../src/pki/asn1.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { readPrivateKey } from '../../src/pki/keys.js';
import { authorities } from '../../src/db/schema.js';
import { AppError } from '../../src/shared/errors.js';
import { auditActions, caFixture, opensslCsr, PASSPHRASE } from './helpers.js';

const code = (c: string, status?: number) => (e: unknown) => e instanceof AppError && e.code === c && (status === undefined || e.status === status);

describe('ca lifecycle', () => {
  it('stores both CA keys encrypted (PBES2/scrypt), the certificates chain up, and a second instance loads them', async () => {
    const f = await caFixture();
    try {
      const rows = await f.database.db.select().from(authorities);
      assert.deepEqual(rows.map((r) => r.id).sort(), ['issuing', 'root']);
      for (const r of rows) {
        assert.equal(r.signer, 'software');
        assert.equal(r.development, false);
        const epki = parse(r.keyEncrypted!);
        assert.equal(readOid(epki.children[0]!.children[0]), CA_OID.pbes2);
        assert.throws(() => readPrivateKey(r.keyEncrypted!), 'not readable without the passphrase');
      }
      const root = parseCertificate(rows.find((r) => r.id === 'root')!.certDer);
      const issuing = parseCertificate(rows.find((r) => r.id === 'issuing')!.certDer);
      assert.equal(issuing.isCA, true);
      assert.deepEqual(validateChain(issuing, { trusted: [root], time: new Date() }).map((c) => c.subject), [issuing.subject, root.subject]);
      assert.match(issuing.subject, /^CN=smimegw S\/MIME Issuing CA \d{4}$/);

      const again = new Authority({ store: f.store, audit: f.audit, publicUrl: 'http://x.example' });
      assert.equal(again.loaded, false);
      await assert.rejects(again.issue({ csr: 'x', authorizedAddress: 'a@example.com', actor: 't' }), code('ca.not_ready', 503));
      assert.equal((await again.ocsp(Uint8Array.of(0x30, 0x03, 0x30, 0x01, 0x30)))[4], 1, 'malformed before loaded');
      await assert.rejects(again.load('wrong passphrase'), code('ca.key_passphrase'));
      await again.load(PASSPHRASE, 'admin:ops');
      assert.equal(again.caCertificatePem('root'), f.rootPem);
      const csr = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=reload@example.com' });
      const r = await again.issue({ csr: csr.csrPem, authorizedAddress: 'reload@example.com', actor: 't' });
      assert.equal(r.chainPem, f.issuingPem);
      const loadedEntry = (await auditActions(f.database)).find((a) => a.action === 'ca.keys_loaded');
      assert.equal(loadedEntry?.actor, 'admin:ops');
      assert.ok((await auditActions(f.database)).some((a) => a.action === 'ca.initialized'));
    } finally {
      await f.close();
    }
  });

  it('init refuses when a CA exists; replaceDevelopment replaces a development CA but never a production one', async () => {
    const f = await caFixture({ development: true });
    try {
      assert.equal(f.authority.development, true);
      assert.match(f.authority.caCertificate('root').subject, /DEVELOPMENT/);
      await assert.rejects(f.authority.init({ passphrase: PASSPHRASE, development: true, rootKey: 'p256', issuingKey: 'p256' }), code('ca.exists', 409));
      const oldRoot = f.authority.caCertificate('root').fingerprint256;
      const r = await f.authority.init({ passphrase: PASSPHRASE, development: false, replaceDevelopment: true, rootKey: 'p384', issuingKey: 'p256', organization: 'Example KK' });
      assert.notEqual(r.root.fingerprint256, oldRoot);
      assert.equal(f.authority.development, false);
      assert.equal(r.root.subject, 'O=Example KK, CN=Example KK S/MIME Root CA ' + new Date().getUTCFullYear());
      assert.equal(r.root.signatureAlgorithm, CA_OID.ecdsaWithSha384);
      assert.equal(r.issuing.signatureAlgorithm, CA_OID.ecdsaWithSha384, 'signed by the P-384 root');
      await assert.rejects(f.authority.init({ passphrase: PASSPHRASE, development: false, replaceDevelopment: true }), code('ca.exists', 409));
      // The old development CRLs went with it; the new CA serves its own.
      const crl = await f.authority.crl();
      assert.ok(crl.length > 0);
    } finally {
      await f.close();
    }
  });

  it('production refuses a development CA, to create or to load', async () => {
    const f = await caFixture({ development: true });
    try {
      const prod = new Authority({ store: f.store, audit: f.audit, publicUrl: 'https://x.example', production: true });
      await assert.rejects(prod.load(PASSPHRASE), code('ca.development_in_production', 403));
      await assert.rejects(prod.init({ passphrase: PASSPHRASE, development: true }), code('ca.development_in_production'));
      await assert.rejects(startAuthority({ authority: prod, passphrase: PASSPHRASE, production: true }), code('ca.development_in_production'));
    } finally {
      await f.close();
    }
  });

  it('startAuthority: production without a CA stops with "run smimegw ca init"; development creates one and hands over its files; then it loads', async () => {
    const { openDatabase } = await import('../../src/db/connection.js');
    const { loadConfig } = await import('../../src/config/index.js');
    const { createAuthority } = await import('../../src/db/ca-store.js');
    const database = await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true });
    try {
      const prod = createAuthority(database.db, loadConfig({ NODE_ENV: 'production', CA_KEY_PASSPHRASE: 'prod-pass', ADMIN_SECRET_KEY: 'x'.repeat(40) }));
      await assert.rejects(startAuthority({ authority: prod, passphrase: 'prod-pass', production: true }), (e: unknown) => e instanceof AppError && e.code === 'ca.not_initialized' && /smimegw ca init/.test(e.message));

      const dev = createAuthority(database.db, loadConfig({ NODE_ENV: 'development' }));
      let files: DevCaFile[] = [];
      const logs: string[] = [];
      const r = await startAuthority({ authority: dev, passphrase: PASSPHRASE, production: false, writeDevFiles: async (f) => ((files = f), '/somewhere/certs-dev'), log: (_l, m) => logs.push(m) });
      assert.deepEqual(r, { created: true, development: true, devFilesLocation: '/somewhere/certs-dev' });
      assert.deepEqual(files.map((x) => [x.name, x.secret]), [['root.pem', false], ['issuing.pem', false], ['chain.pem', false], ['root.key.pem', true], ['issuing.key.pem', true]]);
      for (const k of files.filter((x) => x.secret)) {
        assert.match(k.content, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
        const key = decryptPrivateKey(k.content, PASSPHRASE);
        const cert = parseCertificate(dev.caCertificate(k.name.startsWith('root') ? 'root' : 'issuing').der);
        assert.deepEqual(createSoftwareSigner(key).publicKeySpki, cert.publicKey.spki);
      }
      assert.match(logs.join('\n'), /DEVELOPMENT certificate authority .* \/somewhere\/certs-dev/);

      const later = createAuthority(database.db, loadConfig({ NODE_ENV: 'development' }));
      assert.deepEqual(await startAuthority({ authority: later, passphrase: PASSPHRASE, production: false }), { created: false, development: true });
      assert.equal(later.caCertificatePem('root'), dev.caCertificatePem('root'));
    } finally {
      await database.close();
    }
  });

  it('signing goes through the Signer port: a stored key held elsewhere needs a signerFor', async () => {
    const f = await caFixture();
    try {
      await f.database.db.update(authorities).set({ signer: 'kms:projects/x/keys/issuing', keyEncrypted: null }).where(eq(authorities.id, 'issuing'));
      const plain = new Authority({ store: f.store, audit: f.audit, publicUrl: 'http://x.example' });
      await assert.rejects(plain.load(PASSPHRASE), code('ca.signer_unavailable'));
      // A "KMS" that signs with the real issuing key (taken from the fixture's init before we dropped it).
      const { readFile } = await import('node:fs/promises');
      const kmsKey = decryptPrivateKey(await readFile(f.issuingKeyPath, 'utf8'), PASSPHRASE);
      const calls: string[] = [];
      const withKms = new Authority({
        store: f.store,
        audit: f.audit,
        publicUrl: 'http://x.example',
        signerFor: async (record, passphrase) => {
          calls.push(`${record.id}:${record.signer}`);
          if (record.signer.startsWith('kms:')) {
            const inner = createSoftwareSigner(kmsKey);
            return { algorithm: inner.algorithm, publicKeySpki: inner.publicKeySpki, sign: (d) => (calls.push('kms.sign'), inner.sign(d)) };
          }
          return createSoftwareSigner(decryptPrivateKey(record.keyEncrypted!, passphrase));
        },
      });
      await withKms.load(PASSPHRASE);
      const csr = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=kms@example.com' });
      await withKms.issue({ csr: csr.csrPem, authorizedAddress: 'kms@example.com', actor: 't' });
      assert.deepEqual(calls.slice(0, 2).sort(), ['issuing:kms:projects/x/keys/issuing', 'root:software']);
      assert.ok(calls.includes('kms.sign'));
      // A signer whose key does not match the certificate is refused at load.
      const wrong = new Authority({ store: f.store, audit: f.audit, publicUrl: 'http://x.example', signerFor: async () => createSoftwareSigner(kmsKey) });
      await assert.rejects(wrong.load(PASSPHRASE), code('ca.key_mismatch'));
    } finally {
      await f.close();
    }
  });
});
