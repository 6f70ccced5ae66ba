/**
 * The recipient-certificate directory over HTTP (mounted at /api/v1/directory). Addresses in paths
 * are percent-encoded (UTF-8 local parts and domains work: encodeURIComponent).
 *
 *   GET  /{address}                  200 {address, certificate (PEM), fingerprint, algorithms, source, reason, ...}
 *                                    404 {error:{code:'directory.not_found', message, detail:{candidates}}}
 *   GET  /{address}/certificates     200 {address, certificates:[{fingerprint, source, status, reasons, ...}]}
 *   GET  /{address}.p7c              200 application/pkcs7-mime; smime-type=certs-only (chosen certificate + chain)
 *   POST /certificates               an uploaded certificate: PEM, DER or certs-only PKCS#7 as the body
 *                                    (application/x-pem-file, application/pkix-cert, application/pkcs7-mime,
 *                                    application/octet-stream, text/plain; ?address=), or multipart/form-data
 *                                    (fields certificate [file], address), or JSON {certificate, address?}
 *                                    -> 202 {id, status:'pending', challengeId, address, fingerprint}
 *                                    (200 with status 'active' when it is in the directory already)
 *   POST /certificates/{id}/verify   {code, challengeId?} (JSON or form) -> 200 {id, status:'active', address, fingerprint}
 *   POST /harvest                    a raw RFC 5322 signed message (message/rfc822 or application/octet-stream)
 *                                    -> 201 (new certificate) / 200 {addresses, id, fingerprint, created, capabilities}
 *
 * Rejections are 400 {error:{code, message, detail:{reasons:[{code,message}]}}}; the codes are the
 * stable reason codes of src/directory/validate.ts (cert.*, chain.*, crl.*) or smime.* / harvest.*.
 *
 * The web form (directoryPages, mounted at /): plain HTML forms, no script.
 *   GET  /directory/upload[?challenge=&code=]   the upload form, or the confirmation form from the mailed link
 *   POST /directory/upload                      multipart (certificate file, address) -> "code sent" page with the code form
 *   POST /directory/upload/confirm              form (challenge, code, id?) -> "registered" page
 */
import { Hono, type Context } from 'hono';
import { html } from 'hono/html';
import type { Directory, LookupResult, UploadResult } from '../../directory/directory.js';
import { AppError } from '../../shared/errors.js';
import { fromBase64, looksLikePem, utf8 } from '../../shared/bytes.js';
import { mediaType, readBodyBytes, readJsonObject } from '../middleware/security.js';
import { Layout, renderDocument } from '../pages/layout.js';
import { otherLocaleHref, requestLocale } from '../pages/locale.js';
import type { Locale } from '../i18n.js';

export type DirectoryService = Pick<Directory, 'lookup' | 'p7c' | 'upload' | 'verifyUpload' | 'confirmUpload' | 'harvest'>;

export interface DirectoryRoutesDeps {
  directory: DirectoryService;
  clientIp?: (c: Context) => string | undefined;
}

/** Largest uploaded certificate container (a certificate with a long chain is a few KB). */
export const MAX_UPLOAD_BYTES = 256 * 1024;
/** Largest message accepted for harvesting. */
export const MAX_HARVEST_BYTES = 32 * 1024 * 1024;
const MAX_JSON_BYTES = 4 * 1024;

const UPLOAD_MEDIA_TYPES = ['application/x-pem-file', 'application/pkix-cert', 'application/pkcs7-mime', 'application/x-pkcs7-certificates', 'application/octet-stream', 'text/plain'];
const MESSAGE_MEDIA_TYPES = ['message/rfc822', 'application/octet-stream', 'text/plain'];

function unsupported(type: string, accepted: readonly string[]): AppError {
  return new AppError('http.unsupported_media_type', `Send the body as ${accepted.join(' or ')}${type ? `, not ${type}` : ''}`, { status: 415, detail: { accepted: [...accepted] } });
}

function entryJson(r: LookupResult) {
  const e = r.entry!;
  return {
    address: r.address,
    certificate: e.pem,
    fingerprint: e.fingerprint,
    algorithms: { content: e.algorithms.content, keyTransport: e.algorithms.keyTransport },
    source: e.source,
    reason: e.reason,
    notBefore: e.certificate.notBefore.toISOString(),
    notAfter: e.certificate.notAfter.toISOString(),
    id: e.id,
    candidates: r.candidates,
  };
}

