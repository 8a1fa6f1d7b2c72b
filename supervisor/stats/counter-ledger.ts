/**
 * mcrd's own counters: per rule, per output (errors by errno included) and
 * per input interface, for the life of the rule (from `add` or config load
 * until `remove`) or of the input (while a rule or a worker slot uses it),
 * whatever happens to the workers that count.
 *
 * Workers count since their process started (a sync keeps a rule's counts:
 * worker/counter-carry.ts). The ledger adds each fresh reading's increase
 * over the same worker slot's previous reading to its totals: a reading of
 * another process (its pid, WorkerCounters.pid) or a counter lower than
 * before counted from zero, so its whole value is the increase. So a worker
 * restart, a crash (kill -9), a resync or an output's address change never
 * takes anything off a total; what a crashed worker counted after mcrd last
 * read it (the last `stats` or scrape) is lost, never subtracted.
 *
 * A rule a reload changes gets a new id (rule-table.ts): carry() moves the
 * old rule's totals to it, and the totals of each output that stayed,
 * matched by destination group, port and interface (the n-th output with a
 * key to the n-th with the same key), not by index; an output that is new
 * starts at zero. clear() sets totals to zero on purpose (mcrctl clear).
 *
 * The stream monitor's counts of a rule (monitor-counts.ts) are kept the
 * same way; its jitter, a gauge, is not (stream-stats.ts takes the workers').
 *
 * Each rule and output also keeps `seen`, the packets counted over its
 * life, which clear() leaves alone: the rate tracker measures pps on it, so
 * a clear never shows as a negative or spiked rate. The entry objects are
 * stable for the life of a rule and its outputs (carry() moves them), and
 * serve as the rate tracker's keys.
 */
import type { MonitorStats, Rule, WorkerCounters } from '../../proto/index.js';
import { matchOutputs, outputKey } from '../../common/output-match.js';
import { emptyMonitor, MONITOR_COUNTERS } from './monitor-counts.js';

/** The loop counters that count malformed frames, by reason (native/core/counters.h). */
const DROP_PREFIX = 'drop_';

export interface OutputEntry {
  packets: number;
  bytes: number;
  errors: number;
  errorsByErrno: Record<string, number>;
  /** Packets over the output's life, never cleared (for rates). */
  seen: number;
}

export interface RuleEntry {
  packets: number;
  bytes: number;
  /** Packets over the rule's life, never cleared (for rates). */
  seen: number;
  /** In the order of the rule's outputs now. */
  outputs: OutputEntry[];
  /** group:port:interface of each output, to match them when a reload changes the rule. */
  outputKeys: string[];
  /** The stream monitor's counts (rules with `monitor`, once a worker reported them); rtpJitterUs unused here. */
  monitor?: MonitorStats;
  /** The last track() that saw the rule in the table. */
  stamp: number;
}

export interface InputEntry {
  frames: number;
  kernelDrops: number;
  unmatched: number;
  /** By reason, the loop's drop_* counters without the prefix. */
  malformed: Record<string, number>;
  stamp: number;
}

/** What the ledger needs of a fleet slot. */
export interface LedgerSlot {
  id: string;
  iface: string;
  worker: { readonly pid: number | undefined } | undefined;
  counters: WorkerCounters | undefined;
}

interface LastReading {
  pid: number;
  rules: Map<number, WorkerCounters['rules'][number]>;
  loop: Readonly<Record<string, number>>;
}

const newOutput = (): OutputEntry => ({ packets: 0, bytes: 0, errors: 0, errorsByErrno: {}, seen: 0 });

/** The increase from `before` to `now` of a counter that restarts from zero: all of `now` when it went down or was not there. */
function increase(now: number, before: number | undefined): number {
  return before === undefined || now < before ? now : now - before;
}

export class CounterLedger {
  readonly #rules = new Map<number, RuleEntry>();
  readonly #inputs = new Map<string, InputEntry>();
  readonly #last = new Map<string, LastReading>();
  readonly #seen = new WeakSet<WorkerCounters>();
  #stamp = 0;

