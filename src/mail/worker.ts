/**
 * The SMTP side of the content-filter worker: an smtp-server listening on FILTER_LISTEN for mail
 * from the MTA (Postfix `content_filter = scan:[127.0.0.1]:10025`).
 *
 * Per session: EHLO name different from the MTA's (Postfix refuses a filter that greets with its
 * own name: "mail loops back to myself"), no reverse DNS, DSN parameters kept (hideDSN false),
 * XFORWARD accepted (Postfix sends the queue id as IDENT: it becomes the log reference), SIZE
 * advertised and enforced (552 5.3.4), an idle client is dropped with 421 after the client timeout.
 *
 * RCPT TO: a recipient whose policy makes encryption mandatory (without a subject trigger, which is
 * only known after DATA) and who has no usable certificate is refused right there with 550 5.7.1,
 * so the MTA bounces that recipient alone and delivers to the others.
 *
 * DATA: received into memory or a spool file (src/mail/source.ts), processed (src/mail/processor.ts),
 * answered 250 only once every resulting message was accepted by the re-injection MTA; any failure
 * 451 with an enhanced status code.
 */
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { AddressInfo } from 'node:net';
import { AppError } from '../shared/errors.js';
import { receiveMessage } from './source.js';
import { decideRecipient, isInternal, type MailEnvelope, type RecipientDsn } from './pipeline.js';
import { MessageProcessor, asTemporary, replyLine, type ProcessResult } from './processor.js';
import { hasMandatory } from './policy.js';

/** The EHLO/greeting name of the worker (must not be the MTA's myhostname). */
export const FILTER_HOSTNAME = 'smimegw-filter.localdomain';

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

// smtp-server derives an enhanced status code from the basic code (550 -> 5.1.1). Our replies carry
// the right one themselves (550 5.7.1, 451 4.4.1, 552 5.3.4): keep it instead of adding another.
const proto = SMTPConnection.prototype as unknown as { send(code: number, data: unknown, context?: unknown): void; __smimegw?: boolean };
if (!proto.__smimegw) {
  const original = proto.send;
  proto.send = function (this: unknown, code: number, data: unknown, context?: unknown) {
    return original.call(this, code, data, typeof data === 'string' && ENHANCED_PREFIX.test(data) ? false : context);
  };
  proto.__smimegw = true;
}

