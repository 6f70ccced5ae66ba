/**
 * An independent TOTP (RFC 6238, SHA-1, 6 digits, 30 s) for tests: written from the RFC, sharing
 * no code with src/admin/totp.ts, so both have to agree.
 */
import { createHmac } from 'node:crypto';

export function base32ToBytes(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of s.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

export function totpAt(secret: Buffer, unixSeconds: number, digits = 6): string {
  const counter = Math.floor(unixSeconds / 30);
  const msg = Buffer.alloc(8);
  msg.writeUInt32BE(Math.floor(counter / 2 ** 32), 0);
  msg.writeUInt32BE(counter >>> 0, 4);
  const h = createHmac('sha1', secret).update(msg).digest();
  const o = h[19]! & 15;
  const n = h.readUInt32BE(o) & 0x7fffffff;
  return (n % 10 ** digits).toString().padStart(digits, '0');
}
