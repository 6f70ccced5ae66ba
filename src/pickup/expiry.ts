/**
 * The expiry job: the content of every expired or revoked pickup is deleted (the encrypted blob and
 * the wrapped key, so nothing of the message is left), not only hidden. The row stays, with its
 * access log, for the sender's status page and for audit. Run hourly by the entry point; a revoke
 * deletes at once, and opening an expired link deletes it then too.
 */
import { systemClock, type Clock } from '../shared/clock.js';
import type { BlobStore, PickupStore } from './ports.js';

export interface PurgeDeps {
  store: PickupStore;
  blobs: BlobStore;
  clock?: Clock;
}

export const PURGE_BATCH = 500;

/** Deletes the content of every pickup due at the clock's now; returns how many were deleted. */
export async function purgeExpired(deps: PurgeDeps, batch = PURGE_BATCH): Promise<number> {
  const clock = deps.clock ?? systemClock;
  let total = 0;
  for (;;) {
    const now = clock.now();
    const due = await deps.store.due(now, batch);
    for (const d of due) {
      if (d.blobKey) await deps.blobs.delete(d.blobKey);
      await deps.store.markDeleted(d.id, now);
      await deps.store.logAccess(d.id, { at: now, action: 'deleted', verified: false, clientIp: null, detail: { reason: d.revoked ? 'revoked' : 'expired', by: 'expiry job' } });
    }
    total += due.length;
    if (due.length < batch) return total;
  }
}
