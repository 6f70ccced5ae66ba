/**
 * The worker's decisions, separate from the SMTP protocol and from re-injection:
 *
 *   planMessage({ envelope, header }, deps)  -> MessagePlan: per recipient a treatment and a reason,
 *                                               recipients grouped into messages, or a refusal
 *   renderGroup(source, plan, group, deps)   -> the bytes of one resulting message
 *
 * Treatments: internal (pass through), plain, sign, encrypt, sign-encrypt, link (download-link
 * fallback notice). Recipients with the same treatment and algorithms share one message; every Bcc
 * recipient (an envelope recipient not named in To/Cc/Resent-To/Resent-Cc) and every link recipient
 * gets a message of its own, so no copy reveals a Bcc recipient (not even through the
 * RecipientInfos of an encrypted message).
 *
 * Any failure of a dependency (database, directory) rejects, and the worker answers 451. A policy
 * refusal (mandatory encryption and no certificate) is returned as `plan.refusal` (550 5.7.1).
 */
import { AppError, isAppError } from '../shared/errors.js';
import { concat, utf8 } from '../shared/bytes.js';
import { systemClock, type Clock } from '../shared/clock.js';
import type { Certificate } from '../pki/certificate.js';
import {
  algorithmsKey,
  encryptPrepared,
  planEnvelopes,
  signAndEncryptMessageStream,
  signMessage,
  type ByteSource,
  type RecipientAlgorithms,
} from '../smime/index.js';
import { toCRLF } from '../mime/index.js';
import { addressKey, encryptionHeaders, outputHeader, removeTriggers, type MessageHeader } from './header.js';
import { domainOf, resolvePolicyCached, type EncryptMode, type PolicyRule, type ResolvedPolicy } from './policy.js';
import type { FallbackLinks, RecipientDirectory, RecipientLogEntry, RecipientOutcome } from './ports.js';
import type { IdentityChoice } from './identities.js';
import type { MessageSource } from './source.js';

const CRLF = utf8('\r\n');

export type Treatment = 'internal' | 'plain' | 'sign' | 'encrypt' | 'sign-encrypt' | 'link' | 'reject';

/** DSN parameters of one recipient (RFC 3461), as received. */
export interface RecipientDsn {
  notify?: string[];
  orcpt?: string;
}

export interface EnvelopeRecipient {
  address: string;
  dsn?: RecipientDsn;
}

export interface MailEnvelope {
  /** MAIL FROM ('' for the null sender of bounces). */
  mailFrom: string;
  rcptTo: EnvelopeRecipient[];
  dsn?: { ret?: string | null; envid?: string | null };
  /** BODY=8BITMIME was given. */
  eightBit?: boolean;
  /** SMTPUTF8 was given. */
  smtpUtf8?: boolean;
}

export interface RecipientPlan {
  address: string;
  dsn?: RecipientDsn;
  treatment: Treatment;
  bcc: boolean;
  reason: string;
  certificate?: Certificate;
  algorithms?: RecipientAlgorithms;
  fingerprint?: string;
  /** Set once rendered: the message was signed (a signing failure can turn it off). */
  signed?: boolean;
  policy?: ResolvedPolicy;
}

export interface GroupPlan {
  treatment: Exclude<Treatment, 'reject'>;
  recipients: RecipientPlan[];
  algorithms?: RecipientAlgorithms;
}

export interface MessagePlan {
  header: MessageHeader;
  /** The sender the policy and the identity were chosen for (From, else MAIL FROM). */
  sender: string;
  /** The rewritten Subject when a trigger was removed; undefined = unchanged. */
  subject: string | undefined;
  triggers: string[];
  signer: IdentityChoice | undefined;
  recipients: RecipientPlan[];
  groups: GroupPlan[];
  refusal?: AppError;
}

export interface PolicySource {
  rules(): Promise<ReadonlyMap<string, PolicyRule>>;
  /** The rules when they can be had without waiting (a fresh cached copy), else undefined. */
  current?(): ReadonlyMap<string, PolicyRule> | undefined;
}

export interface SignerSource {
  forSender(from: string | undefined): Promise<IdentityChoice | undefined>;
}

export interface PipelineOptions {
  /** Lower-case domains whose mail passes through untouched. */
  internalDomains: ReadonlySet<string>;
  /** Subject words that force mandatory encryption (removed before sending). */
  subjectTriggers: readonly string[];
  /** Where recipients enroll (named in refusals). */
  publicUrl?: string;
}

