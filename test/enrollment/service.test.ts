/**
 * EnrollmentService's token rule with an issuer that fails after the request passed its checks
 * (the CA down or broken): the token is spent, the failure audited, nothing retried silently.
 * The rest of the service is exercised through HTTP in test/web/enroll-api.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EnrollmentService, type CertificateIssuer } from '../../src/enrollment/service.js';
import { AppError } from '../../src/shared/errors.js';
import { createEnrollmentStack, type EnrollmentStack } from './stack.js';

describe('EnrollmentService', () => {
  let stack: EnrollmentStack;
  before(async () => {
    stack = await createEnrollmentStack();
  });
  after(async () => {
    await stack?.close();
  });

  async function tokenFor(service: EnrollmentService, email: string) {
    const { id } = await service.start({ email, locale: 'en' }, { ip: '192.0.2.1' });
    const { code } = await stack.lastCode(email);
    const { token } = await service.verify(id, code, { ip: '192.0.2.1' });
    return { id, token };
  }

  it('an issuer failure after the checks spends the token and is audited as certificate_failed', async () => {
    const calls: string[] = [];
    const issuer: CertificateIssuer = {
      check: async () => void calls.push('check'),
      issue: async () => {
        calls.push('issue');
        throw new AppError('ca.not_ready', 'The certificate authority is not loaded yet', { kind: 'temporary' });
      },
    };
    const service = new EnrollmentService({ proof: stack.proof, issuer, audit: stack.audit });
    const { id, token } = await tokenFor(service, 'failing@example.com');
    await assert.rejects(service.issue(id, token, 'csr'), (e) => e instanceof AppError && e.code === 'ca.not_ready');
    assert.deepEqual(calls, ['check', 'issue']);
    await assert.rejects(service.issue(id, token, 'csr'), (e) => e instanceof AppError && e.code === 'proof.token_used');
    assert.deepEqual(calls, ['check', 'issue'], 'a spent token reaches no issuer');
    const entries = (await stack.audit.recent(20)).filter((a) => a.subject === id);
    const failed = entries.find((a) => a.action === 'enroll.certificate_failed');
    assert.equal(failed?.detail?.code, 'ca.not_ready');
    assert.equal(failed?.detail?.tokenSpent, true);
    assert.ok(entries.some((a) => a.action === 'enroll.certificate_refused' && a.detail?.code === 'proof.token_used'));
  });

  it('a refused check leaves the token for the next try', async () => {
    let refuse = true;
    const issuer: CertificateIssuer = {
      check: async () => {
        if (refuse) throw new AppError('ca.csr_weak_key', 'The certificate request cannot be certified: too small');
      },
      issue: async () => ({ certificatePem: 'CERT', chainPem: 'CHAIN' }),
    };
    const service = new EnrollmentService({ proof: stack.proof, issuer, audit: stack.audit });
    const { id, token } = await tokenFor(service, 'retry@example.com');
    await assert.rejects(service.issue(id, token, 'csr'), (e) => e instanceof AppError && e.code === 'ca.csr_weak_key');
    refuse = false;
    assert.deepEqual(await service.issue(id, token, 'csr'), { certificatePem: 'CERT', chainPem: 'CHAIN', address: 'retry@example.com' });
  });
});
