/**
 * What one scrape reads of mcrd, taken once per scrape: the same StatsResult
 * the `stats` control request answers (so the metrics and `mcrctl stats
 * --json` show the same counters), the rule table, the worker slots and the
 * config's reload status. Metric groups (metric-group.ts) turn it into
 * series; none of them asks mcrd for anything itself.
 *
 * CounterNames are label values known before any worker has counted
 * anything, so their series exist at 0 from the start: the drop reasons of
 * a loop, read from the addon's counter layout (native/core/counters.h),
 * every `drop_*` loop counter as worker/command-handler.ts sums them into
 * `malformed`. A reason a stats answer carries beyond them is exported too.
 */
import type { Rule, StatsResult, WorkerInfo } from '../../proto/index.js';

export interface MetricsSnapshot {
  /** The workers' counters, summed per rule and output: exactly what `mcrctl stats --json` shows. */
  stats: StatsResult;
  /** The rule table after the stats arrived; a rule the stats do not have yet counts 0. */
  rules: readonly Rule[];
  /** Every worker slot (Fleet.info()). */
  workers: readonly WorkerInfo[];
  reload: { successful: boolean; lastSuccessSeconds: number };
}

/** Where a scrape gets its snapshot (daemon-source.ts in mcrd; made-up ones in tests and the benchmark). */
export type MetricsSource = () => Promise<MetricsSnapshot>;

export interface CounterNames {
  /** Malformed-frame reasons: the loop's drop_* counters without the prefix ("fragment", ...). */
  malformedReasons: readonly string[];
}

/** The prefix of the loop counters WorkerCounters.malformed sums. */
export const DROP_PREFIX = 'drop_';

/** Label values from the addon's counterLayout() (its loop counter names). */
export function counterNames(layout: { loop: readonly string[] }): CounterNames {
  return { malformedReasons: layout.loop.filter((n) => n.startsWith(DROP_PREFIX)).map((n) => n.slice(DROP_PREFIX.length)) };
}
