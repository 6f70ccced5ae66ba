/**
 * Re-injection: hands each resulting message back to the MTA (Postfix's second smtpd, which does
 * not filter again) over a pool of reused SMTP connections (nodemailer's pooled transport).
 *
 * - The envelope keeps the original MAIL FROM (also the null sender <> of bounces), BODY=8BITMIME
 *   and SMTPUTF8 as received, and the DSN parameters: RET and ENVID on MAIL FROM, NOTIFY and ORCPT
 *   on each RCPT TO. nodemailer sends one NOTIFY/ORCPT for all recipients of a transaction, so
 *   recipients with different DSN parameters go in separate transactions (same bytes). An ORCPT
 *   that only repeats the recipient's own address ("rfc822;bob@example.com" for bob@example.com,
 *   which Postfix adds to every recipient) says nothing the RCPT TO does not: it is left out, so
 *   such recipients can share a transaction.
 * - The message goes as `raw`: nodemailer adds nothing and rewrites nothing (it only dot-stuffs,
 *   with our faster, byte-identical encoder, which skips a built message's data-safe part:
 *   src/mail/dot-stuff.ts).
 * - Success means every recipient was accepted. Anything else rejects with AppError
 *   'reinject.failed' (451 4.4.x): the worker then answers 451 and the MTA keeps the original.
 *
 * Pool size: each pooled connection holds one smtpd process of the re-injection listener while it is
 * open (idle ones too, until idleTimeout). Keep `poolSize` well below that listener's maxproc
 * (docs/OPERATIONS.md).
 */
import { createTransport, type Transporter } from 'nodemailer';
import type { Readable } from 'node:stream';
import { AppError } from '../shared/errors.js';
import type { RecipientDsn } from './pipeline.js';
import { installFastDataStream } from './dot-stuff.js';

installFastDataStream();

export interface ReinjectOptions {
  /** smtp://host:port (or smtps://). */
  url: string;
  /** Pooled connections (default 10). */
  poolSize?: number;
  /** EHLO name (must differ from the MTA's own host name). */
  name?: string;
  /** Close an idle pooled connection after this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Connection and greeting timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** Socket inactivity timeout (default 120 s). */
  socketTimeoutMs?: number;
}

export interface ReinjectEnvelope {
  from: string;
  recipients: Array<{ address: string; dsn?: RecipientDsn }>;
  ret?: string | null;
  envid?: string | null;
  eightBit?: boolean;
  smtpUtf8?: boolean;
}

export interface ReinjectResult {
  /** The MTA's replies (e.g. "250 2.0.0 Ok: queued as 4Xyz"), one per transaction. */
  responses: string[];
}

type Body = Uint8Array | (() => Readable);

function dsnKey(d: RecipientDsn | undefined): string {
  return `${d?.notify?.join(',') ?? ''}|${d?.orcpt ?? ''}`;
}

/** The DSN parameters to send for a recipient: an ORCPT naming the recipient itself is dropped. */
export function effectiveDsn(address: string, d: RecipientDsn | undefined): RecipientDsn | undefined {
  if (!d) return undefined;
  const redundant = d.orcpt !== undefined && d.orcpt.toLowerCase() === `rfc822;${address.toLowerCase()}`;
  if (!redundant) return d;
  return d.notify?.length ? { notify: d.notify } : undefined;
}

/** Why a re-injection failed, as the reply the worker gives (451 4.4.1 unreachable, 4.4.2 otherwise). */
export function reinjectError(e: unknown, url: string): AppError {
  if (e instanceof AppError) return e;
  const err = e as { code?: string; responseCode?: number; response?: string; message?: string };
  const where = url.replace(/\/\/[^@/]*@/, '//');
  const detail = err.response ? err.response.replace(/\s+/g, ' ').slice(0, 200) : (err.message ?? String(e));
  const unreachable = err.code === 'ECONNECTION' || err.code === 'ETIMEDOUT' || /ECONNREFUSED|EHOSTUNREACH|ENOTFOUND/.test(err.message ?? '');
  return new AppError(
    'reinject.failed',
    `Could not hand the processed message back to the MTA at ${where} (${detail}); it stays queued and will be retried`,
    { kind: 'temporary', smtp: { code: 451, enhanced: unreachable ? '4.4.1' : '4.4.2' }, cause: e },
  );
}

