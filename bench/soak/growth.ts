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

/**
 * mcrd's warm-up, from its GC trace (gc-trace.ts): V8 sizes its old
 * generation after each full GC, and in the soak's 30-minute runs it kept
 * raising the committed heap (13 -> 22 MB) for 16-22 minutes while the live
 * heap after those GCs stayed at 9-11 MB; RSS rose by as much, then held.
 * That is the heap reaching its working size, not a leak, and it ends when
 * a full GC no longer raises the committed heap. So the warm-up ends at the
 * last full GC that raised the committed heap above every earlier one by
 * more than `stepMb`, never before `minMs` and never after `capMs`. The cap
 * (half the run in summary.ts) keeps a window long enough to catch a leak:
 * a leak raises the committed heap at every full GC, so its warm-up is the
 * cap and the check then compares the second half's first window with the
 * last one, as for any process.
 */
export interface GcPoint {
  /** ms since the process started. */
  atMs: number;
  committedMb: number;
}

export interface GcWarmup {
  warmupMs: number;
  /** When the last raise was (ms since the process started), if any. */
  lastRaiseMs?: number;
  why: string;
}

export function gcWarmup(fullGcs: readonly GcPoint[], o: { minMs: number; capMs: number; stepMb: number }): GcWarmup {
  let top = 0;
  let lastRaise: number | undefined;
  for (const g of fullGcs) {
    if (g.committedMb > top + o.stepMb) lastRaise = g.atMs;
    top = Math.max(top, g.committedMb);
  }
  const s = (ms: number): string => `${Math.round(ms / 1000)} s`;
  if (lastRaise === undefined) return { warmupMs: o.minMs, why: `no full GC raised the committed heap: the fixed warm-up (${s(o.minMs)})` };
  if (lastRaise > o.capMs) return { warmupMs: o.capMs, lastRaiseMs: lastRaise, why: `the last full GC that raised the committed heap was at ${s(lastRaise)}, after the cap: the cap (${s(o.capMs)})` };
  if (lastRaise < o.minMs) return { warmupMs: o.minMs, lastRaiseMs: lastRaise, why: `the last full GC that raised the committed heap was at ${s(lastRaise)}: the fixed warm-up (${s(o.minMs)})` };
  return { warmupMs: lastRaise, lastRaiseMs: lastRaise, why: `ends at the last full GC that raised the committed heap (${s(lastRaise)})` };
}
