/**
 * The pipeline's decisions and rendering, on a real database (PGlite) with the real directory and
 * certificates from an openssl-made PKI. Every encrypted result is decrypted with `openssl cms`.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyseHeader } from '../../src/mail/header.js';
import { joinSources, planMessage, renderGroup, logEntryFor, type MailEnvelope, type MessagePlan, type Rendered } from '../../src/mail/pipeline.js';
import { memorySource } from '../../src/mail/source.js';
import { collect } from '../../src/smime/index.js';
import { parse } from '../../src/pki/asn1.js';
import { utf8 } from '../../src/shared/bytes.js';
import { opensslCmsDecrypt, opensslCmsVerify, extractSmimeParts } from '../helpers/clients.js';
import { message, openMailFixture, type MailFixture } from './harness.js';

let f: MailFixture;
before(async () => {
  f = await openMailFixture();
});
after(async () => {
  await f?.close();
});
beforeEach(async () => {
  await f.clearPolicies();
  await f.clearSigningIdentities();
});

function env(to: string[], from = 'alice@int.test'): MailEnvelope {
  return { mailFrom: from, rcptTo: to.map((address) => ({ address })) };
}

async function plan(to: string[], headers: Record<string, string>, body?: string, o: { fallback?: boolean } = {}) {
  const raw = utf8(message({ From: 'Alice <alice@int.test>', ...headers }, body));
  const deps = o.fallback ? { ...f.deps, fallback: fakeFallback } : f.deps;
  const p = await planMessage({ envelope: env(to), header: analyseHeader(memorySource(raw).header) }, deps, f.options);
  return { p, raw };
}

async function bytesOf(r: Rendered): Promise<Uint8Array> {
  return r.kind === 'bytes' ? r.bytes : collect(r.chunks);
}

async function render(p: MessagePlan, raw: Uint8Array, i: number): Promise<Buffer> {
  return Buffer.from(await bytesOf(await renderGroup(memorySource(raw), p, p.groups[i]!, { fallback: fakeFallback })));
}

/** The number of RecipientInfos in an encrypted message. */
function recipientInfoCount(eml: Uint8Array): number {
  const parts = extractSmimeParts(eml);
  assert.equal(parts.kind, 'pkcs7-mime');
  const ci = parse(new Uint8Array(parts.der));
  const env = ci.children[1]!.children[0]!;
  const set = env.children.find((c) => c.tag === 0x31)!;
  return set.children.length;
}

const deposits: Array<{ recipient: string; size: number }> = [];
const fakeFallback = {
  async deposit(input: { message: { size: number; chunks(): Iterable<Uint8Array> | AsyncIterable<Uint8Array> }; sender: string; recipient: string; subject: string | undefined }) {
    const bytes = await collect(input.message.chunks());
    deposits.push({ recipient: input.recipient, size: bytes.length });
    return { noticeMessage: utf8(message({ From: input.sender, To: input.recipient, Subject: `Secure message: ${input.subject ?? ''}` }, 'Pick it up at https://gw.int.test/pickup/xyz\r\n')) };
  },
};

const treatments = (p: MessagePlan) => Object.fromEntries(p.recipients.map((r) => [r.address, r.treatment]));

