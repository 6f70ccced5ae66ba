/**
 * CMS EnvelopedData / AuthEnvelopedData (RFC 5652, RFC 5083, RFC 5084, RFC 5753) written with
 * definite lengths and a streaming cipher, so a 25 MB body is never held twice.
 *
 * Key transport: RSAES-PKCS1-v1_5 (default), RSAES-OAEP-SHA256, or ECDH
 * (dhSinglePass-stdDH-sha256kdf-scheme with AES key wrap) for EC recipients. Recipients are
 * identified by issuerAndSerialNumber.
 */
import { type CipherGCM, type KeyObject, constants, createCipheriv, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { AppError } from '../shared/errors.js';
import { concat } from '../shared/bytes.js';
import type { Certificate } from '../pki/certificate.js';
import { OID } from '../pki/oids.js';
import { algId, ctx, header, int, octets, oid, seq, setOf, bitString } from '../pki/der.js';
import { oaepSha256Params } from '../pki/capabilities.js';
import { parse } from '../pki/asn1.js';
import { CONTENT_OID, type ContentAlgorithm, type KeyTransport } from './algorithms.js';
import { SLICE, type ByteSource } from './stream.js';
import { x963Kdf, eccCmsSharedInfo } from './kdf.js';

export interface EnvelopeRecipient {
  certificate: Certificate;
  keyTransport: KeyTransport;
}

export function issuerAndSerial(cert: Certificate): Uint8Array {
  return seq(cert.issuerDer, cert.serialDer);
}

const publicKeys = new WeakMap<Certificate, KeyObject>();

/** The certificate's public key as a KeyObject, parsed once per Certificate (parsing costs ~0.1 ms). */
function publicKeyOf(cert: Certificate): KeyObject {
  let k = publicKeys.get(cert);
  if (!k) {
    k = createPublicKey({ key: Buffer.from(cert.publicKey.spki), format: 'der', type: 'spki' });
    publicKeys.set(cert, k);
  }
  return k;
}

function spkiKey(cert: Certificate) {
  return { key: publicKeyOf(cert) };
}

function ktri(cert: Certificate, transport: 'rsa-pkcs1' | 'rsa-oaep-sha256', cek: Uint8Array): Uint8Array {
  if (cert.publicKey.kind !== 'rsa') throw new AppError('smime.algorithm_mismatch', `${transport} needs an RSA certificate`);
  const oaep = transport === 'rsa-oaep-sha256';
  const encryptedKey = publicEncrypt(
    oaep
      ? { ...spkiKey(cert), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }
      : { ...spkiKey(cert), padding: constants.RSA_PKCS1_PADDING },
    cek,
  );
  return seq(
    int(0),
    issuerAndSerial(cert),
    oaep ? algId(OID.rsaesOaep, oaepSha256Params()) : algId(OID.rsaEncryption, null),
    octets(new Uint8Array(encryptedKey)),
  );
}

const CURVE_NODE: Record<string, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };

function kari(cert: Certificate, cek: Uint8Array): Uint8Array {
  const pk = cert.publicKey;
  if (pk.kind !== 'ec') throw new AppError('smime.algorithm_mismatch', 'ECDH needs an EC certificate');
  const ephemeral = generateKeyPairSync('ec', { namedCurve: CURVE_NODE[pk.curve]! });
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: publicKeyOf(cert) });
  const wrapOid = cek.length === 16 ? OID.aes128Wrap : OID.aes256Wrap;
  const wrapAlg = algId(wrapOid);
  const kek = x963Kdf('sha256', new Uint8Array(shared), eccCmsSharedInfo(wrapAlg, cek.length * 8), cek.length);
  const wrapper = createCipheriv(cek.length === 16 ? 'id-aes128-wrap' : 'id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  const wrapped = Buffer.concat([wrapper.update(cek), wrapper.final()]);
  // the ephemeral public point: the BIT STRING content of its SubjectPublicKeyInfo
  const spki = new Uint8Array(ephemeral.publicKey.export({ format: 'der', type: 'spki' }));
  const point = ecPointFromSpki(spki);
  const originator = ctx(0, true, ctx(1, true, algId(OID.ecPublicKey), bitString(point)));
  const body = concat([
    int(3),
    originator,
    algId(OID.dhSinglePassStdDhSha256Kdf, wrapAlg),
    seq(seq(issuerAndSerial(cert), octets(new Uint8Array(wrapped)))),
  ]);
  return ctx(1, true, body);
}

