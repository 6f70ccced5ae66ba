/**
 * Certificate bodies written with the exact DER writer, and signing through the Signer port.
 * The end-entity profile is cert-profile.md (strict mailbox-validated S/MIME); the CA profiles
 * are a self-signed root and an issuing intermediate restricted to e-mail protection.
 */
import { randomBytes } from 'node:crypto';
import { algId, bitString, ctx, int, oid, seq, tlv, time, utf8String, type Der } from '../pki/der.js';
import { utf8 } from '../shared/bytes.js';
import { boolTrue, distributionPoint, extension, name, namedBits, uriName } from './der.js';
import { keyIdentifier } from './keys.js';
import type { CertificateMailbox } from './mailbox.js';
import { CA_OID } from './oids.js';
import { signatureAlgorithmIdentifier, type Signer } from './signer.js';

export const DAY_MS = 86_400_000;
/** Certificates start this long before the moment of issuance (clock skew of the relying party). */
export const BACKDATE_MS = 5 * 60_000;

/** The public addresses of the PKI: what goes into CRL distribution point and AIA extensions. */
export interface PkiUrls {
  crl(authorityId: string): string;
  caCertificate(authorityId: string): string;
  ocsp: string;
}

/**
 * PKI URLs under the service's public URL. They are always http:// (CA/B Forum S/MIME BR
 * 7.1.2.3: clients fetch CRLs, OCSP and CA certificates over plain HTTP, the content is signed),
 * so a PUBLIC_URL of https://host/ gives http://host/crl/issuing.crl.
 */
export function pkiUrls(publicUrl: string): PkiUrls {
  const base = publicUrl.replace(/\/+$/, '').replace(/^https:/i, 'http:');
  return {
    crl: (id) => `${base}/crl/${id}.crl`,
    caCertificate: (id) => `${base}/ca/${id}.crt`,
    ocsp: `${base}/ocsp`,
  };
}

/** A positive serial with 127 random bits (>= 64 bits of CSPRNG output, < 2^159). */
export function randomSerial(): Uint8Array {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40; // positive, and always 16 octets (no leading zero to strip)
  return new Uint8Array(b);
}

/** Truncates to whole seconds (certificates carry seconds). */
export function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/**
 * Validity of `days` days counted the RFC 5280 way (both ends inclusive): notAfter is
 * notBefore + days*86400 - 1 seconds.
 */
export function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  const notBefore = wholeSeconds(new Date(now.getTime() - BACKDATE_MS));
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS - 1000) };
}

function basicConstraints(ca: boolean, pathLen?: number): Der {
  if (!ca) return seq();
  return pathLen === undefined ? seq(boolTrue()) : seq(boolTrue(), int(pathLen));
}

const KU = { digitalSignature: 0, keyEncipherment: 2, keyAgreement: 4, keyCertSign: 5, cRLSign: 6 } as const;

function policies(): Der {
  return seq(seq(oid(CA_OID.policyMailboxStrict)));
}

function aia(urls: PkiUrls, issuerId: string, withOcsp: boolean): Der {
  const items = [seq(oid(CA_OID.caIssuersAccess), uriName(urls.caCertificate(issuerId)))];
  if (withOcsp) items.unshift(seq(oid(CA_OID.ocspAccess), uriName(urls.ocsp)));
  return seq(...items);
}

function tbs(p: { serial: Uint8Array; signer: Signer; issuer: Der; notBefore: Date; notAfter: Date; subject: Der; spki: Der; extensions: Der[] }): Der {
  return seq(
    ctx(0, true, int(2)),
    int(p.serial),
    signatureAlgorithmIdentifier(p.signer.algorithm),
    p.issuer,
    seq(time(p.notBefore), time(p.notAfter)),
    p.subject,
    p.spki,
    ctx(3, true, seq(...p.extensions)),
  );
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }. */
export async function signCertificate(tbsDer: Der, signer: Signer): Promise<Der> {
  return seq(tbsDer, signatureAlgorithmIdentifier(signer.algorithm), bitString(await signer.sign(tbsDer)));
}

export interface CaCertificateRequest {
  serial: Uint8Array;
  subject: ReadonlyArray<readonly [string, string]>;
  notBefore: Date;
  notAfter: Date;
  /** The key being certified. */
  spki: Uint8Array;
  /** Absent: self-signed root (the signer's own key is `spki`). */
  issuer?: { id: string; subjectDer: Uint8Array; spki: Uint8Array };
  urls: PkiUrls;
  signer: Signer;
}

