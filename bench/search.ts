/**
 * The zero-loss throughput search for one cell (method × payload × fan-out),
 * RFC 2544 §26.1 style: the highest offered rate a trial passes at
 * loss ≤ 0.01 %.
 *
 * First a trial at the generator's maximum. If it passes (and its repeat
 * does), the method out-ran the generator: the result is "≥ that rate,
 * generator-limited". Otherwise the rate is bracketed by halving down from
 * what the generator actually offered in that failing trial until a trial
 * passes, the bracket is bisected, then one repeat at the highest
 * passing rate; if the repeat fails, step down and repeat again, a bounded
 * number of times. If nothing passed below the failures by then (the lower
 * bound, a pass at the generator's maximum or in the bracket, did not
 * hold), the search runs once more from the bottom, below the lowest
 * failure. The reported rate is what the generator achieved in the
 * verifying trial, and that trial's CPU cost is the cell's CPU figure.
 *
 * Each rate is judged by a majority when its first trial fails narrowly
 * (loss at most SPORADIC_LOSS): up to two more trials run (a second
 * failure ends it), and the rate passes when both pass. On these VMs the
 * relay core now and then does not run for a few milliseconds, whatever
 * runs on it, and one such stall fails a 5 s trial at 0.01 %
 * (docs/performance.md, "Stalls of the relay core"). A relay that is
 * really over its limit at that rate loses in most trials and fails; RFC
 * 9971 (MLRsearch) judges a load the same way, by the share of trials that
 * exceed the loss goal rather than by one.
 */
import type { BenchLab } from './bench-lab.js';
import { SPORADIC_LOSS, type BenchConfig, type Family, type MethodName } from './config.js';
import { kpps } from './limits.js';
import type { RunningMethod } from './methods/index.js';
import { disturbed, runTrial, type TrialResult, type TrialSpec } from './trial.js';

/** Runs one trial (the lab's `runTrial`, or a model of a relay in the unit tests). */
export type TrialRunner = (spec: TrialSpec) => Promise<TrialResult>;

export interface SearchResult {
  method: MethodName;
  payload: number;
  fanout: number;
  /** The stream's IP version; absent = IPv4. */
  family?: Family;
  /** Input datagrams per second forwarded with zero loss (0 when no rate passed). */
  zeroLossPps: number;
  /** The method passed at the generator's maximum: the true figure is ≥ zeroLossPps. */
  generatorLimited: boolean;
  /** The result was confirmed by a repeat at the same rate, below every rate that failed. */
  verified: boolean;
  /** When nothing passed: the lowest rate that failed. */
  failedBelowPps?: number;
  /** The trial whose rate and CPU cost are reported. */
  reported?: TrialResult;
  /** The lowest-rate failing trial: where the limit showed itself. */
  limiting?: TrialResult;
  trials: TrialResult[];
}

/** Bracketing takes at most this many trials, and never probes below FLOOR_PPS. */
const MAX_BRACKET_TRIALS = 10;
const FLOOR_PPS = 500;

export type TrialLogger = (t: TrialResult, note: string) => void;

/** A failure that bounds the search: not replaced by a repeat, nor outvoted by the majority at its rate. */
function counted(t: TrialResult): boolean {
  return !t.pass && t.superseded !== true && t.outvoted !== true;
}

