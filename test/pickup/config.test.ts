/** Configuration of secure pickup: PICKUP_MASTER_KEY, PICKUP_EXPIRY_DAYS, PICKUP_MODE, PICKUP_NOTICE_SUBJECT. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DEV_PICKUP_MASTER_KEY, loadConfig } from '../../src/config/index.js';
import { isAppError } from '../../src/shared/errors.js';

const production = { NODE_ENV: 'production', CA_KEY_PASSPHRASE: 'a-real-ca-passphrase', ADMIN_SECRET_KEY: 'x'.repeat(40) };

function problems(env: Record<string, string>): Array<{ variable: string; message: string }> {
  try {
    loadConfig(env);
  } catch (e) {
    assert.ok(isAppError(e) && e.code === 'config.invalid');
    return (e.detail as { problems: Array<{ variable: string; message: string }> }).problems;
  }
  return [];
}

describe('pickup configuration', () => {
  it('defaults: development key (flagged), 7 days, code mode, subject shown', () => {
    const c = loadConfig({});
    assert.equal(c.pickupMasterKey?.length, 32);
    assert.equal(c.pickupMasterKeyIsDevDefault, true);
    assert.equal(c.pickupExpiryDays, 7);
    assert.equal(c.pickupMode, 'code');
    assert.equal(c.pickupNoticeSubject, 'show');
  });

  it('reads a key in base64, base64url or hex', () => {
    const key = randomBytes(32);
    for (const v of [key.toString('base64'), key.toString('base64url'), key.toString('hex'), key.toString('hex').toUpperCase()]) {
      const c = loadConfig({ PICKUP_MASTER_KEY: v });
      assert.deepEqual(Buffer.from(c.pickupMasterKey!), key, v);
      assert.equal(c.pickupMasterKeyIsDevDefault, false);
    }
  });

  it('refuses keys that are not 32 bytes, naming the variable and how to make one', () => {
    for (const v of ['short', randomBytes(16).toString('base64'), randomBytes(33).toString('base64'), 'é'.repeat(44), randomBytes(32).toString('hex').slice(1)]) {
      const p = problems({ PICKUP_MASTER_KEY: v });
      assert.equal(p.length, 1, v);
      assert.equal(p[0]!.variable, 'PICKUP_MASTER_KEY');
      assert.match(p[0]!.message, /openssl rand -base64 32/);
      assert.ok(!p[0]!.message.includes(v), 'the value itself is not echoed');
    }
  });

  it('production: no key turns secure pickup off; the development key is refused', () => {
    const off = loadConfig(production);
    assert.equal(off.pickupMasterKey, undefined);
    assert.equal(off.pickupMasterKeyIsDevDefault, false);
    const p = problems({ ...production, PICKUP_MASTER_KEY: DEV_PICKUP_MASTER_KEY });
    assert.deepEqual(p.map((x) => x.variable), ['PICKUP_MASTER_KEY']);
    assert.match(p[0]!.message, /development default/);
    const key = randomBytes(32).toString('base64');
    assert.equal(loadConfig({ ...production, PICKUP_MASTER_KEY: key }).pickupMasterKey?.length, 32);
  });

  it('validates expiry, mode and subject policy', () => {
    assert.equal(loadConfig({ PICKUP_EXPIRY_DAYS: '1' }).pickupExpiryDays, 1);
    assert.equal(loadConfig({ PICKUP_EXPIRY_DAYS: '90' }).pickupExpiryDays, 90);
    assert.equal(loadConfig({ PICKUP_MODE: 'password' }).pickupMode, 'password');
    assert.equal(loadConfig({ PICKUP_NOTICE_SUBJECT: 'hide' }).pickupNoticeSubject, 'hide');
    for (const [k, v] of [['PICKUP_EXPIRY_DAYS', '0'], ['PICKUP_EXPIRY_DAYS', '91'], ['PICKUP_EXPIRY_DAYS', '7d'], ['PICKUP_MODE', 'zip'], ['PICKUP_NOTICE_SUBJECT', 'yes']] as const) {
      const p = problems({ [k]: v });
      assert.deepEqual(p.map((x) => x.variable), [k], `${k}=${v}`);
      assert.ok(p[0]!.message.includes(v));
    }
  });
});
