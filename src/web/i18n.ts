/**
 * Every text the web pages show, in Japanese and English, and how the language is chosen:
 * `?lang=ja|en` (remembered in the `lang` cookie), then the cookie, then Accept-Language, then
 * English. Runtime-agnostic and free of imports with side effects: the browser bundle uses it too.
 */
import type { Locale } from '../proof/messages.js';

export type { Locale };
export const LOCALES: readonly Locale[] = ['ja', 'en'];
export const LANG_COOKIE = 'lang';

export function isLocale(v: unknown): v is Locale {
  return v === 'ja' || v === 'en';
}

/** The best of our locales for an Accept-Language header (RFC 9110 12.5.4), or undefined. */
export function parseAcceptLanguage(header: string | null | undefined): Locale | undefined {
  if (!header) return undefined;
  let best: { locale: Locale; q: number; order: number } | undefined;
  header.split(',').forEach((part, order) => {
    const [tag = '', ...params] = part.trim().split(';');
    const primary = tag.trim().toLowerCase().split('-')[0];
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (!Number.isFinite(q) || q <= 0 || !isLocale(primary)) return;
    if (!best || q > best.q || (q === best.q && order < best.order)) best = { locale: primary, q, order };
  });
  return best?.locale;
}

/** The page language: explicit choice, then the remembered one, then the browser's, then English. */
export function pickLocale(p: { query?: string | null; cookie?: string | null; acceptLanguage?: string | null }): Locale {
  if (isLocale(p.query)) return p.query;
  if (isLocale(p.cookie)) return p.cookie;
  return parseAcceptLanguage(p.acceptLanguage) ?? 'en';
}

export interface GuideSection {
  id: string;
  title: string;
  /** Which of the two files to use. */
  file: string;
  steps: string[];
}

export interface PickupMessages {
  title: string;
  footer: string;
  from: string;
  to: string;
  cc: string;
  subject: string;
  date: string;
  expires: string;
  size: string;
  waiting: string;
  codeIntro: string;
  sendCode: string;
  codeSent: string;
  codeLabel: string;
  codeHelp: string;
  codeSubmit: string;
  newCode: string;
  passwordIntro: string;
  passwordLabel: string;
  passwordSubmit: string;
  messageHeading: string;
  htmlNote: string;
  plainText: string;
  noBody: string;
  attachments: string;
  noAttachments: string;
  inlineImages: string;
  downloadEml: string;
  emlHelp: string;
  certHeading: string;
  certIntro: string;
  certButton: string;
  certNoCode: string;
  certCodeMailed: string;
  sessionNote: string;
  notFoundTitle: string;
  notFound: string;
  expiredTitle: string;
  expired: string;
  revokedTitle: string;
  revoked: string;
  lockedTitle: string;
  locked: string;
  tooManyTitle: string;
  tooMany: string;
  reconfirm: string;
  statusTitle: string;
  statusIntro: string;
  state: string;
  states: Record<'active' | 'expired' | 'revoked' | 'deleted' | 'locked', string>;
  sent: string;
  downloads: string;
  failedAttempts: string;
  mode: string;
  modes: Record<'code' | 'password', string>;
  accessLog: string;
  logEmpty: string;
  logAt: string;
  logAction: string;
  logVerified: string;
  logClient: string;
  actions: Record<string, string>;
  yes: string;
  no: string;
  revoke: string;
  revokeHelp: string;
  extend: string;
  extendHelp: string;
  unlock: string;
  unlockHelp: string;
  revokedDone: string;
  extendedDone: string;
  unlockedDone: string;
}

