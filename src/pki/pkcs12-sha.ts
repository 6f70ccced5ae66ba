/**
 * Synchronous SHA-1 and SHA-256 in plain TypeScript, for the PKCS#12 KDF's iterated hashing only
 * (./pkcs12.ts). crypto.subtle.digest costs one await per round (~50 us in Node 20), so the
 * 600,000-round MAC of a file exported by NSS (Thunderbird, Firefox, pk12util) took ~30 s; these
 * take well under a second. Known-answer tests: test/pki/pkcs12-sha.test.ts (against node:crypto).
 * Not constant-time with respect to the message length; nothing secret depends on it here.
 */

const K256 = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const W = new Int32Array(80);

/** The message with SHA padding (0x80, zeros, 64-bit big-endian bit length), a multiple of 64 bytes. */
function pad(msg: Uint8Array): DataView {
  const len = msg.length;
  const total = Math.ceil((len + 9) / 64) * 64;
  const buf = new Uint8Array(total);
  buf.set(msg);
  buf[len] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(total - 8, Math.floor(len / 0x20000000));
  view.setUint32(total - 4, (len * 8) >>> 0);
  return view;
}

function output(state: Int32Array): Uint8Array {
  const out = new Uint8Array(state.length * 4);
  const view = new DataView(out.buffer);
  state.forEach((v, i) => view.setInt32(i * 4, v));
  return out;
}

const IV256 = Int32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19);
const IV1 = Int32Array.of(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0);

/** One SHA-256 compression of the block in W[0..15] into h. */
function compress256(h: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!;
    const b = W[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, k = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (k + S1 + ((e & f) ^ (~e & g)) + K256[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    k = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + k) | 0;
}

/** One SHA-1 compression of the block in W[0..15] into h. */
function compress1(h: Int32Array): void {
  for (let i = 16; i < 80; i++) {
    const x = W[i - 3]! ^ W[i - 8]! ^ W[i - 14]! ^ W[i - 16]!;
    W[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!;
  for (let i = 0; i < 80; i++) {
    let f: number, k: number;
    if (i < 20) (f = (b & c) | (~b & d)), (k = 0x5a827999);
    else if (i < 40) (f = b ^ c ^ d), (k = 0x6ed9eba1);
    else if (i < 60) (f = (b & c) | (b & d) | (c & d)), (k = 0x8f1bbcdc);
    else (f = b ^ c ^ d), (k = 0xca62c1d6);
    const t = (((a << 5) | (a >>> 27)) + f + e + k + W[i]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

function hashWith(iv: Int32Array, compress: (h: Int32Array) => void, msg: Uint8Array): Int32Array {
  const view = pad(msg);
  const h = iv.slice();
  for (let off = 0; off < view.byteLength; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getInt32(off + i * 4);
    compress(h);
  }
  return h;
}

export function sha256(msg: Uint8Array): Uint8Array {
  return output(hashWith(IV256, compress256, msg));
}

export function sha1(msg: Uint8Array): Uint8Array {
  return output(hashWith(IV1, compress1, msg));
}

/**
 * H^rounds(msg): hash msg, then hash the digest rounds-1 more times. The re-hashing rounds take
 * the fixed one-block path (a digest always fits one padded block), without allocations.
 */
export function iteratedHash(hash: 'SHA-1' | 'SHA-256', msg: Uint8Array, rounds: number): Uint8Array {
  const [iv, compress, words] = hash === 'SHA-256' ? [IV256, compress256, 8] : [IV1, compress1, 5];
  const h = hashWith(iv, compress, msg);
  for (let r = 1; r < rounds; r++) {
    for (let i = 0; i < words; i++) W[i] = h[i]!;
    W[words] = 0x80000000 | 0;
    for (let i = words + 1; i < 15; i++) W[i] = 0;
    W[15] = words * 32;
    h.set(iv);
    compress(h);
  }
  return output(h);
}
