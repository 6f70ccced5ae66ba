/** The verification mails, in Japanese and English. */
import type { OutgoingMail } from '../notify/index.js';
import type { ChallengePurpose } from './mailbox.js';

export type Locale = 'ja' | 'en';

const WHAT: Record<ChallengePurpose, { en: string; ja: string }> = {
  enroll: { en: 'get your S/MIME certificate', ja: 'S/MIME 証明書の発行' },
  renew: { en: 'renew your S/MIME certificate', ja: 'S/MIME 証明書の更新' },
  upload: { en: 'register your certificate', ja: '証明書の登録' },
  revoke: { en: 'revoke your certificate', ja: '証明書の失効' },
  pickup: { en: 'open the message waiting for you', ja: 'お預かりしているメッセージの受け取り' },
};

function formatDate(d: Date, locale: Locale): string {
  return d.toLocaleString(locale === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' }) + ' UTC';
}

export function challengeMail(p: { to: string; purpose: ChallengePurpose; locale: Locale; code: string; link: string; expiresAt: Date }): OutgoingMail {
  const what = WHAT[p.purpose];
  if (p.locale === 'ja') {
    return {
      to: p.to,
      subject: `確認コード: ${what.ja}`,
      text:
        `${what.ja}のため、このメールアドレスの確認をお願いします。\n\n` +
        `確認コード: ${p.code}\n\n` +
        `または次のリンクを開いてください:\n${p.link}\n\n` +
        `このコードは ${formatDate(p.expiresAt, 'ja')} まで、一度だけ有効です。\n` +
        `心当たりがない場合は、このメールを破棄してください。\n\n` +
        `---\nVerification code (English): ${p.code}\n`,
    };
  }
  return {
    to: p.to,
    subject: `Your verification code to ${what.en}`,
    text:
      `To ${what.en}, confirm that this mailbox is yours.\n\n` +
      `Verification code: ${p.code}\n\n` +
      `Or open this link:\n${p.link}\n\n` +
      `The code works once, until ${formatDate(p.expiresAt, 'en')}.\n` +
      `If you did not ask for this, ignore this mail.\n\n` +
      `---\n確認コード (日本語): ${p.code}\n`,
  };
}
