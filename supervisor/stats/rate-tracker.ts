/**
 * Packet rates from successive samples of running totals, for `mcrctl
 * stats`. The totals come from the CounterLedger (counter-ledger.ts): one
 * per rule and per output, kept by mcrd across worker restarts and
 * counter resets and never cleared, so they only grow and a rate is never
 * negative nor spiked by a restart, a reload or `mcrctl clear` (clear zeroes
 * what stats shows, not these).
 *
 * The totals are kept in a short history of snapshots; a rate is the growth
 * of a total between the newest snapshot at least MIN_RATE_INTERVAL_MS old
 * and now. Shorter intervals are refused: packets move in batches, and two
 * requests a few milliseconds apart would give numbers that mean nothing.
 * Without such a snapshot, or for a key that did not exist in it (a rule
 * added since), there is no rate, and callers say so instead of printing 0.
 * Keys are whatever identifies a total for its whole life (the ledger's
 * entry objects: a rule changed by a reload keeps its entry, so its rate
 * goes on without a gap).
 *
 * Pure: the caller passes the time, from a monotonic clock (a wall clock
 * stepping back would make intervals negative), and the totals.
 */
import { MIN_RATE_INTERVAL_MS } from '../../common/defaults.js';

/** Rates over a shorter interval than this are not reported. */
export { MIN_RATE_INTERVAL_MS };
/**
 * Samples closer than this to the newest snapshot are not kept as a
 * snapshot: it bounds the history to about
 * MIN_RATE_INTERVAL_MS / MIN_SNAPSHOT_SPACING_MS + 1 entries whatever the
 * request rate.
 */
export const MIN_SNAPSHOT_SPACING_MS = 100;

/** The outcome of one sample. */
export interface RateSample<K> {
  /** Milliseconds the rates are measured over; undefined when there are none. */
  intervalMs: number | undefined;
  /** Per second over intervalMs; undefined for a key without an earlier snapshot. */
  rate(key: K): number | undefined;
}

interface Snapshot<K> {
  atMs: number;
  totals: ReadonlyMap<K, number>;
}

export class RateTracker<K> {
  #history: Array<Snapshot<K>> = [];

  /** When the newest sample kept to measure later rates from was taken; undefined with none. */
  newestSnapshotMs(): number | undefined {
    return this.#history.at(-1)?.atMs;
  }

  /**
   * Records the totals of every key that exists now, taken at `atMs`, and
   * returns their rates. A sample that is not `complete` (a running worker
   * did not answer: its share is missing from the totals) still gets rates
   * but is not kept as a snapshot: a later rate measured from it would
   * count that share in the wrong interval.
   */
  sample(atMs: number, totals: ReadonlyMap<K, number>, complete: boolean): RateSample<K> {
    const refIndex = this.#referenceIndex(atMs);
    const ref = refIndex === -1 ? undefined : this.#history[refIndex];
    // Older snapshots than the reference can never be the reference again:
    // later samples are further from it still.
    if (refIndex > 0) this.#history = this.#history.slice(refIndex);
    const newest = this.#history.at(-1);
    if (complete && (newest === undefined || atMs - newest.atMs >= MIN_SNAPSHOT_SPACING_MS)) this.#history.push({ atMs, totals });

    if (ref === undefined) return { intervalMs: undefined, rate: () => undefined };
    const intervalMs = atMs - ref.atMs;
    return {
      intervalMs,
      rate: (key) => {
        const before = ref.totals.get(key);
        const after = totals.get(key);
        if (before === undefined || after === undefined) return undefined;
        // The ledger's totals never go down; a guard all the same: a rate is never negative.
        return (Math.max(0, after - before) * 1000) / intervalMs;
      },
    };
  }

  /** How many snapshots are kept (for tests of the bound). */
  get historyLength(): number {
    return this.#history.length;
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
