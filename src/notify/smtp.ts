/** Notifier over SMTP (nodemailer), for NOTIFY_SMTP_URL. Node-only adapter. */
import nodemailer from 'nodemailer';
import { AppError } from '../shared/errors.js';
import type { Notifier, OutgoingMail } from './index.js';

export interface SmtpNotifierOptions {
  url: string;
  from: string;
}

export function createSmtpNotifier(options: SmtpNotifierOptions): Notifier & { close(): void } {
  const transport = nodemailer.createTransport(options.url);
  return {
    async send(mail: OutgoingMail) {
      try {
        await transport.sendMail({ from: options.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      } catch (e) {
        throw new AppError('notify.failed', 'The notification mail could not be sent; try again later', { kind: 'temporary', cause: e });
      }
    },
    close() {
      transport.close();
    },
  };
}
