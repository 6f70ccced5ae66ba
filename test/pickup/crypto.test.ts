/**
 * Pickup cryptography: AES-256-GCM per message under a wrapped key, bound to the pickup id; a
 * changed master key is reported as such; tampering is detected; session cookies are signed,
 * bound to their pickup and expire; tokens and passwords have the promised entropy and shape.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createDecipheriv, createHmac } from 'node:crypto';
import { isAppError } from '../../src/shared/errors.js';
import {
  derivePickupKeys,
  newPassword,
  newToken,
  normalizePassword,
  openMessage,
  readSession,
  sealMessage,
  signSession,
  TOKEN_RE,
} from '../../src/pickup/crypto.js';

const master = new Uint8Array(randomBytes(32));
const id = '3f0b6a52-8f4e-4c1e-9f61-3a1f1c0f2b11';

function hasSubarray(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).includes(Buffer.from(needle));
}

describe('pickup crypto', () => {
  it('seals a message so that neither blob nor wrapped key holds the plaintext, and opens it again', async () => {
    const keys = await derivePickupKeys(master);
    const plain = new TextEncoder().encode('Subject: secret\r\n\r\nThe merger closes on Friday.\r\n'.repeat(20));
    const sealed = await sealMessage(keys, id, plain);
    assert.equal(sealed.blob.length, 1 + 12 + plain.length + 16);
    assert.equal(sealed.wrappedKey.length, 1 + 4 + 12 + 32 + 16);
    assert.ok(!hasSubarray(sealed.blob, new TextEncoder().encode('merger')));
    assert.deepEqual(await openMessage(keys, id, sealed), plain);
    // two deposits of the same message share nothing
    const again = await sealMessage(keys, id, plain);
    assert.notDeepEqual(again.blob, sealed.blob);
    assert.notDeepEqual(again.wrappedKey, sealed.wrappedKey);
  });

  it('is standard AES-256-GCM: an independent implementation opens it with the unwrapped key', async () => {
    const keys = await derivePickupKeys(master);
    const plain = new Uint8Array(randomBytes(1000));
    const sealed = await sealMessage(keys, id, plain);
    // unwrap with node:crypto, using the HKDF derivation the module documents
    const { hkdfSync } = await import('node:crypto');
    const wrapKey = Buffer.from(hkdfSync('sha256', master, new Uint8Array(0), 'smimegw/pickup/wrap/v1', 32));
    const w = Buffer.from(sealed.wrappedKey);
    const d1 = createDecipheriv('aes-256-gcm', wrapKey, w.subarray(5, 17));
    d1.setAAD(Buffer.from(`smimegw-pickup:key:${id}`));
    d1.setAuthTag(w.subarray(w.length - 16));
    const contentKey = Buffer.concat([d1.update(w.subarray(17, w.length - 16)), d1.final()]);
    const b = Buffer.from(sealed.blob);
    const d2 = createDecipheriv('aes-256-gcm', contentKey, b.subarray(1, 13));
    d2.setAAD(Buffer.from(`smimegw-pickup:blob:${id}`));
    d2.setAuthTag(b.subarray(b.length - 16));
    assert.deepEqual(new Uint8Array(Buffer.concat([d2.update(b.subarray(13, b.length - 16)), d2.final()])), plain);
  });

  it('refuses another master key, another pickup id, and any changed byte', async () => {
    const keys = await derivePickupKeys(master);
    const sealed = await sealMessage(keys, id, new TextEncoder().encode('hello'));
    const other = await derivePickupKeys(new Uint8Array(randomBytes(32)));
    await assert.rejects(openMessage(other, id, sealed), (e) => isAppError(e) && e.code === 'pickup.master_key_mismatch' && /PICKUP_MASTER_KEY/.test(e.message));
    await assert.rejects(openMessage(keys, 'a0000000-0000-4000-8000-000000000000', sealed), (e) => isAppError(e) && e.code === 'pickup.unreadable');
    for (const where of ['blob', 'wrappedKey'] as const) {
      for (const at of [1, 14, -1]) {
        const copy = { blob: sealed.blob.slice(), wrappedKey: sealed.wrappedKey.slice() };
        const buf = copy[where];
        const i = at < 0 ? buf.length + at : at;
        buf[i] = buf[i]! ^ 1;
        await assert.rejects(openMessage(keys, id, copy), (e) => isAppError(e) && (e.code === 'pickup.unreadable' || e.code === 'pickup.master_key_mismatch'), `${where}[${at}]`);
      }
    }
    await assert.rejects(derivePickupKeys(new Uint8Array(16)), (e) => isAppError(e) && e.code === 'pickup.bad_master_key');
  });

  it('signs sessions bound to a pickup, refuses forged, altered and expired ones', async () => {
    const keys = await derivePickupKeys(master);
    const now = new Date('2026-03-03T09:00:00Z');
    const s = { pickupId: id, by: 'code' as const, challengeId: 'b1c2d3e4-0000-4000-8000-000000000001', verifiedAt: now, expiresAt: new Date(now.getTime() + 1800_000) };
    const cookie = await signSession(keys, s);
    assert.deepEqual(await readSession(keys, cookie, now), s);
    assert.equal(await readSession(keys, cookie, new Date(now.getTime() + 1800_000)), undefined, 'expired');
    assert.equal(await readSession(keys, cookie.replace('.code.', '.password.'), now), undefined, 'altered');
    assert.equal(await readSession(keys, cookie.replace(/\.(\d+)\.([^.]+)$/, (_m, e: string, mac: string) => `.${Number(e) + 1}.${mac}`), now), undefined, 'extended by hand');
    assert.equal(await readSession(await derivePickupKeys(new Uint8Array(randomBytes(32))), cookie, now), undefined, 'other master key');
    // an attacker who knows the format but not the derived key
    const payload = cookie.slice(0, cookie.lastIndexOf('.'));
    const forged = `${payload}.${createHmac('sha256', master).update(`pickup-session|${payload}`).digest('base64url')}`;
    assert.equal(await readSession(keys, forged, now), undefined, 'forged with the master key itself');
    for (const bad of [undefined, '', 'x', `${cookie}x`, cookie.replace(/.$/, '')]) assert.equal(await readSession(keys, bad, now), undefined);
  });

  it('makes 256-bit link tokens and readable out-of-band passwords', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = newToken();
      assert.match(t, TOKEN_RE);
      assert.equal(Buffer.from(t, 'base64url').length, 32);
      seen.add(t);
    }
    assert.equal(seen.size, 200);
    const p = newPassword();
    assert.match(p, /^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$/);
    assert.equal(normalizePassword(` ${p.toLowerCase().replace(/-/g, ' ')} `), p.replace(/-/g, ''));
  });
});
