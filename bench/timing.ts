/**
 * Time-boxed repetition. Besides the mean rate over the whole box it keeps the best rate seen in
 * any window of `windowSeconds` (a window closes after the first iteration that ends past it), which
 * is much less sensitive to other processes competing for the CPU on a shared 2-core machine.
 */
import { performance } from 'node:perf_hooks';

export interface TimeBox {
  seconds: number;
  minIterations: number;
  maxIterations: number;
  windowSeconds: number;
}

export interface Timing {
  iterations: number;
  seconds: number;
  /** iterations / seconds over the whole box. */
  meanRate: number;
  /** The best per-window rate (falls back to the mean when no window closed). */
  bestRate: number;
  windows: number;
}

export async function timeBox(once: () => Promise<unknown>, box: TimeBox): Promise<Timing> {
  let iterations = 0;
  let windows = 0;
  let bestRate = 0;
  const start = performance.now();
  const end = start + box.seconds * 1000;
  let windowStart = start;
  let windowIterations = 0;
  let now = start;
  while (iterations < box.maxIterations && (now < end || iterations < box.minIterations)) {
    await once();
    iterations++;
    windowIterations++;
    now = performance.now();
    if (now - windowStart >= box.windowSeconds * 1000) {
      bestRate = Math.max(bestRate, (windowIterations * 1000) / (now - windowStart));
      windows++;
      windowStart = now;
      windowIterations = 0;
    }
  }
  const seconds = (now - start) / 1000;
  const meanRate = iterations / seconds;
  return { iterations, seconds, meanRate, bestRate: windows > 0 ? bestRate : meanRate, windows };
}
