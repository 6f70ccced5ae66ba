/**
 * The message log: one entry per message the worker handled — sender, recipients with their
 * outcome, the certificate fingerprint and the reason it was chosen, sizes and timings, the result
 * and the SMTP reply. Never any content (not even the Subject).
 */
import type { AppError } from '../shared/errors.js';
import type { MessageLog, MessageLogEntry, MessageResult, RecipientLogEntry } from './ports.js';
import { logEntryFor, type MessagePlan, type MailEnvelope } from './pipeline.js';

export function resultOf(code: number): MessageResult {
  return code < 300 ? 'accepted' : code < 500 ? 'tempfail' : 'rejected';
}

export interface LogInput {
  /** Wall-clock time (ms since the epoch) the message's data began. */
  receivedAt: number;
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
    receivedAt: new Date(input.receivedAt),
    reference: input.reference,
    sender: input.envelope.mailFrom,
    recipients: recipientEntries(input, error),
    sizeIn: input.sizeIn,
    sizeOut: input.sizeOut ?? null,
    durationMs: input.finishedAt !== undefined ? Math.max(0, Math.round(input.finishedAt - input.startedAt)) : null,
    result: reply ? resultOf(reply.code) : 'tempfail',
    smtpReply: reply ? reply.line : null,
  };
}

/** Where the background log writes: several rows in one statement. */
export interface MessageLogStore {
  insertMany(entries: MessageLogEntry[]): Promise<void>;
}

/** How long recorded entries wait to be written together. */
export const LOG_FLUSH_MS = 100;
/** Rows per statement at most. */
export const LOG_BATCH_MAX = 500;
/** Entries held while the database does not take them; beyond this the oldest go to the diagnostic log. */
export const LOG_PENDING_MAX = 10_000;
/** Retry delays after a failed write: 1 s, doubling, at most 30 s. */
const retryDelay = (failures: number) => Math.min(30_000, 1000 * 2 ** Math.min(5, failures - 1));

export interface BackgroundLogOptions {
  flushMs?: number;
  batchMax?: number;
  pendingMax?: number;
  retryDelayMs?: (failures: number) => number;
  /** Diagnostics (stderr in production): failed writes, and entries that could not be stored. */
  warn: (message: string) => void;
  info?: (message: string) => void;
}

/**
 * The worker's message log. An entry is recorded when its message has its reply and is written in
 * the background: the entries of LOG_FLUSH_MS go in one statement, so the database costs next to
 * nothing per message and never holds a reply back. The log is a record, not the mail: the mail's
 * safety does not depend on it (every decision that protects a message reads the database itself,
 * and a failed read answers 451).
 *
 * A failed write keeps the entries and retries (1 s, doubling up to 30 s) while the database is
 * away; each entry carries a random key, so one whose write did commit although the reply was lost
 * is not stored twice. Above LOG_PENDING_MAX entries, and at close() when the database still does
 * not take them, entries go to the diagnostic log as JSON, so none disappears without a trace.
 * What a crash (kill -9) can lose is the entries of the last LOG_FLUSH_MS (docs/OPERATIONS.md).
 */
export class BackgroundMessageLog implements MessageLog {
  private pending: MessageLogEntry[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<boolean> | undefined;
  private failures = 0;
  private readonly flushMs: number;
  private readonly batchMax: number;
  private readonly pendingMax: number;
  private readonly retryDelayMs: (failures: number) => number;

  constructor(
    private readonly store: MessageLogStore,
    private readonly options: BackgroundLogOptions,
  ) {
    this.flushMs = options.flushMs ?? LOG_FLUSH_MS;
    this.batchMax = options.batchMax ?? LOG_BATCH_MAX;
    this.pendingMax = options.pendingMax ?? LOG_PENDING_MAX;
    this.retryDelayMs = options.retryDelayMs ?? retryDelay;
  }

  /** Entries recorded but not yet written. */
  get size(): number {
    return this.pending.length;
  }

  record(entry: MessageLogEntry): void {
    // the key makes a retried write idempotent (a batch whose commit was lost with the connection)
    entry.key ??= globalThis.crypto.randomUUID();
    this.pending.push(entry);
    this.trim();
    if (!this.timer && !this.writing) this.schedule(this.flushMs);
  }

  /** Writes what is pending now; rejects when the database does not take it (the entries stay, retried later). */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.writing) await this.writing;
    while (this.pending.length) {
      if (!(await this.write())) throw new Error(`message log: ${this.pending.length} entries not written (database unavailable)`);
    }
  }

  /** Stops the background writes after a last attempt; entries still not written go to the diagnostic log. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } catch {
      this.cancelTimer();
      for (const e of this.pending.splice(0)) this.spill(e, 'the worker stopped while the database did not take it');
    }
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, ms);
    this.timer.unref?.();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Writes until nothing is pending (false after a failed statement); then schedules what came meanwhile, or the retry. */
  private write(): Promise<boolean> {
    if (this.writing) return this.writing;
    const running = this.writeAll().then((ok) => {
      this.writing = undefined;
      if (this.pending.length && !this.timer) this.schedule(ok ? this.flushMs : this.retryDelayMs(this.failures));
      return ok;
    });
    this.writing = running;
    return running;
  }

  private async writeAll(): Promise<boolean> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, this.batchMax);
      try {
        await this.store.insertMany(batch);
      } catch (e) {
        this.pending.unshift(...batch);
        this.trim();
        this.failures++;
        this.options.warn(`message log: ${this.pending.length} entries not written yet (${e instanceof Error ? e.message : String(e)}); retrying in ${Math.round(this.retryDelayMs(this.failures) / 1000)} s`);
        return false;
      }
      if (this.failures) {
        this.options.info?.(`message log: written again after ${this.failures} failed attempt(s)`);
        this.failures = 0;
      }
    }
    return true;
  }

  private trim(): void {
    while (this.pending.length > this.pendingMax) this.spill(this.pending.shift()!, `more than ${this.pendingMax} entries waiting for the database`);
  }

  private spill(entry: MessageLogEntry, why: string): void {
    this.options.warn(`message log entry not stored (${why}): ${JSON.stringify(entry)}`);
  }
}
