/**
 * A paired comparison, run in its own child process: the contenders take turns message by message
 * (the starting contender rotates every round), so a burst of load from other processes hits both
 * sides alike. Reports the median time per message of each contender; the targets' ratios come
 * from these medians.
 */
import { performance } from 'node:perf_hooks';
import { opensslOnce } from './openssl.js';
import { drain, loadWorkload, type InProcessMethod, type WorkloadPaths } from './workload.js';

export type Contender = InProcessMethod | 'openssl';

export interface PairedRequest extends WorkloadPaths {
  contenders: Contender[];
  seconds: number;
  minRounds: number;
  warmupRounds: number;
}

export interface PairedResult {
  rounds: number;
  /** Median milliseconds per message, by contender. */
  medianMs: Partial<Record<Contender, number>>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(req: PairedRequest): Promise<PairedResult> {
  const w = loadWorkload(req);
  const once = async (c: Contender): Promise<void> => {
    if (c === 'openssl') await opensslOnce(req.messagePath, req.recipientCert);
    else await drain(w.stream(c));
  };
  for (let i = 0; i < req.warmupRounds; i++) for (const c of req.contenders) await once(c);
  const times = new Map<Contender, number[]>(req.contenders.map((c) => [c, []]));
  const end = performance.now() + req.seconds * 1000;
  let rounds = 0;
  while (performance.now() < end || rounds < req.minRounds) {
    for (let k = 0; k < req.contenders.length; k++) {
      const c = req.contenders[(rounds + k) % req.contenders.length]!;
      const t = performance.now();
      await once(c);
      times.get(c)!.push(performance.now() - t);
    }
    rounds++;
  }
  const medianMs: PairedResult['medianMs'] = {};
  for (const [c, xs] of times) medianMs[c] = median(xs);
  return { rounds, medianMs };
}

process.once('message', (req: PairedRequest) => {
  main(req).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (e: unknown) => process.send!({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, () => process.exit(1)),
  );
});
