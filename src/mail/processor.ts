/**
 * One message, from "received" to the reply the MTA gets. Independent of the SMTP server, so it can
 * be driven directly in tests:
 *
 *   1. parse the header (a header that is not one: 554 5.6.0),
 *   2. plan (policy, directory, signing identity; any failure: 451 4.3.0; a policy refusal: 550 5.7.1),
 *   3. render and re-inject every resulting message (any failure: 451),
 *   4. answer 250 — only now, when every message was accepted downstream,
 *   5. record the message-log entry, whatever the reply (written in the background: src/mail/message-log.ts).
 *
 * If message 1 of 2 was accepted downstream and message 2 fails, the answer is 451 and the MTA
 * retries the whole message: recipients of message 1 may then get it twice. That is the price of
 * never losing mail (at-least-once; docs/OPERATIONS.md).
 */
import type { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { AppError } from '../shared/errors.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { collect } from '../smime/index.js';
import { analyseHeader } from './header.js';
import { planMessage, renderGroup, type GroupPlan, type MailEnvelope, type MessagePlan, type PipelineDeps, type PipelineOptions, type Rendered } from './pipeline.js';
import { logEntry, type LogInput } from './message-log.js';
import { openSpoolFile, type MessageSource } from './source.js';
import type { MessageLog } from './ports.js';
import type { ReinjectEnvelope, ReinjectResult } from './reinject.js';

export interface ReinjectPort {
  send(envelope: ReinjectEnvelope, body: Uint8Array | (() => Readable), signal?: AbortSignal): Promise<ReinjectResult>;
}

export interface ProcessorDeps extends PipelineDeps {
  reinject: ReinjectPort;
  log: MessageLog;
  /** Diagnostics (stderr in production). */
  warn?: (message: string) => void;
}

export interface ProcessorOptions extends PipelineOptions {
  /** Folder for spool files of large results. */
  spoolDir: string;
  /** Give up (451) after this long (default 5 minutes: Postfix waits 10 for the reply to DATA). */
  timeoutMs?: number;
  /** Spilled (large) messages processed at the same time (each may be held in memory to sign). Default 2. */
  largeConcurrency?: number;
  /**
   * Pass-through mode (the benchmark's baseline): every recipient is treated as an internal one,
   * so the message goes out unchanged, with no policy, directory or identity lookup and no crypto;
   * its log entry is recorded as for any message.
   */
  passThrough?: boolean;
}

export interface Reply {
  code: number;
  enhanced: string;
  text: string;
}

export interface ProcessResult {
  reply: Reply;
  plan?: MessagePlan;
  /** The spool was used for this message (input or output). */
  spooled: boolean;
}

export const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export function replyLine(r: Reply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}

function replyOf(e: AppError): Reply {
  return { code: e.smtp.code, enhanced: e.smtp.enhanced, text: e.message };
}

/** Only these errors may answer 5xx; everything else becomes 451 (the MTA keeps the message). */
const PERMANENT = new Set(['mail.bad_header', 'mail.encryption_required', 'mail.too_large']);

export function asTemporary(e: unknown): AppError {
  if (e instanceof AppError && (PERMANENT.has(e.code) || e.smtp.code < 500)) return e;
  const what = e instanceof AppError ? ` (${e.message})` : '';
  return new AppError('mail.failed', `Temporary failure while processing the message${what}; it stays queued and will be retried`, { kind: 'temporary', cause: e });
}

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting.shift()?.();
    };
  }
}

interface Output {
  size: number;
  body: Uint8Array | (() => Readable);
  close(): Promise<void>;
}

