/**
 * The mailbox a certificate is issued for, in the form it takes in the certificate:
 * - ASCII local part: subjectAltName rfc822Name, domain in A-labels (RFC 5280, RFC 9598 3);
 * - non-ASCII local part: subjectAltName otherName SmtpUTF8Mailbox, domain in U-labels (RFC 9598).
 * The subject CN carries the same string.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { AppError } from '../shared/errors.js';
import { utf8 } from '../shared/bytes.js';

export interface CertificateMailbox {
  /** The mailbox as written into CN and the subjectAltName. */
  address: string;
  /** Which subjectAltName form carries it. */
  form: 'rfc822Name' | 'smtpUtf8Mailbox';
}

const ASCII_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;
// Anything printable that is not ASCII is allowed in a UTF-8 local part (RFC 6531 atext extension).
const UTF8_ATOM = /^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\p{Cc}\p{Cf}\p{Z}\p{Cs}\x00-\x7f])+$/u;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function badAddress(input: string, why: string): AppError {
  return new AppError('ca.bad_address', `'${input}' cannot go into a certificate: ${why}`, { detail: { field: 'email' } });
}

/** Parses and normalises a mailbox for a certificate. Throws AppError ca.bad_address. */
export function certificateMailbox(input: string): CertificateMailbox {
  const s = input.trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) throw badAddress(s, 'not an address of the form name@domain');
  const local = s.slice(0, at).normalize('NFC');
  const rawDomain = s.slice(at + 1);
  const ascii = /^[\x21-\x7e]*$/.test(local);
  if (utf8(local).length > 64) throw badAddress(s, 'the part before @ is longer than 64 octets');
  const atoms = local.split('.');
  if (atoms.some((a) => a === '' || !(ascii ? ASCII_ATOM : UTF8_ATOM).test(a))) {
    throw badAddress(s, 'the part before @ has characters or dots that a certificate cannot carry');
  }
  const aDomain = domainToASCII(rawDomain.toLowerCase());
  if (!aDomain || aDomain.length > 253 || !aDomain.includes('.') || !aDomain.split('.').every((l) => LABEL.test(l))) {
    throw badAddress(s, 'the domain is not a valid domain name');
  }
  const address = ascii ? `${local}@${aDomain}` : `${local}@${domainToUnicode(aDomain)}`;
  if (utf8(address).length > 254) throw badAddress(s, 'the address is longer than 254 octets');
  return { address, form: ascii ? 'rfc822Name' : 'smtpUtf8Mailbox' };
}

/**
 * Comparison key for "is this the same mailbox": domain in lower-case A-labels, local part
 * case-folded (mail systems treat it case-insensitively in practice; we always issue the
 * authorised spelling, this only decides whether a CSR names another mailbox).
 */
export function mailboxKey(address: string): string {
  const s = address.trim();
  const at = s.lastIndexOf('@');
  if (at < 0) return s.toLowerCase();
  const domain = s.slice(at + 1).toLowerCase();
  return `${s.slice(0, at).normalize('NFC').toLowerCase()}@${domainToASCII(domain) || domain}`;
}

export function sameMailbox(a: string, b: string): boolean {
  return mailboxKey(a) === mailboxKey(b);
}