export async function zeroLossSearch(
  bl: BenchLab,
  running: RunningMethod,
  cell: { method: MethodName; payload: number; fanout: number; family?: Family },
  config: BenchConfig,
  log: TrialLogger,
  run: TrialRunner = (spec) => runTrial(bl, running, spec),
): Promise<SearchResult> {
  const trials: TrialResult[] = [];
  const once = async (spec: TrialSpec, note: string): Promise<TrialResult> => {
    let t = await run(spec);
    trials.push(t);
    log(t, note);
    // The host is shared: a failure while something else took a real share of
    // the relay core says little about the method, so it gets one more chance.
    if (!t.pass && disturbed(t)) {
      t.superseded = true;
      t = await run({ ...spec, purpose: `${spec.purpose} (repeat: disturbed)` });
      trials.push(t);
      log(t, `${note}, repeated: other load took ${Math.round((100 * (trials.at(-2)?.interferenceSec ?? 0)) / t.windowSec)} % of core 1`);
    }
    return t;
  };
  const trial = async (rate: number, purpose: string, note: string): Promise<TrialResult> => {
    const spec: TrialSpec = { ...cell, rate, durationSec: config.trialSec, purpose };
    const first = await once(spec, note);
    if (first.pass || first.loss > SPORADIC_LOSS) return first;
    // A narrow failure: the majority of three trials decides the rate.
    const second = await once({ ...spec, purpose: `${purpose} (majority 2/3)` }, `${note}, majority trial 2 of 3`);
    if (!second.pass) return second;
    const third = await once({ ...spec, purpose: `${purpose} (majority 3/3)` }, `${note}, majority trial 3 of 3`);
    if (third.pass) first.outvoted = true;
    else second.minority = true;
    return third;
  };
  const result = (r: Omit<SearchResult, 'trials' | 'limiting' | keyof typeof cell>): SearchResult => {
    const failing = trials.filter(counted).sort((a, b) => a.gen.pps - b.gen.pps)[0];
    return { ...cell, ...r, ...(failing !== undefined ? { limiting: failing } : {}), trials };
  };

  const atMax = await trial(0, 'max', 'generator max');
  const maxTrials = [atMax];
  if (atMax.pass) {
    const again = await trial(0, 'verify', 'repeat at generator max');
    if (again.pass) {
      const reported = again.gen.pps < atMax.gen.pps ? again : atMax;
      return result({ zeroLossPps: reported.gen.pps, generatorLimited: true, verified: true, reported });
    }
    maxTrials.push(again);
  }

  // [lo, hi]: lo passed (0 trivially), hi failed. The generator's maximum
  // varies from trial to trial, so a passing max trial slower than the
  // failing one is a valid lower bound.
  const hi = Math.min(...maxTrials.filter((t) => !t.pass).map((t) => t.gen.pps));
  const lo = Math.max(0, ...maxTrials.filter((t) => t.pass && t.gen.pps < hi).map((t) => Math.floor(t.gen.pps)));
  // The first probe is the rate the method delivered while overloaded when
  // that is plausible (its zero-loss rate usually sits just below; under
  // receive livelock delivery collapses towards zero and is ignored), else hi/2.
  const overloaded = maxTrials.find((t) => !t.pass);
  const delivered = overloaded === undefined ? 0 : overloaded.received / cell.fanout / overloaded.gen.durationSec;
  const firstProbe = lo > 0 ? hi : delivered > hi / 64 && delivered < hi / 2 ? delivered : hi / 2;

  /** Phases 1–3 within [lo, hi]: the verified trial, or why there is none. */
  const searchWithin = async (lo: number, hi: number, probe: number): Promise<TrialResult | 'nothing passed' | 'not verified'> => {
    // Phase 1, bracketing: find a passing rate within a factor of two of a
    // failing one, halving down on failure and doubling up on success, so a
    // method whose zero-loss rate is a small fraction of the generator's
    // (socat, wide fan-out) is not lost below a linear search's resolution.
    for (let n = 1; (lo === 0 || hi > 2 * lo) && n <= MAX_BRACKET_TRIALS; n++) {
      if (lo > 0) probe = Math.min(2 * lo, (lo + hi) / 2);
      if (lo === 0 && probe < FLOOR_PPS) break;
      const rate = Math.round(probe);
      const t = await trial(rate, 'bracket', `bracket ${n} [${kpps(lo)}, ${kpps(hi)}]`);
      if (t.pass) lo = rate;
      else {
        hi = rate;
        probe = rate / 2;
      }
    }
    if (lo === 0) return 'nothing passed';

    // Phase 2: bisection of the bracket.
    const resolution = (hi - lo) / 2 ** config.bisectSteps;
    for (let step = 1; step <= config.bisectSteps; step++) {
      const mid = Math.round((lo + hi) / 2);
      const t = await trial(mid, 'bisect', `bisect ${step}/${config.bisectSteps} [${kpps(lo)}, ${kpps(hi)}]`);
      if (t.pass) lo = mid;
      else hi = mid;
    }

    // Phase 3: verify (lo passed once already: this is its repeat); on
    // failure step down by one bisection resolution (at least 5 %) and
    // verify again, where a pass needs a repeat of its own to be verified.
    let rate = lo;
    for (let down = 0; down <= config.maxStepDowns; down++) {
      const t = await trial(rate, 'verify', down === 0 ? 'verify' : `verify after step-down ${down}`);
      if (t.pass && down === 0) return t;
      if (t.pass) {
        const again = await trial(rate, 'verify', `verify after step-down ${down}, repeated`);
        if (again.pass) return again.gen.pps < t.gen.pps ? again : t;
      }
      rate = Math.round(rate - Math.max(resolution, 0.05 * rate));
      if (rate <= 0) break;
    }
    return 'not verified';
  };
  const lowestFailure = () => Math.min(...trials.filter(counted).map((t) => t.gen.pps));
  // A pass the majority at its rate overruled is no lower bound.
  const passedBelow = (rate: number) => trials.filter((t) => t.pass && t.minority !== true && t.gen.pps < rate)
    .sort((a, b) => b.gen.pps - a.gen.pps)[0];

  // A verified pass at or above a rate that failed is no figure: the search
  // bounds by the rates asked for, and near its maximum the generator sends
  // a few % less than asked, so a pass can land above failures that really
  // sent less (found in 2026-12-06T11-05-47Z: 976 k above failures at
  // 946-975 k).
  const aboveAFailure = (o: Awaited<ReturnType<typeof searchWithin>>) => typeof o !== 'string' && o.gen.pps >= lowestFailure();
  let outcome = await searchWithin(lo, hi, firstProbe);
  // Search once more, below the lowest failure and from the best pass
  // under it (0 when there is none), where the verified rate is at or
  // above that failure, or where nothing passed below it (the lower bound
  // held only once: a pass at the generator's maximum or in the bracket,
  // and every rate tried at or below it since failed).
  if (aboveAFailure(outcome) || (outcome === 'not verified' && passedBelow(lowestFailure()) === undefined)) {
    const below = passedBelow(lowestFailure());
    const floor = below === undefined ? 0 : Math.floor(below.gen.pps);
    outcome = await searchWithin(floor, lowestFailure(), floor > 0 ? lowestFailure() : lowestFailure() / 2);
    if (aboveAFailure(outcome)) outcome = 'not verified';
  }
  if (outcome === 'nothing passed') {
    return result({ zeroLossPps: 0, generatorLimited: false, verified: false, failedBelowPps: lowestFailure() });
  }
  if (outcome !== 'not verified') {
    return result({ zeroLossPps: outcome.gen.pps, generatorLimited: false, verified: true, reported: outcome });
  }

  // Never confirmed: report the best trial that passed below every failure, marked unverified.
  const lowestFail = lowestFailure();
  const best = passedBelow(lowestFail);
  return result({
    zeroLossPps: best?.gen.pps ?? 0,
    generatorLimited: false,
    verified: false,
    ...(best !== undefined ? { reported: best } : { failedBelowPps: lowestFail }),
  });
}
