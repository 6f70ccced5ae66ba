/**
 * The worker over SMTP: clients (nodemailer, raw sockets) talk to it, an smtp-server sink plays the
 * re-injection MTA. Real PGlite, the real directory, openssl-made certificates.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase } from '../../src/db/connection.js';
import { DrizzleMessageLog } from '../../src/db/message-log.js';
import { opensslCmsDecrypt } from '../helpers/clients.js';
import { message, openMailFixture, pipelineDepsOver, rawSession, smtpSend, startSink, startTestWorker, until, type MailFixture, type Sink, type TestWorker } from './harness.js';

let f: MailFixture;
let sink: Sink;
let w: TestWorker;

before(async () => {
  f = await openMailFixture();
  sink = await startSink();
  w = await startTestWorker(f, sink.url);
});
after(async () => {
  await w?.close();
  await sink?.close();
  await f?.close();
});
beforeEach(async () => {
  sink.messages.length = 0;
  sink.mode = 'accept';
  sink.failAfter(Infinity);
  await f.clearPolicies();
  await f.clearSigningIdentities();
});

/** A raw session from alice@int.test to bob@ext.test, after the 354 to DATA. */
async function sessionAtData(port: number) {
  const s = await rawSession(port);
  for (const cmd of [undefined, 'EHLO client.test', 'MAIL FROM:<alice@int.test>', 'RCPT TO:<bob@ext.test>', 'DATA']) {
    if (cmd) s.send(cmd);
    await s.reply();
  }
  return s;
}

const basic = (to = 'bob@ext.test', subject = 'hello') => message({ From: 'alice@int.test', To: to, Subject: subject });

/** The log rows, newest first, once the worker's log wrote what it recorded (it writes in the background). */
async function logRows() {
  await w.log.flush();
  return f.messageLog.page({ limit: 1000 });
}