export class Reinjector {
  private readonly transport: Transporter;
  readonly url: string;

  constructor(options: ReinjectOptions) {
    this.url = options.url;
    const u = new URL(options.url);
    this.transport = createTransport({
      pool: true,
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: Number(u.port) || (u.protocol === 'smtps:' ? 465 : 25),
      secure: u.protocol === 'smtps:',
      ignoreTLS: u.protocol === 'smtp:' && (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]'),
      ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
      maxConnections: options.poolSize ?? 10,
      maxMessages: Infinity,
      name: options.name ?? 'smimegw-filter.localdomain',
      connectionTimeout: options.connectTimeoutMs ?? 10_000,
      greetingTimeout: options.connectTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 120_000,
      idleTimeout: options.idleTimeoutMs ?? 30_000,
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    } as Parameters<typeof createTransport>[0]);
  }

  /** Sends one message to its recipients; resolves only when every recipient was accepted. */
  async send(envelope: ReinjectEnvelope, body: Body, signal?: AbortSignal): Promise<ReinjectResult> {
    const byDsn = new Map<string, ReinjectEnvelope['recipients']>();
    for (const recipient of envelope.recipients) {
      const dsn = effectiveDsn(recipient.address, recipient.dsn);
      const r = { address: recipient.address, ...(dsn ? { dsn } : {}) };
      const k = dsnKey(dsn);
      const list = byDsn.get(k);
      if (list) list.push(r);
      else byDsn.set(k, [r]);
    }
    const responses = await Promise.all([...byDsn.values()].map((rcpts) => this.transaction(envelope, rcpts, body, signal)));
    return { responses };
  }

  private async transaction(envelope: ReinjectEnvelope, rcpts: ReinjectEnvelope['recipients'], body: Body, signal?: AbortSignal): Promise<string> {
    const dsn = rcpts[0]!.dsn;
    const wantDsn = envelope.ret || envelope.envid || dsn?.notify?.length || dsn?.orcpt;
    // a Buffer goes as it is: its identity carries a data-safe mark (src/mime/data-safe.ts) to the encoder
    const raw = typeof body === 'function' ? body() : Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    try {
      const info = await this.transport.sendMail({
        envelope: {
          from: envelope.from,
          to: rcpts.map((r) => r.address),
          ...(envelope.eightBit ? { use8BitMime: true } : {}),
        } as never,
        raw,
        ...(wantDsn
          ? {
              dsn: {
                ...(envelope.ret ? { ret: envelope.ret } : {}),
                ...(envelope.envid ? { id: envelope.envid } : {}),
                ...(dsn?.notify?.length ? { notify: dsn.notify } : {}),
                ...(dsn?.orcpt ? { recipient: dsn.orcpt } : {}),
              },
            }
          : {}),
        ...(signal ? { signal } : {}),
      } as never);
      const rejected = (info as { rejected?: unknown[] }).rejected ?? [];
      if (rejected.length > 0) {
        const errs = (info as { rejectedErrors?: Array<{ response?: string }> }).rejectedErrors ?? [];
        throw reinjectError(
          { response: `recipients refused: ${rejected.join(', ')}${errs[0]?.response ? ` (${errs[0].response})` : ''}` },
          this.url,
        );
      }
      return String((info as { response?: string }).response ?? '');
    } catch (e) {
      if (typeof raw === 'object' && 'destroy' in raw) (raw as Readable).destroy();
      throw reinjectError(e, this.url);
    }
  }

  /** Closes the pooled connections. */
  close(): void {
    this.transport.close();
  }
}
