/**
 * Renewal reminders: 30 and 7 days before a certificate we issued expires, its holder gets a mail
 * (Japanese and English) with a renewal link `${PUBLIC_URL}/enroll?renew=<address>`. Renewal
 * re-keys (a new request, a new key); the old certificate stays in the directory.
 *
 * Run `sendRenewalReminders` from a periodic job (e.g. hourly); it is idempotent: a reminder is
 * marked sent only after the notifier accepted it, and never sent twice.
 */
import { systemClock, type Clock } from '../shared/clock.js';
import type { Authority, RenewalReminder } from './authority.js';

/** The notifier port (src/notify Notifier satisfies it). */
export interface ReminderNotifier {
  send(mail: { to: string; subject: string; text: string; html?: string }): Promise<void>;
}

export interface ReminderJobDeps {
  authority: Pick<Authority, 'remindersDue' | 'markReminded'>;
  notifier: ReminderNotifier;
  /** PUBLIC_URL (the enrollment page lives there). */
  publicUrl: string;
  clock?: Clock;
  /** Called for a reminder that could not be sent (it is retried on the next run). */
  onError?: (reminder: RenewalReminder, error: unknown) => void;
}

export interface ReminderJobResult {
  sent: RenewalReminder[];
  failed: RenewalReminder[];
}

export function renewalLink(publicUrl: string, address: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/enroll?renew=${encodeURIComponent(address)}`;
}

function day(d: Date, locale: 'ja' | 'en'): string {
  return d.toLocaleDateString(locale === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: 'UTC', dateStyle: 'long' }) + ' (UTC)';
}

/** The reminder mail: Japanese first, then English (we do not know the holder's language). */
export function reminderMail(r: RenewalReminder, publicUrl: string): { to: string; subject: string; text: string } {
  const link = renewalLink(publicUrl, r.email);
  return {
    to: r.email,
    subject: `S/MIME 証明書の有効期限が近づいています / Your S/MIME certificate expires on ${r.notAfter.toISOString().slice(0, 10)}`,
    text:
      `${r.email} の S/MIME 証明書(シリアル ${r.serialHex})は ${day(r.notAfter, 'ja')} に有効期限が切れます。\n` +
      `次のリンクから更新してください。更新すると新しい鍵で新しい証明書が発行されます。\n` +
      `古い証明書と鍵は削除しないでください(以前に受け取った暗号化メールを読むために必要です)。\n\n` +
      `${link}\n\n` +
      `---\n` +
      `The S/MIME certificate of ${r.email} (serial ${r.serialHex}) expires on ${day(r.notAfter, 'en')}.\n` +
      `Renew it here; renewal issues a new certificate for a new key:\n\n${link}\n\n` +
      `Keep your old certificate and key: you need them to read mail encrypted to them.\n`,
  };
}

/** Sends every due reminder once. */
export async function sendRenewalReminders(deps: ReminderJobDeps): Promise<ReminderJobResult> {
  const now = (deps.clock ?? systemClock).now();
  const result: ReminderJobResult = { sent: [], failed: [] };
  for (const r of await deps.authority.remindersDue(now)) {
    try {
      await deps.notifier.send(reminderMail(r, deps.publicUrl));
    } catch (e) {
      result.failed.push(r);
      deps.onError?.(r, e);
      continue;
    }
    await deps.authority.markReminded(r.certificateId, r.which, now);
    result.sent.push(r);
  }
  return result;
}
