/**
 * Message-level S/MIME: RFC 5322 in, RFC 5322 out.
 *
 * The outer header keeps every field of the original except Bcc (never revealed), the Content-*
 * fields and MIME-Version (they move into, or are replaced around, the protected entity). The inner
 * entity carries the original Content-* fields and body byte for byte (line ends normalised to CRLF
 * when the input used bare LF); for signing it is canonicalised first (RFC 8551 3.1).
 */
import { AppError } from '../shared/errors.js';
import { concat, utf8 } from '../shared/bytes.js';
import { splitMessage, splitMultipart, parseContentType, getHeader, isContentHeader, canonicalizeEntity, newBoundary, toCRLF, decodeTransfer, markDataSafe, type HeaderField } from '../mime/index.js';
import type { Certificate } from '../pki/certificate.js';
import type { SmimeCapability } from '../pki/capabilities.js';
import { chooseAlgorithms, assertAlgorithmsFit, algorithmsKey, type ContentAlgorithm, type RecipientAlgorithms, type AlgorithmChoice } from './algorithms.js';
import { assertEncryptionCertificate } from './recipient-check.js';
import { envelope, type EnvelopeRecipient } from './envelope.js';
import { base64Lines, base64LinesLength, collect, partsSource, writeLinesOfParts, type ByteSource } from './stream.js';
import { buildSignedData, type SignerIdentity, type SignOptions } from './signed-data.js';
import { decryptContentInfo, type DecryptIdentity, type DecryptedContent } from './decrypt.js';
import { verifySignedData, type VerifyOptions, type VerifiedContent } from './verify-cms.js';

const CRLF = utf8('\r\n');
const DROPPED = new Set(['bcc', 'resent-bcc', 'mime-version']);

export interface EncryptRecipient {
  certificate: Certificate;
  /** Capabilities the recipient advertised elsewhere (e.g. harvested); else the certificate's. */
  capabilities?: readonly SmimeCapability[];
  /** Force the algorithms (the directory's choice); else chosen from capabilities. */
  algorithms?: RecipientAlgorithms;
}

export interface EncryptOptions {
  /** Validation time for recipient certificates (default now). */
  now?: Date;
}

export interface EnvelopeGroup {
  algorithms: RecipientAlgorithms;
  reason: string;
  recipients: EncryptRecipient[];
}

/** Groups recipients that share algorithms (each group becomes one EnvelopedData). */
export function planEnvelopes(recipients: readonly EncryptRecipient[], options: EncryptOptions = {}): EnvelopeGroup[] {
  const now = options.now ?? new Date();
  const groups = new Map<string, EnvelopeGroup>();
  for (const r of recipients) {
    assertEncryptionCertificate(r.certificate, now);
    let choice: AlgorithmChoice;
    if (r.algorithms) {
      assertAlgorithmsFit(r.certificate, r.algorithms);
      choice = { ...r.algorithms, reason: `${r.algorithms.content} + ${r.algorithms.keyTransport} (chosen by caller)` };
    } else choice = chooseAlgorithms(r.certificate, r.capabilities);
    const key = algorithmsKey(choice);
    const g = groups.get(key);
    if (g) g.recipients.push(r);
    else groups.set(key, { algorithms: { content: choice.content, keyTransport: choice.keyTransport }, reason: choice.reason, recipients: [r] });
  }
  return [...groups.values()];
}

interface Prepared {
  /** Outer header fields to keep, CRLF-terminated. */
  outer: Uint8Array;
  /** The inner entity as two parts: its content header fields with the blank line, and the body as the message wrote it. */
  inner: Uint8Array[];
  /** True when the message was written with bare LF line ends (a Unix tool, not SMTP). */
  lfOnly: boolean;
}

/**
 * Splits the message into the outer header (what stays outside the protection) and the inner
 * entity. Line ends are converted to CRLF only when the message itself was written with bare LFs;
 * a CRLF message is kept byte for byte, so binary parts (BINARYMIME) are never altered.
 */
