import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, readInt, readOid } from '../../src/pki/asn1.js';
import { OID } from '../../src/pki/oids.js';
import { CA_OID } from '../../src/ca/oids.js';
import { createSoftwareSigner, decryptPrivateKey, encryptPrivateKey, encryptPrivateKeyPem, generateCaKey, signatureAlgorithmIdentifier, type CaKeyType } from '../../src/ca/signer.js';
import { AppError } from '../../src/shared/errors.js';
import { opensslRun } from './helpers.js';

describe('ca/signer', () => {
  const cases: Array<[CaKeyType, string, string]> = [
    ['rsa2048', 'sha256WithRSAEncryption', 'sha256'],
    ['p256', 'ecdsaWithSha256', 'sha256'],
    ['p384', 'ecdsaWithSha384', 'sha384'],
  ];
  for (const [type, algorithm, hash] of cases) {
    it(`${type}: signs with ${algorithm}, verifiable with the public key`, async () => {
      const key = await generateCaKey(type);
      const signer = createSoftwareSigner(key);
      assert.equal(signer.algorithm, algorithm);
      const data = new TextEncoder().encode('to be signed');
      const sig = await signer.sign(data);
      const pub = createPublicKey({ key: Buffer.from(signer.publicKeySpki), format: 'der', type: 'spki' });
      assert.ok(verify(hash, data, type.startsWith('p') ? { key: pub, dsaEncoding: 'der' } : pub, sig));
      assert.ok(!verify(hash, new TextEncoder().encode('other'), type.startsWith('p') ? { key: pub, dsaEncoding: 'der' } : pub, sig));
    });
  }

  it('algorithm identifiers: RSA with NULL parameters, ECDSA without; never SHA-1', () => {
    const rsa = parse(signatureAlgorithmIdentifier('sha256WithRSAEncryption'));
    assert.equal(readOid(rsa.children[0]), OID.sha256WithRSAEncryption);
    assert.equal(rsa.children[1]?.tag, 0x05);
    const ec = parse(signatureAlgorithmIdentifier('ecdsaWithSha384'));
    assert.equal(readOid(ec.children[0]), OID.ecdsaWithSha384);
    assert.equal(ec.children.length, 1);
  });

  it('refuses public keys and unsupported curves', async () => {
    const key = await generateCaKey('rsa2048');
    assert.throws(() => createSoftwareSigner(createPublicKey(key)), (e: unknown) => e instanceof AppError && e.code === 'ca.key_unsupported');
  });

  it('encrypts keys as PKCS#8 PBES2 with scrypt and AES-256-CBC; round-trips; wrong passphrase refused', async () => {
    const key = await generateCaKey('p256');
    const der = encryptPrivateKey(key, 'pässphrase');
    const root = parse(der);
    const alg = root.children[0]!;
    assert.equal(readOid(alg.children[0]), CA_OID.pbes2);
    const kdf = alg.children[1]!.children[0]!;
    assert.equal(readOid(kdf.children[0]), CA_OID.scrypt);
    assert.equal(readInt(kdf.children[1]!.children[1]), 16384n);
    assert.equal(readOid(alg.children[1]!.children[1]!.children[0]), OID.aes256Cbc);
    const back = decryptPrivateKey(der, 'pässphrase');
    assert.deepEqual(
      back.export({ format: 'der', type: 'pkcs8' }),
      key.export({ format: 'der', type: 'pkcs8' }),
    );
    assert.throws(() => decryptPrivateKey(der, 'wrong'), (e: unknown) => e instanceof AppError && e.code === 'ca.key_passphrase');
    assert.throws(() => encryptPrivateKey(key, ''), (e: unknown) => e instanceof AppError && e.code === 'ca.passphrase_missing');
    // Two encryptions of the same key differ (fresh salt and IV).
    assert.notDeepEqual(encryptPrivateKey(key, 'x'), encryptPrivateKey(key, 'x'));
  });

  it('OpenSSL reads the encrypted key with the passphrase, and not without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'smimegw-signer-'));
    try {
      const key = await generateCaKey('rsa2048');
      const path = join(dir, 'key.pem');
      await writeFile(path, encryptPrivateKeyPem(key, 'op3nssl'));
      const ok = await opensslRun(['pkey', '-in', path, '-passin', 'pass:op3nssl', '-pubout']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.toString(), createPublicKey(key).export({ format: 'pem', type: 'spki' }));
      const bad = await opensslRun(['pkey', '-in', path, '-passin', 'pass:nope', '-pubout']);
      assert.notEqual(bad.code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
