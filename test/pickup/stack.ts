/**
 * Secure pickup for tests: a PickupService over a real database (PGlite in memory or PostgreSQL)
 * with real scrypt passwords, and a sample message with everything the pages must handle (Japanese
 * text, hostile HTML, an inline image, a binary attachment whose name tries a path trick).
 */
import { randomBytes } from 'node:crypto';
import { hashPassword, verifyPassword } from '../../src/admin/password.js';
import type { Database } from '../../src/db/connection.js';
import { DbBlobStore } from '../../src/db/blob-store.js';
import { DrizzlePickupStore } from '../../src/db/pickup-store.js';
import { derivePickupKeys, type PickupKeys } from '../../src/pickup/crypto.js';
import type { PasswordHasher, PickupMode, SenderNotices } from '../../src/pickup/ports.js';
import { PickupService, type EnrollmentStarter } from '../../src/pickup/service.js';
import type { MailboxProof } from '../../src/proof/mailbox.js';
import type { Clock } from '../../src/shared/clock.js';
import type { RateLimiter } from '../../src/shared/rate-limit.js';
import type { ByteSource } from '../../src/smime/index.js';

export const passwords: PasswordHasher = { hash: hashPassword, verify: verifyPassword };

export interface PickupStackOptions {
  database: Database;
  clock?: Clock;
  masterKey?: Uint8Array;
  mode?: PickupMode;
  expiryDays?: number;
  showSubject?: boolean;
  publicUrl?: string;
  proof?: MailboxProof;
  enrollment?: EnrollmentStarter;
  senderNotices?: SenderNotices;
  limiter?: RateLimiter;
}

export async function createPickup(o: PickupStackOptions): Promise<{ service: PickupService; keys: PickupKeys; masterKey: Uint8Array }> {
  const masterKey = o.masterKey ?? new Uint8Array(randomBytes(32));
  const keys = await derivePickupKeys(masterKey);
  const service = new PickupService(
    {
      store: new DrizzlePickupStore(o.database.db),
      blobs: new DbBlobStore(o.database.db),
      keys,
      passwords,
      ...(o.senderNotices ? { senderNotices: o.senderNotices } : {}),
      ...(o.proof ? { proof: o.proof } : {}),
      ...(o.enrollment ? { enrollment: o.enrollment } : {}),
      ...(o.limiter ? { limiter: o.limiter } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
    },
    {
      publicUrl: o.publicUrl ?? 'https://gw.example',
      expiryDays: o.expiryDays ?? 7,
      mode: o.mode ?? 'code',
      showSubject: o.showSubject ?? true,
      noticeFrom: 'smimegw <no-reply@gw.example>',
    },
  );
  return { service, keys, masterKey };
}

/** Collects the sender's notices instead of re-injecting them. */
export class CollectedNotices implements SenderNotices {
  readonly sent: Array<{ to: string; message: string }> = [];
  fail = false;
  async send(to: string, message: Uint8Array): Promise<void> {
    if (this.fail) throw new Error('re-injection refused');
    this.sent.push({ to, message: Buffer.from(message).toString('latin1') });
  }
}

export function source(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, chunks: () => [bytes.subarray(0, 100), bytes.subarray(100)] };
}

/** Decodes the base64 text/plain part of a notice (what a person reads). */
export function noticeText(message: string): string {
  const m = /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n([A-Za-z0-9+/=\r\n]+)/.exec(message);
  if (!m) throw new Error(`no text part in:\n${message.slice(0, 2000)}`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64').toString('utf8');
}

export const SECRET_TEXT = 'Das Angebot: 1.234.567 EUR, gültig bis Freitag. 機密の見積額です。';
export const ATTACHMENT_NAME = '../../etc/見積書\u202Efdp.exe';
export const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

/** A multipart message: text and hostile HTML alternatives, an inline image and a binary attachment. */
export function sampleMessage(o: { from?: string; to?: string; subject?: string; attachment?: Uint8Array; attachmentName?: string } = {}): { bytes: Uint8Array; attachment: Uint8Array } {
  const attachment = o.attachment ?? new Uint8Array(randomBytes(5000));
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64').replace(/.{76}/g, '$&\r\n');
  const enc = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;
  const name = o.attachmentName ?? ATTACHMENT_NAME;
  const html =
    `<html><head><style>p{color:#123}</style><script>alert("s1")</script></head><body>` +
    `<p onclick="alert('h1')">${SECRET_TEXT}</p><img src="https://tracker.example/pixel.gif" alt="tracker"><img src="cid:logo@sample" alt="logo">` +
    `<form action="https://phish.example/"><input name="password"><button>Login</button></form><a href="javascript:alert('j1')">click</a><a href="https://example.com/more">more</a></body></html>`;
  const text = [
    `From: ${o.from ?? `${enc('山田 太郎')} <taro@int.test>`}`,
    `To: ${o.to ?? 'bob@ext.test'}`,
    `Subject: ${enc(o.subject ?? '見積書の送付 (Q3)')}`,
    'Date: Tue, 03 Mar 2026 09:00:00 +0900',
    'Message-ID: <sample@int.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="mixed-b"',
    '',
    '--mixed-b',
    'Content-Type: multipart/related; boundary="rel-b"',
    '',
    '--rel-b',
    'Content-Type: multipart/alternative; boundary="alt-b"',
    '',
    '--alt-b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(Buffer.from(`${SECRET_TEXT}\r\n`)),
    '--alt-b',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(Buffer.from(html)),
    '--alt-b--',
    '--rel-b',
    'Content-Type: image/png',
    'Content-ID: <logo@sample>',
    'Content-Disposition: inline',
    'Content-Transfer-Encoding: base64',
    '',
    b64(PNG_1x1),
    '--rel-b--',
    '--mixed-b',
    'Content-Type: application/octet-stream',
    `Content-Disposition: attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
    'Content-Transfer-Encoding: base64',
    '',
    b64(attachment),
    '--mixed-b--',
    '',
  ].join('\r\n');
  return { bytes: new Uint8Array(Buffer.from(text)), attachment };
}
