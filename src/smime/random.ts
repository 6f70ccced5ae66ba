/**
 * Random bytes for content-encryption keys and IVs. One call into the CSPRNG costs ~5 us here
 * (and several times that under load), more than the AES of a small message, so the engine draws
 * small amounts from a pool filled 4 KiB at a time. Every byte is handed out once: it is copied
 * out and zeroed in the pool, so the pool only ever holds bytes not yet used.
 */
import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
/** Larger requests go straight to the CSPRNG. */
const POOLED_MAX = 64;

let pool: Buffer = Buffer.alloc(0);
let used = 0;

export function freshRandom(n: number): Buffer {
  if (n > POOLED_MAX) return randomBytes(n);
  if (used + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    used = 0;
  }
  const out = Buffer.allocUnsafe(n);
  pool.copy(out, 0, used, used + n);
  pool.fill(0, used, used + n);
  used += n;
  return out;
}
