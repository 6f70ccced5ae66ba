/**
 * Revocation: by an admin or by the holder, with a reason; the CRL (read by openssl crl) lists the
 * serial with its reason right after; openssl ocsp gets good / revoked / unknown right.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CRL_VALIDITY_MS } from '../../src/ca/authority.js';
import { DAY_MS } from '../../src/ca/build.js';
import type { Clock } from '../../src/shared/clock.js';
import { AppError } from '../../src/shared/errors.js';
import { directoryVersion } from '../../src/db/schema.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { auditActions, caFixture, opensslCsr, opensslRun, type CaFixture } from './helpers.js';

describe('ca revocation, CRL and OCSP', () => {
  let f: CaFixture;
  let now = new Date();
  const clock: Clock = { now: () => new Date(now) };
  let n = 0;
  before(async () => {
    f = await caFixture({ clock });
  });
  after(async () => {
    await f.close();
  });

  async function issue(address: string) {
    const csr = await opensslCsr(f.dir, { key: 'p256', subject: `/CN=${address}` });
    const r = await f.authority.issue({ csr: csr.csrPem, authorizedAddress: address, actor: 'test' });
    const path = join(f.dir, `rev-${++n}.pem`);
    await writeFile(path, r.pem);
    return { ...r, path, keyPem: csr.keyPem };
  }

  async function crlText(id: 'issuing' | 'root' = 'issuing') {
    const path = join(f.dir, `crl-${++n}.der`);
    await writeFile(path, await f.authority.crl(id));
    const r = await opensslRun(['crl', '-inform', 'DER', '-in', path, '-noout', '-text', '-CAfile', f.chainPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout.toString(), /verify OK/);
    return r.stdout.toString();
  }

  /** openssl makes the request (with a nonce), we answer, openssl checks the answer against our root. */
  async function ocsp(args: string[], trust = f.rootPath): Promise<string> {
    const i = ++n;
    const req = join(f.dir, `ocsp-${i}.req`);
    const resp = join(f.dir, `ocsp-${i}.resp`);
    const made = await opensslRun(['ocsp', ...args, '-reqout', req]);
    assert.equal(made.code, 0, made.stderr);
    await writeFile(resp, await f.authority.ocsp(new Uint8Array(await readFile(req))));
    // With -cert/-serial openssl builds a new request (new nonce) to compare with: check without
    // it, then compare the nonces of our request and response separately.
    const r = await opensslRun(['ocsp', '-respin', resp, ...args, '-no_nonce', '-CAfile', trust]);
    const nonce = /OCSP Nonce: \n\s+([0-9A-F]+)/;
    const reqNonce = nonce.exec((await opensslRun(['ocsp', '-reqin', req, '-req_text'])).stdout.toString())?.[1];
    const respNonce = nonce.exec((await opensslRun(['ocsp', '-respin', resp, '-resp_text', '-noverify'])).stdout.toString())?.[1];
    assert.ok(reqNonce && reqNonce.length >= 20);
    assert.equal(respNonce, reqNonce, 'the nonce is echoed');
    return r.stdout.toString() + r.stderr;
  }

  it('a new CA has empty CRLs for both authorities, v2 with CRL number and AKI, nextUpdate 7 days on', async () => {
    const text = await crlText();
    assert.match(text, /Version 2 \(0x1\)/);
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(text, /No Revoked Certificates\./);
    assert.match(text, /X509v3 CRL Number: \n\s+\d+/);
    assert.match(text, /X509v3 Authority Key Identifier: /);
    const last = new Date(/Last Update: (.+)/.exec(text)![1]! + '');
    const next = new Date(/Next Update: (.+)/.exec(text)![1]! + '');
    assert.equal(next.getTime() - last.getTime(), CRL_VALIDITY_MS);
    assert.ok(CRL_VALIDITY_MS <= 10 * DAY_MS);
    assert.match(await crlText('root'), /No Revoked Certificates\./);
  });

  it('admin revocation with a reason: status, directory version, CRL (regenerated at once) and OCSP', async () => {
    const good = await issue('keep@example.com');
    const bad = await issue('lost@example.com');
    const [version] = await f.database.db.select().from(directoryVersion);
    const r = await f.authority.revoke({ serialHex: bad.certificate.serialHex, reason: 'keyCompromise', actor: 'admin:alice' });
    assert.equal(r.email, 'lost@example.com');
    assert.equal(r.reason, 'keyCompromise');
    const row = await f.authority.findIssued(bad.certificate.serialHex);
    assert.equal(row?.status, 'revoked');
    assert.equal(row?.revocationReason, 'keyCompromise');
    assert.equal(row?.revokedAt?.getTime(), r.revokedAt.getTime());
    const [after] = await f.database.db.select().from(directoryVersion);
    assert.ok(after!.version > version!.version, 'directory version bumped');

    const text = await crlText();
    assert.match(text, new RegExp(`Serial Number: ${bad.certificate.serialHex.toUpperCase()}\\n\\s+Revocation Date: .+\\n\\s+CRL entry extensions:\\n\\s+X509v3 CRL Reason Code: \\n\\s+Key Compromise`));
    assert.doesNotMatch(text, new RegExp(good.certificate.serialHex.toUpperCase()));

    const revoked = await ocsp(['-issuer', f.issuingPath, '-cert', bad.path]);
    assert.match(revoked, /Response verify OK/);
    assert.match(revoked, new RegExp(`${bad.path}: revoked\\n\\s+This Update: .+\\n\\s+Next Update: .+\\n\\s+Reason: keyCompromise\\n\\s+Revocation Time: `));
    const ok = await ocsp(['-issuer', f.issuingPath, '-cert', good.path]);
    assert.match(ok, /Response verify OK/);
    assert.match(ok, new RegExp(`${good.path}: good`));

    const audit = (await auditActions(f.database)).filter((a) => a.action === 'cert.revoked');
    assert.equal(audit.at(-1)?.actor, 'admin:alice');
    assert.equal(audit.at(-1)?.detail?.['reason'], 'keyCompromise');
    assert.ok((await auditActions(f.database)).some((a) => a.action === 'ca.crl_issued'));

    // The compromised key is never certified again, for any address.
    const again = await opensslCsr(f.dir, { key: 'p256', subject: '/CN=new@example.com', keyPem: bad.keyPem });
    await assert.rejects(f.authority.issue({ csr: again.csrPem, authorizedAddress: 'new@example.com', actor: 't' }), (e: unknown) => e instanceof AppError && e.code === 'ca.key_compromised' && e.status === 400);
  });

  it('OCSP never says good for a serial it did not issue; several CertIDs in one request', async () => {
    const a = await issue('multi@example.com');
    const out = await ocsp(['-issuer', f.issuingPath, '-serial', '0x0123456789abcdef0123', '-cert', a.path, '-serial', `0x${a.certificate.serialHex}00`]);
    assert.match(out, /Response verify OK/);
    assert.match(out, /0x0123456789abcdef0123: unknown/);
    assert.match(out, new RegExp(`${a.path}: good`));
    assert.match(out, new RegExp(`0x${a.certificate.serialHex}00: unknown`));
  });

  it('OCSP with a SHA-256 CertID, and for the issuing CA itself signed by the root', async () => {
    const a = await issue('sha256@example.com');
    assert.match(await ocsp(['-issuer', f.issuingPath, '-sha256', '-cert', a.path]), new RegExp(`${a.path}: good`));
    const ca = await ocsp(['-issuer', f.rootPath, '-cert', f.issuingPath]);
    assert.match(ca, /Response verify OK/);
    assert.match(ca, /issuing\.pem: good/);
    assert.match(await ocsp(['-issuer', f.rootPath, '-serial', '0x42']), /0x42: unknown/);
  });

  it('OCSP: another CA\'s certificate gets "unauthorized", garbage gets "malformedRequest"', async () => {
    const pki: TestPki = await createTestPki();
    try {
      const other = await pki.issue({ email: 'other@example.com', key: 'p256' });
      const i = ++n;
      const req = join(f.dir, `ocsp-${i}.req`);
      const resp = join(f.dir, `ocsp-${i}.resp`);
      await opensslRun(['ocsp', '-issuer', pki.intermediate.certPath, '-cert', other.certPath, '-reqout', req]);
      await writeFile(resp, await f.authority.ocsp(new Uint8Array(await readFile(req))));
      const r = await opensslRun(['ocsp', '-respin', resp, '-resp_text', '-noverify']);
      assert.match(r.stdout.toString() + r.stderr, /Responder Error: unauthorized \(6\)/);
    } finally {
      await pki.cleanup();
    }
    for (const junk of [new Uint8Array(0), new TextEncoder().encode('GET / HTTP/1.1'), Uint8Array.of(0x30, 0x03, 0x30, 0x01, 0x00)]) {
      const path = join(f.dir, `ocsp-junk-${++n}.resp`);
      await writeFile(path, await f.authority.ocsp(junk));
      const r = await opensslRun(['ocsp', '-respin', path, '-resp_text', '-noverify']);
      assert.match(r.stdout.toString() + r.stderr, /Responder Error: malformedrequest \(1\)/);
    }
  });

  it('holder revocation: only their own certificate, not privilegeWithdrawn; unspecified is omitted on the CRL', async () => {
    const mine = await issue('holder@example.com');
    const theirs = await issue('other-holder@example.com');
    await assert.rejects(
      f.authority.revoke({ serialHex: theirs.certificate.serialHex, reason: 'keyCompromise', actor: 'holder@example.com', holderAddress: 'holder@example.com' }),
      (e: unknown) => e instanceof AppError && e.code === 'ca.not_found' && e.status === 404,
    );
    await assert.rejects(
      f.authority.revoke({ serialHex: mine.certificate.serialHex, reason: 'privilegeWithdrawn', actor: 'holder@example.com', holderAddress: 'holder@example.com' }),
      (e: unknown) => e instanceof AppError && e.code === 'ca.bad_reason' && e.status === 403,
    );
    const r = await f.authority.revoke({ serialHex: mine.certificate.serialHex, reason: 'unspecified', actor: 'holder@example.com', holderAddress: 'HOLDER@example.com' });
    assert.equal(r.reason, null);
    const text = await crlText();
    const entry = new RegExp(`Serial Number: ${mine.certificate.serialHex.toUpperCase()}\\n\\s+Revocation Date: [^\\n]+\\n(\\s+)(.*)`).exec(text);
    assert.ok(entry, text);
    assert.doesNotMatch(entry[2]!, /CRL entry extensions/, 'no reasonCode for unspecified');
    const o = await ocsp(['-issuer', f.issuingPath, '-cert', mine.path]);
    assert.match(o, new RegExp(`${mine.path}: revoked`));
    assert.doesNotMatch(o, /Reason:/);
    const refused = (await auditActions(f.database)).filter((a) => a.action === 'cert.revoke_refused');
    assert.equal(refused.length >= 2, true);
  });

  it('refuses bad serials, unknown serials, bad reasons and a second revocation', async () => {
    const a = await issue('twice@example.com');
    const cases: Array<[Parameters<typeof f.authority.revoke>[0], string, number]> = [
      [{ serialHex: 'xyz', reason: 'superseded', actor: 'a' }, 'ca.bad_serial', 400],
      [{ serialHex: '0102030405060708', reason: 'superseded', actor: 'a' }, 'ca.not_found', 404],
      [{ serialHex: a.certificate.serialHex, reason: 'certificateHold' as never, actor: 'a' }, 'ca.bad_reason', 400],
      [{ serialHex: a.certificate.serialHex, reason: 'cACompromise', actor: 'a' }, 'ca.bad_reason', 400],
    ];
    for (const [req, code, status] of cases) {
      await assert.rejects(f.authority.revoke(req), (e: unknown) => e instanceof AppError && e.code === code && e.status === status, code);
    }
    // Serial spelled as openssl prints it.
    const spelled = a.certificate.serialHex.toUpperCase().match(/../g)!.join(':');
    await f.authority.revoke({ serialHex: spelled, reason: 'superseded', actor: 'a' });
    await assert.rejects(f.authority.revoke({ serialHex: a.certificate.serialHex, reason: 'superseded', actor: 'a' }), (e: unknown) => e instanceof AppError && e.code === 'ca.already_revoked' && e.status === 409);
  });

  it('the CRL is served from storage for a day, then regenerated with a higher number; never past nextUpdate', async () => {
    const first = await f.authority.crl();
    assert.deepEqual(await f.authority.crl(), first, 'cached');
    now = new Date(now.getTime() + 23 * 3_600_000);
    assert.deepEqual(await f.authority.crl(), first, 'still within a day');
    now = new Date(now.getTime() + 2 * 3_600_000);
    const second = await f.authority.crl();
    assert.notDeepEqual(second, first);
    const num = async (der: Uint8Array) => {
      const path = join(f.dir, `crlnum-${++n}.der`);
      await writeFile(path, der);
      return Number(/CRL Number: \n\s+(\d+)/.exec((await opensslRun(['crl', '-inform', 'DER', '-in', path, '-noout', '-text'])).stdout.toString())![1]);
    };
    assert.ok((await num(second)) > (await num(first)));
    const forced = await f.authority.crl('issuing', { force: true });
    assert.equal(await num(forced), (await num(second)) + 1);
  });

  it('a revocation stored without its CRL regeneration (a failure in between) still reaches the next CRL served', async () => {
    const cached = await f.authority.crl();
    const victim = await issue('late@example.com');
    now = new Date(now.getTime() + 2000);
    assert.ok(await f.store.markRevoked(victim.id, new Date(now), 'affiliationChanged'));
    const served = await f.authority.crl();
    assert.notDeepEqual(served, cached);
    const path = join(f.dir, `late-${++n}.der`);
    await writeFile(path, served);
    const text = (await opensslRun(['crl', '-inform', 'DER', '-in', path, '-noout', '-text'])).stdout.toString();
    assert.match(text, new RegExp(`Serial Number: ${victim.certificate.serialHex.toUpperCase()}[\\s\\S]*?Affiliation Changed`));
    assert.deepEqual(await f.authority.crl(), served, 'and is cached again after that');
  });
});