export interface PipelineDeps {
  directory: RecipientDirectory;
  policies: PolicySource;
  identities: SignerSource;
  /** The download-link fallback; absent = not available on this gateway. */
  fallback?: FallbackLinks;
  clock?: Clock;
}

export function isInternal(address: string, internal: ReadonlySet<string>): boolean {
  return internal.has(domainOf(address));
}

/** What a sign-capable treatment becomes with or without a signer. */
function withSigning(base: 'plain' | 'encrypt', sign: boolean): Treatment {
  if (base === 'plain') return sign ? 'sign' : 'plain';
  return sign ? 'sign-encrypt' : 'encrypt';
}

function modeReason(policy: ResolvedPolicy, mode: EncryptMode, triggers: string[]): string {
  if (triggers.length && mode === 'mandatory') return `mandatory (subject trigger ${triggers.join(', ')})`;
  return `${mode} (policy ${policy.from.encryptMode})`;
}

/**
 * Decides for one recipient. Exported for the RCPT TO check (no subject known yet) and for
 * `smimegw policy explain`.
 */
export async function decideRecipient(
  rcpt: EnvelopeRecipient,
  ctx: { sender: string; rules: ReadonlyMap<string, PolicyRule>; triggers: string[]; signer: IdentityChoice | undefined },
  deps: PipelineDeps,
  options: PipelineOptions,
): Promise<RecipientPlan> {
  const base = { address: rcpt.address, ...(rcpt.dsn ? { dsn: rcpt.dsn } : {}), bcc: false };
  if (isInternal(rcpt.address, options.internalDomains)) {
    return { ...base, treatment: 'internal', reason: `internal domain ${domainOf(rcpt.address)}: passed through` };
  }
  const policy = resolvePolicyCached(ctx.rules, ctx.sender, rcpt.address);
  const mode: EncryptMode = ctx.triggers.length ? 'mandatory' : policy.encryptMode;
  const sign = policy.sign && ctx.signer !== undefined;
  const signNote = policy.sign ? (ctx.signer ? `, signed as ${ctx.signer.address}` : ', not signed (no signing identity for the sender)') : '';
  if (mode === 'none') {
    return { ...base, policy, treatment: withSigning('plain', sign), reason: `encryption off (policy ${policy.from.encryptMode})${signNote}` };
  }
  const answer = await deps.directory.lookup(rcpt.address);
  if (answer) {
    return {
      ...base,
      policy,
      treatment: withSigning('encrypt', sign),
      certificate: answer.certificate,
      algorithms: answer.algorithms,
      fingerprint: answer.fingerprint,
      reason: `${modeReason(policy, mode, ctx.triggers)}; ${answer.reason}${signNote}`,
    };
  }
  if (policy.fallbackLink) {
    if (deps.fallback) {
      return { ...base, policy, treatment: 'link', reason: `${modeReason(policy, mode, ctx.triggers)}; no usable certificate: download link (policy ${policy.from.fallbackLink})` };
    }
    if (mode === 'mandatory') {
      return {
        ...base,
        policy,
        treatment: 'reject',
        reason: `${modeReason(policy, mode, ctx.triggers)}; no usable certificate, and the download-link fallback (policy ${policy.from.fallbackLink}) is not available on this gateway`,
      };
    }
    return {
      ...base,
      policy,
      treatment: withSigning('plain', sign),
      reason: `${modeReason(policy, mode, ctx.triggers)}; no usable certificate; the download-link fallback is on (policy ${policy.from.fallbackLink}) but not available on this gateway, so sent unencrypted${signNote}`,
    };
  }
  if (mode === 'mandatory') {
    return { ...base, policy, treatment: 'reject', reason: `${modeReason(policy, mode, ctx.triggers)}; no usable certificate` };
  }
  return { ...base, policy, treatment: withSigning('plain', sign), reason: `${modeReason(policy, mode, ctx.triggers)}; no usable certificate: sent unencrypted${signNote}` };
}

/** The 550 text for recipients that must not get the message unencrypted. */
export function refusalFor(rejected: readonly RecipientPlan[], triggers: readonly string[], publicUrl?: string): AppError {
  const list = rejected.map((r) => r.address).join(', ');
  const why = triggers.length ? `the subject asks for encryption (${triggers.join(', ')})` : 'policy requires encryption';
  const enroll = publicUrl ? ` (they can get one at ${publicUrl})` : '';
  return new AppError(
    'mail.encryption_required',
    `Not sent: ${why}, and there is no usable certificate for ${list}. Ask ${rejected.length > 1 ? 'them' : 'the recipient'} for an S/MIME certificate${enroll}, or send without ${rejected.length > 1 ? 'these recipients' : 'this recipient'}`,
    { kind: 'policy', detail: { recipients: rejected.map((r) => ({ address: r.address, reason: r.reason })) } },
  );
}