function prepare(message: Uint8Array): Prepared {
  const split = splitMessage(message);
  const lfOnly = split.lineEnding === '\n';
  const outer: Uint8Array[] = [];
  const inner: Uint8Array[] = [];
  for (const f of split.headers) {
    const raw = lfOnly ? toCRLF(f.raw) : f.raw;
    if (isContentHeader(f.lname)) inner.push(raw);
    else if (!DROPPED.has(f.lname)) outer.push(raw);
  }
  return { outer: fieldLines(outer, false), inner: [fieldLines(inner, true), split.body], lfOnly };
}

/** Header fields, each followed by CRLF, in one buffer; with `blankLine` the empty line ending a header too. */
function fieldLines(fields: readonly Uint8Array[], blankLine: boolean): Uint8Array {
  let n = blankLine ? 2 : 0;
  for (const f of fields) n += f.length + 2;
  const out = new Uint8Array(n);
  let o = 0;
  for (const f of fields) {
    out.set(f, o);
    o += f.length;
    out[o++] = 13;
    out[o++] = 10;
  }
  if (blankLine) out.set(CRLF, o);
  return out;
}

/** The entity to encrypt as-is: CRLF throughout when the message was LF-only. */
function encryptableInner(p: Prepared): Uint8Array[] {
  if (!p.lfOnly) return p.inner;
  const [head, body] = p.inner;
  return [head!, toCRLF(body!)];
}

function mimeHeaders(lines: string[]): Uint8Array {
  return utf8(lines.map((l) => l + '\r\n').join(''));
}

/** The MIME header fields of the encrypted message and the blank line before its body. */
const envelopedHeaders = (smimeType: string) =>
  concat([
    mimeHeaders([
      'MIME-Version: 1.0',
      `Content-Type: application/pkcs7-mime; smime-type=${smimeType}; name="smime.p7m"`,
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="smime.p7m"',
      'Content-Description: S/MIME Encrypted Message',
    ]),
    CRLF,
  ]);
const ENVELOPED_HEAD = envelopedHeaders('enveloped-data');
const AUTH_ENVELOPED_HEAD = envelopedHeaders('authEnveloped-data');

/**
 * Up to this many bytes of content (from a synchronous source) the encrypted message is built in
 * one buffer (~1.4x the content) instead of being streamed through the async generators; larger or
 * asynchronous content is streamed in slices, so memory stays bounded for 25 MB messages.
 */
export const WHOLE_MAX = 1024 * 1024;

/** Streams the complete encrypted RFC 5322 message for one group of recipients. */
export async function* encryptPrepared(outer: Uint8Array, inner: ByteSource, group: EnvelopeGroup, wholeMax = WHOLE_MAX): AsyncGenerator<Uint8Array> {
  const recipients: EnvelopeRecipient[] = group.recipients.map((r) => ({ certificate: r.certificate, keyTransport: group.algorithms.keyTransport }));
  const env = envelope(inner, recipients, group.algorithms.content);
  const head = group.algorithms.content === 'aes256-gcm' ? AUTH_ENVELOPED_HEAD : ENVELOPED_HEAD;
  const der = inner.size <= wholeMax ? env.whole() : undefined;
  if (der) {
    const out = Buffer.allocUnsafe(outer.length + head.length + base64LinesLength(env.size));
    out.set(outer, 0);
    out.set(head, outer.length);
    const end = writeLinesOfParts(out, outer.length + head.length, der);
    if (end !== out.length) throw new AppError('smime.internal', `encrypted message is ${end} bytes, computed ${out.length}`, { kind: 'internal' });
    // our MIME header fields and the base64 lines need no dot-stuffing (the original's fields may)
    markDataSafe(out, outer.length);
    yield out;
    return;
  }
  yield concat([outer, head]);
  yield* base64Lines(env.chunks);
}

