/**
 * The two notices of a deposit, as complete RFC 5322 messages in 7-bit (the worker re-injects them
 * like any other mail):
 *
 * - to the recipient, instead of the message: who sent it, the subject (unless the policy hides
 *   it), the link, the expiry, what to do (a code to request, or a password the sender passes on
 *   by another channel), and the offer of a certificate so the next mail arrives encrypted. In
 *   Japanese, then English. The content is never in it. From, To, Cc, Reply-To and the threading
 *   fields are the original message's, so the notice reads as the sender's mail.
 * - to the sender: the status page link (downloads, expiry, revoke, extend) and, in the
 *   out-of-band mode, the password to give the recipient by telephone or in person.
 *
 * Runtime-agnostic.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { concat, toBase64Lines, utf8 } from '../shared/bytes.js';
import { buildHeaderField, getHeaders, newBoundary, type HeaderField } from '../mime/index.js';
import type { PickupMode } from './ports.js';
import { escapeHtml } from './sanitize.js';

const CRLF = '\r\n';

/** Header fields of the original copied to the recipient's notice. */
const COPIED = ['from', 'to', 'cc', 'reply-to', 'in-reply-to', 'references'];

export interface NoticeContext {
  /** The sender's display name (or address). */
  senderName: string;
  senderAddress: string;
  recipient: string;
  /** Undefined when the policy hides the subject. */
  subject: string | undefined;
  link: string;
  statusLink: string;
  expiresAt: Date;
  mode: PickupMode;
  /** The out-of-band password (mode 'password'; only in the sender's notice). */
  password?: string;
  sizeBytes: number;
  now: Date;
  /** The host name for Message-ID. */
  host: string;
  /** From of the sender's notice, e.g. "smimegw <no-reply@gw.example>". */
  noticeFrom: string;
}

/** Text from the message (subject, names, addresses) made safe for a header line and for reading. */
// eslint-disable-next-line no-control-regex
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();

/** The context with every value from the message on one line (an encoded-word may decode to CR LF). */
function cleaned(c: NoticeContext): NoticeContext {
  return {
    ...c,
    senderName: oneLine(c.senderName),
    senderAddress: oneLine(c.senderAddress).replace(/[<>\s]/g, ''),
    recipient: oneLine(c.recipient).replace(/[<>\s]/g, ''),
    ...(c.subject !== undefined ? { subject: oneLine(c.subject) } : {}),
  };
}

