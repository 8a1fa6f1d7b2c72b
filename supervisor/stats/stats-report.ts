/**
 * The answer to a stats request: the workers' counters summed per rule and
 * per output (an output's failed sends also by errno), with packet rates
 * from the RateTracker, and per-worker lines.
 *
 * Only fresh readings feed the rates. The fleet keeps each slot's last
 * counters when a ping fails or while the slot restarts, so a reading counts
 * as fresh only when the slot is running and its counters object is one this
 * report has not seen before: a stale object from a process that has since
 * been replaced would otherwise be taken for the new process's counters. A
 * slot that is not running has no process forwarding, so it is `idle`; a
 * running one without fresh counters did not answer the ping: `unread`.
 */
import type { Rule, RuleStats, StatsResult, WorkerCounters } from '../../proto/index.js';
import { RateTracker, type WorkerReading } from './rate-tracker.js';

/** What the report needs of a fleet slot (Fleet.counters() returns these). */
export interface CounterSlot {
  id: string;
  iface: string;
  state: string;
  restarts: number;
  worker: { readonly pid: number | undefined } | undefined;
  counters: WorkerCounters | undefined;
}

const ruleKey = (id: number): string => `rule ${id}`;
const outputKey = (id: number, index: number): string => `rule ${id} output ${index}`;

export class StatsReport {
  readonly #rates = new RateTracker();
  readonly #seen = new WeakSet<WorkerCounters>();

  /** Builds the stats answer for `rules` from `slots` sampled at `atMs` (a monotonic clock). */
  build(slots: readonly CounterSlot[], rules: readonly Rule[], atMs: number): StatsResult {
    const readings = slots.map((s) => this.#reading(s));
    const keys = rules.flatMap((r) => [ruleKey(r.id), ...r.outputs.map((_, i) => outputKey(r.id, i))]);
    const rates = this.#rates.sample(atMs, readings, keys);
    const totals = sumPerRule(slots);
    const withRate = <T extends object>(value: T, key: string): T & { pps?: number } => {
      const pps = rates.rate(key);
      return pps === undefined ? value : { ...value, pps };
    };
    const result: StatsResult = {
      rules: rules.map((r) => {
        const sum = totals.get(r.id);
        return {
          ...withRate({ ruleId: r.id, packets: sum?.packets ?? 0, bytes: sum?.bytes ?? 0 }, ruleKey(r.id)),
          errors: sum?.errors ?? 0,
          outputs: r.outputs.map((_, i) => {
            const o = sum?.outputs[i];
            return { ...withRate({ packets: o?.packets ?? 0, bytes: o?.bytes ?? 0 }, outputKey(r.id, i)), errors: o?.errors ?? 0,
              errorsByErrno: o?.errorsByErrno ?? {} };
          }),
        };
      }),
      workers: slots.map((s) => ({ worker: s.id, interface: s.iface, received: s.counters?.received ?? 0,
        kernelDrops: s.counters?.kernelDrops ?? 0, restarts: s.restarts,
        loop: s.state === 'running' ? { ...(s.counters?.loop ?? {}) } : {} })),
    };
    if (rates.intervalMs !== undefined) result.rateIntervalMs = Math.round(rates.intervalMs);
    return result;
  }

  #reading(slot: CounterSlot): WorkerReading {
    const c = slot.counters;
    const pid = slot.worker?.pid;
    // No process, or one not yet (or no longer) forwarding: nothing to count.
    if (slot.state !== 'running' || pid === undefined) return { state: 'idle', worker: slot.id };
    if (c === undefined || this.#seen.has(c)) return { state: 'unread', worker: slot.id };
    this.#seen.add(c);
    const counters = new Map<string, number>();
    for (const r of c.rules) {
      counters.set(ruleKey(r.ruleId), r.packets);
      r.outputs.forEach((o, i) => counters.set(outputKey(r.ruleId, i), o.packets));
    }
    return { state: 'read', worker: slot.id, instance: pid, counters };
  }
}

/** Counters since each worker started, summed over the workers, per rule id. */
function sumPerRule(slots: readonly CounterSlot[]): Map<number, Omit<RuleStats, 'ruleId'>> {
  const perRule = new Map<number, Omit<RuleStats, 'ruleId'>>();
  for (const s of slots) {
    for (const r of s.counters?.rules ?? []) {
      const acc: Omit<RuleStats, 'ruleId'> = perRule.get(r.ruleId) ??
        { packets: 0, bytes: 0, errors: 0, outputs: r.outputs.map(() => ({ packets: 0, bytes: 0, errors: 0, errorsByErrno: {} })) };
      acc.packets += r.packets;
      acc.bytes += r.bytes;
      acc.errors += r.errors;
      r.outputs.forEach((o, i) => {
        const t = acc.outputs[i];
        if (t) {
          t.packets += o.packets;
          t.bytes += o.bytes;
          t.errors += o.errors;
          for (const [errno, n] of Object.entries(o.errorsByErrno)) t.errorsByErrno[errno] = (t.errorsByErrno[errno] ?? 0) + n;
        }
      });
      perRule.set(r.ruleId, acc);
    }
  }
  return perRule;
}
