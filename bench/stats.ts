// Timing and statistics shared by the benchmarks: a monotonic clock in
// microseconds, percentiles over samples, and the machine load to print with
// the numbers (the bench machine is shared, so a figure without its load is
// hard to read).
import os from 'node:os';

/** Microseconds since an arbitrary origin (performance.now() has µs resolution). */
export function nowUs(): number {
  return performance.now() * 1000;
}

/** The p-th percentile (0..100) of samples, nearest rank on a sorted copy. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export interface Summary { n: number; p50: number; p90: number; p99: number; min: number; max: number }

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { n: sorted.length, p50: at(50), p90: at(90), p99: at(99), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Round to `digits` decimals (for JSON output: no float noise like 12.300000001). */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** 1-minute load average over core count: > 1 means the numbers carry queueing noise. */
export function machineLoad(): { cores: number; load1: number; load5: number } {
  const [load1, load5] = os.loadavg();
  return { cores: os.availableParallelism(), load1: round(load1!, 2), load5: round(load5!, 2) };
}

/** A small deterministic PRNG (mulberry32), so every run measures the same mix. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rejects with a clear message when `promise` takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One value from a cumulative-weight table [[weight, value], ...] (the last entry takes the rest). */
export function weightedPick<T>(rnd: () => number, table: ReadonlyArray<readonly [number, T]>): T {
  let r = rnd();
  for (const [w, v] of table) {
    if (r < w) return v;
    r -= w;
  }
  return table[table.length - 1]![1];
}
