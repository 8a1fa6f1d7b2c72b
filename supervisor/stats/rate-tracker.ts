/**
 * Packet rates from successive counter samples, for `mcrctl stats`.
 *
 * Workers report counters since they started; mcrd samples them on each
 * stats request. This module turns those readings into rates in two steps:
 *
 * 1. Per worker, the increase of each counter since that worker's previous
 *    reading is added to a running total per key (a rule, an output). A
 *    worker that was restarted (another pid) or whose counter went down (its
 *    loop's table was replaced) counted from zero, so its whole current value
 *    is the increase: totals never go down and rates are never negative, the
 *    same rule as Prometheus' rate() on counter resets. Summing per worker
 *    rather than per rule keeps one worker's reset from hiding in another's
 *    growth.
 * 2. The totals are kept in a short history of snapshots; a rate is the
 *    growth of a total between the newest snapshot at least
 *    MIN_RATE_INTERVAL_MS old and now. Shorter intervals are refused: packets
 *    move in batches, and two requests a few milliseconds apart would give
 *    numbers that mean nothing. Without such a snapshot, or for a key that
 *    did not exist in it (a rule added since), there is no rate, and callers
 *    say so instead of printing 0.
 *
 * Pure: the caller passes the time, from a monotonic clock (a wall clock
 * stepping back would make intervals negative), and the readings.
 */
import { MIN_RATE_INTERVAL_MS } from '../../common/defaults.js';

/** Rates over a shorter interval than this are not reported. */
export { MIN_RATE_INTERVAL_MS };
/**
 * Readings closer than this to the newest snapshot update the totals but are
 * not kept as a snapshot: it bounds the history to about
 * MIN_RATE_INTERVAL_MS / MIN_SNAPSHOT_SPACING_MS + 1 entries whatever the
 * request rate.
 */
export const MIN_SNAPSHOT_SPACING_MS = 100;

/**
 * One worker at one sample: its counters as read now (`read`); no process
 * (`idle`: it counts nothing until a new one starts); or a live process that
 * did not answer (`unread`: its counts since the last reading are unknown).
 */
export type WorkerReading =
  | {
    state: 'read';
    /** Stable id of the worker slot ("eth0/1"). */
    worker: string;
    /** Identifies the process (its pid): a new one starts its counters at zero. */
    instance: number;
    /** Counter per key. */
    counters: ReadonlyMap<string, number>;
  }
  | { state: 'idle' | 'unread'; worker: string };

/** The outcome of one sample. */
export interface RateSample {
  /** Milliseconds the rates are measured over; undefined when there are none. */
  intervalMs: number | undefined;
  /** Per second over intervalMs; undefined for a key without an earlier snapshot. */
  rate(key: string): number | undefined;
}

interface Snapshot {
  atMs: number;
  totals: ReadonlyMap<string, number>;
}

export class RateTracker {
  readonly #last = new Map<string, { instance: number; counters: ReadonlyMap<string, number> }>();
  readonly #totals = new Map<string, number>();
  #history: Snapshot[] = [];

  /**
   * Records the readings of every worker that exists now, taken at `atMs`,
   * and returns the rates for `keys` (the rules and outputs that exist now).
   * Workers left out no longer exist and are forgotten, as are totals of
   * keys not in `keys`. A sample with an `unread` worker still gets rates
   * (short of that worker's share) but is not kept as a snapshot: its totals
   * are short, and a later rate measured from it would count that share in
   * the wrong interval.
   */
  sample(atMs: number, readings: readonly WorkerReading[], keys: Iterable<string>): RateSample {
    const wanted = new Set(keys);
    for (const r of readings) if (r.state === 'read') this.#observe(r, wanted);
    const present = new Set(readings.map((r) => r.worker));
    for (const worker of this.#last.keys()) if (!present.has(worker)) this.#last.delete(worker);
    for (const key of this.#totals.keys()) if (!wanted.has(key)) this.#totals.delete(key);
    const complete = readings.every((r) => r.state !== 'unread');

    const now: Snapshot = { atMs, totals: new Map([...wanted].map((k) => [k, this.#totals.get(k) ?? 0])) };
    const refIndex = this.#referenceIndex(atMs);
    const ref = refIndex === -1 ? undefined : this.#history[refIndex];
    // Older snapshots than the reference can never be the reference again:
    // later samples are further from it still.
    if (refIndex > 0) this.#history = this.#history.slice(refIndex);
    const newest = this.#history.at(-1);
    if (complete && (newest === undefined || atMs - newest.atMs >= MIN_SNAPSHOT_SPACING_MS)) this.#history.push(now);

    if (ref === undefined) return { intervalMs: undefined, rate: () => undefined };
    const intervalMs = atMs - ref.atMs;
    return {
      intervalMs,
      rate: (key) => {
        const before = ref.totals.get(key);
        const after = now.totals.get(key);
        if (before === undefined || after === undefined) return undefined;
        return ((after - before) * 1000) / intervalMs;
      },
    };
  }

  /** How many snapshots are kept (for tests of the bound). */
  get historyLength(): number {
    return this.#history.length;
  }

  #observe(r: WorkerReading & { state: 'read' }, wanted: ReadonlySet<string>): void {
    const prev = this.#last.get(r.worker);
    const same = prev !== undefined && prev.instance === r.instance ? prev.counters : undefined;
    for (const [key, value] of r.counters) {
      if (!wanted.has(key)) continue;
      const before = same?.get(key) ?? 0;
      const increase = value >= before ? value - before : value;
      this.#totals.set(key, (this.#totals.get(key) ?? 0) + increase);
    }
    this.#last.set(r.worker, { instance: r.instance, counters: r.counters });
  }

  /** Index of the newest snapshot at least MIN_RATE_INTERVAL_MS before atMs, or -1. */
  #referenceIndex(atMs: number): number {
    for (let i = this.#history.length - 1; i >= 0; i--) {
      const s = this.#history[i];
      if (s !== undefined && atMs - s.atMs >= MIN_RATE_INTERVAL_MS) return i;
    }
    return -1;
  }
}
