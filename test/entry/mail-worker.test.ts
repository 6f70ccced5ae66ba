/**
 * startMailWorker as `smimegw worker` runs it, with the measurement listener: one server, two ports,
 * the protected path on FILTER_LISTEN and the pass-through path on --pass-through-listen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseListenAddress } from '../../src/config/index.js';
import { startMailWorker, type MailWorkerHandle } from '../../src/entry/mail.js';
import { message, openMailFixture, smtpSend, startSink, type MailFixture, type Sink } from '../mail/harness.js';

let f: MailFixture;
let sink: Sink;
let handle: MailWorkerHandle;
let dataDir: string;

before(async () => {
  f = await openMailFixture();
  sink = await startSink();
  dataDir = mkdtempSync(join(tmpdir(), 'smimegw-mw-'));
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, INTERNAL_DOMAINS: 'int.test', FILTER_LISTEN: '127.0.0.1:0', REINJECT_SMTP_URL: sink.url });
  handle = await startMailWorker({ config, database: f.database, log: () => {}, passThroughListen: parseListenAddress('--pass-through-listen', '127.0.0.1:0') });
});
after(async () => {
  await handle?.close();
  await sink?.close();
  await f?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('worker with a pass-through listener (measurements)', () => {
  it('the same message: encrypted on FILTER_LISTEN, unchanged on the pass-through port; both logged', async () => {
    const raw = message({ From: 'alice@int.test', To: 'bob@ext.test', Subject: 'two ports' });
    const protectedReply = await smtpSend(handle.worker.address.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw });
    assert.ok(protectedReply.ok, protectedReply.response);
    assert.match(sink.messages[0]!.body.toString('latin1'), /^Content-Type: application\/pkcs7-mime; smime-type=enveloped-data/m);
    assert.ok(handle.passThrough, 'the second listener is up');
    assert.notEqual(handle.passThrough.address.port, handle.worker.address.port);
    const passReply = await smtpSend(handle.passThrough.address.port, { from: 'alice@int.test', to: ['bob@ext.test'], raw });
    assert.ok(passReply.ok, passReply.response);
    assert.equal(sink.messages[1]!.body.toString('latin1'), raw);
    // the log is written in the background (every 100 ms)
    let rows = await f.messageLog.page({ limit: 5 });
    for (let i = 0; i < 100 && rows.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      rows = await f.messageLog.page({ limit: 5 });
    }
    const outcome = (reply: string) => rows.find((r) => r.smtpReply === reply)?.recipients[0]?.outcome;
    assert.equal(outcome(protectedReply.response), 'encrypted');
    assert.equal(outcome(passReply.response), 'internal');
  });

  it('a malformed --pass-through-listen is refused with the option named', () => {
    assert.throws(() => parseListenAddress('--pass-through-listen', 'localhost'), /--pass-through-listen must be host:port, got 'localhost'/);
    assert.throws(() => parseListenAddress('--pass-through-listen', '127.0.0.1:99999'), /--pass-through-listen port must be 0-65535/);
  });
});