export interface Messages {
  lang: { self: string; switchTo: string; otherName: string };
  site: { name: string; footer: string; skip: string };
  enroll: {
    title: string;
    intro: string;
    noscript: string;
    steps: [string, string, string];
    addressHeading: string;
    addressLabel: string;
    addressHelp: string;
    addressSubmit: string;
    codeHeading: string;
    codeSent: string;
    codeSentTo: string;
    codeLabel: string;
    codeHelp: string;
    codeSubmit: string;
    startOver: string;
    keyHeading: string;
    keyIntro: string;
    keyAlgorithmNote: string;
    passphraseLabel: string;
    passphraseRepeatLabel: string;
    passphraseHelp: string;
    keySubmit: string;
    privacyNote: string;
    doneHeading: string;
    doneIntro: string;
    certificateFor: string;
    validUntil: string;
    downloadModern: string;
    downloadModernHelp: string;
    downloadCompatible: string;
    downloadCompatibleHelp: string;
    downloadChain: string;
    downloadChainHelp: string;
    downloadCertificate: string;
    guideLink: string;
    keepSafe: string;
  };
  progress: {
    sending: string;
    checking: string;
    generating: string;
    requesting: string;
    packaging: string;
  };
  clientErrors: {
    passphraseShort: string;
    passphraseMismatch: string;
    network: string;
    noCrypto: string;
    unexpected: string;
  };
  guide: {
    title: string;
    intro: string;
    whichFile: string;
    sections: GuideSection[];
    back: string;
  };
  outbox: { title: string; intro: string; empty: string; to: string; subject: string; at: string };
  errorPage: { title: string; back: string };
  /** Secure pickup: the recipient's pages and the sender's status page. `{x}` placeholders are filled by fill(). */
  pickup: PickupMessages;
  /** Error codes from the API, as a person reads them. `{n}` is replaced by a number from the error's detail. */
  errors: Record<string, string>;
}