function singleGroup(recipients: readonly EncryptRecipient[], options: EncryptOptions): EnvelopeGroup {
  const groups = planEnvelopes(recipients, options);
  if (groups.length !== 1) {
    const list = groups.map((g) => `${g.recipients.map((r) => r.certificate.emails[0]).join(', ')}: ${g.algorithms.content}/${g.algorithms.keyTransport}`).join('; ');
    throw new AppError('smime.mixed_algorithms', `The recipients need different algorithms (${list}); encrypt a separate message for each group`);
  }
  return groups[0]!;
}

/**
 * Encrypts `message` to `recipients` (who must share algorithms; see planEnvelopes) as a stream of
 * the resulting RFC 5322 message.
 */
export function encryptMessageStream(message: Uint8Array, recipients: readonly EncryptRecipient[], options: EncryptOptions = {}): AsyncGenerator<Uint8Array> {
  const group = singleGroup(recipients, options);
  const p = prepare(message);
  return encryptPrepared(p.outer, partsSource(encryptableInner(p)), group);
}

export async function encryptMessage(message: Uint8Array, recipients: readonly EncryptRecipient[], options: EncryptOptions = {}): Promise<Uint8Array> {
  return collect(encryptMessageStream(message, recipients, options));
}

export type SignMode = 'detached' | 'opaque';

export interface SignMessageOptions extends SignOptions {
  mode?: SignMode;
}

/** Builds the signed MIME entity (Content-Type header + body) over a canonical entity. */
function signEntity(canonical: Uint8Array, signer: SignerIdentity, options: SignMessageOptions): Uint8Array[] {
  if ((options.mode ?? 'detached') === 'opaque') {
    const der = buildSignedData(canonical, signer, false, options);
    return [
      mimeHeaders([
        'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
        'Content-Transfer-Encoding: base64',
        'Content-Disposition: attachment; filename="smime.p7m"',
      ]),
      CRLF,
      utf8(Buffer.from(der).toString('base64').replace(/.{1,76}/g, '$&\r\n')),
    ];
  }
  const der = buildSignedData(canonical, signer, true, options);
  let boundary = newBoundary();
  while (Buffer.from(canonical.buffer, canonical.byteOffset, canonical.byteLength).includes(boundary)) boundary = newBoundary();
  return [
    mimeHeaders([`Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="${boundary}"`]),
    CRLF,
    utf8(`This is a cryptographically signed message in MIME format.\r\n\r\n--${boundary}\r\n`),
    canonical,
    utf8(
      `\r\n--${boundary}\r\n` +
        'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n' +
        'Content-Transfer-Encoding: base64\r\n' +
        'Content-Disposition: attachment; filename="smime.p7s"\r\n' +
        'Content-Description: S/MIME Cryptographic Signature\r\n\r\n' +
        Buffer.from(der).toString('base64').replace(/.{1,76}/g, '$&\r\n') +
        `\r\n--${boundary}--\r\n`,
    ),
  ];
}

export async function signMessage(message: Uint8Array, signer: SignerIdentity, options: SignMessageOptions = {}): Promise<Uint8Array> {
  const p = prepare(message);
  const canonical = canonicalizeEntity(concat(p.inner));
  return concat([p.outer, mimeHeaders(['MIME-Version: 1.0']), ...signEntity(canonical, signer, options)]);
}

/** Sign-then-encrypt as one call: the signed entity becomes the encrypted content. */
export function signAndEncryptMessageStream(
  message: Uint8Array,
  signer: SignerIdentity,
  recipients: readonly EncryptRecipient[],
  options: SignMessageOptions & EncryptOptions = {},
): AsyncGenerator<Uint8Array> {
  const group = singleGroup(recipients, options);
  const p = prepare(message);
  const signed = signEntity(canonicalizeEntity(concat(p.inner)), signer, options);
  return encryptPrepared(p.outer, partsSource(signed), group);
}

export async function signAndEncryptMessage(
  message: Uint8Array,
  signer: SignerIdentity,
  recipients: readonly EncryptRecipient[],
  options: SignMessageOptions & EncryptOptions = {},
): Promise<Uint8Array> {
  return collect(signAndEncryptMessageStream(message, signer, recipients, options));
}

