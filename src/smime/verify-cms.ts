/**
 * Verification of CMS SignedData: the signer's signature over the signed attributes, the message
 * digest over the content, and the signer's chain to a trusted anchor at a given time. Returns the
 * signer certificate and what it advertised (SMIMECapabilities, encryption key preference,
 * signingTime) so the directory can harvest it.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../shared/errors.js';
import { equalBytes } from '../shared/bytes.js';
import { type Certificate, parseCertificate } from '../pki/certificate.js';
import { OID, oidName } from '../pki/oids.js';
import { type Node, parse, readOid, readTime, stringBytes, expectTag, child } from '../pki/asn1.js';
import { decodeCapabilities, type SmimeCapability } from '../pki/capabilities.js';
import { validateChain, verifySignature } from '../pki/chain.js';

export interface VerifyOptions {
  trusted: readonly Certificate[];
  /** Extra intermediates besides those in the message. */
  intermediates?: readonly Certificate[];
  /** Validation time (default: now). */
  time?: Date;
}

export interface SignerReport {
  certificate: Certificate;
  chain: Certificate[];
  signingTime?: Date;
  capabilities?: SmimeCapability[];
  /** issuerAndSerialNumber / subjectKeyIdentifier of the preferred encryption certificate. */
  encryptionKeyPreference?: { issuerDer: Uint8Array; serialDer: Uint8Array } | { subjectKeyId: Uint8Array };
  digestAlgorithm: string;
  signatureAlgorithm: string;
}

export interface VerifiedContent {
  /** The signed content (encapsulated, or the detached content passed in). */
  content: Uint8Array;
  signer: SignerReport;
  /** All certificates carried in the message. */
  certificates: Certificate[];
}