describe('worker: delivery', () => {
  it('answers 250 only after the sink accepted every resulting message; the log row says what happened', async () => {
    const r = await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test', 'dan@ext.test', 'carol@int.test'], raw: message({ From: 'alice@int.test', To: 'bob@ext.test, dan@ext.test, carol@int.test', Subject: 'three' }) });
    assert.ok(r.ok, r.response);
    assert.match(r.response, /^250 2\.6\.0 Ok: 3 recipients, 3 messages \(queued as SINK\d+ SINK\d+ SINK\d+\)/);
    assert.equal(sink.messages.length, 3);
    const bob = sink.messages.find((m) => m.rcpt[0]!.address === 'bob@ext.test')!;
    assert.equal(bob.from, 'alice@int.test');
    const dec = await opensslCmsDecrypt(bob.body, { certPem: f.users.bob.certPem, keyPem: f.users.bob.keyPem });
    assert.ok(dec.ok, dec.stderr);
    const dan = sink.messages.find((m) => m.rcpt[0]!.address === 'dan@ext.test')!;
    assert.match(dan.body.toString(), /Subject: three\r\n\r\nHello,/);
    const [row] = await logRows();
    assert.equal(row!.result, 'accepted');
    assert.equal(row!.sender, 'alice@int.test');
    assert.match(row!.smtpReply!, /^250 2\.6\.0/);
    assert.ok(row!.sizeIn > 0 && row!.sizeOut! > row!.sizeIn);
    assert.ok(row!.durationMs !== null && row!.durationMs >= 0);
    assert.deepEqual(row!.recipients.map((x) => [x.address, x.outcome]).sort(), [['bob@ext.test', 'encrypted'], ['carol@int.test', 'internal'], ['dan@ext.test', 'plain']]);
    assert.equal(row!.recipients.find((x) => x.address === 'bob@ext.test')!.fingerprint, f.users.bob.x509.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.doesNotMatch(JSON.stringify(row), /Hello|three/, 'the log never holds content or the subject');
  });

  it('keeps the DSN parameters: RET and ENVID on MAIL FROM, NOTIFY and ORCPT on each RCPT TO', async () => {
    const r = await smtpSend(w.port, {
      from: 'alice@int.test',
      to: ['dan@ext.test'],
      raw: basic('dan@ext.test'),
      dsn: { ret: 'HDRS', envid: 'ENV-42', notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;original@ext.test' },
    });
    assert.ok(r.ok, r.response);
    const m = sink.messages[0]!;
    assert.deepEqual({ RET: m.mailArgs.RET, ENVID: m.mailArgs.ENVID }, { RET: 'HDRS', ENVID: 'ENV-42' });
    assert.deepEqual(m.rcpt, [{ address: 'dan@ext.test', args: { NOTIFY: 'SUCCESS,FAILURE', ORCPT: 'rfc822;original@ext.test' } }]);
  });

  it('passes the null sender of bounces (MAIL FROM:<>) through', async () => {
    const r = await smtpSend(w.port, { from: '', to: ['dan@ext.test'], raw: message({ From: 'MAILER-DAEMON@int.test', To: 'dan@ext.test', Subject: 'Undelivered Mail' }) });
    assert.ok(r.ok, r.response);
    assert.equal(sink.messages[0]!.from, '');
  });

  it('a 50 MB message goes through the spool file and decrypts', { timeout: 180_000 }, async () => {
    const line = 'x'.repeat(998) + '\r\n';
    const body = line.repeat(Math.ceil((50 * 1024 * 1024 - 2048) / line.length));
    const raw = message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'big' }, body);
    assert.ok(raw.length <= 50 * 1024 * 1024, `${raw.length}`);
    const before = w.results.length;
    const r = await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw });
    assert.ok(r.ok, r.response);
    const result = w.results[before]!;
    assert.equal(result.size, raw.length);
    assert.equal(result.spooled, true, 'the message went through a spool file');
    const dec = await opensslCmsDecrypt(sink.messages[0]!.body, { certPem: f.users.bob.certPem, keyPem: f.users.bob.keyPem, timeoutMs: 120_000 });
    assert.ok(dec.ok, dec.stderr.slice(0, 500));
    assert.equal(dec.output.length, 2 + body.length);
  });

  it('a small message stays in memory', async () => {
    const before = w.results.length;
    assert.ok((await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw: basic() })).ok);
    assert.equal(w.results[before]!.spooled, false);
  });
});

describe('worker: pass-through mode (the benchmark baseline)', () => {
  it('delivers the message unchanged to every recipient, even one with a certificate, and logs it as internal', async () => {
    const w2 = await startTestWorker(f, sink.url, { processor: { passThrough: true } });
    try {
      const raw = basic('bob@ext.test', 'pass me through');
      const r = await smtpSend(w2.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw });
      assert.ok(r.ok, r.response);
      assert.equal(sink.messages.length, 1);
      assert.equal(sink.messages[0]!.body.toString('latin1'), raw, 'byte for byte');
      await w2.log.flush();
      const row = (await f.messageLog.page({ limit: 5 })).find((x) => x.smtpReply === r.response)!;
      assert.deepEqual(row.recipients.map((x) => [x.address, x.outcome, x.reason]), [['bob@ext.test', 'internal', 'pass-through mode']]);
    } finally {
      await w2.close();
    }
  });
});

