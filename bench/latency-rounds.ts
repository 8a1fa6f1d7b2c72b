/**
 * The suite's latency trials, interleaved across methods: after every
 * method's fan-out-1 search at one payload, each round starts each method
 * in turn (the order rotated by one per round), runs one trial at each of
 * its points (its loads, then the equal rates it carries) and stops it.
 * A method's trials are thus spread over the whole phase instead of taken
 * back to back, so a change of the host's state that lasts minutes (these
 * VMs' p50 at one rate moved by 20 µs between runs an hour apart) falls on
 * every method alike rather than on whichever ran then; the comparisons of
 * MCR with each anchor are of trials seconds apart. In runs before
 * 2026-12-06T21-26-55Z (LatencyConfig.interleaved absent) each method's trials ran
 * right after its own search, minutes from the anchors'.
 */
import type { BenchLab } from './bench-lab.js';
import type { LatencyConfig } from './config.js';
import { describeError } from './errors.js';
import { latencyTrial, plannedPoints, trialInto, type CellLatency, type LatencyTrial } from './latency.js';
import type { RunningMethod } from './methods/index.js';
import type { CellResult } from './results.js';

/** How a round gets a method running (the suite's start and warm-up) for one cell. */
export type StartCell = (cell: CellResult) => Promise<Pick<RunningMethod, 'stop'>>;
/** One latency trial at a rate against whatever method runs (latency.ts's latencyTrial in the suite; a fake in tests). */
export type RunTrial = (ratePps: number) => Promise<LatencyTrial>;

/**
 * Measures latency for `cells` (one payload, fan-out 1) in `l.trials`
 * interleaved rounds, filling each cell's `latency`. A cell without a
 * zero-loss rate is marked skipped; a point whose trial fails keeps its
 * error and is not tried again; a method that fails to start in a round
 * records the error on the points that round would have measured (and in
 * the run's errors, as a stop that fails does).
 */
export async function measureLatencyRounds(bl: BenchLab, l: LatencyConfig, payload: number, cells: readonly CellResult[],
  start: StartCell, hooks: RoundHooks): Promise<void> {
  const trial: RunTrial = (ratePps) => latencyTrial(bl, payload, ratePps, l.trialSec, { catchUpUs: l.generatorCatchUpUs });
  await latencyRounds(l, payload, cells, start, trial, hooks);
}

export interface RoundHooks {
  log(msg: string): void;
  /** A method that could not be started or stopped for its round: for the run's error list. */
  failed(where: string, error: { code: string; message: string }): void;
}

/** measureLatencyRounds with the trial given: the rounds, their order and their bookkeeping. */
export async function latencyRounds(l: LatencyConfig, payload: number, cells: readonly CellResult[], start: StartCell,
  trial: RunTrial, hooks: RoundHooks): Promise<void> {
  const { log } = hooks;
  const measured: CellResult[] = [];
  for (const cell of cells) {
    const basis = cell.search?.zeroLossPps ?? 0;
    if (cell.search === undefined) continue;
    if (basis <= 0) {
      cell.latency = { basisPps: basis, points: [], skipped: 'no zero-loss rate to take a fraction of' };
      continue;
    }
    cell.latency = { basisPps: basis, points: plannedPoints(l, basis).map((p) => ({ ...p, trials: [] })) };
    measured.push(cell);
  }
  for (let round = 0; round < l.trials; round++) {
    for (const cell of rotate(measured, round)) {
      const lat = cell.latency as CellLatency;
      const open = lat.points.filter((p) => p.error === undefined);
      if (open.length === 0) continue;
      const name = `${cell.method} ${payload} B ×1 latency round ${round + 1}`;
      let running: Pick<RunningMethod, 'stop'> | undefined;
      try {
        running = await start(cell);
        for (const point of open) await trialInto(point, () => trial(point.ratePps), (m) => log(`${name} ${m}`));
      } catch (err) {
        const error = describeError(err);
        for (const point of open) point.error ??= error;
        hooks.failed(`${name} start`, error);
        log(`${name}: FAILED ${error.code} ${error.message}`);
      } finally {
        if (running !== undefined) {
          await running.stop().catch((err: unknown) => {
            const error = describeError(err);
            hooks.failed(`${name} stop`, error);
            log(`${name}: stop FAILED ${error.code} ${error.message}`);
          });
        }
      }
    }
  }
}

/** `items` starting at index `by` (mod length), wrapping around: round r puts a different method first. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const n = items.length;
  if (n === 0) return [];
  const k = ((by % n) + n) % n;
  return [...items.slice(k), ...items.slice(0, k)];
}
