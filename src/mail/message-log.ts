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