describe('worker: never 250 unless delivered', () => {
  it('the re-injection MTA answers 451: 451 4.4.2, nothing counts as delivered, the log row says tempfail', async () => {
    sink.mode = 'tempfail';
    const r = await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw: basic() });
    assert.equal(r.ok, false);
    assert.match(r.response, /^451 4\.4\.2 Could not hand the processed message back to the MTA at smtp:\/\/127\.0\.0\.1:\d+ .*try again later.*it stays queued and will be retried/);
    const [row] = await logRows();
    assert.equal(row!.result, 'tempfail');
    assert.match(row!.smtpReply!, /^451 4\.4\.2/);
  });

  it('message 1 accepted, message 2 refused: 451 (the whole message is retried)', async () => {
    sink.failAfter(1);
    const r = await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test', 'dan@ext.test'], raw: message({ From: 'alice@int.test', To: 'bob@ext.test, dan@ext.test', Subject: 'two' }) });
    assert.equal(r.code, 451);
    assert.equal(sink.messages.length, 1);
  });

  it('the re-injection MTA is down: 451 4.4.1', async () => {
    const down = await startSink();
    const url = down.url;
    await down.close();
    const w2 = await startTestWorker(f, url);
    try {
      const r = await smtpSend(w2.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw: basic() });
      assert.equal(r.code, 451);
      assert.match(r.response, /^451 4\.4\.1 Could not hand the processed message back/);
    } finally {
      await w2.close();
    }
  });

  it('processing that takes too long: 451, and the worker keeps serving', async () => {
    const slow = await startSink();
    slow.mode = 'hang';
    const w2 = await startTestWorker(f, slow.url, { processor: { timeoutMs: 1500 } });
    try {
      const r = await smtpSend(w2.port, { from: 'alice@int.test', to: ['dan@ext.test'], raw: basic('dan@ext.test') });
      assert.equal(r.code, 451);
      assert.match(r.response, /^451 4\.3\.0 Processing took longer than 2 s; the message stays queued/);
      slow.mode = 'accept';
    } finally {
      await w2.close();
      await slow.close();
    }
  });

  it('the database fails: 451 4.3.0 for mail that needs it, nothing is re-injected; internal mail still flows', async () => {
    const dead = await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true });
    await dead.close();
    const w2 = await startTestWorker({ ...f, deps: pipelineDepsOver(dead), messageLog: new DrizzleMessageLog(dead.db) }, sink.url);
    try {
      for (const to of [['bob@ext.test'], ['dan@ext.test']]) {
        const r = await smtpSend(w2.port, { from: 'alice@int.test', to, raw: basic(to.join(', ')) });
        assert.equal(r.code, 451, to.join());
        assert.match(r.response, /^451 4\.3\.0 Temporary failure while processing the message.*; it stays queued/);
      }
      assert.equal(sink.messages.length, 0);
      // internal recipients need nothing from the database (their entry waits for it)
      const r = await smtpSend(w2.port, { from: 'alice@int.test', to: ['carol@int.test'], raw: basic('carol@int.test') });
      assert.ok(r.ok, r.response);
      assert.deepEqual(sink.messages.map((m) => m.rcpt[0]!.address), ['carol@int.test']);
      assert.equal(w2.log.size, 1); // the others were deferred at RCPT TO, before there was a message
    } finally {
      await w2.close();
    }
  });

  it('only the message log cannot be written: the mail is delivered, its entry waits and is written once the database takes it', async () => {
    let down = true;
    const store = { insertMany: (e: Parameters<DrizzleMessageLog['insertMany']>[0]) => (down ? Promise.reject(new Error('connection refused')) : f.messageLog.insertMany(e)) };
    const w2 = await startTestWorker({ ...f, messageLog: store as unknown as DrizzleMessageLog }, sink.url);
    try {
      const r = await smtpSend(w2.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw: basic('bob@ext.test', 'log down') });
      assert.ok(r.ok, r.response);
      assert.equal(sink.messages.length, 1);
      await assert.rejects(w2.log.flush(), /1 entries not written/);
      assert.equal(w2.log.size, 1);
      down = false;
      await w2.log.flush();
      assert.equal(w2.log.size, 0);
      const row = (await f.messageLog.page({ limit: 5 })).find((x) => x.smtpReply === r.response);
      assert.ok(row, 'the entry reached the table');
      assert.equal(row.result, 'accepted');
    } finally {
      await w2.close();
    }
  });

  it('the directory fails: 451, and never plaintext', async () => {
    const w2 = await startTestWorker(f, sink.url, { deps: { directory: { lookup: () => Promise.reject(new Error('directory unavailable')) } } });
    try {
      const r = await smtpSend(w2.port, { from: 'alice@int.test', to: ['dan@ext.test'], raw: basic('dan@ext.test') });
      assert.equal(r.code, 451);
      assert.equal(sink.messages.length, 0);
    } finally {
      await w2.close();
    }
  });
});