const en: Messages = {
  lang: { self: 'English', switchTo: '日本語', otherName: 'ja' },
  site: {
    name: 'Secure mail certificate',
    footer: 'Your private key is created in this browser and never sent to the server.',
    skip: 'Skip to the content',
  },
  enroll: {
    title: 'Get your S/MIME certificate',
    intro:
      'With an S/MIME certificate, mail sent to you arrives encrypted and your mail program opens it for you. It takes three short steps.',
    noscript: 'This page needs JavaScript: your key is created in your browser, so that it never leaves your computer.',
    steps: ['Your address', 'Confirm', 'Key and files'],
    addressHeading: '1. Your e-mail address',
    addressLabel: 'E-mail address',
    addressHelp: 'We send a confirmation code to this address. Only the person who can read this mailbox can continue.',
    addressSubmit: 'Send me a code',
    codeHeading: '2. Confirm your address',
    codeSent: 'We sent a code to your mailbox. It works once, for 24 hours.',
    codeSentTo: 'Sent to:',
    codeLabel: 'Confirmation code',
    codeHelp: 'Type the code from the mail (the dashes are optional), or open the link in the mail.',
    codeSubmit: 'Confirm',
    startOver: 'Start again with another address',
    keyHeading: '3. Your key and certificate',
    keyIntro:
      'Choose a passphrase. It protects the files you download; you will type it once when you import them into your mail program.',
    keyAlgorithmNote: 'Your browser creates an RSA 2048-bit key. Only the public half is sent to us.',
    passphraseLabel: 'Passphrase (at least 8 characters)',
    passphraseRepeatLabel: 'Passphrase again',
    passphraseHelp: 'We cannot recover it for you. Write it down somewhere safe until you have imported the file.',
    keySubmit: 'Create my key and certificate',
    privacyNote: 'The private key stays in this browser tab; closing the tab without downloading loses it.',
    doneHeading: 'Your certificate is ready',
    doneIntro: 'Download your files now: this page cannot show them again. Then import one into your mail program.',
    certificateFor: 'Certificate for',
    validUntil: 'Valid until',
    downloadModern: 'Download (modern)',
    downloadModernHelp: 'For Outlook on Windows 10 or later, Thunderbird, and current systems. Strongest protection.',
    downloadCompatible: 'Download (compatible)',
    downloadCompatibleHelp: 'For Apple Mail, iPhone and iPad, older Windows, and GnuPG (gpgsm). Use this one if the modern file is refused.',
    downloadChain: 'Download the issuer certificates',
    downloadChainHelp: 'Some programs (Thunderbird, Apple devices) need these to trust your certificate.',
    downloadCertificate: 'Download the certificate only (no key)',
    guideLink: 'How to import the file into Outlook, Thunderbird, Apple Mail or iPhone',
    keepSafe: 'Keep the .p12 file and the passphrase safe: whoever has both can read your encrypted mail.',
  },
  progress: {
    sending: 'Sending the code…',
    checking: 'Checking the code…',
    generating: 'Creating your key in this browser…',
    requesting: 'Requesting your certificate…',
    packaging: 'Packing your files…',
  },
  clientErrors: {
    passphraseShort: 'The passphrase must have at least 8 characters.',
    passphraseMismatch: 'The two passphrases are not the same.',
    network: 'The service could not be reached. Check your connection and try again.',
    noCrypto: 'This browser cannot create keys here. Use a current browser and open this page over HTTPS.',
    unexpected: 'Something went wrong. Please try again.',
  },
  guide: {
    title: 'Import your certificate',
    intro: 'You downloaded two files with the same key and certificate. Pick the one your program reads, then follow its steps.',
    whichFile: 'File to use:',
    sections: [
      {
        id: 'outlook',
        title: 'Outlook (Windows)',
        file: 'modern (Windows 10 or later), compatible on older Windows',
        steps: [
          'Double-click the .p12 file. The Certificate Import Wizard opens: choose "Current User", then Next.',
          'Type your passphrase, keep "Automatically select the certificate store", and finish the wizard.',
          'In Outlook: File > Options > Trust Center > Trust Center Settings > Email Security.',
          'Under "Encrypted email", click Settings, choose your new certificate for signing and for encryption, and click OK.',
          'Optional: tick "Add digital signature to outgoing messages" so that others receive your certificate.',
        ],
      },
      {
        id: 'thunderbird',
        title: 'Thunderbird',
        file: 'modern',
        steps: [
          'Settings > Privacy & Security > Certificates > Manage Certificates.',
          'On "Your Certificates", click Import, choose the .p12 file and type your passphrase.',
          'On "Authorities", click Import, choose the issuer certificates file and tick "This certificate can identify email users".',
          'Account Settings > End-To-End Encryption > S/MIME: select your certificate for digital signing and for encryption.',
        ],
      },
      {
        id: 'apple-mail',
        title: 'Apple Mail (Mac)',
        file: 'compatible',
        steps: [
          'Double-click the .p12 file. Keychain Access opens: add it to the "login" keychain and type your passphrase.',
          'Double-click the issuer certificates file, open the root certificate in Keychain Access, and under Trust choose "Always Trust" for e-mail.',
          'Quit and reopen Mail. When you write from this address, the lock and check-mark buttons appear.',
        ],
      },
      {
        id: 'iphone',
        title: 'iPhone and iPad',
        file: 'compatible',
        steps: [
          'Put the .p12 file and the issuer certificates file on the device (AirDrop, or Files) and tap each one: iOS says "Profile Downloaded".',
          'Settings > General > VPN & Device Management: install each profile; type your device passcode, then the passphrase.',
          'Settings > General > About > Certificate Trust Settings: turn on full trust for the issuer root certificate.',
          'Settings > Mail (Apps > Mail) > Accounts > your account > Account > Advanced: turn on S/MIME and choose your certificate for Sign and for Encrypt by Default.',
        ],
      },
    ],
    back: 'Back to the certificate page',
  },
  outbox: {
    title: 'Development outbox',
    intro: 'Mail the service would send. This page exists only in development, without NOTIFY_SMTP_URL.',
    empty: 'No mail yet.',
    to: 'To',
    subject: 'Subject',
    at: 'Queued',
  },
  errorPage: { title: 'Something went wrong', back: 'Back to the start' },
  pickup: {
    title: 'A message for you',
    footer: 'The message is kept encrypted until you open it, and deleted when the link expires.',
    from: 'From',
    to: 'To',
    cc: 'Cc',
    subject: 'Subject',
    date: 'Date',
    expires: 'Available until',
    size: 'Size',
    waiting: '{sender} sent you a message by secure delivery. It is kept encrypted until you confirm that you are its recipient.',
    codeIntro: 'We send a one-time code to {address}. Only the owner of that mailbox can open the message.',
    sendCode: 'Send me a code',
    codeSent: 'We sent a code to {address}. It works once.',
    codeLabel: 'Code from the mail',
    codeHelp: 'Type the code from the mail (the dashes are optional), or open the link in that mail.',
    codeSubmit: 'Open the message',
    newCode: 'Send a new code',
    passwordIntro: 'Enter the password the sender gave you by telephone or another way. It is not in any mail.',
    passwordLabel: 'Password',
    passwordSubmit: 'Open the message',
    messageHeading: 'Message',
    htmlNote: 'Shown without scripts, forms or images from the internet.',
    plainText: 'Plain-text version',
    noBody: 'The message has no text.',
    attachments: 'Attachments',
    noAttachments: 'No attachments.',
    inlineImages: 'Images in the message',
    downloadEml: 'Download the whole message (.eml)',
    emlHelp: 'Opens in your mail program, with every attachment.',
    certHeading: 'Receive encrypted mail directly next time',
    certIntro: 'Get a free S/MIME certificate for {address}. From then on, mail from us arrives encrypted in your inbox and your mail program opens it: no links, no codes.',
    certButton: 'Get a certificate',
    certNoCode: 'Your address is already confirmed: no new code is needed.',
    certCodeMailed: 'We send a code to {address} to confirm it.',
    sessionNote: 'For your security, access ends after 30 minutes; then open the link again.',
    notFoundTitle: 'Link not found',
    notFound: 'This link does not exist. Check that you copied the whole link from the mail.',
    expiredTitle: 'This message has expired',
    expired: 'It was available until {date} and has been deleted. Ask the sender to send it again.',
    revokedTitle: 'The sender withdrew this message',
    revoked: 'It is no longer available. Contact the sender if you still need it.',
    lockedTitle: 'This message is locked',
    locked: 'Too many wrong codes or passwords were entered. Ask the sender to unlock it.',
    tooManyTitle: 'Too many attempts',
    tooMany: 'Too many requests came from your network. Try again in {n} minutes.',
    reconfirm: 'Your access has ended: confirm again to open the message.',
    statusTitle: 'Pickup status',
    statusIntro: 'Your message to {recipient}',
    state: 'Status',
    states: { active: 'Waiting for pickup', expired: 'Expired (content deleted)', revoked: 'Revoked (content deleted)', deleted: 'Content deleted', locked: 'Locked after wrong attempts' },
    sent: 'Sent',
    downloads: 'Downloads',
    failedAttempts: 'Wrong codes or passwords',
    mode: 'Opened with',
    modes: { code: 'a one-time code sent to the recipient', password: 'the password you pass on' },
    accessLog: 'Access log',
    logEmpty: 'Nothing yet.',
    logAt: 'Time (UTC)',
    logAction: 'What',
    logVerified: 'Recipient confirmed',
    logClient: 'Client address',
    actions: {
      created: 'Stored for pickup',
      opened: 'Link opened',
      code_sent: 'Code sent to the recipient',
      verify_failed: 'Wrong code or password',
      verified: 'Recipient confirmed',
      viewed: 'Message viewed',
      downloaded: 'Attachment downloaded',
      eml_downloaded: 'Whole message downloaded',
      enroll_started: 'Certificate requested',
      refused: 'Link opened while not available',
      revoked: 'Revoked',
      extended: 'Extended',
      unlocked: 'Unlocked',
      deleted: 'Content deleted',
    },
    yes: 'yes',
    no: 'no',
    revoke: 'Revoke the link now',
    revokeHelp: 'The content is deleted at once; the link then says the message was withdrawn.',
    extend: 'Extend by {n} days',
    extendHelp: 'At most {max} days after sending.',
    unlock: 'Unlock',
    unlockHelp: 'Lets the recipient try again (do this after you spoke with them).',
    revokedDone: 'The link was revoked and the content deleted.',
    extendedDone: 'Now available until {date}.',
    unlockedDone: 'Unlocked: the recipient can try again.',
  },
  errors: {},
};

