/**
 * The message, once the recipient is verified: header facts, the text (in <pre>), the HTML
 * rendering in a sandboxed frame (no scripts, no same-origin, its own CSP: nothing remote loads),
 * the attachments and the original .eml to download, and the offer of a certificate.
 */
import type { Locale } from '../../i18n.js';
import { fallbackName, safeFileName } from '../../../pickup/filename.js';
import { fill, pickupMessages, PickupFrame, size, when } from './common.js';

export interface MessageView {
  from?: string;
  to?: string;
  cc?: string;
  date?: string;
  subject?: string;
  text?: string;
  hasHtml: boolean;
  attachments: Array<{ index: number; filename: string | undefined; contentType: string; size: number; inline: boolean }>;
}

export interface MessagePageProps {
  locale: Locale;
  switchHref: string;
  token: string;
  recipient: string;
  expiresAt: Date;
  message: MessageView;
  /** How "Get a certificate" proceeds: no new code (proven by the pickup code), a mailed code, or not offered. */
  certificate: 'proven' | 'code' | undefined;
}

/** Attributes of the frame that shows the HTML body (also checked by the tests). */
export const FRAME_SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';

export function attachmentName(a: { index: number; filename: string | undefined; contentType: string }): string {
  return safeFileName(a.filename, fallbackName(a.index, a.contentType));
}

export function MessagePage(p: MessagePageProps) {
  const m = pickupMessages(p.locale);
  const base = `/pickup/${p.token}`;
  const msg = p.message;
  const emlName = safeFileName(msg.subject ? `${msg.subject}.eml` : undefined, 'message.eml');
  const files = msg.attachments.filter((a) => !a.inline);
  const images = msg.attachments.filter((a) => a.inline);
  const item = (a: MessageView['attachments'][number]) => (
    <li>
      <a class="button secondary" href={`${base}/attachments/${a.index}`} id={`attachment-${a.index}`} download={attachmentName(a)}>
        {attachmentName(a)}
      </a>
      <p class="help">
        {size(a.size, p.locale)} · {a.contentType}
      </p>
    </li>
  );
  return (
    <PickupFrame locale={p.locale} switchHref={p.switchHref} title={msg.subject || m.title} homeHref={base}>
      <h1 id="subject">{msg.subject || m.title}</h1>
      <dl class="facts" id="facts">
        {(
          [
            [m.from, msg.from, 'from'],
            [m.to, msg.to, 'to'],
            [m.cc, msg.cc, 'cc'],
            [m.date, msg.date, 'date'],
            [m.expires, when(p.expiresAt, p.locale), 'expires'],
          ] as const
        )
          .filter(([, value]) => value)
          .map(([label, value, id]) => (
            <>
              <dt>{label}</dt>
              <dd id={id}>{value}</dd>
            </>
          ))}
      </dl>

      <section class="card mail" id="body">
        <h2>{m.messageHeading}</h2>
        {msg.hasHtml ? (
          <>
            <p class="help">{m.htmlNote}</p>
            <iframe id="html-body" src={`${base}/html`} sandbox={FRAME_SANDBOX} referrerpolicy="no-referrer" title={m.messageHeading} width="100%" height="600"></iframe>
            {msg.text !== undefined ? (
              <details>
                <summary>{m.plainText}</summary>
                <pre id="text-body">{msg.text}</pre>
              </details>
            ) : null}
          </>
        ) : msg.text !== undefined ? (
          <pre id="text-body">{msg.text}</pre>
        ) : (
          <p>{m.noBody}</p>
        )}
      </section>

      <section class="card" id="attachments">
        <h2>{m.attachments}</h2>
        {files.length ? <ul class="downloads">{files.map(item)}</ul> : <p>{m.noAttachments}</p>}
        {images.length ? (
          <>
            <h2>{m.inlineImages}</h2>
            <ul class="downloads">{images.map(item)}</ul>
          </>
        ) : null}
        <p>
          <a class="button" href={`${base}/message.eml`} id="download-eml" download={emlName}>
            {m.downloadEml}
          </a>
        </p>
        <p class="help">{m.emlHelp}</p>
      </section>

      {p.certificate ? (
        <section class="card" id="certificate">
          <h2>{m.certHeading}</h2>
          <p>{fill(m.certIntro, { address: p.recipient })}</p>
          <p class="help">{p.certificate === 'proven' ? m.certNoCode : fill(m.certCodeMailed, { address: p.recipient })}</p>
          <form method="post" action={`${base}/enroll?lang=${p.locale}`} id="certificate-form">
            <button type="submit" id="get-certificate">
              {m.certButton}
            </button>
          </form>
        </section>
      ) : null}
      <p class="help">{m.sessionNote}</p>
    </PickupFrame>
  );
}