  /**
   * Brings the entries in line with what exists now: every rule of the
   * table and every input interface of a rule or a slot has one (new ones at
   * zero); the others' are dropped, and so are the last readings of slots
   * that no longer exist (a slot coming back is a new process anyway).
   */
  track(rules: readonly Rule[], slots: readonly LedgerSlot[]): void {
    const stamp = ++this.#stamp;
    for (const rule of rules) {
      const entry = this.#rules.get(rule.id);
      if (entry !== undefined) {
        entry.stamp = stamp;
      } else {
        this.#rules.set(rule.id, { packets: 0, bytes: 0, seen: 0, outputs: rule.outputs.map(newOutput),
          outputKeys: rule.outputs.map(outputKey), stamp });
      }
      this.#input(rule.inputInterface, stamp);
    }
    for (const s of slots) this.#input(s.iface, stamp);
    for (const [id, entry] of this.#rules) if (entry.stamp !== stamp) this.#rules.delete(id);
    for (const [name, entry] of this.#inputs) if (entry.stamp !== stamp) this.#inputs.delete(name);
    if (this.#last.size > slots.length || slots.some((s) => !this.#last.has(s.id))) {
      const present = new Set(slots.map((s) => s.id));
      for (const id of this.#last.keys()) if (!present.has(id)) this.#last.delete(id);
    }
  }

  /**
   * Adds what each slot's counters grew by since the ledger last read that
   * slot. Counters objects it has read before (a slot keeps its last ones
   * while its worker restarts or when a ping fails) add nothing. Returns
   * the slots whose counters were fresh.
   */
  observe(slots: readonly LedgerSlot[]): Set<string> {
    const fresh = new Set<string>();
    for (const s of slots) {
      const c = s.counters;
      if (c === undefined || this.#seen.has(c)) continue;
      this.#seen.add(c);
      fresh.add(s.id);
      // A worker of an older build does not say its pid: the slot's process then.
      const pid = c.pid !== undefined && c.pid !== 0 ? c.pid : (s.worker?.pid ?? 0);
      const prev = this.#last.get(s.id);
      const same = prev !== undefined && prev.pid === pid ? prev : undefined;
      const rules = new Map<number, WorkerCounters['rules'][number]>();
      for (const r of c.rules) {
        rules.set(r.ruleId, r);
        const entry = this.#rules.get(r.ruleId);
        if (entry !== undefined) this.#addRule(entry, r, same?.rules.get(r.ruleId));
      }
      // A rule of the table absent from this reading of the same process
      // (a sync refused it; its retry has not installed it yet) keeps its
      // last reading: the worker carries its counts meanwhile
      // (worker/counter-carry.ts), so when it is back only what it counted
      // since that reading is new.
      if (same !== undefined) {
        for (const [id, r] of same.rules) if (!rules.has(id) && this.#rules.has(id)) rules.set(id, r);
      }
      const input = this.#inputs.get(s.iface);
      if (input !== undefined) addLoop(input, c.loop, same?.loop);
      this.#last.set(s.id, { pid, rules, loop: c.loop });
    }
    return fresh;
  }

  /**
   * A reload replaced rule `previousId` by `rule` (same match, another
   * field changed): the new rule goes on with the old one's totals, and each
   * of its outputs with those of the old output of the same group, port and
   * interface. Nothing happens when the old rule has no entry.
   */
  carry(previousId: number, rule: Rule): void {
    const old = this.#rules.get(previousId);
    if (old === undefined) return;
    this.#rules.delete(previousId);
    const keys = rule.outputs.map(outputKey);
    const outputs = matchOutputs(old.outputKeys, keys).map((i) => (i < 0 ? undefined : old.outputs[i]) ?? newOutput());
    // The same object: it is the rate tracker's key, so the rule's rate goes on.
    old.outputs = outputs;
    old.outputKeys = keys;
    this.#rules.set(rule.id, old);
  }

  /**
   * Sets counters to zero on purpose: the rules `ids` (those that have an
   * entry), or with `ids` undefined every rule and every input. Rates are
   * not affected (`seen` stays). Returns what was cleared.
   */
  clear(ids?: readonly number[]): { ruleIds: number[]; inputs: string[] } {
    const ruleIds = ids === undefined ? [...this.#rules.keys()] : ids.filter((id) => this.#rules.has(id));
    for (const id of ruleIds) {
      const e = this.#rules.get(id) as RuleEntry;
      e.packets = 0;
      e.bytes = 0;
      for (const o of e.outputs) {
        o.packets = 0;
        o.bytes = 0;
        o.errors = 0;
        o.errorsByErrno = {};
      }
      if (e.monitor !== undefined) e.monitor = emptyMonitor();
    }
    if (ids !== undefined) return { ruleIds, inputs: [] };
    for (const input of this.#inputs.values()) {
      input.frames = 0;
      input.kernelDrops = 0;
      input.unmatched = 0;
      for (const reason in input.malformed) input.malformed[reason] = 0;
    }
    return { ruleIds, inputs: [...this.#inputs.keys()] };
  }

  rule(id: number): RuleEntry | undefined {
    return this.#rules.get(id);
  }

  /** Every input interface tracked, in the order they were first seen. */
  inputs(): ReadonlyMap<string, InputEntry> {
    return this.#inputs;
  }

  #input(name: string, stamp: number): void {
    const entry = this.#inputs.get(name);
    if (entry !== undefined) entry.stamp = stamp;
    else this.#inputs.set(name, { frames: 0, kernelDrops: 0, unmatched: 0, malformed: {}, stamp });
  }

  #addRule(entry: RuleEntry, now: WorkerCounters['rules'][number], before: WorkerCounters['rules'][number] | undefined): void {
    const packets = increase(now.packets, before?.packets);
    entry.packets += packets;
    entry.seen += packets;
    entry.bytes += increase(now.bytes, before?.bytes);
    if (now.monitor !== undefined) {
      const m = (entry.monitor ??= emptyMonitor());
      for (const k of MONITOR_COUNTERS) m[k] += increase(now.monitor[k], before?.monitor?.[k]);
    }
    // The worker's outputs are in the order of the rule it was sent, which
    // is the table's rule of that id: index for index.
    const n = Math.min(now.outputs.length, entry.outputs.length);
    for (let i = 0; i < n; i++) {
      const o = now.outputs[i];
      const t = entry.outputs[i];
      if (o === undefined || t === undefined) continue;
      const b = before?.outputs[i];
      const sent = increase(o.packets, b?.packets);
      t.packets += sent;
      t.seen += sent;
      t.bytes += increase(o.bytes, b?.bytes);
      t.errors += increase(o.errors, b?.errors);
      for (const errno in o.errorsByErrno) {
        const d = increase(o.errorsByErrno[errno] ?? 0, b?.errorsByErrno[errno]);
        // Only errnos that occurred (since the rule was added or cleared), as the workers report them.
        if (d > 0) t.errorsByErrno[errno] = (t.errorsByErrno[errno] ?? 0) + d;
      }
    }
  }
}

/** Adds a worker's loop counters' growth to its input's totals. */
function addLoop(input: InputEntry, now: Readonly<Record<string, number>>, before: Readonly<Record<string, number>> | undefined): void {
  const grow = (name: string): number => increase(now[name] ?? 0, before?.[name]);
  input.frames += grow('frames');
  input.kernelDrops += grow('kernel_drops');
  input.unmatched += grow('no_rule');
  for (const name in now) {
    if (!name.startsWith(DROP_PREFIX)) continue;
    const reason = name.slice(DROP_PREFIX.length);
    input.malformed[reason] = (input.malformed[reason] ?? 0) + grow(name);
  }
}
