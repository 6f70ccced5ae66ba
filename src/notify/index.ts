/**
 * The service's own outgoing mail (verification codes, reminders, pickup notices): a small port
 * with two adapters, SMTP (src/notify/smtp.ts, Node) and the development outbox
 * (src/db/outbox.ts), chosen by the entry point.
 */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface Notifier {
  /** Resolves once the mail was accepted for delivery; rejects with an AppError otherwise. */
  send(mail: OutgoingMail): Promise<void>;
}
