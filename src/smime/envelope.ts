/**
 * CMS EnvelopedData / AuthEnvelopedData (RFC 5652, RFC 5083, RFC 5084, RFC 5753) written with
 * definite lengths and a streaming cipher, so a 25 MB body is never held twice.
 *
 * Key transport: RSAES-PKCS1-v1_5 (default), RSAES-OAEP-SHA256, or ECDH
 * (dhSinglePass-stdDH-sha256kdf-scheme with AES key wrap) for EC recipients. Recipients are
 * identified by issuerAndSerialNumber.
 */
import { type Cipher, type CipherGCM, type KeyObject, constants, createCipheriv, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { freshRandom } from './random.js';
import { AppError } from '../shared/errors.js';
import { concat } from '../shared/bytes.js';
import type { Certificate } from '../pki/certificate.js';
import { OID } from '../pki/oids.js';
import { TAG, algId, bitString, ctx, derOrder, headerLength, int, octets, oid, seq, writeHeader } from '../pki/der.js';
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

/**
 * The parts of a KeyTransRecipientInfo that depend only on the certificate and the key transport
 * (version, issuerAndSerialNumber, keyEncryptionAlgorithm), encoded once per Certificate object.
 * Callers copy them into a new buffer; the cached bytes are never handed out.
 */
const ktriFixed = new WeakMap<Certificate, Partial<Record<'rsa-pkcs1' | 'rsa-oaep-sha256', Uint8Array>>>();

function ktriFixedPart(cert: Certificate, transport: 'rsa-pkcs1' | 'rsa-oaep-sha256'): Uint8Array {
  let byTransport = ktriFixed.get(cert);
  if (!byTransport) {
    byTransport = {};
    ktriFixed.set(cert, byTransport);
  }
  let fixed = byTransport[transport];
  if (!fixed) {
    const alg = transport === 'rsa-oaep-sha256' ? algId(OID.rsaesOaep, oaepSha256Params()) : algId(OID.rsaEncryption, null);
    fixed = concat([int(0), issuerAndSerial(cert), alg]);
    byTransport[transport] = fixed;
  }
  return fixed;
}

function ktri(cert: Certificate, transport: 'rsa-pkcs1' | 'rsa-oaep-sha256', cek: Uint8Array): Uint8Array {
  if (cert.publicKey.kind !== 'rsa') throw new AppError('smime.algorithm_mismatch', `${transport} needs an RSA certificate`);
  const encryptedKey = publicEncrypt(
    transport === 'rsa-oaep-sha256'
      ? { key: publicKeyOf(cert), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }
      : { key: publicKeyOf(cert), padding: constants.RSA_PKCS1_PADDING },
    cek,
  );
  // SEQUENCE { version, rid, keyEncryptionAlgorithm, OCTET STRING encryptedKey } in one buffer
  const fixed = ktriFixedPart(cert, transport);
  const octLen = headerLength(encryptedKey.length) + encryptedKey.length;
  const bodyLen = fixed.length + octLen;
  const out = new Uint8Array(headerLength(bodyLen) + bodyLen);
  let o = writeHeader(out, 0, TAG.SEQUENCE, bodyLen);
  out.set(fixed, o);
  o = writeHeader(out, o + fixed.length, TAG.OCTET_STRING, encryptedKey.length);
  out.set(encryptedKey, o);
  return out;
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

const DATA = oid(OID.data);
const ENVELOPED_DATA = oid(OID.envelopedData);
const AUTH_ENVELOPED_DATA = oid(OID.authEnvelopedData);
const CONTENT_OID_DER: Record<ContentAlgorithm, Uint8Array> = {
  'aes256-cbc': oid(CONTENT_OID['aes256-cbc']),
  'aes128-cbc': oid(CONTENT_OID['aes128-cbc']),
  'aes256-gcm': oid(CONTENT_OID['aes256-gcm']),
};

export interface EnvelopeStream {
  /** Total DER length (known up front). */
  size: number;
  /** The DER as a stream (read once). */
  readonly chunks: AsyncGenerator<Uint8Array>;
  /**
   * The whole DER at once, as pieces in order, when the content source is synchronous (else
   * undefined). Use either this or `chunks`, once: the content key is zeroed at the end.
   */
  whole(): Uint8Array[] | undefined;
}

/**
 * Encrypts `content` to every recipient in one EnvelopedData (CBC) or AuthEnvelopedData (GCM)
 * ContentInfo, streamed as DER.
 */
export function envelope(content: ByteSource, recipients: readonly EnvelopeRecipient[], algorithm: ContentAlgorithm): EnvelopeStream {
  if (recipients.length === 0) throw new AppError('smime.no_recipients', 'No recipient certificate given');
  const keyLen = algorithm === 'aes128-cbc' ? 16 : 32;
  const gcm = algorithm === 'aes256-gcm';
  const ivLen = gcm ? 12 : 16;
  const keyAndIv = freshRandom(keyLen + ivLen);
  const cek = keyAndIv.subarray(0, keyLen);
  const iv = keyAndIv.subarray(keyLen);
  const ris = derOrder(recipients.map((r) => recipientInfo(r, cek)));
  const allKtri = recipients.every((r) => r.keyTransport !== 'ecdh-sha256kdf');
  const version = gcm ? 0 : allKtri ? 0 : 2;
  const ctOid = gcm ? AUTH_ENVELOPED_DATA : ENVELOPED_DATA;
  const algOid = CONTENT_OID_DER[algorithm];
  const ctLen = gcm ? content.size : (Math.floor(content.size / 16) + 1) * 16;
  const macLen = gcm ? 2 + 16 : 0;

  // lengths, innermost first
  const ivOctLen = 2 + ivLen;
  const gcmParamsLen = ivOctLen + 3; // GCMParameters: OCTET STRING nonce, INTEGER 16
  const algLen = algOid.length + (gcm ? 2 + gcmParamsLen : ivOctLen);
  const eciLen = DATA.length + headerLength(algLen) + algLen + headerLength(ctLen) + ctLen;
  let risLen = 0;
  for (const ri of ris) risLen += ri.length;
  const edLen = 3 + headerLength(risLen) + risLen + headerLength(eciLen) + eciLen + macLen;
  const explicitLen = headerLength(edLen) + edLen;
  const ciLen = ctOid.length + headerLength(explicitLen) + explicitLen;
  const size = headerLength(ciLen) + ciLen;

  // everything up to the ciphertext, written into one buffer
  const prefix = new Uint8Array(size - ctLen - macLen);
  let o = writeHeader(prefix, 0, TAG.SEQUENCE, ciLen);
  prefix.set(ctOid, o);
  o = writeHeader(prefix, o + ctOid.length, 0xa0, explicitLen);
  o = writeHeader(prefix, o, TAG.SEQUENCE, edLen);
  prefix.set([TAG.INTEGER, 1, version], o);
  o = writeHeader(prefix, o + 3, TAG.SET, risLen);
  for (const ri of ris) {
    prefix.set(ri, o);
    o += ri.length;
  }
  o = writeHeader(prefix, o, TAG.SEQUENCE, eciLen);
  prefix.set(DATA, o);
  o = writeHeader(prefix, o + DATA.length, TAG.SEQUENCE, algLen);
  prefix.set(algOid, o);
  o += algOid.length;
  if (gcm) o = writeHeader(prefix, o, TAG.SEQUENCE, gcmParamsLen);
  o = writeHeader(prefix, o, TAG.OCTET_STRING, ivLen);
  prefix.set(iv, o);
  o += ivLen;
  if (gcm) {
    prefix.set([TAG.INTEGER, 1, 16], o);
    o += 3;
  }
  o = writeHeader(prefix, o, 0x80, ctLen);
  if (o !== prefix.length) throw new AppError('smime.internal', `EnvelopedData prefix is ${o} bytes, computed ${prefix.length}`, { kind: 'internal' });
  const cipherName = algorithm === 'aes128-cbc' ? 'aes-128-cbc' : algorithm === 'aes256-cbc' ? 'aes-256-cbc' : 'aes-256-gcm';
  return new ContentEncryption(content, prefix, size, cipherName, cek, iv);
}

/** Content up to this size is joined before encryption (one cipher call). */
const JOIN_MAX = 64 * 1024;

/**
 * The DER after the prefix: the content encrypted in slices, then the GCM tag. A class rather than
 * closures per message (the per-message fixed cost is what the 10-100 KB bench measures).
 */
class ContentEncryption implements EnvelopeStream {
  // an asynchronous source that whole() declined is streamed by chunks without asking for it again
  private declined: AsyncIterable<Uint8Array> | undefined;
  private seen = 0;

  constructor(
    private readonly content: ByteSource,
    private readonly prefix: Uint8Array,
    readonly size: number,
    private readonly cipherName: 'aes-128-cbc' | 'aes-256-cbc' | 'aes-256-gcm',
    private readonly cek: Uint8Array,
    private readonly iv: Uint8Array,
  ) {}

  get chunks(): AsyncGenerator<Uint8Array> {
    return this.run();
  }

  private cipher(): Cipher {
    return this.cipherName === 'aes-256-gcm'
      ? createCipheriv('aes-256-gcm', this.cek, this.iv, { authTagLength: 16 })
      : createCipheriv(this.cipherName, this.cek, this.iv);
  }

  /** Appends the cipher's output for `chunk` to `out`. */
  private update(cipher: Cipher, chunk: Uint8Array, out: Uint8Array[]): void {
    this.seen += chunk.length;
    for (let i = 0; i < chunk.length; i += SLICE) {
      const c = cipher.update(chunk.subarray(i, Math.min(chunk.length, i + SLICE)));
      if (c.length) out.push(c);
    }
  }

  /** Appends the last block (and the GCM tag) to `out`; zeroes the content key. */
  private final(cipher: Cipher, out: Uint8Array[]): void {
    if (this.seen !== this.content.size) {
      throw new AppError('smime.size_mismatch', `content source produced ${this.seen} bytes, announced ${this.content.size}`, { kind: 'internal' });
    }
    const last = cipher.final();
    if (last.length) out.push(last);
    if (this.cipherName === 'aes-256-gcm') out.push(concat([Uint8Array.of(0x04, 16), new Uint8Array((cipher as CipherGCM).getAuthTag())]));
    this.cek.fill(0);
  }

  private async *run(): AsyncGenerator<Uint8Array> {
    const cipher = this.cipher();
    yield this.prefix;
    const out: Uint8Array[] = [];
    for await (const chunk of this.declined ?? this.content.chunks()) {
      this.update(cipher, chunk, out);
      for (const c of out) yield c;
      out.length = 0;
    }
    this.final(cipher, out);
    for (const c of out) yield c;
  }

  whole(): Uint8Array[] | undefined {
    const chunks = this.content.chunks();
    if (!(Symbol.iterator in chunks)) {
      this.declined = chunks;
      return undefined;
    }
    const cipher = this.cipher();
    const out: Uint8Array[] = [this.prefix];
    if (this.content.size <= JOIN_MAX) {
      // a small message arrives in a few pieces (header, blank line, body): one call into the
      // cipher instead of one per piece (each costs ~2-3 us, more than encrypting 2 KB)
      const parts = [...chunks];
      this.update(cipher, parts.length === 1 ? parts[0]! : concat(parts), out);
    } else for (const chunk of chunks) this.update(cipher, chunk, out);
    this.final(cipher, out);
    return out;
  }
}