const DIGESTS: Record<string, string> = { [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512', [OID.sha1]: 'sha1' };

const fail = (code: string, message: string, cause?: unknown) => new AppError(code, message, { cause });

function findSignerCert(sid: Node, certs: readonly Certificate[]): Certificate | undefined {
  if (sid.tag === 0x30) {
    const issuer = sid.children[0]!;
    const serial = sid.children[1]!;
    return certs.find((c) => equalBytes(c.issuerDer, issuer.raw) && equalBytes(c.serialDer, serial.raw));
  }
  if (sid.tag === 0x80) return certs.find((c) => c.subjectKeyId && equalBytes(c.subjectKeyId, sid.value));
  return undefined;
}

/**
 * Verifies a SignedData ContentInfo. `detachedContent` is the signed content for multipart/signed;
 * `alternativeContent` is tried when the first digest does not match (e.g. CRLF-normalised form of
 * content that was stored with bare LFs).
 */
export function verifySignedData(der: Uint8Array, options: VerifyOptions, detachedContent?: Uint8Array, alternativeContent?: Uint8Array): VerifiedContent {
  const ci = expectTag(parse(der, true), 0x30, 'ContentInfo');
  const type = readOid(ci.children[0]);
  if (type !== OID.signedData) throw fail('smime.not_signed', `Not a signed message (content type ${oidName(type)})`);
  const sd = expectTag(child(ci, 1, 'content').children[0], 0x30, 'SignedData');
  let i = 1;
  i++; // digestAlgorithms
  const encap = expectTag(sd.children[i++], 0x30, 'encapContentInfo');
  const eContentType = readOid(encap.children[0]);
  const eContentNode = encap.children[1];
  let content = eContentNode ? stringBytes(child(eContentNode, 0, 'eContent')) : detachedContent;
  if (!content) throw fail('smime.no_content', 'The signature is detached but no signed content was given');
  if (eContentNode && detachedContent) throw fail('smime.malformed', 'The signature has both encapsulated and detached content');
  const certificates: Certificate[] = [];
  if (sd.children[i]?.tag === 0xa0) {
    for (const c of sd.children[i++]!.children) {
      if (c.tag !== 0x30) continue; // other certificate formats are ignored
      try {
        certificates.push(parseCertificate(c.raw));
      } catch {
        // an unreadable extra certificate does not invalidate the signature; the chain check decides
      }
    }
  }
  if (sd.children[i]?.tag === 0xa1) i++; // crls
  const signerInfos = expectTag(sd.children[i], 0x31, 'signerInfos');
  const si = signerInfos.children[0];
  if (!si) throw fail('smime.no_signer', 'The signature has no signer');

  let j = 1;
  const sid = si.children[j++]!;
  const digestOid = readOid(si.children[j++]!.children[0]);
  const hash = DIGESTS[digestOid];
  if (!hash) throw fail('smime.unsupported', `Unsupported digest algorithm ${oidName(digestOid)}`);
  if (hash === 'sha1') throw fail('smime.weak_digest', 'The message is signed with SHA-1, which is no longer accepted');
  let signedAttrs: Node | undefined;
  if (si.children[j]?.tag === 0xa0) signedAttrs = si.children[j++];
  const sigAlg = si.children[j++]!;
  const sigAlgOid = readOid(sigAlg.children[0]);
  const signature = stringBytes(expectTag(si.children[j++], 0x04, 'signature'));

  const signerCert = findSignerCert(sid, [...certificates, ...(options.intermediates ?? []), ...options.trusted]);
  if (!signerCert) throw fail('smime.no_signer_cert', 'The signer certificate is not in the message');

  const report: SignerReport = { certificate: signerCert, chain: [], digestAlgorithm: oidName(digestOid), signatureAlgorithm: oidName(sigAlgOid) };
  let signedData: Uint8Array;
  if (signedAttrs) {
    let messageDigest: Uint8Array | undefined;
    let contentTypeAttr: string | undefined;
    for (const attr of signedAttrs.children) {
      const attrType = readOid(attr.children[0]);
      const value = attr.children[1]?.children[0];
      if (!value) continue;
      switch (attrType) {
        case OID.messageDigest:
          messageDigest = stringBytes(value);
          break;
        case OID.contentType:
          contentTypeAttr = readOid(value);
          break;
        case OID.signingTime:
          report.signingTime = readTime(value);
          break;
        case OID.smimeCapabilities:
          report.capabilities = decodeCapabilities(value);
          break;
        case OID.smimeEncryptionKeyPreference:
          if (value.tag === 0xa0) report.encryptionKeyPreference = { issuerDer: value.children[0]!.raw, serialDer: value.children[1]!.raw };
          else if (value.tag === 0x80) report.encryptionKeyPreference = { subjectKeyId: value.value };
          break;
        case OID.msEncryptionKeyPreference:
          if (!report.encryptionKeyPreference && value.tag === 0x30) report.encryptionKeyPreference = { issuerDer: value.children[0]!.raw, serialDer: value.children[1]!.raw };
          break;
      }
    }
    if (!messageDigest) throw fail('smime.malformed', 'The signature has no messageDigest attribute');
    if (contentTypeAttr !== eContentType) throw fail('smime.malformed', 'The contentType attribute does not match the content');
    const actual = new Uint8Array(createHash(hash).update(content).digest());
    if (!equalBytes(actual, messageDigest)) {
      const alt = alternativeContent && new Uint8Array(createHash(hash).update(alternativeContent).digest());
      if (alt && equalBytes(alt, messageDigest)) content = alternativeContent!;
      else throw fail('smime.bad_signature', 'The signed content was altered: its digest does not match the signature');
    }
    signedData = new Uint8Array(signedAttrs.raw);
    signedData[0] = 0x31;
  } else {
    signedData = content;
  }
  let valid: boolean;
  try {
    valid = verifySignature(signerCert.publicKey.spki, sigAlgOid, sigAlg.children[1]?.raw, signedData, signature, hash);
  } catch (e) {
    if (e instanceof AppError) throw fail('smime.bad_signature', e.message, e);
    valid = false;
  }
  if (!valid) throw fail('smime.bad_signature', 'The signature does not verify with the signer certificate');
  try {
    report.chain = validateChain(signerCert, { trusted: options.trusted, intermediates: [...certificates, ...(options.intermediates ?? [])], time: options.time ?? new Date() });
  } catch (e) {
    if (e instanceof AppError) throw fail(e.code === 'chain.untrusted' ? 'smime.untrusted' : 'smime.bad_chain', `Signature is valid but the signer is not trusted: ${e.message}`, e);
    throw e;
  }
  return { content, signer: report, certificates };
}