describe('worker: refusals', () => {
  it('mandatory for a recipient without a certificate: 550 5.7.1 at RCPT TO, the others still get it', async () => {
    await f.setPolicy('domain:ext.test', { encryptMode: 'mandatory' });
    const r = await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test', 'dan@ext.test'], raw: message({ From: 'alice@int.test', To: 'bob@ext.test, dan@ext.test', Subject: 'x' }) });
    assert.ok(r.ok, r.response);
    assert.deepEqual(r.rejected, ['dan@ext.test']);
    assert.deepEqual(sink.messages.map((m) => m.rcpt.map((x) => x.address)), [['bob@ext.test']]);
    const s = await rawSession(w.port);
    await s.reply();
    s.send('EHLO client.test');
    await s.reply();
    s.send('MAIL FROM:<alice@int.test>');
    await s.reply();
    s.send('RCPT TO:<dan@ext.test>');
    assert.match(await s.reply(), /^550 5\.7\.1 Encryption to <dan@ext\.test> is mandatory but no usable certificate is on file/);
    s.send('QUIT');
    await s.closed;
  });

  it('a subject trigger and a recipient without a certificate: 550 5.7.1 after DATA with the reason', async () => {
    const r = await smtpSend(w.port, { from: 'alice@int.test', to: ['dan@ext.test'], raw: basic('dan@ext.test', '[secure] contract') });
    assert.equal(r.code, 550);
    assert.match(r.response, /^550 5\.7\.1 Not sent: the subject asks for encryption \(\[secure\]\), and there is no usable certificate for dan@ext\.test/);
    assert.equal(sink.messages.length, 0);
    const [row] = await logRows();
    assert.equal(row!.result, 'rejected');
  });

  it('a message over the limit: 552 5.3.4 (SIZE at MAIL FROM, and counted during DATA)', async () => {
    const small = await startTestWorker(f, sink.url, { worker: { maxSize: 64 * 1024 } });
    try {
      const big = message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'too big' }, 'y'.repeat(100) + '\r\n'.repeat(1) + ('z'.repeat(998) + '\r\n').repeat(100));
      const s = await rawSession(small.port);
      await s.reply();
      s.send('EHLO client.test');
      assert.match(await s.reply(), /SIZE 65536/);
      s.send('MAIL FROM:<alice@int.test> SIZE=200000');
      assert.match(await s.reply(), /^552 /);
      s.send('MAIL FROM:<alice@int.test>');
      await s.reply();
      s.send('RCPT TO:<bob@ext.test>');
      await s.reply();
      s.send('DATA');
      await s.reply();
      s.write(big + '.\r\n');
      assert.match(await s.reply(), /^552 5\.3\.4 Message exceeds the size limit of 65536 bytes/);
      s.send('QUIT');
      await s.closed;
      assert.equal(sink.messages.length, 0);
    } finally {
      await small.close();
    }
  });
});

