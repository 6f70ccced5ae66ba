/**
 * Signing identities: the certificates and keys the worker signs outgoing mail with.
 *
 * An identity is for one mailbox ('alice@example.com'), a whole domain ('*@example.com', e.g. the
 * organisation's certificate) or everything ('*'). For a message, the From address picks the most
 * specific identity that is valid now: the mailbox, then the domain, then '*'; among several, the
 * one that expires last.
 *
 * Identities are imported by an administrator from a PKCS#12 file (`smimegw identity import`) or
 * issued by our CA for an internal sender (`smimegw identity issue`). Private keys are stored as
 * encrypted PKCS#8 (PBES2, AES-256-CBC) under the configured passphrase and decrypted once per
 * process.
 */
import { createPrivateKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { AppError } from '../shared/errors.js';
import { fromBase64, toBase64 } from '../shared/bytes.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { normalizeAddress, parseCertificate, type Certificate } from '../pki/certificate.js';
import { readPrivateKey, assertKeyMatchesCertificate, type PrivateKey } from '../pki/keys.js';
import { parse, readOid, stringBytes, expectTag, type Node } from '../pki/asn1.js';
import { algId, bitString, ctx, int, oid, seq, setOf, tlv, utf8String } from '../pki/der.js';
import { readPkcs12Certificates } from '../directory/pkcs12.js';
import type { SignerIdentity } from '../smime/index.js';
import type { IdentityStore, StoredIdentity } from './ports.js';
import { domainOf } from './policy.js';

/** How often the identity list is re-read from the database. */
export const IDENTITY_REFRESH_MS = 30_000;

const OIDS = {
  data: '1.2.840.113549.1.7.1',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  anyEku: '2.5.29.37.0',
} as const;

/** The identity key for a mailbox or a wildcard as an administrator writes it. */
export function identityAddress(input: string): string {
  const s = input.trim();
  if (s === '*') return '*';
  if (/^\*@[^@\s]+$/.test(s)) return `*@${s.slice(2).toLowerCase()}`;
  if (!/^[^@\s<>]+@[^@\s<>]+$/.test(s)) throw new AppError('identity.bad_address', `'${input}' is not a mailbox, '*@domain' or '*'`);
  return normalizeAddress(s);
}

/** Checks that a certificate can sign mail now (key usage, EKU, validity). Throws with the reason. */
export function assertSigningCertificate(cert: Certificate, now: Date, what = 'certificate'): void {
  const who = cert.emails[0] ?? cert.subject;
  if (now < cert.notBefore) throw new AppError('identity.not_yet_valid', `The ${what} for ${who} is not valid before ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter) throw new AppError('identity.expired', `The ${what} for ${who} expired on ${cert.notAfter.toISOString()}`);
  if (cert.isCA) throw new AppError('identity.is_ca', `The ${what} for ${who} is a CA certificate`);
  if (cert.keyUsage && !cert.keyUsage.digitalSignature && !cert.keyUsage.nonRepudiation) {
    throw new AppError('identity.no_signature', `The ${what} for ${who} does not allow digitalSignature (key usage)`);
  }
  if (cert.extKeyUsage && !cert.extKeyUsage.includes(OIDS.emailProtection) && !cert.extKeyUsage.includes(OIDS.anyEku)) {
    throw new AppError('identity.no_email_protection', `The ${what} for ${who} is not for e-mail protection (extended key usage)`);
  }
}

// ------------------------------------------------------------------------------------------
// PKCS#12 import
// ------------------------------------------------------------------------------------------

function keyBagsIn(safeContents: Node, out: Array<{ type: 'plain' | 'shrouded'; der: Uint8Array }>, depth = 0): void {
  for (const bag of safeContents.children) {
    const bagId = readOid(bag.children[0]);
    const value = bag.children[1]?.children[0];
    if (!value) continue;
    if (bagId === OIDS.keyBag) out.push({ type: 'plain', der: value.raw });
    else if (bagId === OIDS.shroudedKeyBag) out.push({ type: 'shrouded', der: value.raw });
    else if (bagId === OIDS.safeContentsBag && depth < 4) keyBagsIn(value, out, depth + 1);
  }
}

export interface Pkcs12Identity {
  certificate: Certificate;
  chain: Certificate[];
  key: PrivateKey;
}

/**
 * The private key and its certificate (plus the other certificates as the chain) from a PKCS#12
 * file. Keys in plain data SafeContents (what OpenSSL, Windows, macOS and NSS write) are read,
 * shrouded with PBES2 or the PKCS#12 PBE schemes (decrypted by the platform's OpenSSL).
 */
export function readPkcs12Identity(der: Uint8Array, password: string): Pkcs12Identity {
  const certDers = readPkcs12Certificates(der, password); // checks the MAC first
  const certs = certDers.map((d) => parseCertificate(d));
  const bags: Array<{ type: 'plain' | 'shrouded'; der: Uint8Array }> = [];
  try {
    const pfx = parse(der);
    const authSafe = pfx.children[1]!;
    const content = stringBytes(expectTag(authSafe.children[1]?.children[0], 0x04, 'authSafe data'));
    for (const ci of parse(content).children) {
      if (readOid(ci.children[0]) !== OIDS.data) continue;
      const inner = ci.children[1]?.children[0];
      if (inner) keyBagsIn(parse(stringBytes(expectTag(inner, 0x04, 'SafeContents'))), bags);
    }
  } catch (e) {
    throw new AppError('identity.p12_malformed', `The PKCS#12 file's key bags cannot be read (${(e as Error).message})`, { cause: e });
  }
  if (bags.length === 0) {
    throw new AppError('identity.no_key', 'The PKCS#12 file holds no private key outside its encrypted parts; export it with the key (e.g. openssl pkcs12 -export -inkey KEY -in CERT)');
  }
  let key: PrivateKey | undefined;
  let keyObject: KeyObject;
  for (const bag of bags) {
    try {
      keyObject =
        bag.type === 'plain'
          ? createPrivateKey({ key: Buffer.from(bag.der), format: 'der', type: 'pkcs8' })
          : createPrivateKey({ key: Buffer.from(bag.der), format: 'der', type: 'pkcs8', passphrase: password });
    } catch (e) {
      throw new AppError('identity.key_unreadable', `The private key in the PKCS#12 file cannot be decrypted (${(e as Error).message})`, { cause: e });
    }
    const pkcs8 = new Uint8Array(keyObject.export({ format: 'der', type: 'pkcs8' }));
    key = readPrivateKey(pkcs8, undefined, 'PKCS#12 key');
    break;
  }
  const match = certs.find((c) => {
    try {
      assertKeyMatchesCertificate(key!, c);
      return true;
    } catch {
      return false;
    }
  });
  if (!match) throw new AppError('identity.key_mismatch', 'The PKCS#12 file holds no certificate for its private key');
  return { certificate: match, chain: certs.filter((c) => c !== match), key: key! };
}

/** The key as encrypted PKCS#8 DER (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC). */
export function encryptIdentityKey(key: PrivateKey, passphrase: string): Uint8Array {
  return new Uint8Array(key.key.export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }));
}

