/**
 * The enrollment page's script (bundled by scripts/build-client.ts into /assets/enroll.js).
 *
 * 1. address -> POST /api/v1/enrollments; 2. code -> POST .../verify (bearer token, kept in memory);
 * 3. passphrase -> the browser makes the key pair (WebCrypto, RSA-2048) and the PKCS#10 request,
 *    POSTs only the request, receives the certificate and chain, and packs two PKCS#12 files
 *    (modern and compatible) under the passphrase, offered as downloads from Blob URLs.
 * The private key exists only in this page's memory and in the downloaded files.
 */
import { buildCsrPem, generateKeyPair } from '../../enrollment/csr-builder.js';
import { parse, readTime } from '../../pki/asn1.js';
import { buildPkcs12, type Pkcs12Flavour } from '../../pki/pkcs12.js';
import { decodePemAll } from '../../shared/bytes.js';
import { errorText, isLocale, messagesFor, type Locale } from '../i18n.js';

interface ApiError {
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

class ShownError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const MIN_PASSPHRASE = 8;

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
}
const input = (id: string) => $(id) as HTMLInputElement;

function main(): void {
  const root = document.getElementById('enroll');
  if (!root) return;
  const locale: Locale = isLocale(root.dataset.locale) ? root.dataset.locale : 'en';
  const m = messagesFor(locale);

  const state: { id?: string; email?: string; token?: string; address?: string; busy: boolean } = { busy: false };
  if (root.dataset.challenge) state.id = root.dataset.challenge;

  // The mailed link carries the code: keep it out of the history and the address bar.
  const url = new URL(location.href);
  if (url.searchParams.has('code')) {
    url.searchParams.delete('code');
    history.replaceState(null, '', url.pathname + (url.search ? url.search : ''));
  }

  const steps = ['step-address', 'step-code', 'step-key', 'step-done'] as const;
  function show(step: (typeof steps)[number]): void {
    const index = steps.indexOf(step);
    for (const s of steps) $(s).hidden = s !== step;
    for (let i = 1; i <= 3; i++) {
      const li = $(`progress-${i}`);
      const current = Math.min(index, 2) + 1;
      if (i === current && index < 3) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      li.classList.toggle('done', i < current || index === 3);
    }
    const first = $(step).querySelector<HTMLElement>('input, a.button');
    first?.focus();
  }

  const status = $('status');
  const errorBox = $('error');
  function setStatus(text: string): void {
    status.textContent = text;
  }
  function setError(text: string | undefined): void {
    errorBox.textContent = text ?? '';
    errorBox.hidden = !text;
  }

  async function api<T>(path: string, init: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, { ...init, credentials: 'same-origin', cache: 'no-store' });
    } catch {
      throw new ShownError(m.clientErrors.network);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const err = (body as { error?: ApiError } | undefined)?.error;
      if (err && typeof err.code === 'string') throw new ShownError(errorText(locale, err), err.code);
      throw new ShownError(m.clientErrors.unexpected);
    }
    return body as T;
  }

  /** Runs one step's action with the form disabled; shows any failure. */
  function onSubmit(formId: string, action: (form: HTMLFormElement) => Promise<void>): void {
    const form = $(formId) as HTMLFormElement;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (state.busy) return;
      state.busy = true;
      setError(undefined);
      const buttons = Array.from(form.querySelectorAll('button'));
      for (const b of buttons) b.disabled = true;
      action(form)
        .catch((e: unknown) => {
          setStatus('');
          setError(e instanceof ShownError ? e.message : m.clientErrors.unexpected);
          if (!(e instanceof ShownError)) console.error(e);
        })
        .finally(() => {
          state.busy = false;
          for (const b of buttons) b.disabled = false;
        });
    });
  }

  onSubmit('address-form', async () => {
    const email = input('email').value.trim();
    setStatus(m.progress.sending);
    const r = await api<{ id: string }>('/api/v1/enrollments', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, locale }),
    });
    state.id = r.id;
    state.email = email;
    $('code-address').textContent = email;
    $('code-sent-to').hidden = false;
    input('code').value = '';
    setStatus('');
    show('step-code');
  });

  onSubmit('code-form', async () => {
    if (!state.id) throw new ShownError(errorText(locale, { code: 'proof.not_found', message: m.clientErrors.unexpected }));
    setStatus(m.progress.checking);
    const r = await api<{ token: string; address: string }>(`/api/v1/enrollments/${encodeURIComponent(state.id)}/verify`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: input('code').value }),
    });
    state.token = r.token;
    state.address = r.address;
    setStatus('');
    show('step-key');
  });

  $('start-over').addEventListener('click', () => {
    state.id = undefined;
    state.token = undefined;
    setError(undefined);
    setStatus('');
    show('step-address');
  });

  onSubmit('key-form', async () => {
    const pass = input('passphrase');
    const pass2 = input('passphrase2');
    if (pass.value.length < MIN_PASSPHRASE) throw new ShownError(m.clientErrors.passphraseShort);
    if (pass.value !== pass2.value) throw new ShownError(m.clientErrors.passphraseMismatch);
    if (!state.id || !state.token || !state.address) throw new ShownError(errorText(locale, { code: 'proof.bad_token', message: m.clientErrors.unexpected }));
    if (!globalThis.crypto?.subtle) throw new ShownError(m.clientErrors.noCrypto);
    const password = pass.value;

    setStatus(m.progress.generating);
    const keys = await generateKeyPair('rsa-2048');
    const csr = await buildCsrPem(keys, state.address);

    setStatus(m.progress.requesting);
    const issued = await api<{ certificate: string; chain: string; address: string }>(
      `/api/v1/enrollments/${encodeURIComponent(state.id)}/certificate`,
      { method: 'POST', headers: { 'Content-Type': 'application/x-pem-file', Authorization: `Bearer ${state.token}` }, body: csr },
    );
    state.token = undefined; // spent

    setStatus(m.progress.packaging);
    const certificate = decodePemAll(issued.certificate)[0]?.der;
    if (!certificate) throw new ShownError(m.clientErrors.unexpected);
    const chain = decodePemAll(issued.chain).map((b) => b.der);
    const privateKeyPkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
    const build = (flavour: Pkcs12Flavour) => buildPkcs12({ privateKeyPkcs8, certificate, chain, password, friendlyName: issued.address, flavour });
    const [modern, compatible] = await Promise.all([build('modern'), build('compatible')]);
    privateKeyPkcs8.fill(0);
    pass.value = '';
    pass2.value = '';

    const base = fileBase(issued.address);
    offer('download-modern', new Blob([modern as BlobPart], { type: 'application/x-pkcs12' }), `${base}.p12`);
    offer('download-compatible', new Blob([compatible as BlobPart], { type: 'application/x-pkcs12' }), `${base}-compatible.p12`);
    offer('download-chain', new Blob([issued.chain], { type: 'application/x-pem-file' }), 'issuer-chain.pem');
    offer('download-certificate', new Blob([issued.certificate], { type: 'application/x-pem-file' }), `${base}.pem`);
    $('done-address').textContent = issued.address;
    $('done-valid-until').textContent = formatDate(notAfter(certificate), locale);
    setStatus('');
    show('step-done');
  });
}

/** A file name from the mailbox: letters, digits, '.', '_', '-' and '@' kept, the rest '_'. */
function fileBase(address: string): string {
  return address.replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 100) || 'certificate';
}

function offer(id: string, blob: Blob, filename: string): void {
  const a = $(id) as HTMLAnchorElement;
  a.href = URL.createObjectURL(blob);
  a.download = filename;
}

/** notAfter of a DER certificate (TBSCertificate: [0] version?, serial, signature, issuer, validity, ...). */
function notAfter(der: Uint8Array): Date | undefined {
  try {
    const tbs = parse(der).children[0]!;
    const offset = tbs.children[0]?.tag === 0xa0 ? 1 : 0;
    return readTime(tbs.children[offset + 3]?.children[1]);
  } catch {
    return undefined;
  }
}

function formatDate(d: Date | undefined, locale: Locale): string {
  if (!d) return '';
  return d.toLocaleDateString(locale === 'ja' ? 'ja-JP' : 'en-GB', { year: 'numeric', month: 'long', day: 'numeric' });
}

main();
