/** The message log: batched writes (group commit) over the drizzle store on PGlite. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { DrizzleMessageLog } from '../../src/db/message-log.js';
import { Batcher, BatchedMessageLog, IN_PROGRESS_REPLY } from '../../src/mail/message-log.js';
import type { MessageLogEntry } from '../../src/mail/ports.js';

let database: Database;
before(async () => {
  database = await openDatabase(loadConfig({ NODE_ENV: 'test' }), { inMemory: true });
});
after(async () => {
  await database?.close();
});

const entry = (sender: string): MessageLogEntry => ({
  reference: `ref-${sender}`,
  sender,
  recipients: [{ address: 'bob@ext.test', outcome: 'encrypted', fingerprint: 'ab'.repeat(32), reason: 'test' }],
  sizeIn: 100,
  sizeOut: null,
  durationMs: null,
  result: 'tempfail',
  smtpReply: IN_PROGRESS_REPLY,
});

describe('message log', () => {
  it('concurrent rows go in batches, each caller gets its own id, and completion updates the right rows', async () => {
    const store = new DrizzleMessageLog(database.db);
    let statements = 0;
    const counting = {
      beginMany: (e: MessageLogEntry[]) => (statements++, store.beginMany(e)),
      finishMany: (r: Array<{ id: number; entry: MessageLogEntry }>) => (statements++, store.finishMany(r)),
    };
    const log = new BatchedMessageLog(counting);
    const senders = Array.from({ length: 50 }, (_, i) => `s${i}@int.test`);
    const ids = await Promise.all(senders.map((s) => log.begin(entry(s))));
    assert.equal(new Set(ids).size, 50);
    assert.ok(statements < 50, `${statements} statements for 50 rows`);
    await Promise.all(ids.map((id, i) => log.finish(id, { ...entry(senders[i]!), sizeOut: 1000 + i, durationMs: i, result: 'accepted', smtpReply: `250 2.6.0 Ok ${i}` })));
    const rows = await store.page({ limit: 100 });
    for (const [i, id] of ids.entries()) {
      const r = rows.find((x) => x.id === id)!;
      assert.equal(r.sender, senders[i]);
      assert.equal(r.sizeOut, 1000 + i);
      assert.equal(r.result, 'accepted');
      assert.equal(r.smtpReply, `250 2.6.0 Ok ${i}`);
      assert.equal(r.recipients[0]!.fingerprint, 'ab'.repeat(32));
    }
  });

  it('a failed statement fails every caller in it, and the next batch runs', async () => {
    let fail = true;
    const b = new Batcher<number, number>(async (items) => {
      if (fail) throw new Error('database down');
      return items.map((x) => x * 2);
    });
    const first = [b.add(1), b.add(2)];
    await assert.rejects(first[0]!, /database down/);
    await assert.rejects(first[1]!, /database down/);
    fail = false;
    assert.deepEqual(await Promise.all([b.add(3), b.add(4)]), [6, 8]);
  });
});