describe('planMessage: who gets what', () => {
  const cases: Array<{
    name: string;
    setup?: () => Promise<void>;
    to: string[];
    headers: Record<string, string>;
    want: Record<string, string>;
    groups: number;
    fallback?: boolean;
  }> = [
    {
      name: 'internal passes through, a certificate encrypts, none goes plain (opportunistic default)',
      to: ['carol@int.test', 'bob@ext.test', 'dan@ext.test'],
      headers: { To: 'carol@int.test, bob@ext.test, dan@ext.test', Subject: 'hello' },
      want: { 'carol@int.test': 'internal', 'bob@ext.test': 'encrypt', 'dan@ext.test': 'plain' },
      groups: 3,
    },
    {
      name: 'with a signing identity: sign-then-encrypt, and plain becomes signed',
      setup: () => f.addSigningIdentity(),
      to: ['bob@ext.test', 'dan@ext.test', 'carol@int.test'],
      headers: { To: 'bob@ext.test, dan@ext.test, carol@int.test', Subject: 'hello' },
      want: { 'bob@ext.test': 'sign-encrypt', 'dan@ext.test': 'sign', 'carol@int.test': 'internal' },
      groups: 3,
    },
    {
      name: 'a domain identity (*@int.test) signs for every sender of the domain',
      setup: () => f.addSigningIdentity('*@int.test'),
      to: ['bob@ext.test'],
      headers: { To: 'bob@ext.test', Subject: 'hello' },
      want: { 'bob@ext.test': 'sign-encrypt' },
      groups: 1,
    },
    {
      name: 'sign off by policy: encrypt only',
      setup: async () => {
        await f.addSigningIdentity();
        await f.setPolicy('domain:int.test', { sign: false });
      },
      to: ['bob@ext.test'],
      headers: { To: 'bob@ext.test', Subject: 'hello' },
      want: { 'bob@ext.test': 'encrypt' },
      groups: 1,
    },
    {
      name: 'encrypt mode none: plain even with a certificate',
      setup: () => f.setPolicy('domain:ext.test', { encryptMode: 'none' }),
      to: ['bob@ext.test'],
      headers: { To: 'bob@ext.test', Subject: 'hello' },
      want: { 'bob@ext.test': 'plain' },
      groups: 1,
    },
    {
      name: 'recipients sharing algorithms share a message; GCM and ECDH recipients get their own',
      to: ['bob@ext.test', 'bobby@ext.test', 'frank@ext.test', 'erin@ext.test'],
      headers: { To: 'bob@ext.test, bobby@ext.test', Cc: 'frank@ext.test, Erin <erin@ext.test>', Subject: 'hello' },
      want: { 'bob@ext.test': 'encrypt', 'bobby@ext.test': 'encrypt', 'frank@ext.test': 'encrypt', 'erin@ext.test': 'encrypt' },
      groups: 3,
    },
    {
      name: 'a Bcc recipient gets a message of its own even with the same algorithms',
      to: ['bob@ext.test', 'bobby@ext.test'],
      headers: { To: 'bob@ext.test', Subject: 'hello' },
      want: { 'bob@ext.test': 'encrypt', 'bobby@ext.test': 'encrypt' },
      groups: 2,
    },
    {
      name: 'the subject trigger forces mandatory: all have certificates, so all encrypted',
      to: ['bob@ext.test', 'carol@int.test'],
      headers: { To: 'bob@ext.test, carol@int.test', Subject: '[secure] numbers' },
      want: { 'bob@ext.test': 'encrypt', 'carol@int.test': 'internal' },
      groups: 2,
    },
    {
      name: 'fallback link on, and available: link for the recipient without a certificate',
      setup: () => f.setPolicy('global', { fallbackLink: true }),
      to: ['bob@ext.test', 'dan@ext.test'],
      headers: { To: 'bob@ext.test, dan@ext.test', Subject: 'hello' },
      want: { 'bob@ext.test': 'encrypt', 'dan@ext.test': 'link' },
      groups: 2,
      fallback: true,
    },
    {
      name: 'fallback link on but not available, opportunistic: plain (and the reason says so)',
      setup: () => f.setPolicy('global', { fallbackLink: true }),
      to: ['dan@ext.test'],
      headers: { To: 'dan@ext.test', Subject: 'hello' },
      want: { 'dan@ext.test': 'plain' },
      groups: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await c.setup?.();
      const { p } = await plan(c.to, c.headers, undefined, { fallback: c.fallback === true });
      assert.equal(p.refusal, undefined);
      assert.deepEqual(treatments(p), c.want);
      assert.equal(p.groups.length, c.groups);
      assert.equal(p.groups.flatMap((g) => g.recipients).length, c.to.length);
    });
  }

  it('explains why: policy scope, certificate fingerprint, algorithms, the fallback that was not available', async () => {
    await f.setPolicy('global', { fallbackLink: true });
    const { p } = await plan(['bob@ext.test', 'dan@ext.test', 'erin@ext.test'], { To: 'bob@ext.test, dan@ext.test, erin@ext.test', Subject: 'x' });
    const byAddr = new Map(p.recipients.map((r) => [r.address, logEntryFor(r)]));
    assert.equal(byAddr.get('bob@ext.test')!.fingerprint, f.users.bob.x509.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.equal(byAddr.get('bob@ext.test')!.algorithms, 'aes256-cbc/rsa-pkcs1');
    assert.match(byAddr.get('bob@ext.test')!.reason, /^opportunistic \(policy default\);/);
    assert.equal(byAddr.get('erin@ext.test')!.algorithms, 'aes256-cbc/ecdh-sha256kdf');
    assert.match(byAddr.get('dan@ext.test')!.reason, /download-link fallback is on \(policy global\) but not available on this gateway, so sent unencrypted/);
  });
});