async function materialise(r: Rendered, spool: boolean, spoolDir: string): Promise<Output> {
  if (r.kind === 'bytes') return { size: r.bytes.length, body: r.bytes, close: async () => {} };
  if (!spool) {
    const bytes = await collect(r.chunks);
    return { size: bytes.length, body: bytes, close: async () => {} };
  }
  const fh: FileHandle = await openSpoolFile(spoolDir);
  let size = 0;
  try {
    for await (const c of r.chunks) {
      await fh.write(c, 0, c.length, size);
      size += c.length;
    }
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
  return {
    size,
    body: () => fh.createReadStream({ start: 0, end: Math.max(0, size - 1), autoClose: false }),
    close: () => fh.close().catch(() => {}),
  };
}

export class MessageProcessor {
  private readonly clock: Clock;
  private readonly large: Semaphore;
  private readonly timeoutMs: number;

  constructor(
    private readonly deps: ProcessorDeps,
    private readonly options: ProcessorOptions,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.large = new Semaphore(options.largeConcurrency ?? 2);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  private warn(message: string): void {
    (this.deps.warn ?? ((m: string) => console.error(`smimegw warn: ${m}`)))(message);
  }

  /** Processes a received message; never rejects (every failure is a reply). Closes nothing: the caller owns `source`. */
  async process(envelope: MailEnvelope, source: MessageSource, reference: string | null): Promise<ProcessResult> {
    const startedAt = performance.now();
    const input: LogInput = { receivedAt: Date.now(), reference, envelope, sizeIn: source.size, startedAt };
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const release = source.spilled ? await this.large.acquire() : () => {};
    const state = { spooled: source.spilled };
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abort.abort();
          reject(new AppError('mail.timeout', `Processing took longer than ${Math.round(this.timeoutMs / 1000)} s; the message stays queued and will be retried`, { kind: 'temporary' }));
        }, this.timeoutMs);
      });
      const reply = await Promise.race([this.run(envelope, source, input, abort.signal, state), timeout]);
      this.record(input);
      return { reply, ...(input.plan ? { plan: input.plan } : {}), spooled: state.spooled };
    } catch (e) {
      const err = asTemporary(e);
      const reply = replyOf(err);
      input.finishedAt = performance.now();
      input.reply = { code: reply.code, line: replyLine(reply) };
      if (reply.code < 500) this.warn(`message ${reference ?? ''}: ${replyLine(reply)}${err.cause ? ` (cause: ${describe(err.cause)})` : ''}`);
      this.record(input, err);
      return { reply, ...(input.plan ? { plan: input.plan } : {}), spooled: state.spooled };
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  /** The message's log entry, once it has its reply (never holds the reply back, never fails it). */
  private record(input: LogInput, err?: AppError): void {
    this.deps.log.record(logEntry(input, err));
  }

  private async run(envelope: MailEnvelope, source: MessageSource, input: LogInput, signal: AbortSignal, state: { spooled: boolean }): Promise<Reply> {
    const header = analyseHeader(source.header);
    const plan = this.options.passThrough ? passThroughPlan(envelope, header) : await planMessage({ envelope, header }, this.deps, this.options);
    input.plan = plan;
    if (plan.refusal) throw plan.refusal;
    const results = await Promise.allSettled(plan.groups.map((g) => this.deliver(envelope, source, plan, g, signal, state)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const delivered = results.map((r) => (r as PromiseFulfilledResult<{ size: number; responses: string[] }>).value);
    input.sizeOut = delivered.reduce((n, d) => n + d.size, 0);
    const queued = delivered.flatMap((d) => d.responses.map((x) => /queued as ([A-Za-z0-9]+)/.exec(x)?.[1]).filter(Boolean));
    const n = envelope.rcptTo.length;
    const reply: Reply = {
      code: 250,
      enhanced: '2.6.0',
      text: `Ok: ${n} recipient${n === 1 ? '' : 's'}, ${plan.groups.length} message${plan.groups.length === 1 ? '' : 's'}${queued.length ? ` (queued as ${queued.join(' ')})` : ''}`,
    };
    input.finishedAt = performance.now();
    input.reply = { code: 250, line: replyLine(reply) };
    return reply;
  }

  private async deliver(
    envelope: MailEnvelope,
    source: MessageSource,
    plan: MessagePlan,
    group: GroupPlan,
    signal: AbortSignal,
    state: { spooled: boolean },
  ): Promise<{ size: number; responses: string[] }> {
    const rendered = await renderGroup(source, plan, group, { clock: this.clock, ...(this.deps.fallback ? { fallback: this.deps.fallback } : {}) });
    const output = await materialise(rendered, source.spilled, this.options.spoolDir);
    if (source.spilled) state.spooled = true;
    try {
      if (signal.aborted) throw new AppError('mail.timeout', 'Processing timed out', { kind: 'temporary' });
      const encrypted = group.treatment === 'encrypt' || group.treatment === 'sign-encrypt';
      const r = await this.deps.reinject.send(
        {
          from: envelope.mailFrom,
          recipients: group.recipients.map((x) => ({ address: x.address, ...(x.dsn ? { dsn: x.dsn } : {}) })),
          ...(envelope.dsn?.ret ? { ret: envelope.dsn.ret } : {}),
          ...(envelope.dsn?.envid ? { envid: envelope.dsn.envid } : {}),
          // an encrypted or link message is 7bit; the others keep what the client declared
          eightBit: !encrypted && group.treatment !== 'link' && envelope.eightBit === true,
          ...(envelope.smtpUtf8 ? { smtpUtf8: true } : {}),
        },
        output.body,
        signal,
      );
      return { size: output.size, responses: r.responses };
    } finally {
      await output.close();
    }
  }
}

function passThroughPlan(envelope: MailEnvelope, header: MessagePlan['header']): MessagePlan {
  const recipients = envelope.rcptTo.map((r) => ({ address: r.address, ...(r.dsn ? { dsn: r.dsn } : {}), treatment: 'internal' as const, bcc: false, reason: 'pass-through mode' }));
  return { header, sender: envelope.mailFrom, subject: undefined, triggers: [], signer: undefined, recipients, groups: [{ treatment: 'internal', recipients }] };
}

function describe(e: unknown): string {
  if (e instanceof AppError) return `${e.code}: ${e.message}${e.cause ? ` <- ${describe(e.cause)}` : ''}`;
  if (e instanceof Error) return `${(e as NodeJS.ErrnoException).code ? `${(e as NodeJS.ErrnoException).code} ` : ''}${e.message}`;
  return String(e);
}
