/**
 * Waits, a bounded time, for the host to be quiet before a trial starts.
 *
 * The suite may share its two cores with other work (builds, test runs).
 * Between trials the method under test is idle, so anything keeping core 1
 * (or core 0, where the generator runs) busy then is someone else's load,
 * and a trial started in it measures that load as much as the method. So
 * each trial first samples both cores for a moment and, while either is
 * busier than a threshold, waits and samples again: at most a few seconds
 * per trial and a fixed budget per run, so a busy host slows the run down
 * but never stalls it. What was waited, and how busy the host still was,
 * goes into the trial record; the trial's own interference figure says how
 * much other load got in during it.
 */
import { OTHER_CPU, RELAY_CPU } from './config.js';
import { busyShareBetween, readCpuTimes } from './host-counters.js';

/** Also the pause between trials: one trial's backlog never leaks into the next. */
const SAMPLE_MS = 250;
const PER_TRIAL_MAX_MS = 6000;
/** Quiet enough: the relay core under 10 % busy, the generator's core under 25 % (the runner lives there). */
const RELAY_CORE_MAX = 0.1;
const OTHER_CORE_MAX = 0.25;

let budgetMs = 180_000;

/** Total waiting allowed for the rest of this run (the quick preset keeps it short). */
export function setQuietBudget(ms: number): void {
  budgetMs = ms;
}

export interface QuietResult {
  waitedMs: number;
  /** Busy share of core 0 and core 1 in the last sample. */
  busy: [number, number];
}

export async function waitForQuiet(): Promise<QuietResult> {
  const start = Date.now();
  for (;;) {
    const busy = await sampleBusy();
    const waitedMs = Date.now() - start - SAMPLE_MS;
    const quiet = busy[1] <= RELAY_CORE_MAX && busy[0] <= OTHER_CORE_MAX;
    if (quiet || waitedMs >= PER_TRIAL_MAX_MS || waitedMs >= budgetMs) {
      budgetMs -= Math.max(0, waitedMs);
      return { waitedMs: Math.max(0, waitedMs), busy };
    }
  }
}

async function sampleBusy(): Promise<[number, number]> {
  const a = readCpuTimes();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  const b = readCpuTimes();
  const windowSec = (performance.now() - t0) / 1000;
  return [busyShareBetween(a, b, windowSec, [OTHER_CPU]), busyShareBetween(a, b, windowSec, [RELAY_CPU])];
}