describe('planMessage: refusals (550 5.7.1)', () => {
  it('mandatory for a domain and no certificate: refused, naming the recipient and what to do', async () => {
    await f.setPolicy('domain:ext.test', { encryptMode: 'mandatory' });
    const { p } = await plan(['bob@ext.test', 'dan@ext.test'], { To: 'bob@ext.test, dan@ext.test', Subject: 'hi' });
    assert.ok(p.refusal);
    assert.equal(p.refusal.smtp.code, 550);
    assert.equal(p.refusal.smtp.enhanced, '5.7.1');
    assert.match(p.refusal.message, /policy requires encryption, and there is no usable certificate for dan@ext\.test/);
    assert.match(p.refusal.message, /they can get one at https:\/\/gw\.int\.test|can get one at https:\/\/gw\.int\.test/);
    assert.doesNotMatch(p.refusal.message, /bob@ext\.test/);
    assert.deepEqual(treatments(p), { 'bob@ext.test': 'encrypt', 'dan@ext.test': 'reject' });
  });

  it('the subject trigger forces mandatory: refused when a recipient has no certificate', async () => {
    const { p } = await plan(['bob@ext.test', 'dan@ext.test'], { To: 'bob@ext.test', Cc: 'dan@ext.test', Subject: '=?UTF-8?B?W+aal+WPt+WMll0g6KaL56mN5pu4?=' });
    assert.deepEqual(p.triggers, ['[暗号化]']);
    assert.equal(p.refusal?.code, 'mail.encryption_required');
    assert.match(p.refusal!.message, /the subject asks for encryption \(\[暗号化\]\)/);
  });

  it('mandatory with the fallback link on but not available: refused, never plaintext', async () => {
    await f.setPolicy('address:dan@ext.test', { encryptMode: 'mandatory', fallbackLink: true });
    const { p } = await plan(['dan@ext.test'], { To: 'dan@ext.test', Subject: 'hi' });
    assert.equal(p.refusal?.smtp.code, 550);
    assert.match(p.recipients[0]!.reason, /download-link fallback \(policy address:dan@ext\.test\) is not available on this gateway/);
  });

  it('mandatory with the fallback link available: a link, not a refusal', async () => {
    await f.setPolicy('address:dan@ext.test', { encryptMode: 'mandatory', fallbackLink: true });
    const { p } = await plan(['dan@ext.test'], { To: 'dan@ext.test', Subject: 'hi' }, undefined, { fallback: true });
    assert.equal(p.refusal, undefined);
    assert.deepEqual(treatments(p), { 'dan@ext.test': 'link' });
  });

  it('a failing dependency rejects (the worker answers 451), it never decides "no certificate"', async () => {
    const broken = { ...f.deps, directory: { lookup: async () => Promise.reject(new Error('database down')) } };
    const raw = utf8(message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'x' }));
    await assert.rejects(planMessage({ envelope: env(['bob@ext.test']), header: analyseHeader(raw) }, broken, f.options), /database down/);
  });
});

