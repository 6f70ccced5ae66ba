/**
 * The message log: one entry per message the worker handled — sender, recipients with their
 * outcome, the certificate fingerprint and the reason it was chosen, sizes and timings, the result
 * and the SMTP reply. Never any content (not even the Subject).
 */
import type { AppError } from '../shared/errors.js';
import type { MessageLog, MessageLogEntry, MessageResult, RecipientLogEntry } from './ports.js';
import { logEntryFor, type MessagePlan, type MailEnvelope } from './pipeline.js';

/** The reply line stored for a message still being processed (a crash leaves it so: the MTA retries). */
export const IN_PROGRESS_REPLY = '451 4.3.0 in progress (not finished: the MTA keeps the message and retries)';

export function resultOf(code: number): MessageResult {
  return code < 300 ? 'accepted' : code < 500 ? 'tempfail' : 'rejected';
}

export interface LogInput {
  reference: string | null;
  envelope: MailEnvelope;
  plan?: MessagePlan;
  sizeIn: number;
  sizeOut?: number;
  startedAt: number;
  finishedAt?: number;
  reply?: { code: number; line: string };
}

/** Recipients as logged: from the plan when there is one, else the envelope with a generic reason. */
export function recipientEntries(input: LogInput, error?: AppError): RecipientLogEntry[] {
  if (input.plan) return input.plan.recipients.map(logEntryFor);
  return input.envelope.rcptTo.map((r) => ({
    address: r.address,
    outcome: error && error.smtp.code >= 500 ? ('rejected' as const) : ('plain' as const),
    reason: error ? `not processed: ${error.message}` : 'not processed',
  }));
}

export function logEntry(input: LogInput, error?: AppError): MessageLogEntry {
  const reply = input.reply;
  return {
    reference: input.reference,
    sender: input.envelope.mailFrom,
    recipients: recipientEntries(input, error),
    sizeIn: input.sizeIn,
    sizeOut: input.sizeOut ?? null,
    durationMs: input.finishedAt !== undefined ? Math.max(0, Math.round(input.finishedAt - input.startedAt)) : null,
    result: reply ? resultOf(reply.code) : 'tempfail',
    smtpReply: reply ? reply.line : IN_PROGRESS_REPLY,
  };
}

/** A MessageLog that keeps entries in memory (tests, the bench's pass-through mode). */
export class MemoryMessageLog implements MessageLog {
  readonly entries = new Map<number, MessageLogEntry>();
  private next = 1;
  async begin(entry: MessageLogEntry): Promise<number> {
    const id = this.next++;
    this.entries.set(id, entry);
    return id;
  }
  async finish(id: number, entry: MessageLogEntry): Promise<void> {
    this.entries.set(id, entry);
  }
  list(): MessageLogEntry[] {
    return [...this.entries.values()];
  }
}

/** How long completed rows wait to be written together (they are written after the reply anyway). */
export const FINISH_LINGER_MS = 100;

/** A message-log store that can write several rows in one statement. */
export interface BatchMessageLogStore {
  beginMany(entries: MessageLogEntry[]): Promise<number[]>;
  finishMany(rows: Array<{ id: number; entry: MessageLogEntry }>): Promise<void>;
}

/**
 * Group commit for the message log: rows written while a write is in flight go together in the
 * next statement (one round trip for many messages under load; no waiting when idle). Each caller
 * still waits for its own row, and a failed statement fails every caller in it.
 */
export class BatchedMessageLog implements MessageLog {
  private readonly begins = new Batcher<MessageLogEntry, number>((items) => this.store.beginMany(items));
  // completions are off the reply's path: they wait a little to go out in larger statements
  private readonly finishes = new Batcher<{ id: number; entry: MessageLogEntry }, void>(
    async (items) => {
      await this.store.finishMany(items);
      return items.map(() => undefined);
    },
    500,
    FINISH_LINGER_MS,
  );

  constructor(private readonly store: BatchMessageLogStore) {}

  begin(entry: MessageLogEntry): Promise<number> {
    return this.begins.add(entry);
  }

  finish(id: number, entry: MessageLogEntry): Promise<void> {
    return this.finishes.add({ id, entry });
  }
}

/**
 * At most one batch in flight; items arriving meanwhile form the next one (at most `max`). A batch
 * after a pause starts at the end of the current turn of the event loop (lingerMs 0) or that long
 * after its first item, to collect more.
 */
export class Batcher<T, R> {
  private queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private running = false;

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly max = 500,
    private readonly lingerMs = 0,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    // rows added in the same turn of the event loop (messages whose data ended together) go in one
    // statement; with lingerMs, rows added within that time
    await new Promise((r) => (this.lingerMs > 0 ? setTimeout(r, this.lingerMs) : setImmediate(r)));
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.max);
        try {
          const results = await this.run(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(results[i]!));
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
