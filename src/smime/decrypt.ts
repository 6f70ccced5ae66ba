/**
 * Decryption of EnvelopedData and AuthEnvelopedData for a recipient holding `key` and `certificate`
 * (tests, the CLI, and later inbound mail). Accepts BER from any peer.
 *
 * RSAES-PKCS1-v1_5 is unpadded here with implicit rejection (a malformed block yields a random key,
 * so the failure shows up only as a content-decryption failure and is not a padding oracle).
 */
import { constants, createDecipheriv, createPublicKey, diffieHellman, privateDecrypt, randomBytes } from 'node:crypto';
import { AppError } from '../shared/errors.js';
import { equalBytes } from '../shared/bytes.js';
import type { Certificate } from '../pki/certificate.js';
import type { PrivateKey } from '../pki/keys.js';
import { OID, oidName } from '../pki/oids.js';
import { type Node, parse, readOid, readInt, stringBytes, expectTag, child } from '../pki/asn1.js';
import { algId, bitString, oid, seq } from '../pki/der.js';
import { oaepHashOf } from '../pki/capabilities.js';
import { eccCmsSharedInfo, x963Kdf } from './kdf.js';

export interface DecryptIdentity {
  key: PrivateKey;
  certificate: Certificate;
}

export interface DecryptedContent {
  content: Uint8Array;
  contentType: 'enveloped-data' | 'authEnveloped-data';
  contentAlgorithm: string;
  keyTransport: 'rsa-pkcs1' | 'rsa-oaep' | 'ecdh';
  recipientCount: number;
}

const fail = (code: string, msg: string, cause?: unknown) => new AppError(code, msg, { cause });

const CBC: Record<string, { name: string; keyLen: number }> = {
  [OID.aes128Cbc]: { name: 'aes-128-cbc', keyLen: 16 },
  [OID.aes192Cbc]: { name: 'aes-192-cbc', keyLen: 24 },
  [OID.aes256Cbc]: { name: 'aes-256-cbc', keyLen: 32 },
};
const GCM: Record<string, { name: 'aes-128-gcm' | 'aes-256-gcm'; keyLen: number }> = {
  [OID.aes128Gcm]: { name: 'aes-128-gcm', keyLen: 16 },
  [OID.aes256Gcm]: { name: 'aes-256-gcm', keyLen: 32 },
};

function ridMatches(rid: Node, cert: Certificate): boolean {
  if (rid.tag === 0x30) {
    const issuer = rid.children[0];
    const serial = rid.children[1];
    return !!issuer && !!serial && equalBytes(issuer.raw, cert.issuerDer) && equalBytes(serial.raw, cert.serialDer);
  }
  if (rid.tag === 0x80 && cert.subjectKeyId) return equalBytes(rid.value, cert.subjectKeyId);
  return false;
}

function unpadPkcs1(em: Uint8Array, expectedLen: number): Uint8Array {
  // constant-time-ish scan; on any defect return random bytes of the expected length
  let bad = (em[0]! ^ 0x00) | (em[1]! ^ 0x02);
  let sep = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    if (sep === 0 && isZero) sep = i;
  }
  if (sep < 10) bad |= 1;
  const m = em.subarray(sep + 1);
  if (m.length !== expectedLen) bad |= 1;
  return bad ? new Uint8Array(randomBytes(expectedLen)) : m.slice();
}

const CURVE_OID: Record<string, string> = { 'P-256': OID.secp256r1, 'P-384': OID.secp384r1, 'P-521': OID.secp521r1 };