export interface WorkerOptions {
  host: string;
  port: number;
  /** Maximum message size in bytes (SIZE). */
  maxSize: number;
  /** Bytes kept in memory per message before spilling to the spool folder. */
  spillThreshold: number;
  spoolDir: string;
  /** Concurrent client connections (more get 421). */
  maxClients?: number;
  /** Idle client timeout (ms): a client that stalls gets 421 and is disconnected. */
  clientTimeoutMs?: number;
  /** RCPT TO check for mandatory encryption (default on). */
  rcptCheck?: boolean;
  /** Diagnostics. */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface RunningWorker {
  /** The bound address (port resolved when 0 was asked). */
  address: AddressInfo;
  server: SMTPServer;
  /** Stops accepting, waits for sessions in progress (up to closeTimeout), then closes. */
  close(): Promise<void>;
}

function rcptDsn(a: SMTPServerAddress): RecipientDsn | undefined {
  const d = (a as { dsn?: { notify?: string[]; orcpt?: string } }).dsn;
  if (!d) return undefined;
  return { ...(d.notify?.length ? { notify: d.notify } : {}), ...(d.orcpt ? { orcpt: d.orcpt } : {}) };
}

/** The MailEnvelope of an smtp-server session. */
export function envelopeOf(session: SMTPServerSession): MailEnvelope {
  const env = session.envelope as SMTPServerSession['envelope'] & { dsn?: { ret: string | null; envid: string | null }; bodyType?: string; smtpUtf8?: boolean };
  const from = env.mailFrom ? env.mailFrom.address : '';
  return {
    mailFrom: from,
    rcptTo: env.rcptTo.map((r) => {
      const dsn = rcptDsn(r);
      return { address: r.address, ...(dsn ? { dsn } : {}) };
    }),
    ...(env.dsn && (env.dsn.ret || env.dsn.envid) ? { dsn: { ret: env.dsn.ret, envid: env.dsn.envid } } : {}),
    eightBit: env.bodyType === '8bitmime',
    smtpUtf8: env.smtpUtf8 === true,
  };
}

function smtpError(code: number, enhanced: string, text: string): Error & { responseCode: number } {
  const e = new Error(`${enhanced} ${text}`.replace(/[\r\n]+/g, ' ')) as Error & { responseCode: number };
  e.responseCode = code;
  return e;
}

/** Starts the SMTP listener. `processor` does the work; the RCPT check uses its pipeline dependencies. */
export async function startWorker(
  processor: MessageProcessor,
  options: WorkerOptions,
  hooks: { onResult?: (r: ProcessResult & { size: number; reference: string | null; ms: number }) => void; rcptDeps?: Parameters<typeof decideRecipient>[2]; pipelineOptions?: Parameters<typeof decideRecipient>[3] } = {},
): Promise<RunningWorker> {
  const log = options.log ?? (() => {});

  const serverOptions: SMTPServerOptions = {
    name: FILTER_HOSTNAME,
    banner: 'smimegw content filter',
    size: options.maxSize,
    hideSize: false,
    hideDSN: false,
    hideSTARTTLS: true,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    disabledCommands: ['AUTH', 'STARTTLS'],
    authOptional: true,
    disableReverseLookup: true,
    useXForward: true,
    maxClients: options.maxClients ?? 100,
    socketTimeout: options.clientTimeoutMs ?? 60_000,
    closeTimeout: 30_000,
    logger: false,
    onRcptTo(address, session, callback) {
      const deps = hooks.rcptDeps;
      const popts = hooks.pipelineOptions;
      if (!deps || !popts || options.rcptCheck === false || isInternal(address.address, popts.internalDomains)) return callback();
      // the usual case, answered without a promise: a fresh policy copy with no mandatory rule
      const fresh = deps.policies.current?.();
      if (fresh && !hasMandatory(fresh)) return callback();
      const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      deps.policies
        .rules()
        .then((rules) => {
          if (!hasMandatory(rules)) return undefined; // nothing can be refused: skip the directory
          return decideRecipient({ address: address.address }, { sender, rules, triggers: [], signer: undefined }, deps, popts);
        })
        .then((decision) => {
          if (decision?.treatment === 'reject') {
            log('info', `RCPT <${address.address}> from <${sender}> refused: ${decision.reason}`);
            return callback(smtpError(550, '5.7.1', `Encryption to <${address.address}> is mandatory but no usable certificate is on file (${decision.reason})`));
          }
          callback();
        })
        .catch((e: unknown) => {
          const err = asTemporary(e);
          log('warn', `RCPT <${address.address}>: ${err.message}`);
          callback(smtpError(451, err.smtp.code < 500 ? err.smtp.enhanced : '4.3.0', err.message));
        });
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const t0 = performance.now();
      const reference = (session.xForward?.get('IDENT') as string | undefined) || session.id;
      const envelope = envelopeOf(session);
      receiveMessage(stream, { spillThreshold: options.spillThreshold, spoolDir: options.spoolDir, maxSize: options.maxSize })
        .then(async (received) => {
          if (!received.source) {
            const e = received.refusal!;
            log('info', `message ${reference} from <${envelope.mailFrom}> refused: ${e.smtpLine()}`);
            return callback(smtpError(e.smtp.code, e.smtp.enhanced, e.message));
          }
          const source = received.source;
          try {
            const result = await processor.process(envelope, source, reference);
            hooks.onResult?.({ ...result, size: received.size, reference, ms: performance.now() - t0 });
            const r = result.reply;
            if (r.code < 300) return callback(null, `${r.enhanced} ${r.text}`);
            return callback(smtpError(r.code, r.enhanced, r.text));
          } finally {
            await source.close();
          }
        })
        .catch((e: unknown) => {
          const err = asTemporary(e);
          if (err.code === 'mail.client_gone') {
            log('info', `message ${reference}: ${err.message}`);
          } else log('warn', `message ${reference}: ${replyLine({ code: err.smtp.code, enhanced: err.smtp.enhanced, text: err.message })}`);
          callback(smtpError(err.smtp.code, err.smtp.enhanced, err.message));
        });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', (e: Error) => log('warn', `smtp: ${e.message}`));

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const address = server.server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    address,
    server,
    close() {
      closing ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closing;
    },
  };
}