export function decryptIdentityKey(encrypted: Uint8Array, passphrase: string, what: string): PrivateKey {
  try {
    return readPrivateKey(encrypted, passphrase, what);
  } catch (e) {
    throw new AppError('identity.key_locked', `${what}: the stored key cannot be decrypted with the configured CA_KEY_PASSPHRASE`, { kind: 'internal', cause: e });
  }
}

/** The row to store for an identity (address as given, or the certificate's first address). */
export function identityRecord(
  id: Pkcs12Identity | { certificate: Certificate; chain: Certificate[]; key: PrivateKey },
  options: { address?: string; passphrase: string; source: string; now?: Date },
): Omit<StoredIdentity, 'id' | 'createdAt'> {
  const now = options.now ?? new Date();
  assertSigningCertificate(id.certificate, now);
  const address = options.address !== undefined ? identityAddress(options.address) : id.certificate.emails[0];
  if (!address) throw new AppError('identity.no_address', 'The certificate names no e-mail address: give --address (a mailbox, *@domain or *)');
  if (!address.startsWith('*') && !id.certificate.emails.some((e) => normalizeAddress(e).toLowerCase() === address.toLowerCase())) {
    throw new AppError('identity.address_mismatch', `The certificate is for ${id.certificate.emails.join(', ') || 'no address'}, not ${address}; use --address '*@${domainOf(address)}' to sign a whole domain with it`);
  }
  return {
    address,
    certDer: id.certificate.der,
    chain: id.chain.map((c) => toBase64(c.der)),
    keyEncrypted: encryptIdentityKey(id.key, options.passphrase),
    fingerprint: id.certificate.fingerprint256,
    notAfter: id.certificate.notAfter,
    source: options.source,
  };
}

// ------------------------------------------------------------------------------------------
// Issuance by our CA
// ------------------------------------------------------------------------------------------

