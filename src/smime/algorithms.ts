/**
 * Per-recipient algorithm choice. The default is the one combination every client we test decrypts
 * (AES-256-CBC + RSAES-PKCS1-v1_5, issuerAndSerialNumber). Anything stronger is used only for a
 * recipient that advertised it (SMIMECapabilities from its certificate, or supplied by the caller,
 * e.g. harvested from its signed mail). EC recipients always use ECDH (their only option).
 */
import { AppError } from '../shared/errors.js';
import type { Certificate } from '../pki/certificate.js';
import { OID } from '../pki/oids.js';
import { oaepHashOf, type SmimeCapability } from '../pki/capabilities.js';

export type ContentAlgorithm = 'aes256-cbc' | 'aes128-cbc' | 'aes256-gcm';
export type KeyTransport = 'rsa-pkcs1' | 'rsa-oaep-sha256' | 'ecdh-sha256kdf';

export interface RecipientAlgorithms {
  content: ContentAlgorithm;
  keyTransport: KeyTransport;
}

export const DEFAULT_CONTENT: ContentAlgorithm = 'aes256-cbc';
export const CONTENT_ALGORITHMS: readonly ContentAlgorithm[] = ['aes256-cbc', 'aes128-cbc', 'aes256-gcm'];
export const KEY_TRANSPORTS: readonly KeyTransport[] = ['rsa-pkcs1', 'rsa-oaep-sha256', 'ecdh-sha256kdf'];

export const CONTENT_OID: Record<ContentAlgorithm, string> = {
  'aes256-cbc': OID.aes256Cbc,
  'aes128-cbc': OID.aes128Cbc,
  'aes256-gcm': OID.aes256Gcm,
};

export interface AlgorithmChoice extends RecipientAlgorithms {
  /** One line saying why, for logs and the directory's answer. */
  reason: string;
}

/**
 * The strongest algorithms `cert`'s holder proved it supports. `capabilities` (e.g. harvested from
 * signed mail) take precedence over the certificate's own smimeCapabilities extension.
 */
export function chooseAlgorithms(cert: Certificate, capabilities?: readonly SmimeCapability[]): AlgorithmChoice {
  const caps = capabilities ?? cert.capabilities;
  const from = capabilities ? 'advertised capabilities' : cert.capabilities ? 'certificate smimeCapabilities' : undefined;
  const has = (oid: string) => caps?.some((c) => c.oid === oid) ?? false;
  let content: ContentAlgorithm = DEFAULT_CONTENT;
  if (has(OID.aes256Gcm)) content = 'aes256-gcm';
  else if (has(OID.aes256Cbc)) content = 'aes256-cbc';
  else if (has(OID.aes128Cbc)) content = 'aes128-cbc';

  let keyTransport: KeyTransport;
  const pk = cert.publicKey;
  if (pk.kind === 'ec') keyTransport = 'ecdh-sha256kdf';
  else if (pk.kind === 'rsa') {
    const oaep = caps?.find((c) => c.oid === OID.rsaesOaep && oaepHashOf(c.params) === OID.sha256);
    keyTransport = oaep ? 'rsa-oaep-sha256' : 'rsa-pkcs1';
  } else {
    throw new AppError('smime.unsupported_key', `Certificate for ${cert.emails[0] ?? cert.subject} has an unsupported public key (${pk.algorithm})`);
  }
  const reason = from
    ? `${content} + ${keyTransport} from ${from}`
    : `${content} + ${keyTransport} (interop default: no capabilities advertised)`;
  return { content, keyTransport, reason };
}

/** Checks that a caller-forced algorithm pair fits the certificate's key. */
export function assertAlgorithmsFit(cert: Certificate, alg: RecipientAlgorithms): void {
  const kind = cert.publicKey.kind;
  const ok = kind === 'ec' ? alg.keyTransport === 'ecdh-sha256kdf' : kind === 'rsa' ? alg.keyTransport !== 'ecdh-sha256kdf' : false;
  if (!ok) {
    throw new AppError('smime.algorithm_mismatch', `Key transport ${alg.keyTransport} does not fit the ${kind} key of ${cert.emails[0] ?? cert.subject}`);
  }
}

export function algorithmsKey(a: RecipientAlgorithms): string {
  return `${a.content}/${a.keyTransport}`;
}
