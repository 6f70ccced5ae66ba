/**
 * CMS SignedData (RFC 5652) with the S/MIME signed attributes (RFC 8551 2.5): contentType,
 * signingTime, messageDigest, SMIMECapabilities, SMIMEEncryptionKeyPreference (and Microsoft's
 * equivalent, which Outlook reads). SHA-256 always; RSA PKCS#1 v1.5 by default, RSA-PSS or ECDSA
 * as options. The signer's chain is included.
 */
import { constants, createHash, sign as nodeSign } from 'node:crypto';
import { AppError } from '../shared/errors.js';
import type { Certificate } from '../pki/certificate.js';
import type { PrivateKey } from '../pki/keys.js';
import { OID } from '../pki/oids.js';
import { algId, ctx, int, octets, oid, retag, seq, setOf, time } from '../pki/der.js';
import { DEFAULT_SENDER_CAPABILITIES, encodeCapabilities, type SmimeCapability } from '../pki/capabilities.js';
import { issuerAndSerial } from './envelope.js';

export type SignatureAlgorithm = 'rsa-pkcs1-sha256' | 'rsa-pss-sha256' | 'ecdsa-sha256';
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = ['rsa-pkcs1-sha256', 'rsa-pss-sha256', 'ecdsa-sha256'];

export interface SignerIdentity {
  certificate: Certificate;
  key: PrivateKey;
  /** Intermediate certificates (and optionally the root) to include. */
  chain?: readonly Certificate[];
  /** The certificate correspondents should encrypt to (default: the signing certificate). */
  encryptionCertificate?: Certificate;
  /** What to advertise (default: AES-256/192/128-CBC). */
  capabilities?: readonly SmimeCapability[];
}

export interface SignOptions {
  algorithm?: SignatureAlgorithm;
  signingTime?: Date;
}

function attribute(type: string, ...values: Uint8Array[]): Uint8Array {
  return seq(oid(type), setOf(...values));
}

/** Default signature algorithm for a key. */
export function defaultSignatureAlgorithm(key: PrivateKey): SignatureAlgorithm {
  return key.kind === 'ec' ? 'ecdsa-sha256' : key.kind === 'rsa-pss' ? 'rsa-pss-sha256' : 'rsa-pkcs1-sha256';
}

function pssParams(): Uint8Array {
  const sha256 = algId(OID.sha256);
  return seq(ctx(0, true, sha256), ctx(1, true, algId(OID.mgf1, sha256)), ctx(2, true, int(32)));
}

function signatureAlgId(alg: SignatureAlgorithm): Uint8Array {
  switch (alg) {
    case 'rsa-pkcs1-sha256':
      return algId(OID.rsaEncryption, null);
    case 'rsa-pss-sha256':
      return algId(OID.rsassaPss, pssParams());
    case 'ecdsa-sha256':
      return algId(OID.ecdsaWithSha256);
  }
}

function rawSign(alg: SignatureAlgorithm, key: PrivateKey, data: Uint8Array): Uint8Array {
  const fits = alg === 'ecdsa-sha256' ? key.kind === 'ec' : key.kind === 'rsa' || (key.kind === 'rsa-pss' && alg === 'rsa-pss-sha256');
  if (!fits) throw new AppError('smime.algorithm_mismatch', `Signature algorithm ${alg} does not fit a ${key.kind} key`);
  const opts =
    alg === 'rsa-pss-sha256'
      ? { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      : alg === 'ecdsa-sha256'
        ? { key: key.key, dsaEncoding: 'der' as const }
        : { key: key.key, padding: constants.RSA_PKCS1_PADDING };
  return new Uint8Array(nodeSign('sha256', data, opts));
}

/**
 * Builds a SignedData ContentInfo over `content` (already canonical). `detached` leaves the
 * content out (multipart/signed); otherwise it is encapsulated (opaque signed-data).
 */
export function buildSignedData(content: Uint8Array, signer: SignerIdentity, detached: boolean, options: SignOptions = {}): Uint8Array {
  const alg = options.algorithm ?? defaultSignatureAlgorithm(signer.key);
  const digest = new Uint8Array(createHash('sha256').update(content).digest());
  const encCert = signer.encryptionCertificate ?? signer.certificate;
  const ias = issuerAndSerial(encCert);
  const signedAttrs = setOf(
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.signingTime, time(options.signingTime ?? new Date())),
    attribute(OID.messageDigest, octets(digest)),
    attribute(OID.smimeCapabilities, encodeCapabilities(signer.capabilities ?? DEFAULT_SENDER_CAPABILITIES)),
    attribute(OID.smimeEncryptionKeyPreference, retag(ias, 0xa0)),
    attribute(OID.msEncryptionKeyPreference, ias),
  );
  const signature = rawSign(alg, signer.key, signedAttrs);
  const sha256Alg = algId(OID.sha256);
  const signerInfo = seq(
    int(1),
    issuerAndSerial(signer.certificate),
    sha256Alg,
    retag(signedAttrs, 0xa0),
    signatureAlgId(alg),
    octets(signature),
  );
  const certs = [signer.certificate, ...(signer.chain ?? [])];
  const seen = new Set<string>();
  const certDers = certs.filter((c) => !seen.has(c.fingerprint256) && seen.add(c.fingerprint256)).map((c) => c.der);
  const encap = detached ? seq(oid(OID.data)) : seq(oid(OID.data), ctx(0, true, octets(content)));
  const signedData = seq(int(1), setOf(sha256Alg), encap, ctx(0, true, ...certDers), setOf(signerInfo));
  return seq(oid(OID.signedData), ctx(0, true, signedData));
}