const ja: Messages = {
  lang: { self: '日本語', switchTo: 'English', otherName: 'en' },
  site: {
    name: 'セキュアメール証明書',
    footer: '秘密鍵はこのブラウザの中で作られ、サーバーには送られません。',
    skip: '本文へ移動',
  },
  enroll: {
    title: 'S/MIME 証明書の発行',
    intro: 'S/MIME 証明書があると、あなた宛てのメールは暗号化されて届き、メールソフトが自動で開きます。手続きは3ステップです。',
    noscript: 'このページには JavaScript が必要です。鍵をブラウザの中で作り、パソコンの外に出さないためです。',
    steps: ['メールアドレス', '確認', '鍵とファイル'],
    addressHeading: '1. メールアドレス',
    addressLabel: 'メールアドレス',
    addressHelp: 'このアドレスに確認コードを送ります。このメールボックスを読める方だけが先に進めます。',
    addressSubmit: '確認コードを送る',
    codeHeading: '2. メールアドレスの確認',
    codeSent: '確認コードをお送りしました。24時間以内に一度だけ使えます。',
    codeSentTo: '送信先:',
    codeLabel: '確認コード',
    codeHelp: 'メールに記載のコードを入力してください(ハイフンは省略できます)。メール内のリンクを開いても構いません。',
    codeSubmit: '確認する',
    startOver: '別のアドレスでやり直す',
    keyHeading: '3. 鍵と証明書',
    keyIntro: 'パスフレーズを決めてください。ダウンロードするファイルを保護します。メールソフトに取り込むときに一度入力します。',
    keyAlgorithmNote: 'ブラウザが RSA 2048 ビットの鍵を作ります。送信されるのは公開鍵だけです。',
    passphraseLabel: 'パスフレーズ(8文字以上)',
    passphraseRepeatLabel: 'パスフレーズ(確認のためもう一度)',
    passphraseHelp: '当方では復元できません。ファイルを取り込むまで安全な場所に控えてください。',
    keySubmit: '鍵と証明書を作成する',
    privacyNote: '秘密鍵はこのタブの中だけにあります。ダウンロードせずにタブを閉じると失われます。',
    doneHeading: '証明書ができました',
    doneIntro: '今すぐファイルをダウンロードしてください。このページは二度と表示できません。その後、メールソフトに取り込んでください。',
    certificateFor: '証明書の対象',
    validUntil: '有効期限',
    downloadModern: 'ダウンロード(標準)',
    downloadModernHelp: 'Windows 10 以降の Outlook、Thunderbird など最近の環境向け。最も強い保護です。',
    downloadCompatible: 'ダウンロード(互換)',
    downloadCompatibleHelp: 'Apple Mail、iPhone・iPad、古い Windows、GnuPG (gpgsm) 向け。標準のファイルが読めないときはこちらを使ってください。',
    downloadChain: '発行元の証明書をダウンロード',
    downloadChainHelp: 'Thunderbird や Apple 製品では、あなたの証明書を信頼させるためにこれが必要です。',
    downloadCertificate: '証明書のみをダウンロード(鍵なし)',
    guideLink: 'Outlook・Thunderbird・Apple Mail・iPhone への取り込み方',
    keepSafe: '.p12 ファイルとパスフレーズは大切に保管してください。両方を持つ人はあなたの暗号化メールを読めます。',
  },
  progress: {
    sending: '確認コードを送信しています…',
    checking: 'コードを確認しています…',
    generating: 'このブラウザで鍵を作成しています…',
    requesting: '証明書を申請しています…',
    packaging: 'ファイルを作成しています…',
  },
  clientErrors: {
    passphraseShort: 'パスフレーズは8文字以上にしてください。',
    passphraseMismatch: '2つのパスフレーズが一致しません。',
    network: 'サービスに接続できませんでした。接続を確認してもう一度お試しください。',
    noCrypto: 'このブラウザではここで鍵を作成できません。最新のブラウザで、HTTPS でこのページを開いてください。',
    unexpected: '問題が発生しました。もう一度お試しください。',
  },
  guide: {
    title: '証明書の取り込み方',
    intro: '同じ鍵と証明書を含むファイルが2つあります。お使いのソフトが読める方を選び、手順に従ってください。',
    whichFile: '使うファイル:',
    sections: [
      {
        id: 'outlook',
        title: 'Outlook (Windows)',
        file: '標準(Windows 10 以降)、古い Windows では互換',
        steps: [
          '.p12 ファイルをダブルクリックします。証明書のインポート ウィザードで「現在のユーザー」を選び、「次へ」。',
          'パスフレーズを入力し、「証明書の種類に基づいて、自動的に証明書ストアを選択する」のまま完了します。',
          'Outlook で「ファイル」>「オプション」>「トラスト センター」>「トラスト センターの設定」>「メールのセキュリティ」を開きます。',
          '「暗号化されたメール」の「設定」で、署名用と暗号化用に新しい証明書を選び、「OK」。',
          '任意: 「送信メッセージにデジタル署名を追加する」をオンにすると、相手にあなたの証明書が届きます。',
        ],
      },
      {
        id: 'thunderbird',
        title: 'Thunderbird',
        file: '標準',
        steps: [
          '「設定」>「プライバシーとセキュリティ」>「証明書」>「証明書を管理」を開きます。',
          '「あなたの証明書」で「インポート」を押し、.p12 ファイルを選んでパスフレーズを入力します。',
          '「認証局証明書」で「インポート」を押し、発行元の証明書ファイルを選び、「この認証局によるメールユーザーの識別を信頼する」をオンにします。',
          '「アカウント設定」>「エンドツーエンド暗号化」>「S/MIME」で、デジタル署名用と暗号化用に証明書を選びます。',
        ],
      },
      {
        id: 'apple-mail',
        title: 'Apple Mail (Mac)',
        file: '互換',
        steps: [
          '.p12 ファイルをダブルクリックします。キーチェーンアクセスが開くので「ログイン」キーチェーンに追加し、パスフレーズを入力します。',
          '発行元の証明書ファイルをダブルクリックし、キーチェーンアクセスでルート証明書を開き、「信頼」でメールについて「常に信頼」を選びます。',
          'メールを終了して開き直します。このアドレスから書くと、鍵とチェックマークのボタンが表示されます。',
        ],
      },
      {
        id: 'iphone',
        title: 'iPhone・iPad',
        file: '互換',
        steps: [
          '.p12 ファイルと発行元の証明書ファイルを端末に移し(AirDrop や「ファイル」)、それぞれをタップします。「プロファイルがダウンロードされました」と表示されます。',
          '「設定」>「一般」>「VPN とデバイス管理」で各プロファイルをインストールし、端末のパスコード、次にパスフレーズを入力します。',
          '「設定」>「一般」>「情報」>「証明書信頼設定」で、発行元のルート証明書を全面的に信頼します。',
          '「設定」>「メール」(「アプリ」>「メール」)>「アカウント」> ご自分のアカウント >「アカウント」>「詳細」で S/MIME をオンにし、「署名」と「デフォルトで暗号化」に証明書を選びます。',
        ],
      },
    ],
    back: '証明書のページに戻る',
  },
  outbox: {
    title: '開発用の送信箱',
    intro: 'サービスが送るはずのメールです。このページは開発時(NOTIFY_SMTP_URL なし)にのみ存在します。',
    empty: 'まだメールはありません。',
    to: '宛先',
    subject: '件名',
    at: '受付時刻',
  },
  errorPage: { title: '問題が発生しました', back: '最初に戻る' },
  pickup: {
    title: 'メッセージのお受け取り',
    footer: 'メッセージはお受け取りまで暗号化して保管され、期限が過ぎると削除されます。',
    from: '差出人',
    to: '宛先',
    cc: 'Cc',
    subject: '件名',
    date: '日時',
    expires: '受け取り期限',
    size: 'サイズ',
    waiting: '{sender} さんから、安全な方法でメッセージが届いています。受取人ご本人であることを確認するまで、暗号化して保管しています。',
    codeIntro: '{address} に確認コードをお送りします。このメールボックスをお使いの方だけがメッセージを開けます。',
    sendCode: '確認コードを送る',
    codeSent: '{address} に確認コードをお送りしました。一度だけ使えます。',
    codeLabel: 'メールに記載の確認コード',
    codeHelp: 'コードを入力してください(ハイフンは省略できます)。そのメール内のリンクを開いても構いません。',
    codeSubmit: 'メッセージを開く',
    newCode: '新しいコードを送る',
    passwordIntro: '送信者から電話など別の方法で伝えられたパスワードを入力してください。パスワードはメールには記載されていません。',
    passwordLabel: 'パスワード',
    passwordSubmit: 'メッセージを開く',
    messageHeading: '本文',
    htmlNote: 'スクリプト、フォーム、インターネット上の画像を除いて表示しています。',
    plainText: 'テキスト版',
    noBody: '本文はありません。',
    attachments: '添付ファイル',
    noAttachments: '添付ファイルはありません。',
    inlineImages: '本文中の画像',
    downloadEml: 'メッセージ全体をダウンロード (.eml)',
    emlHelp: 'メールソフトで開けます。添付ファイルもすべて含まれます。',
    certHeading: '次回から暗号化メールで直接受け取る',
    certIntro: '{address} の S/MIME 証明書を無料で取得できます。以後、当方からのメールは暗号化されたまま受信箱に届き、メールソフトが自動で開きます。リンクやコードは不要になります。',
    certButton: '証明書を取得',
    certNoCode: 'メールアドレスは確認済みのため、新しいコードは不要です。',
    certCodeMailed: '確認のため、{address} にコードをお送りします。',
    sessionNote: '安全のため、30分で閲覧できなくなります。その後はリンクを開き直してください。',
    notFoundTitle: 'リンクが見つかりません',
    notFound: 'このリンクは存在しません。メールのリンクを最後まで正しくコピーしたかご確認ください。',
    expiredTitle: '受け取り期限が過ぎました',
    expired: '{date} まで受け取り可能でしたが、期限が過ぎたため削除されました。送信者に再送をご依頼ください。',
    revokedTitle: '送信者がこのメッセージを取り消しました',
    revoked: 'このメッセージは受け取れなくなりました。必要な場合は送信者にご連絡ください。',
    lockedTitle: 'このメッセージはロックされています',
    locked: '誤ったコードまたはパスワードが多く入力されたため、ロックしました。送信者にロックの解除をご依頼ください。',
    tooManyTitle: '試行回数が多すぎます',
    tooMany: 'お使いのネットワークからの要求が多すぎます。{n} 分ほど待ってからもう一度お試しください。',
    reconfirm: '閲覧の有効時間が過ぎました。もう一度確認してからメッセージを開いてください。',
    statusTitle: '受け取り状況',
    statusIntro: '{recipient} さん宛てのメッセージ',
    state: '状態',
    states: { active: '受け取り待ち', expired: '期限切れ(内容は削除済み)', revoked: '取り消し済み(内容は削除済み)', deleted: '内容は削除済み', locked: '誤入力によりロック中' },
    sent: '送信日時',
    downloads: 'ダウンロード回数',
    failedAttempts: '誤ったコード・パスワードの回数',
    mode: '受け取り方法',
    modes: { code: '受取人のアドレスに届く確認コード', password: 'あなたが伝えるパスワード' },
    accessLog: 'アクセス記録',
    logEmpty: 'まだありません。',
    logAt: '日時 (UTC)',
    logAction: '内容',
    logVerified: '本人確認済み',
    logClient: '接続元アドレス',
    actions: {
      created: '受け取り用に保管',
      opened: 'リンクを開いた',
      code_sent: '受取人に確認コードを送信',
      verify_failed: '誤ったコードまたはパスワード',
      verified: '受取人の確認完了',
      viewed: 'メッセージを表示',
      downloaded: '添付ファイルをダウンロード',
      eml_downloaded: 'メッセージ全体をダウンロード',
      enroll_started: '証明書を申請',
      refused: '受け取れない状態でリンクが開かれた',
      revoked: '取り消し',
      extended: '期限を延長',
      unlocked: 'ロックを解除',
      deleted: '内容を削除',
    },
    yes: 'はい',
    no: 'いいえ',
    revoke: 'リンクを今すぐ取り消す',
    revokeHelp: '内容はすぐに削除され、リンクを開くと「取り消されました」と表示されます。',
    extend: '期限を {n} 日延長',
    extendHelp: '送信から最長 {max} 日までです。',
    unlock: 'ロックを解除',
    unlockHelp: '受取人がもう一度試せるようにします(受取人と連絡を取ってから行ってください)。',
    revokedDone: 'リンクを取り消し、内容を削除しました。',
    extendedDone: '{date} まで受け取れるようにしました。',
    unlockedDone: 'ロックを解除しました。受取人はもう一度試せます。',
  },
  errors: {
    'proof.bad_address': '正しいメールアドレスを入力してください(例: name@example.com)。',
    'proof.not_found': 'この確認リクエストは存在しません。確認コードをもう一度請求してください。',
    'proof.used': 'このコードは使用済みです。確認コードをもう一度請求してください。',
    'proof.expired': 'このコードは期限切れです(有効期間は24時間)。確認コードをもう一度請求してください。',
    'proof.locked': '誤ったコードが多すぎたため、このリクエストはロックされました。確認コードをもう一度請求してください。',
    'proof.wrong_code': 'コードが正しくありません。あと {n} 回試せます。',
    'proof.bad_token': '認証が無効です。メールアドレスの確認からやり直してください。',
    'proof.token_used': 'この認証は使用済みです。メールアドレスの確認からやり直してください。',
    'proof.token_expired': '認証の有効期限が切れました。メールアドレスの確認からやり直してください。',
    rate_limited: '試行回数が多すぎます。{n} 分ほど待ってからもう一度お試しください。',
    'notify.failed': 'メールを送信できませんでした。しばらくしてからもう一度お試しください。',
    'ca.bad_address': 'このアドレスは証明書に入れられません。',
    'ca.csr_malformed': '証明書の申請データ (CSR) を読み取れません。',
    'ca.csr_too_large': '証明書の申請データが大きすぎます。',
    'ca.csr_bad_signature': '証明書の申請データの署名が正しくありません(破損または改ざん)。',
    'ca.csr_weak_signature': 'SHA-1 などの弱い方式で署名された申請は受け付けられません。SHA-256 以上で署名してください。',
    'ca.csr_weak_key': 'この鍵では証明書を発行できません。RSA 2048 ビット以上か P-256/P-384/P-521 の鍵を使ってください。',
    'ca.csr_no_address': '申請にメールアドレスが含まれていません。',
    'ca.csr_wrong_address': '申請に含まれるメールアドレスが、確認したアドレスと一致しません。',
    'ca.key_reused': 'この鍵にはすでに証明書が発行されています。新しい鍵で申請してください。',
    'ca.key_compromised': 'この鍵は漏えいにより失効した証明書のものです。新しい鍵で申請してください。',
    'ca.not_ready': '認証局の準備ができていません。しばらくしてからもう一度お試しください。',
    'enroll.mismatch': 'この認証は別の申請のものです。メールアドレスの確認からやり直してください。',
    'enroll.no_token': '認証がありません。メールアドレスの確認からやり直してください。',
    'enroll.bad_code': 'メールに記載の確認コードを入力してください。',
    'http.unsupported_media_type': '送信されたデータの形式に対応していません。',
    'http.too_large': '送信されたデータが大きすぎます。',
    'pickup.wrong_password': 'パスワードが正しくありません。あと {n} 回試せます。',
    'pickup.bad_code': 'メールに記載の確認コードを入力してください。',
    'pickup.bad_password': '送信者から伝えられたパスワードを入力してください。',
    'pickup.locked': '誤ったコードまたはパスワードが多すぎるため、このメッセージはロックされました。送信者にロックの解除をご依頼ください。',
    'pickup.expired': 'このメッセージは期限切れのため削除されました。送信者に再送をご依頼ください。',
    'pickup.revoked': '送信者がこのメッセージを取り消しました。',
    'pickup.max_lifetime': 'リンクは送信から最長 90 日までしか延長できません。',
    'pickup.not_verified': '先に確認コードまたはパスワードで確認してください。',
    'pickup.no_attachment': 'その添付ファイルはありません。',
    'pickup.wrong_mode': 'このメッセージは別の方法で受け取ります。ページを開き直してください。',
    'pickup.cross_site': 'このページから送信してください。',
    'proof.not_proven': 'このアドレスはまだ確認されていません。先に確認コードで確認してください。',
    'proof.proof_too_old': 'このアドレスの確認から30日以上が過ぎました。もう一度確認してください。',
  },
};

export const MESSAGES: Record<Locale, Messages> = { en, ja };

export function messagesFor(locale: Locale): Messages {
  return MESSAGES[locale];
}

/**
 * What to show a person for an API error: the localized text for its code (with `{n}` filled
 * from detail.attemptsLeft or detail.retryAfterSeconds in minutes), else the server's own message.
 */
export function errorText(locale: Locale, error: { code: string; message: string; detail?: Record<string, unknown> }): string {
  const template = MESSAGES[locale].errors[error.code];
  if (!template) return error.message;
  const d = error.detail ?? {};
  const n =
    typeof d.attemptsLeft === 'number'
      ? d.attemptsLeft
      : typeof d.retryAfterSeconds === 'number'
        ? Math.max(1, Math.ceil(d.retryAfterSeconds / 60))
        : undefined;
  return n === undefined ? template.replace(/\{n\}/g, '').replace(/\s+/g, ' ') : template.replace(/\{n\}/g, String(n));
}