function unwrapEcdh(kari: Node, identity: DecryptIdentity, encryptedKey: Uint8Array): Uint8Array {
  const pk = identity.certificate.publicKey;
  if (pk.kind !== 'ec') throw fail('smime.algorithm_mismatch', 'Message uses ECDH but the certificate has no EC key');
  let i = 1;
  const originator = kari.children[i++]!;
  const origKey = originator.children[0];
  if (!origKey || origKey.tag !== 0xa1) throw fail('smime.unsupported', 'Only originatorKey (ephemeral-static ECDH) is supported');
  const point = expectTag(origKey.children[1], 0x03, 'originator public key').value.subarray(1);
  let ukm: Uint8Array | undefined;
  if (kari.children[i]?.tag === 0xa1) ukm = stringBytes(kari.children[i++]!.children[0]!);
  const keyEncAlg = kari.children[i++]!;
  const scheme = readOid(keyEncAlg.children[0]);
  const hash = scheme === OID.dhSinglePassStdDhSha256Kdf ? 'sha256' : scheme === OID.dhSinglePassStdDhSha384Kdf ? 'sha384' : undefined;
  if (!hash) throw fail('smime.unsupported', `Unsupported key agreement scheme ${oidName(scheme)}`);
  const wrapAlgNode = child(keyEncAlg, 1, 'key wrap algorithm');
  const wrapOid = readOid(wrapAlgNode.children[0]);
  const wrapLen = wrapOid === OID.aes128Wrap ? 16 : wrapOid === OID.aes256Wrap ? 32 : 0;
  if (!wrapLen) throw fail('smime.unsupported', `Unsupported key wrap ${oidName(wrapOid)}`);
  const peer = createPublicKey({ key: Buffer.from(seq(algId(OID.ecPublicKey, oid(CURVE_OID[pk.curve]!)), bitString(point))), format: 'der', type: 'spki' });
  const z = diffieHellman({ privateKey: identity.key.key, publicKey: peer });
  const kek = x963Kdf(hash, new Uint8Array(z), eccCmsSharedInfo(wrapAlgNode.raw, wrapLen * 8, ukm), wrapLen);
  try {
    const d = createDecipheriv(wrapLen === 16 ? 'id-aes128-wrap' : 'id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    return new Uint8Array(Buffer.concat([d.update(encryptedKey), d.final()]));
  } catch (e) {
    throw fail('smime.decrypt_failed', 'Could not unwrap the content key (wrong key or corrupted message)', e);
  }
}

/** Decrypts a DER/BER ContentInfo holding EnvelopedData or AuthEnvelopedData. */
export function decryptContentInfo(der: Uint8Array, identity: DecryptIdentity): DecryptedContent {
  const ci = expectTag(parse(der, true), 0x30, 'ContentInfo');
  const type = readOid(ci.children[0]);
  const auth = type === OID.authEnvelopedData;
  if (type !== OID.envelopedData && !auth) throw fail('smime.not_encrypted', `Not an encrypted message (content type ${oidName(type)})`);
  const ed = expectTag(child(ci, 1, 'content').children[0], 0x30, auth ? 'AuthEnvelopedData' : 'EnvelopedData');
  let i = 1;
  if (ed.children[i]?.tag === 0xa0) i++; // originatorInfo
  const ris = expectTag(ed.children[i++], 0x31, 'recipientInfos');
  const eci = expectTag(ed.children[i++], 0x30, 'encryptedContentInfo');
  let mac: Uint8Array | undefined;
  let aad: Uint8Array = new Uint8Array(0);
  if (auth) {
    if (ed.children[i]?.tag === 0xa1) {
      const attrs = ed.children[i++]!;
      aad = new Uint8Array(attrs.raw);
      aad[0] = 0x31;
    }
    mac = stringBytes(expectTag(ed.children[i++], 0x04, 'mac'));
  }
  const contentAlg = child(eci, 1, 'content encryption algorithm');
  const contentOid = readOid(contentAlg.children[0]);
  const cbc = CBC[contentOid];
  const gcm = GCM[contentOid];
  if (!cbc && !gcm) throw fail('smime.unsupported', `Unsupported content encryption ${oidName(contentOid)}`);
  if (gcm && !auth) throw fail('smime.unsupported', 'AES-GCM inside EnvelopedData is not standard (RFC 5084 requires AuthEnvelopedData)');
  const keyLen = (cbc ?? gcm)!.keyLen;
  const encNode = eci.children[2];
  if (!encNode || (encNode.tag !== 0x80 && encNode.tag !== 0xa0)) throw fail('smime.malformed', 'The message carries no encrypted content');
  const ciphertext = stringBytes(encNode);

  let cek: Uint8Array | undefined;
  let keyTransport: DecryptedContent['keyTransport'] = 'rsa-pkcs1';
  for (const ri of ris.children) {
    if (ri.tag === 0x30) {
      if (!ridMatches(ri.children[1]!, identity.certificate)) continue;
      const alg = ri.children[2]!;
      const algOid = readOid(alg.children[0]);
      const encryptedKey = stringBytes(ri.children[3]!);
      if (identity.key.kind !== 'rsa') throw fail('smime.algorithm_mismatch', 'Message uses RSA key transport but the key is not RSA');
      if (algOid === OID.rsaEncryption) {
        const em = privateDecrypt({ key: identity.key.key, padding: constants.RSA_NO_PADDING }, encryptedKey);
        cek = unpadPkcs1(new Uint8Array(em), keyLen);
        keyTransport = 'rsa-pkcs1';
      } else if (algOid === OID.rsaesOaep) {
        const hashOid = oaepHashOf(alg.children[1]?.raw);
        const oaepHash = hashOid === OID.sha256 ? 'sha256' : hashOid === OID.sha1 ? 'sha1' : hashOid === OID.sha384 ? 'sha384' : 'sha512';
        try {
          cek = new Uint8Array(privateDecrypt({ key: identity.key.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, encryptedKey));
        } catch (e) {
          throw fail('smime.decrypt_failed', 'Could not decrypt the content key (wrong key or corrupted message)', e);
        }
        keyTransport = 'rsa-oaep';
      } else throw fail('smime.unsupported', `Unsupported key transport ${oidName(algOid)}`);
      break;
    }
    if (ri.tag === 0xa1) {
      const reks = ri.children.find((c, idx) => idx > 1 && c.tag === 0x30 && c.children[0]?.tag === 0x30 && c.children.every((k) => k.tag === 0x30));
      const mine = reks?.children.find((rek) => ridMatches(rek.children[0]!, identity.certificate));
      if (!mine) continue;
      cek = unwrapEcdh(ri, identity, stringBytes(mine.children[1]!));
      keyTransport = 'ecdh';
      break;
    }
  }
  if (!cek) throw fail('smime.not_for_me', `The message is not encrypted to the certificate ${identity.certificate.emails[0] ?? identity.certificate.subject} (serial ${identity.certificate.serialHex})`);

  const params = contentAlg.children[1];
  let content: Buffer;
  try {
    if (cbc) {
      const iv = stringBytes(expectTag(params, 0x04, 'IV'));
      const d = createDecipheriv(cbc.name, cek, iv);
      content = Buffer.concat([d.update(ciphertext), d.final()]);
    } else {
      const gp = expectTag(params, 0x30, 'GCMParameters');
      const nonce = stringBytes(expectTag(gp.children[0], 0x04, 'nonce'));
      const icvLen = gp.children[1] ? Number(readInt(gp.children[1])) : 12;
      if (!mac || mac.length !== icvLen) throw fail('smime.decrypt_failed', 'Authentication tag length does not match the parameters');
      const d = createDecipheriv(gcm!.name, cek, nonce, { authTagLength: icvLen });
      d.setAAD(aad);
      d.setAuthTag(mac);
      content = Buffer.concat([d.update(ciphertext), d.final()]);
    }
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw fail('smime.decrypt_failed', 'Decryption failed: the message was altered or is not encrypted to this key', e);
  } finally {
    cek.fill(0);
  }
  return {
    content: new Uint8Array(content.buffer, content.byteOffset, content.length),
    contentType: auth ? 'authEnveloped-data' : 'enveloped-data',
    contentAlgorithm: oidName(contentOid),
    keyTransport,
    recipientCount: ris.children.length,
  };
}

