/**
 * Adds stream health to a stats answer: each rule's stream state from the
 * stream watch (stream-watch.ts) and the latest arrival, and, for rules
 * with `monitor` set, the monitor counts mcrd keeps for the rule's life
 * (stats/counter-ledger.ts: a worker restart takes nothing off them) and
 * the jitter, the largest of the workers' now (each worker seeing its
 * share of the flow).
 * Kept apart from stats-report.ts, which sums packets, bytes and errors.
 */
import type { MonitorStats, Rule, RuleStream, StatsResult, WorkerCounters } from '../../proto/index.js';
import { emptyMonitor } from '../stats/monitor-counts.js';
import type { StreamWatch } from './stream-watch.js';

/** Per rule id: the latest arrival and the largest jitter over the workers' counters. */
function perRule(counters: ReadonlyArray<WorkerCounters | undefined>): Map<number, { lastRxMs: number; jitterUs: number }> {
  const out = new Map<number, { lastRxMs: number; jitterUs: number }>();
  for (const c of counters) {
    for (const r of c?.rules ?? []) {
      let acc = out.get(r.ruleId);
      if (acc === undefined) out.set(r.ruleId, (acc = { lastRxMs: 0, jitterUs: 0 }));
      acc.lastRxMs = Math.max(acc.lastRxMs, r.lastRxMs ?? 0);
      if (r.monitor !== undefined) acc.jitterUs = Math.max(acc.jitterUs, r.monitor.rtpJitterUs);
    }
  }
  return out;
}

/** `result` with streamState, streamChangedAtMs, lastRxMs and monitor set on every rule (in place; also returned). */
export function addStreamHealth(result: StatsResult, counters: ReadonlyArray<WorkerCounters | undefined>, rules: readonly Rule[],
  watch: StreamWatch | undefined, kept: (ruleId: number) => MonitorStats | undefined): StatsResult {
  const byId = new Map(rules.map((r) => [r.id, r]));
  const sums = perRule(counters);
  for (const s of result.rules) {
    const rule = byId.get(s.ruleId);
    const sum = sums.get(s.ruleId);
    const view = rule !== undefined ? watch?.view(rule) : undefined;
    const lastRxMs = Math.max(sum?.lastRxMs ?? 0, view?.lastRxMs ?? 0);
    if (lastRxMs > 0) s.lastRxMs = lastRxMs;
    if (view !== undefined) {
      s.streamState = view.state;
      s.streamChangedAtMs = view.changedAtMs;
    }
    if (rule?.monitor !== undefined) s.monitor = { ...(kept(s.ruleId) ?? emptyMonitor()), rtpJitterUs: sum?.jitterUs ?? 0 };
  }
  return result;
}

/** The list answer's stream states, in rule order. */
export function ruleStreams(rules: readonly Rule[], watch: StreamWatch): RuleStream[] {
  return rules.map((r) => {
    const v = watch.view(r);
    return { ruleId: r.id, state: v.state, changedAtMs: v.changedAtMs, lastRxMs: v.lastRxMs };
  });
}
