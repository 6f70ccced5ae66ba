/**
 * An SMTP server on 127.0.0.1 (smtp-server) that keeps every message it accepts: the last hop for
 * tests of mail the service sends. `refuse` makes it answer 451 to each message while set.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SinkMail {
  from: string;
  to: string[];
  raw: Buffer;
}

export interface SmtpSink {
  port: number;
  /** smtp://127.0.0.1:<port> */
  url: string;
  mails: SinkMail[];
  refuse: boolean;
  close(): Promise<void>;
}

export async function startSmtpSink(o: { maxSize?: number } = {}): Promise<SmtpSink> {
  const mails: SinkMail[] = [];
  const state = { refuse: false };
  const server = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    ...(o.maxSize ? { size: o.maxSize } : {}),
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (state.refuse) return done(Object.assign(new Error('try again later'), { responseCode: 451 }));
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    mails,
    get refuse() {
      return state.refuse;
    },
    set refuse(v: boolean) {
      state.refuse = v;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
