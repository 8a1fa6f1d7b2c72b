/**
 * The answer to a stats request: per rule and per output (an output's
 * failed sends also by errno) and per input interface, mcrd's own counters
 * (CounterLedger: they never go backwards for the life of a rule, whatever
 * the workers do), packet rates from the RateTracker, and per-worker lines
 * (what each worker process counted since it started).
 *
 * Only fresh readings count. The fleet keeps each slot's last counters when
 * a ping fails or while the slot restarts, so a reading is fresh only when
 * its counters object is one the report has not seen before (the ledger
 * would otherwise count a stale object again, or take it for a new
 * process's). A running slot without fresh counters did not answer: the
 * totals lack its share, so the sample is not kept as a rate reference.
 *
 * observe() reads the slots without answering (before a reload or a
 * clear, so nothing counted before it is lost or cleared late); carry()
 * and clear() pass a reload's rule changes and `mcrctl clear` to the
 * ledger.
 */
import type { InputStats, MonitorStats, OutputStats, Rule, RuleStats, StatsResult, WorkerCounters } from '../../proto/index.js';
import { CounterLedger, type LedgerSlot, type OutputEntry, type RuleEntry } from './counter-ledger.js';
import { RateTracker } from './rate-tracker.js';

/** What the report needs of a fleet slot (Fleet.counters() returns these). */
export interface CounterSlot extends LedgerSlot {
  state: string;
  restarts: number;
  /** When its counters arrived (performance.now()), where the fleet records it. */
  countersAtMs?: number | undefined;
}

/**
 * How far apart the workers' answers of one reading may come and still be
 * one sample. A worker busy with a sync answers late; its counters are of
 * a later moment than the others', so a rate measured from such a sample
 * would be too low and the next one, measured from it, too high. Such a
 * sample is not kept as a reference (as one missing an answer is not)
 * once there is another: a fifth of the shortest rate interval
 * (MIN_RATE_INTERVAL_MS, 500 ms), far above what workers that are not
 * busy take (a few ms), far below a sync (up to 10 s).
 */
export const MAX_READ_SPREAD_MS = 100;
/** A reference older than this is replaced even by a reading whose answers came far apart. */
export const MAX_REFERENCE_AGE_MS = 5_000;

const NO_ERRORS: Readonly<Record<string, number>> = Object.freeze({});

export class StatsReport {
  readonly #ledger = new CounterLedger();
  readonly #rates = new RateTracker<RuleEntry | OutputEntry>();
  /**
   * Per slot, the counters object the last reading saw (build() or
   * observe()): a running slot with the same one again did not answer. An
   * observe() counts too: were a reading after it that did not answer taken
   * as fresh, the sample would lack that worker's share and the next rate
   * would jump (6 000 pps for a steady 1 000 after a clear).
   */
  readonly #lastSeen = new Map<string, WorkerCounters | undefined>();

  /** Builds the stats answer for `rules` from `slots` sampled at `atMs` (a monotonic clock). */
  build(slots: readonly CounterSlot[], rules: readonly Rule[], atMs: number): StatsResult {
    let complete = true;
    let firstRead = Infinity;
    let lastRead = -Infinity;
    for (const s of slots) {
      // A slot that is not running has no process forwarding: nothing missing.
      if (s.state !== 'running' || s.worker?.pid === undefined) continue;
      if (s.counters === undefined || this.#lastSeen.get(s.id) === s.counters) complete = false;
      else if (s.countersAtMs !== undefined) {
        firstRead = Math.min(firstRead, s.countersAtMs);
        lastRead = Math.max(lastRead, s.countersAtMs);
      }
    }
    // Spread answers still make a reference when there is none, or only one
    // older than MAX_REFERENCE_AGE_MS: on a host whose workers always answer
    // far apart (many workers on few cores) rates then come from a recent
    // sample, off by at most spread / 0.5 s, rather than from none or from
    // the start.
    const newest = this.#rates.newestSnapshotMs();
    if (lastRead - firstRead > MAX_READ_SPREAD_MS && newest !== undefined && atMs - newest < MAX_REFERENCE_AGE_MS) complete = false;
    this.observe(slots, rules);

    const entries: Array<RuleEntry | undefined> = rules.map((r) => this.#ledger.rule(r.id));
    const totals = new Map<RuleEntry | OutputEntry, number>();
    for (const e of entries) {
      if (e === undefined) continue;
      totals.set(e, e.seen);
      for (const o of e.outputs) totals.set(o, o.seen);
    }
    const rates = this.#rates.sample(atMs, totals, complete);

    const result: StatsResult = {
      rules: rules.map((r, i) => ruleStats(r.id, entries[i], rates.rate)),
      workers: slots.map((s) => ({ worker: s.id, interface: s.iface, received: s.counters?.received ?? 0,
        kernelDrops: s.counters?.kernelDrops ?? 0, restarts: s.restarts,
        loop: s.state === 'running' ? { ...(s.counters?.loop ?? {}) } : {} })),
      inputs: [...this.#ledger.inputs()].map(([name, e]): InputStats =>
        ({ interface: name, frames: e.frames, kernelDrops: e.kernelDrops, malformed: { ...e.malformed }, unmatched: e.unmatched })),
      // Read from the kernel, not the workers: daemon-handler.ts adds them.
      outputInterfaces: [],
    };
    if (rates.intervalMs !== undefined) result.rateIntervalMs = Math.round(rates.intervalMs);
    return result;
  }

  /** Counts what the slots' fresh counters add, for the rules and inputs that exist now, without an answer. */
  observe(slots: readonly LedgerSlot[], rules: readonly Rule[]): void {
    this.#ledger.track(rules, slots);
    this.#ledger.observe(slots);
    this.#lastSeen.clear();
    for (const s of slots) this.#lastSeen.set(s.id, s.counters);
  }

  /** A reload replaced rule `previousId` by `rule`: see CounterLedger.carry. */
  carry(previousId: number, rule: Rule): void {
    this.#ledger.carry(previousId, rule);
  }

  /** The stream monitor's counts mcrd keeps for rule `id` (jitter not included), if a worker reported any. */
  monitor(id: number): MonitorStats | undefined {
    return this.#ledger.rule(id)?.monitor;
  }

  /** Zeroes the counters of the rules `ids`, or of every rule and input (see CounterLedger.clear). */
  clear(ids?: readonly number[]): { ruleIds: number[]; inputs: string[] } {
    return this.#ledger.clear(ids);
  }
}

function ruleStats(ruleId: number, e: RuleEntry | undefined, rate: (key: RuleEntry | OutputEntry) => number | undefined): RuleStats {
  if (e === undefined) return { ruleId, packets: 0, bytes: 0, errors: 0, outputs: [] };
  let errors = 0;
  // pps where it always was in the JSON (after bytes), and only when there is a rate.
  const outputs = e.outputs.map((o): OutputStats => {
    errors += o.errors;
    const pps = rate(o);
    const byErrno = hasAny(o.errorsByErrno) ? { ...o.errorsByErrno } : (NO_ERRORS as Record<string, number>);
    return pps === undefined ? { packets: o.packets, bytes: o.bytes, errors: o.errors, errorsByErrno: byErrno }
      : { packets: o.packets, bytes: o.bytes, pps, errors: o.errors, errorsByErrno: byErrno };
  });
  const pps = rate(e);
  return pps === undefined ? { ruleId, packets: e.packets, bytes: e.bytes, errors, outputs }
    : { ruleId, packets: e.packets, bytes: e.bytes, pps, errors, outputs };
}

function hasAny(o: Record<string, number>): boolean {
  for (const _ in o) return true;
  return false;
}
