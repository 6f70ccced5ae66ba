/**
 * One benchmark cell, run in a fresh child process (forked by bench/run.ts) so that its memory
 * figures are not polluted by other cells:
 *
 *   1. load the modules, read the message, certificates and keys; gc; idle RSS
 *   2. one cold run with the peak-RSS high-water mark reset just before it (Linux
 *      /proc/self/clear_refs), RSS also sampled per output chunk and by a timer
 *   3. warm-up runs, then a time-boxed timed loop (output consumed into a discarding sink)
 *
 * The result goes back to the parent over the IPC channel.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { timeBox, type Timing } from './timing.js';
import { drain, loadWorkload, type InProcessMethod, type WorkloadPaths } from './workload.js';

export interface CellRequest extends WorkloadPaths {
  method: InProcessMethod;
  /** Seconds of timed iterations (at least minIterations, at most maxIterations). */
  seconds: number;
  minIterations: number;
  maxIterations: number;
  windowSeconds: number;
  warmupSeconds: number;
}

export interface CellResult {
  method: InProcessMethod;
  messageBytes: number;
  outputBytes: number;
  timing: Timing;
  idleRss: number;
  /** max(sampled RSS, kernel high-water mark) during the cold run. */
  peakRss: number;
  peakSampled: number;
  peakHwm: number;
  /** Whether the high-water mark could be reset before the cold run (else it is the lifetime peak). */
  hwmReset: boolean;
  coldRunMs: number;
}

function readHwm(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'latin1'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

function resetHwm(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function main(req: CellRequest): Promise<CellResult> {
  const w = loadWorkload(req);
  let peakSampled = 0;
  const sample = () => {
    const r = process.memoryUsage.rss();
    if (r > peakSampled) peakSampled = r;
  };

  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  await new Promise((r) => setTimeout(r, 50));
  const idleRss = process.memoryUsage.rss();
  peakSampled = idleRss;
  const hwmReset = resetHwm();
  // the stream is consumed in microtasks, so the timer rarely fires; the per-chunk sample and the
  // kernel's high-water mark are what catch the peak
  const timer = setInterval(sample, 2);
  const t0 = performance.now();
  const outputBytes = await drain(w.stream(req.method), sample);
  const coldRunMs = performance.now() - t0;
  clearInterval(timer);
  sample();
  const peakHwm = readHwm();
  const peakRss = Math.max(peakSampled, peakHwm);

  const warmEnd = performance.now() + req.warmupSeconds * 1000;
  let warm = 0;
  while (performance.now() < warmEnd || warm < 2) {
    await drain(w.stream(req.method));
    warm++;
  }

  const timing = await timeBox(async () => {
    const n = await drain(w.stream(req.method));
    if (n !== outputBytes && req.method === 'raw') throw new Error('raw output size changed');
  }, req);
  return { method: req.method, messageBytes: w.message.length, outputBytes, timing, idleRss, peakRss, peakSampled, peakHwm, hwmReset, coldRunMs };
}

process.once('message', (req: CellRequest) => {
  main(req).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (e: unknown) => process.send!({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, () => process.exit(1)),
  );
});