/** A root (no issuer) or the issuing intermediate (pathLen 0, e-mail protection only). */
export async function buildCaCertificate(r: CaCertificateRequest): Promise<Der> {
  const subject = name(r.subject);
  const ski = keyIdentifier(r.spki);
  const extensions: Der[] = [];
  if (!r.issuer) {
    extensions.push(
      extension(CA_OID.basicConstraints, true, basicConstraints(true)),
      extension(CA_OID.keyUsage, true, namedBits([KU.keyCertSign, KU.cRLSign])),
      extension(CA_OID.subjectKeyIdentifier, false, tlv(0x04, ski)),
    );
  } else {
    extensions.push(
      extension(CA_OID.basicConstraints, true, basicConstraints(true, 0)),
      // digitalSignature: this CA signs its own OCSP responses.
      extension(CA_OID.keyUsage, true, namedBits([KU.digitalSignature, KU.keyCertSign, KU.cRLSign])),
      extension(CA_OID.extKeyUsage, false, seq(oid(CA_OID.emailProtection))),
      extension(CA_OID.certificatePolicies, false, policies()),
      extension(CA_OID.crlDistributionPoints, false, seq(distributionPoint(r.urls.crl(r.issuer.id)))),
      extension(CA_OID.authorityInfoAccess, false, aia(r.urls, r.issuer.id, false)),
      extension(CA_OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyIdentifier(r.issuer.spki)))),
      extension(CA_OID.subjectKeyIdentifier, false, tlv(0x04, ski)),
    );
  }
  const body = tbs({ serial: r.serial, signer: r.signer, issuer: r.issuer ? r.issuer.subjectDer : subject, notBefore: r.notBefore, notAfter: r.notAfter, subject, spki: r.spki, extensions });
  return signCertificate(body, r.signer);
}

export interface EndEntityRequest {
  serial: Uint8Array;
  mailbox: CertificateMailbox;
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  keyKind: 'rsa' | 'ec';
  issuer: { id: string; subjectDer: Uint8Array; spki: Uint8Array };
  urls: PkiUrls;
  signer: Signer;
}

function sanValue(m: CertificateMailbox): Der {
  if (m.form === 'rfc822Name') return seq(tlv(0x81, utf8(m.address)));
  return seq(ctx(0, true, oid(CA_OID.smtpUtf8Mailbox), ctx(0, true, utf8String(m.address))));
}

/** The strict mailbox-validated end-entity certificate of cert-profile.md. */
export async function buildEndEntityCertificate(r: EndEntityRequest): Promise<Der> {
  // CN is limited to 64 characters (RFC 5280 ub-common-name); a longer mailbox lives in the SAN only.
  const subject = [...r.mailbox.address].length <= 64 ? name([[CA_OID.commonName, r.mailbox.address]]) : seq();
  const extensions: Der[] = [
    extension(CA_OID.keyUsage, true, namedBits(r.keyKind === 'rsa' ? [KU.digitalSignature, KU.keyEncipherment] : [KU.digitalSignature, KU.keyAgreement])),
    extension(CA_OID.extKeyUsage, false, seq(oid(CA_OID.emailProtection))),
    // Critical only when the subject is empty (RFC 5280 4.2.1.6).
    extension(CA_OID.subjectAltName, subject.length === 2, sanValue(r.mailbox)),
    extension(CA_OID.certificatePolicies, false, policies()),
    extension(CA_OID.crlDistributionPoints, false, seq(distributionPoint(r.urls.crl(r.issuer.id)))),
    extension(CA_OID.authorityInfoAccess, false, aia(r.urls, r.issuer.id, true)),
    extension(CA_OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyIdentifier(r.issuer.spki)))),
    extension(CA_OID.subjectKeyIdentifier, false, tlv(0x04, keyIdentifier(r.spki))),
    extension(CA_OID.smimeCapabilities, false, seq(algId(CA_OID.aes256Cbc), algId(CA_OID.aes128Cbc))),
  ];
  const body = tbs({ serial: r.serial, signer: r.signer, issuer: r.issuer.subjectDer, notBefore: r.notBefore, notAfter: r.notAfter, subject, spki: r.spki, extensions });
  return signCertificate(body, r.signer);
}