/** RFC 5322 date-time in UTC. */
export function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function formatWhen(d: Date, locale: 'ja' | 'en'): string {
  return d.toLocaleString(locale === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' }) + ' UTC';
}

export function formatSize(n: number, locale: 'ja' | 'en'): string {
  const units = locale === 'ja' ? ['バイト', 'KB', 'MB', 'GB'] : ['bytes', 'KB', 'MB', 'GB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} ${units[0]}` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** The display name of a From value ("Taro Yamada <taro@x>" -> "Taro Yamada"), else the address. */
export function displayName(from: string | undefined, fallback: string): string {
  if (!from) return fallback;
  try {
    const first = addressparser(from, { flatten: true })[0];
    const name = first?.name?.trim();
    if (name) return name.replace(/[\r\n\t]+/g, ' ').slice(0, 200);
    if (first?.address) return first.address;
  } catch {
    /* fall through */
  }
  return fallback;
}

function messageId(host: string): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return `<pickup.${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}@${host}>`;
}

function field(f: HeaderField): Uint8Array {
  // the original bytes, line ends made CRLF
  const raw = f.raw;
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(raw[i]!);
  }
  return concat([Uint8Array.from(out), utf8(CRLF)]);
}

function textPart(contentType: string, text: string): string {
  return `Content-Type: ${contentType}; charset=utf-8${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}${toBase64Lines(utf8(text.replace(/\r?\n/g, CRLF)))}`;
}

/** multipart/alternative with a text and an HTML rendering. */
function alternativeBody(text: string, html: string): { header: string; body: string } {
  const boundary = newBoundary();
  const body = `--${boundary}${CRLF}${textPart('text/plain', text)}--${boundary}${CRLF}${textPart('text/html', html)}--${boundary}--${CRLF}`;
  return { header: `MIME-Version: 1.0${CRLF}Content-Type: multipart/alternative; boundary="${boundary}"${CRLF}`, body };
}

const H = escapeHtml;

function htmlPage(lang: string, sections: string): string {
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"></head><body style="font-family:sans-serif;line-height:1.6;color:#1c2430">${sections}</body></html>`;
}

function button(href: string, label: string): string {
  return `<p><a href="${H(href)}" style="display:inline-block;background:#0b5cad;color:#ffffff;padding:10px 18px;border-radius:6px;text-decoration:none;font-weight:bold">${H(label)}</a></p><p style="font-size:13px;color:#5a6676;word-break:break-all">${H(href)}</p>`;
}

// ------------------------------------------------------------------------------------------
// To the recipient
// ------------------------------------------------------------------------------------------

function recipientTexts(c: NoticeContext) {
  const ja = {
    intro: `${c.senderName} さんから、メッセージを安全な方法でお届けします。`,
    subject: c.subject !== undefined ? `件名: ${c.subject}` : undefined,
    held: `本文と添付ファイル(合計 ${formatSize(c.sizeBytes, 'ja')})は暗号化して保管しており、このメールには含まれていません。`,
    how:
      c.mode === 'password'
        ? '次のリンクを開き、送信者から電話など別の方法で伝えられるパスワードを入力してください。'
        : '次のリンクを開き、「確認コードを送る」を押してください。このアドレスに届く確認コードを入力すると表示されます。',
    open: 'メッセージを受け取る',
    until: `受け取り期限: ${formatWhen(c.expiresAt, 'ja')}(期限を過ぎると内容は削除されます)`,
    personal: `このリンクは ${c.recipient} さん専用です。転送しないでください。`,
    cert: '受け取りページの「証明書を取得」から S/MIME 証明書を取得すると、次回からはメールが暗号化されたまま直接届き、メールソフトが自動で開きます。',
  };
  const en = {
    intro: `${c.senderName} sent you a message by secure delivery.`,
    subject: c.subject !== undefined ? `Subject: ${c.subject}` : undefined,
    held: `The text and attachments (${formatSize(c.sizeBytes, 'en')} in all) are kept encrypted for you and are not in this mail.`,
    how:
      c.mode === 'password'
        ? 'Open the link below and enter the password the sender gives you by telephone or another way.'
        : 'Open the link below and press "Send me a code": a one-time code arrives at this address; enter it to see the message.',
    open: 'Open the message',
    until: `Available until ${formatWhen(c.expiresAt, 'en')}; then it is deleted.`,
    personal: `This link is for ${c.recipient} only. Please do not forward it.`,
    cert: 'Get an S/MIME certificate from the pickup page ("Get a certificate"): from then on, mail to you arrives encrypted in your inbox and your mail program opens it.',
  };
  return { ja, en };
}

/** The notice the recipient gets instead of the message. */
export function recipientNotice(context: NoticeContext, original: HeaderField[]): Uint8Array {
  const c = cleaned(context);
  const { ja, en } = recipientTexts(c);
  const text = [
    ja.intro,
    ...(ja.subject ? [ja.subject] : []),
    '',
    ja.held,
    ja.how,
    '',
    c.link,
    '',
    ja.until,
    ja.personal,
    '',
    ja.cert,
    '',
    '----------------------------------------------------------------',
    '',
    en.intro,
    ...(en.subject ? [en.subject] : []),
    '',
    en.held,
    en.how,
    '',
    c.link,
    '',
    en.until,
    en.personal,
    '',
    en.cert,
    '',
  ].join('\n');
  const section = (t: typeof ja, lang: string) =>
    `<div lang="${lang}"><p>${H(t.intro)}</p>${t.subject ? `<p><strong>${H(t.subject)}</strong></p>` : ''}<p>${H(t.held)}<br>${H(t.how)}</p>${button(c.link, t.open)}<p>${H(t.until)}<br>${H(t.personal)}</p><p style="color:#5a6676">${H(t.cert)}</p></div>`;
  const html = htmlPage('ja', `${section(ja, 'ja')}<hr>${section(en, 'en')}`);
  const subjectLine =
    c.subject !== undefined ? `【安全な受け取り / Secure pickup】${c.subject}` : `【安全な受け取り / Secure pickup】${c.senderName} さんからのメッセージ / Message from ${c.senderName}`;

  const copied: Uint8Array[] = [];
  for (const name of COPIED) for (const f of getHeaders(original, name)) copied.push(field(f));
  if (!original.some((f) => f.lname === 'from')) copied.unshift(utf8(`From: <${c.senderAddress}>${CRLF}`));
  if (!original.some((f) => f.lname === 'to' || f.lname === 'cc')) copied.push(utf8(`To: <${c.recipient}>${CRLF}`));
  const alt = alternativeBody(text, html);
  return concat([
    ...copied,
    buildHeaderField('Subject', subjectLine),
    utf8(`Date: ${rfc5322Date(c.now)}${CRLF}Message-ID: ${messageId(c.host)}${CRLF}Auto-Submitted: auto-generated${CRLF}X-Smimegw-Pickup: notice${CRLF}`),
    utf8(alt.header),
    utf8(CRLF),
    utf8(alt.body),
  ]);
}

// ------------------------------------------------------------------------------------------
// To the sender
// ------------------------------------------------------------------------------------------

/** The notice the sender gets: the status page and, in the out-of-band mode, the password. */
export function senderNotice(context: NoticeContext): Uint8Array {
  const c = cleaned(context);
  const subj = c.subject !== undefined && c.subject !== '' ? c.subject : '(件名なし / no subject)';
  const ja = {
    intro: `${c.recipient} さんには S/MIME 証明書が登録されていないため、メッセージ「${subj}」は安全な受け取りリンクでお届けしました。`,
    password:
      c.mode === 'password'
        ? [`受け取りパスワード: ${c.password ?? ''}`, 'このパスワードは、電話や対面など、メール以外の方法で相手にお伝えください。メールで送らないでください。']
        : ['相手には、本人のメールアドレスに届く確認コードで受け取っていただきます。'],
    status: '受け取り状況(ダウンロード回数、期限)の確認や、リンクの取り消し・延長は次のページから行えます:',
    until: `期限: ${formatWhen(c.expiresAt, 'ja')}`,
    open: '受け取り状況を見る',
  };
  const en = {
    intro: `${c.recipient} has no S/MIME certificate registered, so your message "${subj}" was delivered as a secure pickup link.`,
    password:
      c.mode === 'password'
        ? [`Pickup password: ${c.password ?? ''}`, 'Give this password to the recipient by telephone or in person, never by mail.']
        : ['The recipient opens it with a one-time code sent to their own address.'],
    status: 'See whether it was picked up (downloads, expiry), or revoke or extend the link, on this page:',
    until: `Expires: ${formatWhen(c.expiresAt, 'en')}`,
    open: 'See the pickup status',
  };
  const text = [ja.intro, '', ...ja.password, '', ja.status, c.statusLink, ja.until, '', '----------------------------------------------------------------', '', en.intro, '', ...en.password, '', en.status, c.statusLink, en.until, ''].join('\n');
  const section = (t: typeof ja, lang: string) =>
    `<div lang="${lang}"><p>${H(t.intro)}</p>${t.password.map((p, i) => (i === 0 && c.mode === 'password' ? `<p style="font-size:20px;font-family:monospace"><strong>${H(p)}</strong></p>` : `<p>${H(p)}</p>`)).join('')}<p>${H(t.status)}</p>${button(c.statusLink, t.open)}<p>${H(t.until)}</p></div>`;
  const html = htmlPage('ja', `${section(ja, 'ja')}<hr>${section(en, 'en')}`);
  const alt = alternativeBody(text, html);
  return concat([
    utf8(`From: ${c.noticeFrom}${CRLF}To: <${c.senderAddress}>${CRLF}`),
    buildHeaderField('Subject', `【送信控え / Pickup sent】${c.recipient}: ${subj}`),
    utf8(`Date: ${rfc5322Date(c.now)}${CRLF}Message-ID: ${messageId(c.host)}${CRLF}Auto-Submitted: auto-generated${CRLF}X-Smimegw-Pickup: sender-notice${CRLF}`),
    utf8(alt.header),
    utf8(CRLF),
    utf8(alt.body),
  ]);
}