/** Plans a message: decisions for every recipient, grouped into the messages to send. */
export async function planMessage(input: { envelope: MailEnvelope; header: MessageHeader }, deps: PipelineDeps, options: PipelineOptions): Promise<MessagePlan> {
  const { envelope, header } = input;
  const sender = header.from ?? envelope.mailFrom;
  const trig = header.subject !== undefined ? removeTriggers(header.subject, options.subjectTriggers) : { found: [], subject: '' };
  const triggers = trig.found;
  const needsExternal = envelope.rcptTo.some((r) => !isInternal(r.address, options.internalDomains));
  const [rules, signer] = needsExternal
    ? await Promise.all([deps.policies.rules(), deps.identities.forSender(sender)])
    : [new Map<string, PolicyRule>(), undefined];

  const ctx = { sender, rules, triggers, signer };
  const recipients = await Promise.all(envelope.rcptTo.map((r) => decideRecipient(r, ctx, deps, options)));
  for (const r of recipients) r.bcc = !header.visible.has(addressKey(r.address));

  const plan: MessagePlan = {
    header,
    sender,
    subject: triggers.length ? trig.subject : undefined,
    triggers,
    signer,
    recipients,
    groups: [],
  };
  const rejected = recipients.filter((r) => r.treatment === 'reject');
  if (rejected.length) {
    plan.refusal = refusalFor(rejected, triggers, options.publicUrl);
    return plan;
  }

  const groups = new Map<string, GroupPlan>();
  for (const r of recipients) {
    const t = r.treatment as GroupPlan['treatment'];
    let key: string = t;
    if (r.algorithms) key += `|${algorithmsKey(r.algorithms)}`;
    if (r.bcc || t === 'link') key += `|${r.address}`;
    const g = groups.get(key);
    if (g) g.recipients.push(r);
    else groups.set(key, { treatment: t, recipients: [r], ...(r.algorithms ? { algorithms: r.algorithms } : {}) });
  }
  plan.groups = [...groups.values()];
  return plan;
}

// ------------------------------------------------------------------------------------------
// Rendering
// ------------------------------------------------------------------------------------------

/** A resulting message: in memory, or a stream to write to a spool file. */
export type Rendered = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'stream'; size?: number; chunks: AsyncIterable<Uint8Array> };

/**
 * The parts one after the other. Synchronous when every part is (a message held in memory), so the
 * engine can build a small encrypted message in one buffer; asynchronous when any part is (spooled).
 */
export function joinSources(parts: ByteSource[]): ByteSource {
  return {
    size: parts.reduce((n, p) => n + p.size, 0),
    chunks() {
      const iterables = parts.map((p) => p.chunks());
      if (iterables.every((it): it is Uint8Array[] => Array.isArray(it))) return iterables.flat();
      if (iterables.every((it): it is Iterable<Uint8Array> => Symbol.iterator in it)) {
        return (function* () {
          for (const it of iterables) yield* it;
        })();
      }
      return (async function* () {
        for (const it of iterables) yield* it;
      })();
    },
  };
}

function bytesSource(b: Uint8Array): ByteSource {
  return { size: b.length, chunks: () => [b] };
}

/** The message as sent to a non-encrypted recipient: header rewritten, body as received. */
function plainSource(source: MessageSource, plan: MessagePlan): ByteSource {
  return joinSources([bytesSource(outputHeader(plan.header, plan.subject)), bytesSource(CRLF), bodySource(source)]);
}

function bodySource(source: MessageSource): ByteSource {
  const start = Math.min(source.bodyOffset, source.size);
  return source.range(start);
}

async function plainBytes(source: MessageSource, plan: MessagePlan): Promise<Uint8Array> {
  const header = outputHeader(plan.header, plan.subject);
  const all = await source.bytes();
  const body = all.subarray(Math.min(source.bodyOffset, all.length));
  return concat([header, CRLF, plan.header.lfOnly ? toCRLF(body) : body]);
}

function isMimeProblem(e: unknown): boolean {
  return isAppError(e) && (e.code.startsWith('mime.') || e.code === 'asn1.malformed');
}