describe('worker: bad input', () => {
  const nested = (() => {
    let body = '';
    for (let i = 99; i >= 0; i--) {
      const part = i === 99 ? 'Content-Type: text/plain\r\n\r\ndeep' : `Content-Type: multipart/mixed; boundary="n${i + 1}"\r\n\r\n${body}`;
      body = `--n${i}\r\n${part}\r\n--n${i}--\r\n`;
    }
    return body;
  })();
  const manyParts = Array.from({ length: 10_000 }, (_, i) => `--p\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`).join('') + '--p--\r\n';
  const cases: Array<{ name: string; raw: string | Buffer; want: RegExp; delivered: boolean }> = [
    { name: 'a header line without a colon', raw: 'From: alice@int.test\r\nTo: bob@ext.test\r\nnot a header line\r\n\r\nbody\r\n', want: /^554 5\.6\.0 Malformed message header: Header line 3 is not a header field \(no colon\)/, delivered: false },
    { name: 'multipart without its boundaries', raw: message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'b', 'Content-Type': 'multipart/mixed; boundary="gone"' }, 'no delimiter anywhere\r\n'), want: /^250 /, delivered: true },
    { name: 'bad base64 and an unknown transfer encoding', raw: message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'e', 'Content-Transfer-Encoding': 'x-unknown' }, '@@@ not base64 ===\r\n'), want: /^250 /, delivered: true },
    { name: '8-bit header fields', raw: Buffer.concat([Buffer.from('From: '), Buffer.from('山田 <alice@int.test>', 'utf8'), Buffer.from('\r\nTo: bob@ext.test\r\nSubject: '), Buffer.from([0xe9, 0xff, 0x80]), Buffer.from('\r\n\r\nbody\r\n')]), want: /^250 /, delivered: true },
    { name: 'a 100 KB header line', raw: message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'long', 'X-Long': 'a'.repeat(100 * 1024) }), want: /^250 /, delivered: true },
    { name: '10,000 parts', raw: message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'parts', 'MIME-Version': '1.0', 'Content-Type': 'multipart/mixed; boundary="p"' }, manyParts), want: /^250 /, delivered: true },
    { name: 'multipart nested 100 deep', raw: message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'deep', 'MIME-Version': '1.0', 'Content-Type': 'multipart/mixed; boundary="n0"' }, nested), want: /^250 /, delivered: true },
    { name: 'no body and no blank line', raw: 'From: alice@int.test\r\nTo: bob@ext.test\r\nSubject: header only\r\n', want: /^250 /, delivered: true },
  ];
  for (const c of cases) {
    it(`${c.name}: a clear reply, and the next message still goes through`, { timeout: 60_000 }, async () => {
      await f.addSigningIdentity(); // signing parses the MIME structure
      const r = await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw: c.raw });
      assert.match(r.response, c.want);
      assert.equal(sink.messages.length, c.delivered ? 1 : 0);
      if (c.delivered) {
        const dec = await opensslCmsDecrypt(sink.messages[0]!.body, { certPem: f.users.bob.certPem, keyPem: f.users.bob.keyPem });
        assert.ok(dec.ok, dec.stderr);
      }
      const next = await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw: basic() });
      assert.ok(next.ok, next.response);
    });
  }

  it('a client that stalls mid-DATA gets 421 after the client timeout; others are served meanwhile', { timeout: 30_000 }, async () => {
    const w2 = await startTestWorker(f, sink.url, { worker: { clientTimeoutMs: 1500 } });
    try {
      const s = await sessionAtData(w2.port);
      s.write('From: alice@int.test\r\nTo: bob@ext.test\r\nSubject: stalled\r\n\r\nhalf a mess');
      const other = await smtpSend(w2.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw: basic() });
      assert.ok(other.ok, other.response);
      assert.match(await s.reply(10_000), /^421 .*Timeout/);
      await s.closed;
      assert.equal(sink.messages.length, 1, 'only the other message was delivered');
    } finally {
      await w2.close();
    }
  });

  it('a client that drops mid-DATA: nothing delivered, no spool left, the worker keeps serving', { timeout: 30_000 }, async () => {
    const s = await sessionAtData(w.port);
    s.write('From: alice@int.test\r\nTo: bob@ext.test\r\nSubject: dropped\r\n\r\n');
    s.write(randomBytes(3 * 1024 * 1024).toString('base64')); // past the spill threshold: a spool file is open
    await new Promise((r) => setTimeout(r, 200));
    s.socket.destroy();
    await s.closed;
    const next = await smtpSend(w.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw: basic() });
    assert.ok(next.ok, next.response);
    await until('one message', () => sink.messages.length === 1);
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(readdirSync(w.spoolDir), [], 'spool files are unlinked when created');
  });
});
