import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { pkiUrls } from '../../src/ca/build.js';
import { AppError } from '../../src/shared/errors.js';

describe('CA configuration', () => {
  it('CA_VALIDITY_DAYS: default 365, 1..825 accepted', () => {
    assert.equal(loadConfig({}).caValidityDays, 365);
    assert.equal(loadConfig({ CA_VALIDITY_DAYS: '1' }).caValidityDays, 1);
    assert.equal(loadConfig({ CA_VALIDITY_DAYS: ' 825 ' }).caValidityDays, 825);
    assert.equal(loadConfig({ CA_VALIDITY_DAYS: '' }).caValidityDays, 365);
  });

  for (const bad of ['0', '826', '1000', '-5', '1.5', 'year', '1e2']) {
    it(`CA_VALIDITY_DAYS=${bad} is refused with a message naming the variable`, () => {
      assert.throws(
        () => loadConfig({ CA_VALIDITY_DAYS: bad }),
        (e: unknown) =>
          e instanceof AppError &&
          e.code === 'config.invalid' &&
          e.message.includes(`CA_VALIDITY_DAYS must be a whole number of days from 1 to 825, got '${bad}'`) &&
          (e.detail?.['problems'] as Array<{ variable: string }>).some((p) => p.variable === 'CA_VALIDITY_DAYS'),
      );
    });
  }

  it('PKI URLs hang off PUBLIC_URL, always over plain http', () => {
    const u = pkiUrls(loadConfig({ PUBLIC_URL: 'https://smime.example.com/gw/' }).publicUrl);
    assert.equal(u.crl('issuing'), 'http://smime.example.com/gw/crl/issuing.crl');
    assert.equal(u.caCertificate('root'), 'http://smime.example.com/gw/ca/root.crt');
    assert.equal(u.ocsp, 'http://smime.example.com/gw/ocsp');
  });
});
