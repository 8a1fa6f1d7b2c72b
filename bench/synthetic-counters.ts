/**
 * A synthetic rule table and the counters its workers would report, for the
 * benchmarks that time mcrd's handling of counters without a lab
 * (stats-build.ts: one stats report; metrics-scrape.ts: one scrape): every
 * rule counting, the fourth output of each rule failing by two errnos.
 * Also the median/p95/max summary both print.
 */
import type { Rule, WorkerCounters } from '../proto/index.js';

/** `count` rules on eth1, rule i: 239.1.x.y:5000 in, output o: 239.(2+o).x.y:(6000+o) on eth(2+o). */
export function syntheticRules(count: number, outputs: number): Rule[] {
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1, name: `stream-${i + 1}`, inputInterface: 'eth1', inputGroup: `239.1.${i >> 8}.${i & 255}`, inputPort: 5000,
    outputs: Array.from({ length: outputs }, (_, o) => ({ group: `239.${2 + o}.${i >> 8}.${i & 255}`, port: 6000 + o, interface: `eth${2 + o}` })),
  }));
}

/** One worker's counters for `rules`, each `scale` times 1000 datagrams; `pid` as a worker reports it. */
export function syntheticWorkerCounters(rules: readonly Rule[], loopNames: readonly string[], scale: number, pid?: number): WorkerCounters {
  const loop: Record<string, number> = {};
  for (const n of loopNames) loop[n] = scale;
  return {
    received: rules.length * 1000 * scale, kernelDrops: scale, malformed: 8 * scale, unmatched: scale, loop, ...(pid !== undefined ? { pid } : {}),
    rules: rules.map((r) => ({ ruleId: r.id, packets: 1000 * scale, bytes: 1_316_000 * scale, errors: 0,
      outputs: r.outputs.map((_, o) => ({ packets: 1000 * scale, bytes: 1_316_000 * scale, errors: o === 3 ? 2 : 0,
        errorsByErrno: o === 3 ? { ENOBUFS: scale, EHOSTUNREACH: scale } : ({} as Record<string, number>) })) })),
  } as WorkerCounters;
}

/** Median, 95th percentile and maximum of `ms`, to 0.1 ms. */
export function summary(ms: readonly number[]): { median: number; p95: number; max: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(1));
  return { median: at(0.5), p95: at(0.95), max: at(1) };
}