function notFound(r: LookupResult): AppError {
  const why = r.candidates.length ? `none of the ${r.candidates.length} certificate(s) on file is usable` : 'no certificate on file';
  return new AppError('directory.not_found', `No usable certificate for ${r.address}: ${why}`, { kind: 'not_found', detail: { candidates: r.candidates } });
}

/** The certificate bytes and address of an upload request, whatever form it came in. */
async function uploadBody(c: Context): Promise<{ bytes: Uint8Array; address?: string }> {
  const type = mediaType(c);
  const queryAddress = c.req.query('address');
  if (type === 'multipart/form-data') {
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > MAX_UPLOAD_BYTES + 16 * 1024) throw new AppError('http.too_large', `The request body is larger than ${MAX_UPLOAD_BYTES} bytes`, { kind: 'too_large' });
    const form = await c.req.parseBody();
    const file = form['certificate'];
    const address = typeof form['address'] === 'string' && form['address'] !== '' ? form['address'] : queryAddress;
    let bytes: Uint8Array;
    if (typeof file === 'string') bytes = utf8(file);
    else if (file && typeof (file as Blob).arrayBuffer === 'function') bytes = new Uint8Array(await (file as Blob).arrayBuffer());
    else throw new AppError('upload.missing', 'Choose the certificate file to upload (form field "certificate")', { detail: { field: 'certificate' } });
    if (bytes.length > MAX_UPLOAD_BYTES) throw new AppError('http.too_large', `The certificate file is larger than ${MAX_UPLOAD_BYTES} bytes`, { kind: 'too_large' });
    return { bytes, ...(address ? { address } : {}) };
  }
  if (type === 'application/json') {
    const body = await readJsonObject(c, MAX_UPLOAD_BYTES);
    if (typeof body.certificate !== 'string' || body.certificate === '') throw new AppError('upload.missing', 'certificate must be a PEM string or base64 DER', { detail: { field: 'certificate' } });
    const text = body.certificate;
    const bytes = looksLikePem(utf8(text)) ? utf8(text) : fromBase64(text);
    const address = typeof body.address === 'string' ? body.address : queryAddress;
    return { bytes, ...(address ? { address } : {}) };
  }
  if (!UPLOAD_MEDIA_TYPES.includes(type)) throw unsupported(type, [...UPLOAD_MEDIA_TYPES, 'multipart/form-data', 'application/json']);
  const bytes = await readBodyBytes(c, MAX_UPLOAD_BYTES);
  return { bytes, ...(queryAddress ? { address: queryAddress } : {}) };
}

async function verifyBody(c: Context): Promise<{ code: string; challengeId?: string }> {
  const type = mediaType(c);
  let body: Record<string, unknown>;
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') body = (await c.req.parseBody()) as Record<string, unknown>;
  else body = await readJsonObject(c, MAX_JSON_BYTES);
  if (typeof body.code !== 'string' || body.code.trim() === '' || body.code.length > 64) throw new AppError('directory.bad_code', 'Enter the code from the mail', { detail: { field: 'code' } });
  const challengeId = typeof body.challengeId === 'string' && body.challengeId !== '' ? body.challengeId : undefined;
  return { code: body.code, ...(challengeId ? { challengeId } : {}) };
}