describe('renderGroup', () => {
  it('encrypts to the group only; the trigger is gone from the outer Subject; decrypts in openssl to the original body', async () => {
    const body = 'Line one\r\n.leading dot\r\nUTF-8: 日本語\r\n';
    const { p, raw } = await plan(['bob@ext.test', 'bobby@ext.test'], { To: 'bob@ext.test, bobby@ext.test', Subject: 'Q3 numbers [secure]', 'Content-Type': 'text/plain; charset=utf-8', 'Content-Transfer-Encoding': '8bit' }, body);
    assert.equal(p.subject, 'Q3 numbers');
    assert.equal(p.groups.length, 1);
    const out = await render(p, raw, 0);
    const text = out.toString('latin1');
    assert.match(text, /^Subject: Q3 numbers\r$/m);
    assert.doesNotMatch(text, /secure\]/);
    assert.equal(recipientInfoCount(out), 2);
    for (const u of [f.users.bob, f.users.bobby]) {
      const r = await opensslCmsDecrypt(out, { certPem: u.certPem, keyPem: u.keyPem });
      assert.ok(r.ok, r.stderr);
      assert.ok(r.output.toString('utf8').endsWith(body), r.output.toString('utf8'));
      assert.match(r.output.toString('utf8'), /^Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n/);
    }
    const log = p.recipients.map(logEntryFor);
    assert.deepEqual(log.map((l) => [l.outcome, l.signed]), [['encrypted', false], ['encrypted', false]]);
  });

  it('a Bcc recipient: own message, own RecipientInfo only; nobody sees a Bcc header', async () => {
    const { p, raw } = await plan(['bob@ext.test', 'bobby@ext.test', 'carol@int.test'], { To: 'bob@ext.test', Bcc: 'bobby@ext.test', Subject: 'hi' });
    const byFirst = new Map(p.groups.map((g, i) => [g.recipients[0]!.address, i]));
    const bob = await render(p, raw, byFirst.get('bob@ext.test')!);
    const bobby = await render(p, raw, byFirst.get('bobby@ext.test')!);
    const carol = await render(p, raw, byFirst.get('carol@int.test')!);
    assert.equal(recipientInfoCount(bob), 1);
    assert.equal(recipientInfoCount(bobby), 1);
    for (const m of [bob, bobby, carol]) assert.doesNotMatch(m.toString('latin1'), /^Bcc:/im);
    assert.doesNotMatch(carol.toString('latin1'), /bobby/);
    const inner = await opensslCmsDecrypt(bob, { certPem: f.users.bob.certPem, keyPem: f.users.bob.keyPem });
    assert.ok(inner.ok);
    assert.doesNotMatch(inner.output.toString('latin1'), /bobby/);
    const denied = await opensslCmsDecrypt(bob, { certPem: f.users.bobby.certPem, keyPem: f.users.bobby.keyPem });
    assert.equal(denied.ok, false);
  });

  it('sign-then-encrypt: the decrypted entity is signed by alice and verifies in openssl', async () => {
    await f.addSigningIdentity();
    const { p, raw } = await plan(['bob@ext.test'], { To: 'bob@ext.test', Subject: 'signed' }, 'Signed body\r\n');
    const out = await render(p, raw, 0);
    const dec = await opensslCmsDecrypt(out, { certPem: f.users.bob.certPem, keyPem: f.users.bob.keyPem });
    assert.ok(dec.ok, dec.stderr);
    assert.match(dec.output.toString('latin1'), /^Content-Type: multipart\/signed; protocol="application\/pkcs7-signature"; micalg=sha-256/);
    const ver = await opensslCmsVerify(dec.output, { caPem: f.pki.root.certPem, untrustedPem: f.pki.intermediate.certPem });
    assert.ok(ver.ok, ver.stderr);
    assert.match(ver.output.toString('latin1'), /Signed body/);
    assert.equal(logEntryFor(p.recipients[0]!).signed, true);
  });

  it('plain with a signing identity: a multipart/signed message that verifies', async () => {
    await f.addSigningIdentity();
    const { p, raw } = await plan(['dan@ext.test'], { To: 'dan@ext.test', Subject: 'signed only' }, 'Only signed\r\n');
    const out = await render(p, raw, 0);
    const ver = await opensslCmsVerify(out, { caPem: f.pki.root.certPem, untrustedPem: f.pki.intermediate.certPem });
    assert.ok(ver.ok, ver.stderr);
    assert.equal(logEntryFor(p.recipients[0]!).outcome, 'signed');
  });

  it('MIME too deep to canonicalise: encrypted without a signature, and the log says why', async () => {
    await f.addSigningIdentity();
    // 60 well-formed levels of multipart/mixed around one text part
    let body = '';
    for (let i = 59; i >= 0; i--) {
      const part = i === 59 ? 'Content-Type: text/plain\r\n\r\ndeep' : `Content-Type: multipart/mixed; boundary="b${i + 1}"\r\n\r\n${body}`;
      body = `--b${i}\r\n${part}\r\n--b${i}--\r\n`;
    }
    const { p, raw } = await plan(['bob@ext.test'], { To: 'bob@ext.test', Subject: 'deep', 'MIME-Version': '1.0', 'Content-Type': 'multipart/mixed; boundary="b0"' }, body);
    const out = await render(p, raw, 0);
    const dec = await opensslCmsDecrypt(out, { certPem: f.users.bob.certPem, keyPem: f.users.bob.keyPem });
    assert.ok(dec.ok);
    assert.match(dec.output.toString('latin1'), /^Content-Type: multipart\/mixed; boundary="b0"/);
    const log = logEntryFor(p.recipients[0]!);
    assert.equal(log.outcome, 'encrypted');
    assert.equal(log.signed, false);
    assert.match(log.reason, /not signed: .*nested more than 50 levels/);
  });

  it('the download link: the message is deposited and the recipient gets the notice', async () => {
    await f.setPolicy('global', { fallbackLink: true });
    deposits.length = 0;
    const { p, raw } = await plan(['dan@ext.test'], { To: 'dan@ext.test', Subject: 'big file' }, undefined, { fallback: true });
    const out = await render(p, raw, 0);
    assert.match(out.toString(), /Subject: Secure message: big file/);
    assert.deepEqual(deposits.map((d) => d.recipient), ['dan@ext.test']);
    assert.equal(logEntryFor(p.recipients[0]!).outcome, 'link');
  });
});

