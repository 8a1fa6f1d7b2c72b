/**
 * The soak's fault schedule, decided up front from the seed: one epoch of
 * 10–30 s per fault, each split into a steady lead (traffic, no fault), the
 * fault phase and a steady tail. Kinds are drawn in shuffled rounds (every
 * kind once per round, in a random order) rather than independently, so a
 * 10-minute run meets every kind at least twice instead of by luck. Targets
 * (which output, which worker) are drawn here as a number in [0, 1) and
 * resolved against what exists at run time, so the plan stays pure.
 */
import { SeededRandom } from './rng.js';

export const FAULT_KINDS = [
  'worker-kill',
  'worker-stop',
  'output-down',
  'output-mtu',
  'output-address',
  'input-down',
  'rule-churn',
  'config-reload',
  'control-burst',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** 'none' runs the epochs with no fault at all (calibration of the rate). */
export type PlannedKind = FaultKind | 'none';

export interface PlannedFault {
  index: number;
  kind: PlannedKind;
  /** Planned length of the epoch: fault to next fault, seconds. */
  epochSec: number;
  /** Steady traffic before the fault phase, seconds. */
  leadSec: number;
  /** How long the fault holds (interface down, MTU low, address gone), ms. */
  holdMs: number;
  /** Resolves the target at run time: items[Math.floor(pick * items.length)]. */
  pick: number;
  /** Size of the fault (churn cycles, burst clients), drawn per kind. */
  size: number;
}

export interface ScheduleOptions {
  seed: number;
  durationSec: number;
  kinds: readonly PlannedKind[];
  minEpochSec?: number;
  maxEpochSec?: number;
}

/** Shortest steady lead and tail of an epoch, seconds: enough for a phase's accounting to mean something. */
export const MIN_STEADY_SEC = 3;

export function planFaults(o: ScheduleOptions): PlannedFault[] {
  const minEpoch = o.minEpochSec ?? 10;
  const maxEpoch = o.maxEpochSec ?? 30;
  if (o.kinds.length === 0) throw new RangeError('planFaults needs at least one kind');
  if (!(minEpoch >= 2 * MIN_STEADY_SEC + 2 && maxEpoch >= minEpoch)) {
    throw new RangeError(`epoch bounds ${minEpoch}..${maxEpoch} s must leave ${MIN_STEADY_SEC} s of steady traffic either side`);
  }
  const rng = new SeededRandom(o.seed);
  const plan: PlannedFault[] = [];
  let round: PlannedKind[] = [];
  let at = 0;
  while (at < o.durationSec) {
    if (round.length === 0) round = rng.shuffle(o.kinds);
    const kind = round.shift() as PlannedKind;
    const epochSec = Math.round(rng.between(minEpoch, maxEpoch) * 10) / 10;
    // The lead takes up to a third of the epoch; the rest is fault + tail.
    const leadSec = Math.round(rng.between(MIN_STEADY_SEC, Math.max(MIN_STEADY_SEC, epochSec / 3)) * 10) / 10;
    const holdMs = kind === 'worker-stop' ? 5000 : rng.int(1000, 3000);
    const pick = rng.next();
    const size = kind === 'rule-churn' ? rng.int(1, 3) : kind === 'control-burst' ? rng.int(50, 200) : 1;
    plan.push({ index: plan.length, kind, epochSec, leadSec, holdMs, pick, size });
    at += epochSec;
  }
  return plan;
}

/** items[pick] for a draw in [0, 1); undefined for an empty list. */
export function pickOne<T>(items: readonly T[], pick: number): T | undefined {
  if (items.length === 0) return undefined;
  return items[Math.min(items.length - 1, Math.floor(pick * items.length))];
}

/** Parses `--faults`: 'all', 'none', or a comma-separated list of kinds. */
export function parseKinds(text: string): PlannedKind[] {
  if (text === 'all') return [...FAULT_KINDS];
  if (text === 'none') return ['none'];
  const kinds = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      throw new RangeError(`unknown fault kind "${k}": use all, none, or some of ${FAULT_KINDS.join(', ')}`);
    }
  }
  if (kinds.length === 0) throw new RangeError('--faults names no kind');
  return kinds as FaultKind[];
}