function markSigned(group: GroupPlan, signed: boolean, note?: string): void {
  for (const r of group.recipients) {
    r.signed = signed;
    if (note) r.reason += `; ${note}`;
  }
}

export interface RenderOptions {
  clock?: Clock;
  fallback?: FallbackLinks;
}

/**
 * Renders one group's message. Signing needs the whole message in memory (canonicalisation);
 * encryption streams the body from the source. A message whose MIME structure cannot be
 * canonicalised for signing is sent unsigned (encrypted if that was planned), with the reason in
 * the log: a signature is never a reason to hold mail back.
 */
export async function renderGroup(source: MessageSource, plan: MessagePlan, group: GroupPlan, options: RenderOptions = {}): Promise<Rendered> {
  const now = (options.clock ?? systemClock).now();
  switch (group.treatment) {
    case 'internal':
    case 'plain': {
      markSigned(group, false);
      if (plan.header.lfOnly) return { kind: 'bytes', bytes: await plainBytes(source, plan) };
      const src = plainSource(source, plan);
      return { kind: 'stream', size: src.size, chunks: toAsync(src.chunks()) };
    }
    case 'sign': {
      const message = await plainBytes(source, plan);
      try {
        const signed = await signMessage(message, plan.signer!.signer, { signingTime: now });
        markSigned(group, true);
        return { kind: 'bytes', bytes: signed };
      } catch (e) {
        if (!isMimeProblem(e)) throw e;
        markSigned(group, false, `not signed: ${(e as AppError).message}`);
        return { kind: 'bytes', bytes: message };
      }
    }
    case 'encrypt':
    case 'sign-encrypt': {
      const recipients = group.recipients.map((r) => ({ certificate: r.certificate!, algorithms: r.algorithms! }));
      const envelopes = planEnvelopes(recipients, { now });
      if (envelopes.length !== 1) throw new AppError('mail.group_mismatch', 'Recipients of one message need different algorithms', { kind: 'internal' });
      if (group.treatment === 'sign-encrypt') {
        const message = await plainBytes(source, plan);
        try {
          const chunks = signAndEncryptMessageStream(message, plan.signer!.signer, recipients, { now, signingTime: now });
          // signing happens before the first chunk: pull it here so a MIME problem is caught now
          const first = await chunks.next();
          markSigned(group, true);
          return { kind: 'stream', chunks: prepend(first, chunks) };
        } catch (e) {
          if (!isMimeProblem(e)) throw e;
          markSigned(group, false, `not signed: ${(e as AppError).message}`);
        }
      } else markSigned(group, false);
      const { outer, inner } = encryptionHeaders(plan.header, plan.subject);
      const body = plan.header.lfOnly ? bytesSource(toCRLF((await source.bytes()).subarray(Math.min(source.bodyOffset, source.size)))) : bodySource(source);
      const content = joinSources([bytesSource(inner), bytesSource(CRLF), body]);
      return { kind: 'stream', chunks: encryptPrepared(outer, content, envelopes[0]!) };
    }
    case 'link': {
      const fallback = options.fallback;
      if (!fallback) throw new AppError('mail.no_fallback', 'The download-link fallback is not available', { kind: 'internal' });
      markSigned(group, false);
      const r = group.recipients[0]!;
      const { noticeMessage } = await fallback.deposit({
        message: plainSource(source, plan),
        sender: plan.sender,
        recipient: r.address,
        subject: plan.subject ?? plan.header.subject,
      });
      return { kind: 'bytes', bytes: noticeMessage };
    }
  }
}

async function* toAsync(it: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* it;
}

async function* prepend(first: IteratorResult<Uint8Array>, rest: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (!first.done) yield first.value;
  yield* rest;
}

/** The message-log line for a recipient. */
export function logEntryFor(r: RecipientPlan): RecipientLogEntry {
  const outcome: RecipientOutcome =
    r.treatment === 'encrypt' || r.treatment === 'sign-encrypt'
      ? 'encrypted'
      : r.treatment === 'reject'
        ? 'rejected'
        : r.treatment === 'sign'
          ? r.signed === false
            ? 'plain'
            : 'signed'
          : r.treatment;
  return {
    address: r.address,
    outcome,
    ...(r.signed !== undefined ? { signed: r.signed } : {}),
    ...(r.bcc ? { bcc: true } : {}),
    ...(r.fingerprint ? { fingerprint: r.fingerprint } : {}),
    ...(r.algorithms ? { algorithms: algorithmsKey(r.algorithms) } : {}),
    reason: r.reason,
  };
}