/** Our CA, as the identity service sees it: issues a certificate for a request the caller vouches for. */
export interface IdentityIssuer {
  issue(input: { csrDer: Uint8Array; address: string; actor: string }): Promise<{ certificate: Certificate; chain: Certificate[] }>;
}

/** A fresh RSA-3072 key and a PKCS#10 request for `address` (CN and SAN rfc822Name). */
export function newSigningRequest(address: string): { key: PrivateKey; csrDer: Uint8Array } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const key = readPrivateKey(new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })), undefined, 'new key');
  const cn = seq(setOf(seq(oid('2.5.4.3'), utf8String(address))));
  const san = seq(oid('2.5.29.17'), tlv(0x04, seq(tlv(0x81, new TextEncoder().encode(address)))));
  const extReq = seq(oid('1.2.840.113549.1.9.14'), setOf(seq(san)));
  const info = seq(int(0), cn, key.spki, ctx(0, true, extReq));
  const signature = new Uint8Array(nodeSign('sha256', info, privateKey));
  const csrDer = seq(info, algId('1.2.840.113549.1.1.11', null), bitString(signature));
  return { key, csrDer };
}

// ------------------------------------------------------------------------------------------
// Selection for a message
// ------------------------------------------------------------------------------------------

interface Loaded {
  row: StoredIdentity;
  certificate: Certificate | undefined;
}

export interface IdentityChoice {
  signer: SignerIdentity;
  fingerprint: string;
  /** The identity's address: the mailbox, '*@domain' or '*'. */
  address: string;
}

/**
 * The identity to sign mail from an address with, read from the store and cached: the list is
 * re-read every IDENTITY_REFRESH_MS, keys are decrypted once.
 */
export class SigningIdentities {
  private loaded: { at: number; list: Loaded[] } | undefined;
  private loading: Promise<Loaded[]> | undefined;
  private readonly keys = new Map<string, SignerIdentity>();
  private readonly clock: Clock;
  private readonly refreshMs: number;

  constructor(
    private readonly store: IdentityStore,
    private readonly passphrase: string,
    options: { clock?: Clock; refreshMs?: number } = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.refreshMs = options.refreshMs ?? IDENTITY_REFRESH_MS;
  }

  /** Forget the cached list (after an import in the same process). */
  invalidate(): void {
    this.loaded = undefined;
  }

  private async list(): Promise<Loaded[]> {
    const now = this.clock.now().getTime();
    if (this.loaded && now - this.loaded.at < this.refreshMs) return this.loaded.list;
    this.loading ??= this.store
      .all()
      .then((rows) => {
        const list = rows.map((row) => {
          let certificate: Certificate | undefined;
          try {
            certificate = parseCertificate(row.certDer);
          } catch {
            certificate = undefined; // a damaged row must not stop the worker
          }
          return { row, certificate };
        });
        this.loaded = { at: this.clock.now().getTime(), list };
        return list;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** The identity for mail From `from`, or undefined (with no identity configured for it). */
  async forSender(from: string | undefined): Promise<IdentityChoice | undefined> {
    if (!from) return undefined;
    const list = await this.list();
    if (list.length === 0) return undefined;
    const now = this.clock.now();
    const mailbox = normalizeAddress(from.trim());
    const keys = [mailbox, `*@${domainOf(mailbox)}`, '*'];
    for (const k of keys) {
      const candidates = list
        .filter((l) => l.certificate && (k === mailbox ? l.row.address.toLowerCase() === mailbox.toLowerCase() : l.row.address === k))
        .filter((l) => {
          try {
            assertSigningCertificate(l.certificate!, now);
            return true;
          } catch {
            return false;
          }
        })
        .sort((a, b) => b.certificate!.notAfter.getTime() - a.certificate!.notAfter.getTime());
      const best = candidates[0];
      if (best) return { signer: this.signer(best), fingerprint: best.row.fingerprint, address: best.row.address };
    }
    return undefined;
  }

  private signer(l: Loaded): SignerIdentity {
    let s = this.keys.get(l.row.fingerprint);
    if (!s) {
      const key = decryptIdentityKey(l.row.keyEncrypted, this.passphrase, `signing identity ${l.row.address}`);
      const chain: Certificate[] = [];
      for (const b64 of l.row.chain) {
        try {
          chain.push(parseCertificate(fromBase64(b64)));
        } catch {
          /* an unreadable chain certificate is left out */
        }
      }
      s = { certificate: l.certificate!, key, chain };
      this.keys.set(l.row.fingerprint, s);
    }
    return s;
  }
}
