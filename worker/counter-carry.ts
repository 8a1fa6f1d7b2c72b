/**
 * Keeps a rule's counters across a replace of the worker's whole rule table
 * (mcrd's SyncRules: at a worker's start, after an output interface changed
 * address, on reload, to repair drift). A replace builds every rule afresh
 * with new counter slots, zeroed (native/core/counters.h, claim), so without
 * this a worker's counters for a rule that stayed would fall back to zero at
 * every sync, and the counts since mcrd last read them would be lost.
 *
 * After the swap, the old rule's slots still hold its final numbers (the
 * loop releases slots but only a later claim on this thread zeroes them), so
 * Relay.replaceRules hands the old and new rules here at once and the old
 * numbers are added to a base kept per rule id; stats() adds the base to the
 * live slots. Outputs are matched by destination group, port and interface
 * (the n-th output with a key to the n-th with the same key), not by index:
 * an output that stayed keeps its numbers, a new one starts at zero. The
 * stream monitor's counts (rtp_lost, ts_cc_errors, ...) are carried as
 * well, its jitter (a gauge) not. A rule the replace refused (EMFILE while
 * the old set still held its sockets, say) keeps its numbers for the
 * addRule that retries it, and through the replaces that refuse it again
 * or install it before that addRule (it is not read meanwhile). Sends
 * still in flight on the old outputs when the swap is read are counted on
 * the retired slots after it and not carried: at most a ring's worth.
 *
 * So a worker's counters never go down for as long as it runs; mcrd keeps
 * them across worker restarts (supervisor/stats/counter-ledger.ts).
 */
import type { CounterRecord } from './counters.js';
import { matchOutputs } from '../common/output-match.js';

/** What a rule's counters are read from: its outputs' keys and a reading of its slots. */
export interface CarriedRule {
  id: number;
  outputKeys: readonly string[];
  packets: number;
  bytes: number;
  /** The stream monitor's counters, when the rule has a monitor. */
  monitor?: Readonly<Record<string, unknown>>;
  outputs: ReadonlyArray<Readonly<Record<string, unknown>>>;
}

interface Base {
  /** The keys of the outputs `outputs` is indexed by (the rule as installed, or as refused). */
  outputKeys: readonly string[];
  packets: number;
  bytes: number;
  monitor: CounterRecord | undefined;
  /** Per output of the rule as installed now, its carried numbers (undefined: nothing carried). */
  outputs: Array<CounterRecord | undefined>;
}

/** Fields of an output's or the monitor's counters that are not counts and are never added up. */
const NOT_COUNTS = new Set(['last_errno', 'state', 'rtp_jitter']);

export class CounterCarry {
  readonly #base = new Map<number, Base>();

  /**
   * A replace happened: `before` are the rules installed until now, read
   * from their slots after the swap (with their own carried base added),
   * `after` the ids and output keys of the new set: those installed now and
   * those it refused (kept for the addRule that retries them). Rules not in
   * `after` are forgotten.
   */
  replaced(before: readonly CarriedRule[], after: ReadonlyArray<{ id: number; outputKeys: readonly string[] }>): void {
    const old = new Map(before.map((r) => [r.id, r]));
    const kept = new Map(this.#base);
    this.#base.clear();
    for (const r of after) {
      const prev = old.get(r.id);
      if (prev !== undefined) {
        const outputs = matchOutputs(prev.outputKeys, r.outputKeys).map((i) => (i < 0 ? undefined : counts(prev.outputs[i] ?? {})));
        this.#base.set(r.id, { outputKeys: r.outputKeys, packets: prev.packets, bytes: prev.bytes,
          monitor: prev.monitor !== undefined ? counts(prev.monitor) : undefined, outputs });
        continue;
      }
      // Not installed until now, so not read: a rule an earlier replace
      // refused, whose base is all it has counted in this process.
      const base = kept.get(r.id);
      if (base === undefined) continue;
      const outputs = matchOutputs(base.outputKeys, r.outputKeys).map((i) => (i < 0 ? undefined : base.outputs[i]));
      this.#base.set(r.id, { ...base, outputKeys: r.outputKeys, outputs });
    }
  }

  /** A rule was removed: nothing to carry for it. */
  forget(id: number): void {
    this.#base.delete(id);
  }

  /** The rule's reading with its carried base added (the same objects when nothing is carried). */
  add<R extends { packets: number; bytes: number; monitor?: CounterRecord; outputs: Array<Record<string, number | string | boolean>> }>(id: number, rule: R): R {
    const base = this.#base.get(id);
    if (base === undefined) return rule;
    rule.packets += base.packets;
    rule.bytes += base.bytes;
    if (rule.monitor !== undefined && base.monitor !== undefined) {
      for (const name in base.monitor) rule.monitor[name] = (rule.monitor[name] ?? 0) + (base.monitor[name] ?? 0);
    }
    rule.outputs.forEach((o, i) => {
      const b = base.outputs[i];
      if (b === undefined) return;
      for (const name in b) {
        const v = o[name];
        o[name] = (typeof v === 'number' ? v : 0) + (b[name] ?? 0);
      }
    });
    return rule;
  }
}

function counts(o: Readonly<Record<string, unknown>>): CounterRecord {
  const out: CounterRecord = {};
  for (const name in o) {
    const v = o[name];
    if (typeof v === 'number' && !NOT_COUNTS.has(name)) out[name] = v;
  }
  return out;
}