function ecPointFromSpki(spki: Uint8Array): Uint8Array {
  return parse(spki).children[1]!.value.subarray(1);
}

export function recipientInfo(r: EnvelopeRecipient, cek: Uint8Array): Uint8Array {
  switch (r.keyTransport) {
    case 'rsa-pkcs1':
    case 'rsa-oaep-sha256':
      return ktri(r.certificate, r.keyTransport, cek);
    case 'ecdh-sha256kdf':
      return kari(r.certificate, cek);
  }
}

export interface EnvelopeStream {
  /** Total DER length (known up front). */
  size: number;
  chunks: AsyncGenerator<Uint8Array>;
}

/**
 * Encrypts `content` to every recipient in one EnvelopedData (CBC) or AuthEnvelopedData (GCM)
 * ContentInfo, streamed as DER.
 */
export function envelope(content: ByteSource, recipients: readonly EnvelopeRecipient[], algorithm: ContentAlgorithm): EnvelopeStream {
  if (recipients.length === 0) throw new AppError('smime.no_recipients', 'No recipient certificate given');
  const keyLen = algorithm === 'aes128-cbc' ? 16 : 32;
  const cek = new Uint8Array(randomBytes(keyLen));
  const gcm = algorithm === 'aes256-gcm';
  const iv = new Uint8Array(randomBytes(gcm ? 12 : 16));
  const ris = recipients.map((r) => recipientInfo(r, cek));
  const allKtri = recipients.every((r) => r.keyTransport !== 'ecdh-sha256kdf');
  const version = int(gcm ? 0 : allKtri ? 0 : 2);
  const contentAlg = gcm ? algId(CONTENT_OID[algorithm], seq(octets(iv), int(16))) : algId(CONTENT_OID[algorithm], octets(iv));
  const ctLen = gcm ? content.size : (Math.floor(content.size / 16) + 1) * 16;
  const ctHeader = header(0x80, ctLen);
  const eciHead = concat([oid(OID.data), contentAlg, ctHeader]);
  const eciLen = eciHead.length + ctLen;
  const eciHeader = header(0x30, eciLen);
  const risDer = setOf(...ris);
  const macLen = gcm ? 2 + 16 : 0;
  const edLen = version.length + risDer.length + eciHeader.length + eciLen + macLen;
  const edHeader = header(0x30, edLen);
  const explicitHeader = header(0xa0, edHeader.length + edLen);
  const ctOid = oid(gcm ? OID.authEnvelopedData : OID.envelopedData);
  const ciLen = ctOid.length + explicitHeader.length + edHeader.length + edLen;
  const prefix = concat([header(0x30, ciLen), ctOid, explicitHeader, edHeader, version, risDer, eciHeader, eciHead]);
  const size = header(0x30, ciLen).length + ciLen;
  const cipherName = algorithm === 'aes128-cbc' ? 'aes-128-cbc' : algorithm === 'aes256-cbc' ? 'aes-256-cbc' : 'aes-256-gcm';

  async function* run(): AsyncGenerator<Uint8Array> {
    const cipher = gcm ? createCipheriv('aes-256-gcm', cek, iv, { authTagLength: 16 }) : createCipheriv(cipherName, cek, iv);
    yield prefix;
    let seen = 0;
    for await (const chunk of content.chunks()) {
      seen += chunk.length;
      for (let i = 0; i < chunk.length; i += SLICE) {
        const out = cipher.update(chunk.subarray(i, Math.min(chunk.length, i + SLICE)));
        if (out.length) yield out;
      }
    }
    if (seen !== content.size) {
      throw new AppError('smime.size_mismatch', `content source produced ${seen} bytes, announced ${content.size}`, { kind: 'internal' });
    }
    const last = cipher.final();
    if (last.length) yield last;
    if (gcm) yield concat([Uint8Array.of(0x04, 16), new Uint8Array((cipher as CipherGCM).getAuthTag())]);
    cek.fill(0);
  }
  return { size, chunks: run() };
}
