/** Admin passwords (scrypt), TOTP (RFC 6238 vectors) and the sealing of TOTP secrets. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { deriveAdminKeys, openTotpSecret, sealTotpSecret, setupTotpSecret } from '../../src/admin/keys.js';
import { generatePassword, hashPassword, verifyPassword } from '../../src/admin/password.js';
import { base32Decode, base32Encode, hotp, matchTotp, otpauthUri, totpStep } from '../../src/admin/totp.js';
import { AppError } from '../../src/shared/errors.js';
import { base32ToBytes, totpAt } from './totp-code.js';

describe('admin passwords', () => {
  it('hashes with scrypt N=2^15 r=8 p=1 and a 16-byte salt, in the documented format', async () => {
    const stored = await hashPassword('correct horse');
    const m = /^scrypt\$32768\$8\$1\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
    assert.ok(m, stored);
    const salt = Buffer.from(m[1]!, 'base64');
    assert.equal(salt.length, 16);
    // Independent check of the hash with node's scryptSync.
    const want = scryptSync('correct horse', salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    assert.equal(m[2], want.toString('base64'));
    assert.notEqual(await hashPassword('correct horse'), stored, 'a fresh salt each time');
  });

  it('verifies the right password only; a malformed hash never matches', async () => {
    const stored = await hashPassword('pässword');
    assert.equal(await verifyPassword('pässword', stored), true);
    assert.equal(await verifyPassword('pa\u0308ssword', stored), true, 'NFC-normalised');
    assert.equal(await verifyPassword('password', stored), false);
    assert.equal(await verifyPassword('', stored), false);
    assert.equal(await verifyPassword('x', 'plain-text'), false);
    assert.equal(await verifyPassword('x', 'scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), false);
    await assert.rejects(hashPassword(''), (e: unknown) => e instanceof AppError && e.code === 'admin.bad_password');
  });

  it('generates 20-character passwords from the unambiguous alphabet, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      assert.match(p, /^[A-HJ-NP-Za-km-z2-9]{20}$/);
      seen.add(p);
    }
    assert.equal(seen.size, 200);
  });
});

describe('TOTP', () => {
  // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890" (8-digit values; 6 digits = last six).
  const seed = new TextEncoder().encode('12345678901234567890');
  const vectors: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];

  it('matches the RFC 6238 test vectors', () => {
    for (const [t, code] of vectors) {
      assert.equal(hotp(seed, Math.floor(t / 30), 8), code, `T=${t}`);
      assert.equal(hotp(seed, Math.floor(t / 30)), code.slice(2), `T=${t}, 6 digits`);
      assert.equal(totpAt(Buffer.from(seed), t, 8), code, 'the independent test implementation agrees');
    }
  });

  it('accepts the current step and one either side, nothing further, and returns the matching step', () => {
    const at = new Date(1_700_000_000_000);
    const now = totpStep(at);
    for (const d of [-1, 0, 1]) assert.equal(matchTotp(seed, totpAt(Buffer.from(seed), (now + d) * 30), at), now + d);
    for (const d of [-3, -2, 2, 3]) assert.equal(matchTotp(seed, totpAt(Buffer.from(seed), (now + d) * 30), at), undefined);
    assert.equal(matchTotp(seed, '12345', at), undefined);
    assert.equal(matchTotp(seed, 'abcdef', at), undefined);
    const spaced = totpAt(Buffer.from(seed), now * 30).replace(/^(\d{3})/, '$1 ');
    assert.equal(matchTotp(seed, spaced, at), now);
  });

  it('base32 round-trips and the otpauth URI carries issuer, account and secret', () => {
    for (const len of [0, 1, 2, 3, 4, 5, 10, 20]) {
      const b = new Uint8Array(len).map((_, i) => (i * 37 + 11) & 255);
      assert.deepEqual([...base32Decode(base32Encode(b))], [...b]);
      assert.deepEqual([...base32ToBytes(base32Encode(b))], [...b]);
    }
    assert.equal(base32Encode(new TextEncoder().encode('foobar')), 'MZXW6YTBOI'); // RFC 4648 10
    const uri = otpauthUri({ issuer: 'smimegw', account: 'a@example.com', secret: seed });
    assert.match(uri, /^otpauth:\/\/totp\/smimegw:a%40example\.com\?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=smimegw&algorithm=SHA1&digits=6&period=30$/);
  });
});

describe('TOTP secrets at rest', () => {
  it('seals with AES-256-GCM bound to the user; another user, a flipped bit or another key does not open it', async () => {
    const keys = await deriveAdminKeys('k'.repeat(40));
    const other = await deriveAdminKeys('j'.repeat(40));
    const secret = new Uint8Array(20).fill(7);
    const sealed = sealTotpSecret(keys, 'user-1', secret);
    assert.equal(sealed.length, 1 + 12 + 20 + 16);
    assert.deepEqual([...openTotpSecret(keys, 'user-1', sealed)], [...secret]);
    assert.notDeepEqual([...sealTotpSecret(keys, 'user-1', secret)], [...sealed], 'fresh IV');
    const unreadable = (e: unknown) => e instanceof AppError && e.code === 'admin.totp_unreadable';
    assert.throws(() => openTotpSecret(keys, 'user-2', sealed), unreadable);
    assert.throws(() => openTotpSecret(other, 'user-1', sealed), unreadable);
    const flipped = sealed.slice();
    flipped[20]! ^= 1;
    assert.throws(() => openTotpSecret(keys, 'user-1', flipped), unreadable);
  });

  it('derives a stable enrollment secret per user and session, different across sessions and keys', async () => {
    const keys = await deriveAdminKeys('k'.repeat(40));
    const a = setupTotpSecret(keys, 'u', 'session-1');
    assert.equal(a.length, 20);
    assert.deepEqual([...setupTotpSecret(keys, 'u', 'session-1')], [...a]);
    assert.notDeepEqual([...setupTotpSecret(keys, 'u', 'session-2')], [...a]);
    assert.notDeepEqual([...setupTotpSecret(keys, 'v', 'session-1')], [...a]);
    assert.notDeepEqual([...setupTotpSecret(await deriveAdminKeys('j'.repeat(40)), 'u', 'session-1')], [...a]);
  });
});
