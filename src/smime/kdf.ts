/** ANSI X9.63 KDF and ECC-CMS-SharedInfo (RFC 5753 7.2) for ECDH key agreement. */
import { createHash } from 'node:crypto';
import { concat } from '../shared/bytes.js';
import { ctx, octets, seq } from '../pki/der.js';

export function eccCmsSharedInfo(keyWrapAlgId: Uint8Array, keyBits: number, ukm?: Uint8Array): Uint8Array {
  const supp = new Uint8Array(4);
  new DataView(supp.buffer).setUint32(0, keyBits);
  return seq(keyWrapAlgId, ...(ukm ? [ctx(0, true, octets(ukm))] : []), ctx(2, true, octets(supp)));
}

export function x963Kdf(hash: 'sha256' | 'sha384', z: Uint8Array, sharedInfo: Uint8Array, length: number): Uint8Array {
  const out: Uint8Array[] = [];
  let have = 0;
  for (let counter = 1; have < length; counter++) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, counter);
    const block = new Uint8Array(createHash(hash).update(z).update(c).update(sharedInfo).digest());
    out.push(block);
    have += block.length;
  }
  return concat(out).subarray(0, length);
}