function smimeBody(message: Uint8Array, want: 'encrypted' | 'signed'): { ct: ReturnType<typeof parseContentType>; split: ReturnType<typeof splitMessage> } {
  const split = splitMessage(message);
  const ctField = getHeader(split.headers, 'content-type');
  if (!ctField) throw new AppError('smime.not_smime', `Not an S/MIME ${want} message: it has no Content-Type`);
  return { ct: parseContentType(ctField.value), split };
}

function decodeBody(split: ReturnType<typeof splitMessage>): Uint8Array {
  const cte = getHeader(split.headers, 'content-transfer-encoding')?.value.trim().toLowerCase();
  return cte ? decodeTransfer(cte, split.body) : split.body;
}

function isPkcs7Mime(ct: ReturnType<typeof parseContentType>): boolean {
  return ct.type === 'application' && (ct.subtype === 'pkcs7-mime' || ct.subtype === 'x-pkcs7-mime');
}

export interface DecryptResult extends DecryptedContent {
  /** The decrypted MIME entity. */
  entity: Uint8Array;
}

/** Decrypts an application/pkcs7-mime enveloped message; returns the inner entity. */
export async function decryptMessage(message: Uint8Array, identity: DecryptIdentity): Promise<DecryptResult> {
  const { ct, split } = smimeBody(message, 'encrypted');
  if (!isPkcs7Mime(ct) || (ct.params['smime-type'] && !/^(authE|e)nveloped-data$/i.test(ct.params['smime-type']))) {
    throw new AppError('smime.not_encrypted', `Not an S/MIME encrypted message (Content-Type ${ct.type}/${ct.subtype}${ct.params['smime-type'] ? '; smime-type=' + ct.params['smime-type'] : ''})`);
  }
  const r = decryptContentInfo(decodeBody(split), identity);
  return { ...r, entity: r.content };
}

export interface VerifyResult extends VerifiedContent {
  /** The signed MIME entity (what the signature covers). */
  entity: Uint8Array;
  mode: SignMode;
}

/** Verifies a multipart/signed or opaque signed-data message. */
export async function verifyMessage(message: Uint8Array, options: VerifyOptions): Promise<VerifyResult> {
  const { ct, split } = smimeBody(message, 'signed');
  if (ct.type === 'multipart' && ct.subtype === 'signed') {
    const boundary = ct.params['boundary'];
    if (!boundary) throw new AppError('smime.malformed', 'multipart/signed without a boundary parameter');
    const mp = splitMultipart(split.body, boundary);
    const [signed, signaturePart] = mp.parts;
    if (!signed || !signaturePart || mp.parts.length !== 2) throw new AppError('smime.malformed', `multipart/signed must have exactly two parts, found ${mp.parts.length}`);
    const sigSplit = splitMessage(signaturePart);
    const sigCt = getHeader(sigSplit.headers, 'content-type');
    const sigType = sigCt ? parseContentType(sigCt.value) : undefined;
    if (!sigType || sigType.type !== 'application' || !/^(x-)?pkcs7-signature$/.test(sigType.subtype)) {
      throw new AppError('smime.malformed', 'The second part of multipart/signed is not application/pkcs7-signature');
    }
    const der = decodeBody(sigSplit);
    const crlf = toCRLF(signed);
    const alt = crlf !== signed ? crlf : undefined;
    const r = verifySignedData(der, options, signed, alt);
    return { ...r, entity: r.content, mode: 'detached' };
  }
  if (isPkcs7Mime(ct) && (!ct.params['smime-type'] || /^signed-data$/i.test(ct.params['smime-type']))) {
    const r = verifySignedData(decodeBody(split), options);
    return { ...r, entity: r.content, mode: 'opaque' };
  }
  throw new AppError('smime.not_signed', `Not an S/MIME signed message (Content-Type ${ct.type}/${ct.subtype})`);
}

export type { ContentAlgorithm };