describe('analyseHeader', () => {
  it('finds visible recipients in To/Cc/Resent-* (display names, groups, comments, encoded words, UTF-8)', () => {
    const raw = utf8(
      message([
        'From: =?UTF-8?B?44Ki44Oq44K5?= <Alice@Int.Test>',
        'To: "Doe, John" <john@ext.test>, team: x@ext.test, y@ext.test;',
        'Cc: z@ext.test (Zed), 山田 <yamada@ext.test>',
        'Resent-To: r@ext.test',
        'Bcc: hidden@ext.test',
        'Subject: =?ISO-2022-JP?B?GyRCMEU5ZjJdGyhC?= [secure]',
      ]),
    );
    const h = analyseHeader(raw);
    assert.deepEqual([...h.visible].sort(), ['john@ext.test', 'r@ext.test', 'x@ext.test', 'y@ext.test', 'yamada@ext.test', 'z@ext.test']);
    assert.equal(h.from, 'Alice@Int.Test');
    assert.match(h.subject!, /\[secure\]$/);
  });

  it('refuses a header line that is not a field: 554 5.6.0 with the line number', () => {
    assert.throws(
      () => analyseHeader(utf8('From: a@b.test\r\nthis is not a header\r\n\r\nbody')),
      (e: unknown) => e instanceof Error && /Malformed message header: Header line 2 is not a header field \(no colon\)/.test(e.message) && (e as { smtp?: { code: number } }).smtp?.code === 554,
    );
  });
});

describe('joinSources', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  it('is synchronous when every part is (in-memory messages take the engine one-buffer path) and asynchronous otherwise, with the same bytes', async () => {
    const a = { size: 3, chunks: () => [bytes('abc')] };
    const b = { size: 4, chunks: () => [bytes('de'), bytes('fg')] };
    const slow = {
      size: 2,
      async *chunks() {
        yield bytes('hi');
      },
    };
    const sync = joinSources([a, b]);
    assert.equal(sync.size, 7);
    const it = sync.chunks();
    assert.ok(Symbol.iterator in it, 'a synchronous iterable');
    assert.equal(Buffer.concat([...(it as Iterable<Uint8Array>)]).toString(), 'abcdefg');
    const mixed = joinSources([a, slow, b]);
    assert.equal(mixed.size, 9);
    const ait = mixed.chunks();
    assert.ok(!(Symbol.iterator in ait) && Symbol.asyncIterator in ait, 'asynchronous when a part is');
    assert.equal(Buffer.from(await collect(ait)).toString(), 'abchidefg');
  });
});