export function directoryRoutes(deps: DirectoryRoutesDeps): Hono {
  const app = new Hono();
  const { directory } = deps;

  app.post('/certificates', async (c) => {
    const { bytes, address } = await uploadBody(c);
    const ip = deps.clientIp?.(c);
    const lang = c.req.query('lang');
    const r = await directory.upload(bytes, { ...(address ? { address } : {}), ...(ip ? { clientIp: ip } : {}), ...(lang === 'ja' || lang === 'en' ? { locale: lang } : {}) });
    return c.json(r, r.status === 'pending' ? 202 : 200);
  });

  app.post('/certificates/:id/verify', async (c) => {
    const { code, challengeId } = await verifyBody(c);
    return c.json(await directory.verifyUpload(c.req.param('id'), code, challengeId), 200);
  });

  app.post('/harvest', async (c) => {
    const type = mediaType(c);
    if (!MESSAGE_MEDIA_TYPES.includes(type)) throw unsupported(type, MESSAGE_MEDIA_TYPES);
    const message = await readBodyBytes(c, MAX_HARVEST_BYTES);
    if (message.length === 0) throw new AppError('harvest.empty', 'Send the signed message as the request body');
    const r = await directory.harvest(message, { actor: 'api' });
    return c.json(r, r.created ? 201 : 200);
  });

  app.get('/:address/certificates', async (c) => {
    const r = await directory.lookup(c.req.param('address'));
    return c.json({ address: r.address, certificates: r.candidates });
  });

  app.get('/:address', async (c) => {
    const param = c.req.param('address');
    if (param.toLowerCase().endsWith('.p7c')) {
      const address = param.slice(0, -4);
      const der = await directory.p7c(address);
      if (!der) throw notFound(await directory.lookup(address));
      const name = address.replace(/[^A-Za-z0-9@._+-]/g, '_');
      return c.body(der as Uint8Array<ArrayBuffer>, 200, {
        'Content-Type': 'application/pkcs7-mime; smime-type=certs-only; name="smime.p7c"',
        'Content-Disposition': `attachment; filename="${name}.p7c"`,
      });
    }
    const r = await directory.lookup(param);
    if (!r.entry) throw notFound(r);
    return c.json(entryJson(r));
  });

  return app;
}

// ---------------------------------------------------------------------------------------------
// The upload form (HTML)
// ---------------------------------------------------------------------------------------------

const TEXT = {
  en: {
    title: 'Register your S/MIME certificate',
    intro: 'Already have an S/MIME certificate from another CA? Register it here, and mail to you will be encrypted to it. We send a code to the address in the certificate to make sure it is yours.',
    file: 'Certificate file (.cer, .crt, .pem, .der or .p7c; no private key)',
    address: 'E-mail address to confirm (only needed when the certificate names several)',
    send: 'Upload and send me a code',
    sent: (a: string) => `We sent a code to ${a}. Enter it here to finish (it works once, for 24 hours).`,
    code: 'Code from the mail',
    confirm: 'Confirm',
    confirmIntro: 'Confirm the registration of your certificate with the code from the mail.',
    done: 'Your certificate is registered',
    doneText: (a: string) => `Mail to ${a} will now be encrypted to this certificate.`,
    fingerprint: 'SHA-256 fingerprint',
    already: 'This certificate is already in the directory.',
  },
  ja: {
    title: 'S/MIME 証明書の登録',
    intro: '他の認証局の S/MIME 証明書をお持ちの場合は、ここで登録すると、あなた宛てのメールがその証明書で暗号化されます。ご本人確認のため、証明書のメールアドレスに確認コードをお送りします。',
    file: '証明書ファイル (.cer, .crt, .pem, .der, .p7c。秘密鍵は不要です)',
    address: '確認するメールアドレス (証明書に複数のアドレスがある場合のみ)',
    send: 'アップロードしてコードを受け取る',
    sent: (a: string) => `${a} に確認コードを送りました。ここに入力して登録を完了してください (24 時間、1 回のみ有効)。`,
    code: 'メールに記載のコード',
    confirm: '確認する',
    confirmIntro: 'メールに記載のコードで証明書の登録を確認してください。',
    done: '証明書を登録しました',
    doneText: (a: string) => `今後 ${a} 宛てのメールはこの証明書で暗号化されます。`,
    fingerprint: 'SHA-256 フィンガープリント',
    already: 'この証明書はすでに登録されています。',
  },
} as const;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function page(c: Context, locale: Locale, body: unknown, status: 200 | 202 = 200) {
  const t = TEXT[locale];
  return c.html(renderDocument(Layout({ locale, title: t.title, switchHref: otherLocaleHref(c, locale), homeHref: '/directory/upload', children: body as never })), status);
}

