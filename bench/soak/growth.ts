/**
 * The resource check, pure: is a process's RSS (or fd count) flat after
 * warm-up? Compares the median of the first window after warm-up with the
 * median of the last window of the process's life; medians, because one
 * sample taken mid-GC or mid-resync says nothing about a trend. A process
 * that did not live long enough for two separate windows is reported as
 * not assessed, with how long it lived, never as passed.
 */

export interface ResourceSample {
  /** ms since the soak started. */
  atMs: number;
  value: number;
}

export interface GrowthOptions {
  warmupMs: number;
  windowMs: number;
  /** Largest growth allowed, as a fraction (0.05 = 5 %). */
  limit: number;
  /** When the process started (its first sample otherwise). */
  startMs?: number;
}

export type GrowthVerdict =
  | { assessed: true; first: number; last: number; growth: number; ok: boolean; samples: number }
  | { assessed: false; reason: string; samples: number };

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function checkGrowth(samples: readonly ResourceSample[], o: GrowthOptions): GrowthVerdict {
  const first = samples[0];
  const lastS = samples[samples.length - 1];
  if (first === undefined || lastS === undefined) return { assessed: false, reason: 'no samples', samples: 0 };
  const start = o.startMs ?? first.atMs;
  const from = start + o.warmupMs;
  const end = lastS.atMs;
  if (end - from < 2 * o.windowMs) {
    return { assessed: false, reason: `lived ${Math.round((end - start) / 1000)} s: less than warm-up + two windows (${Math.round((o.warmupMs + 2 * o.windowMs) / 1000)} s)`, samples: samples.length };
  }
  const early = samples.filter((s) => s.atMs >= from && s.atMs < from + o.windowMs).map((s) => s.value);
  const late = samples.filter((s) => s.atMs > end - o.windowMs).map((s) => s.value);
  if (early.length < 2 || late.length < 2) return { assessed: false, reason: 'fewer than two samples in a window', samples: samples.length };
  const a = median(early);
  const b = median(late);
  const growth = a > 0 ? (b - a) / a : b > 0 ? Infinity : 0;
  return { assessed: true, first: a, last: b, growth, ok: growth <= o.limit, samples: samples.length };
}
