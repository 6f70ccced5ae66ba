/**
 * Subject public keys: what a SubjectPublicKeyInfo holds and whether the profile accepts it
 * (RSA of at least 2048 bits, a multiple of 8, odd exponent >= 3; EC P-256, P-384 or P-521 on a
 * named curve).
 */
import { createPublicKey } from 'node:crypto';
import { parse, readOid, readUnsigned, type Node } from '../pki/asn1.js';
import { sha256 } from '../pki/hash.js';
import { CA_OID } from './oids.js';

export type SubjectKey =
  | { kind: 'rsa'; bits: number; exponent: bigint }
  | { kind: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' }
  | { kind: 'other'; algorithm: string };

/** RSA moduli above this are refused (verification cost, nobody needs them for mail). */
export const MAX_RSA_BITS = 8192;

function bitLength(mag: Uint8Array): number {
  let bits = mag.length * 8;
  for (let b = mag[0] ?? 0; bits > 0 && (b & 0x80) === 0; b <<= 1) bits--;
  return bits;
}

/** The subjectPublicKey BIT STRING contents (without the unused-bits octet). */
export function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  const node = parse(spki);
  const bits = node.children[1];
  if (!bits || bits.tag !== 0x03 || bits.value.length < 1) throw new Error('subjectPublicKey is missing');
  return bits.value.subarray(1);
}

/** Key identifier (RFC 7093 method 1): the leftmost 160 bits of SHA-256 over the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  return sha256(subjectPublicKeyBits(spki)).subarray(0, 20);
}

/** Reads a SubjectPublicKeyInfo node. Throws on malformed input. */
export function describeSpki(spkiNode: Node): SubjectKey {
  const alg = spkiNode.children[0];
  if (!alg) throw new Error('public key algorithm is missing');
  const algOid = readOid(alg.children[0]);
  const keyBits = subjectPublicKeyBits(spkiNode.raw);
  if (algOid === CA_OID.rsaEncryption) {
    const rsa = parse(keyBits);
    const modulus = readUnsigned(rsa.children[0]);
    let exponent = 0n;
    for (const b of readUnsigned(rsa.children[1])) exponent = (exponent << 8n) | BigInt(b);
    return { kind: 'rsa', bits: bitLength(modulus), exponent };
  }
  if (algOid === CA_OID.ecPublicKey) {
    const p = alg.children[1];
    const curveOid = p?.tag === 0x06 ? readOid(p) : '';
    const curve = curveOid === CA_OID.secp256r1 ? 'P-256' : curveOid === CA_OID.secp384r1 ? 'P-384' : curveOid === CA_OID.secp521r1 ? 'P-521' : undefined;
    return curve ? { kind: 'ec', curve } : { kind: 'other', algorithm: `EC ${curveOid ? `curve ${curveOid}` : 'with explicit parameters'}` };
  }
  return { kind: 'other', algorithm: algOid };
}

/** Why the profile refuses this subject key, or undefined when it accepts it. */
export function subjectKeyProblem(spkiNode: Node): string | undefined {
  let key: SubjectKey;
  try {
    key = describeSpki(spkiNode);
  } catch (e) {
    return `the public key is malformed (${(e as Error).message})`;
  }
  if (key.kind === 'other') return `the key type ${key.algorithm} is not accepted (RSA of 2048 bits or more, or EC P-256/P-384/P-521)`;
  if (key.kind === 'rsa') {
    if (key.bits < 2048) return `the RSA key has ${key.bits} bits; at least 2048 are required`;
    if (key.bits > MAX_RSA_BITS) return `the RSA key has ${key.bits} bits; at most ${MAX_RSA_BITS} are accepted`;
    if (key.bits % 8 !== 0) return `the RSA modulus has ${key.bits} bits, not a multiple of 8`;
    if (key.exponent < 3n || key.exponent % 2n === 0n) return `the RSA public exponent ${key.exponent} is not an odd number of at least 3`;
  }
  try {
    createPublicKey({ key: Buffer.from(spkiNode.raw), format: 'der', type: 'spki' });
  } catch {
    return 'the public key is not a valid key (OpenSSL cannot load it)';
  }
  return undefined;
}