function codeForm(locale: Locale, challenge: string, id: string | undefined, code = '') {
  const t = TEXT[locale];
  return html`<form method="post" action="/directory/upload/confirm">
      <input type="hidden" name="challenge" value="${challenge}" />
      ${id ? html`<input type="hidden" name="id" value="${id}" />` : ''}
      <label for="code">${t.code}</label>
      <input type="text" class="code" id="code" name="code" value="${code}" autocomplete="one-time-code" required maxlength="64" />
      <button type="submit">${t.confirm}</button>
    </form>`;
}

function donePage(locale: Locale, r: UploadResult, already = false) {
  const t = TEXT[locale];
  return html`<h1>${t.done}</h1>
    <p class="notice">${already ? t.already : t.doneText(r.address)}</p>
    <dl class="facts"><dt>${t.fingerprint}</dt><dd>${r.fingerprint}</dd></dl>`;
}

/** Runs a form handler; a refusal is shown on a page (with a way back), not as JSON. */
async function formErrors(c: Context, f: (locale: Locale) => Promise<Response>): Promise<Response> {
  const locale = requestLocale(c);
  try {
    return await f(locale);
  } catch (e) {
    if (!(e instanceof AppError) || e.kind === 'internal') throw e;
    const body = html`<h1>${TEXT[locale].title}</h1><p class="error">${e.message}</p><p><a href="/directory/upload">${locale === 'ja' ? '戻る' : 'Back'}</a></p>`;
    return c.html(renderDocument(Layout({ locale, title: TEXT[locale].title, switchHref: otherLocaleHref(c, locale), homeHref: '/directory/upload', children: body as never })), e.status as 400);
  }
}

/** The browser form for uploads (mounted at /). */
export function directoryPages(deps: DirectoryRoutesDeps): Hono {
  const app = new Hono();
  const { directory } = deps;

  app.get('/directory/upload', (c) => {
    const locale = requestLocale(c);
    const t = TEXT[locale];
    const challenge = c.req.query('challenge');
    const code = c.req.query('code');
    if (challenge && UUID_RE.test(challenge)) {
      // from the mailed link: a form to POST (a link preview must not confirm by itself)
      return page(c, locale, html`<h1>${t.title}</h1><section class="card"><p>${t.confirmIntro}</p>${codeForm(locale, challenge, undefined, code && code.length <= 64 ? code : '')}</section>`);
    }
    return page(
      c,
      locale,
      html`<h1>${t.title}</h1>
        <p class="lead">${t.intro}</p>
        <section class="card">
          <form method="post" action="/directory/upload" enctype="multipart/form-data">
            <label for="certificate">${t.file}</label>
            <input type="file" id="certificate" name="certificate" required accept=".cer,.crt,.pem,.der,.p7c,.p7b" />
            <label for="address">${t.address}</label>
            <input type="text" id="address" name="address" inputmode="email" autocomplete="email" />
            <input type="hidden" name="lang" value="${locale}" />
            <button type="submit">${t.send}</button>
          </form>
        </section>`,
    );
  });

  app.post('/directory/upload', (c) => formErrors(c, async (locale) => {
    const t = TEXT[locale];
    const { bytes, address } = await uploadBody(c);
    const ip = deps.clientIp?.(c);
    const r = await directory.upload(bytes, { ...(address ? { address } : {}), ...(ip ? { clientIp: ip } : {}), locale });
    if (r.status === 'active' || !r.challengeId) return page(c, locale, donePage(locale, r, true));
    return page(c, locale, html`<h1>${t.title}</h1><section class="card"><p class="notice">${t.sent(r.address)}</p>${codeForm(locale, r.challengeId, r.id)}</section>`, 202);
  }));

  app.post('/directory/upload/confirm', (c) => formErrors(c, async (locale) => {
    const form = (await c.req.parseBody()) as Record<string, unknown>;
    const challenge = typeof form.challenge === 'string' ? form.challenge : '';
    const code = typeof form.code === 'string' ? form.code : '';
    const id = typeof form.id === 'string' && form.id !== '' ? form.id : undefined;
    if (!UUID_RE.test(challenge) || code.trim() === '' || code.length > 64) throw new AppError('directory.bad_code', 'Enter the code from the mail', { detail: { field: 'code' } });
    const r = id ? await directory.verifyUpload(id, code, challenge) : await directory.confirmUpload(challenge, code);
    return page(c, locale, donePage(locale, r));
  }));

  return app;
}
