/**
 * One-way latency of a running method (issue 15, "Latency"): mcrgen
 * --timestamp stamps each datagram with its send time (CLOCK_REALTIME, just
 * before its sendmmsg call), mcrsink --latency on the first output's sink
 * takes the kernel's receive time of each (SO_TIMESTAMPNS, CLOCK_REALTIME,
 * as the datagram enters the sink namespace's receive path) and reports the
 * percentiles of the difference. Generator, method and sink share the
 * host's clock, so no synchronisation is involved.
 *
 * The suite measures each fan-out-1 cell at each configured load (10 % and
 * 50 % of that cell's zero-loss rate) and at the equal rates, each
 * repeated (7 trials in a full run, 3 in a quick one, interleaved across
 * methods: latency-rounds.ts, LATENCY_ROUNDS_FULL):
 * these hosts have millisecond hiccups, so the report gives the median of
 * each percentile over the trials and their min..max.
 * The sink is the only process that reads the stream; it runs on core 0
 * with the generator, as the sinks' receive path does in the throughput
 * trials. Nothing here decides pass or fail: latency trials are reported,
 * loss in them included.
 */
import type { BenchLab } from './bench-lab.js';
import { GROUP, OTHER_CPU, PORT, type LatencyConfig } from './config.js';
import { BenchError, describeError } from './errors.js';
import { runGenerator, type GenOptions, type GenReport } from './generator.js';
import { nativeToolPath } from '../tools/native-tool.js';
import { waitForQuiet } from './quiet.js';

/** mcrsink's "latency" object (docs/tools.md, "mcrsink"). */
export interface SinkLatency {
  count: number;
  untimed: number;
  noKernelTime: number;
  negative: number;
  overflow: number;
  minUs: number | null;
  p50Us: number | null;
  p99Us: number | null;
  p999Us: number | null;
  maxUs: number | null;
  meanUs: number | null;
}

export const PERCENTILES = ['p50Us', 'p99Us', 'p999Us', 'maxUs'] as const;
export type PercentileKey = (typeof PERCENTILES)[number];

export interface LatencyTrial {
  sent: number;
  received: number;
  latency: SinkLatency;
}

/** Median and spread of one percentile over the trials of a point, µs. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface LatencyPoint {
  /** Fraction of the basis rate (0.1, 0.5), or undefined for a fixed rate. */
  load?: number;
  ratePps: number;
  trials: LatencyTrial[];
  /** Per percentile over the trials that measured anything; absent when none did. */
  summary?: Record<PercentileKey, Spread>;
  error?: { code: string; message: string };
}

export interface CellLatency {
  /** The zero-loss rate the loads are fractions of. */
  basisPps: number;
  points: LatencyPoint[];
  /** Why nothing was measured (e.g. the cell had no zero-loss rate). */
  skipped?: string;
}

/** Slack for the sink beyond the traffic: start, idle end, report. */
const SINK_SLACK_SEC = 10;
/** The sink ends this long after the last datagram: the method has delivered what it will by then. */
const SINK_IDLE_SEC = 1;

/**
 * The points a method with zero-loss rate `basisPps` is measured at: each
 * configured load of it, then each equal rate (`l.equalRatesPps`, no
 * `load`) up to it: a method is not measured past the rate it carries
 * without loss.
 */
export function plannedPoints(l: LatencyConfig, basisPps: number): Array<{ load?: number; ratePps: number }> {
  return [
    ...l.loads.map((load) => ({ load, ratePps: Math.max(1, Math.round(load * basisPps)) })),
    ...(l.equalRatesPps ?? []).filter((r) => r <= basisPps).map((ratePps) => ({ ratePps })),
  ];
}

/** `l.trials` latency trials at one fixed rate. A failing trial ends the point with its error. */
export async function measurePoint(bl: BenchLab, l: LatencyConfig, payload: number, ratePps: number,
  log: (msg: string) => void): Promise<LatencyPoint> {
  const point: LatencyPoint = { ratePps, trials: [] };
  const run = (): Promise<LatencyTrial> => latencyTrial(bl, payload, ratePps, l.trialSec, { catchUpUs: l.generatorCatchUpUs });
  for (let i = 0; i < l.trials && point.error === undefined; i++) await trialInto(point, run, log);
  return point;
}

/**
 * One trial at the point's rate, added to it: the summary follows every
 * trial (a run stopped between trials still reports what they measured);
 * a failure is kept on the point, which ends it.
 */
export async function trialInto(point: LatencyPoint, run: () => Promise<LatencyTrial>, log: (msg: string) => void): Promise<void> {
  try {
    const trial = await run();
    point.trials.push(trial);
    const summary = summarise(point.trials);
    if (summary !== undefined) point.summary = summary;
    log(`latency at ${point.ratePps} pps, trial ${point.trials.length}: ${trialText(trial)}`);
  } catch (err) {
    point.error = describeError(err);
    log(`latency at ${point.ratePps} pps FAILED ${point.error.code} ${point.error.message}`);
  }
}

/**
 * How the generator runs in a latency trial: its catch-up
 * (LatencyConfig.generatorCatchUpUs; absent: the run's setting, 2000 µs)
 * and, in `bench:latency`'s diagnostic variants only, a SCHED_FIFO priority:
 * on this lab's shared core 0 a real-time generator starves the sink from
 * about 200 kpps (docs/performance.md, "Generator stalls on core 0").
 */
export type TrialGenerator = Pick<GenOptions, 'catchUpUs' | 'fifoPriority'>;

/** One trial: the sink on output 0, then `seconds` of timestamped traffic at `ratePps`. */
export async function latencyTrial(bl: BenchLab, payload: number, ratePps: number, seconds: number,
  generator: TrialGenerator = {}): Promise<LatencyTrial> {
  const { rl } = bl;
  const sinkHost = rl.sinks[0];
  if (sinkHost === undefined) throw new BenchError('ERR_BENCH_ENV', 'the lab has no sink');
  await waitForQuiet();
  const sink = rl.lab.spawn(sinkHost.ns, 'taskset', ['-c', String(OTHER_CPU), nativeToolPath('mcrsink'),
    '--group', GROUP, '--interface', sinkHost.ifname, '--port', String(PORT), '--latency',
    '--duration', String(seconds + SINK_SLACK_SEC), '--idle', String(SINK_IDLE_SEC)]);
  let gen: GenReport;
  try {
    await sink.waitForLine('stderr', /"event":"ready"/, 10_000);
    gen = await runGenerator(bl, { rate: ratePps, size: payload, durationSec: seconds, timestamp: true, ...generator });
  } catch (err) {
    await sink.stop('SIGTERM', 5000).catch(() => undefined);
    throw err;
  }
  const line = await sink.waitForLine('stdout', /^\{/, (seconds + SINK_SLACK_SEC + 5) * 1000).catch(() => undefined);
  await sink.stop('SIGTERM', 5000).catch(() => undefined);
  if (line === undefined) throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `mcrsink printed no report: ${sink.stderrLines.slice(-3).join(' ')}`);
  const rep = JSON.parse(line) as { received?: number; latency?: SinkLatency | null };
  if (typeof rep.received !== 'number' || rep.latency === undefined || rep.latency === null) {
    throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `mcrsink report without received/latency: ${line.slice(0, 300)}`);
  }
  return { sent: gen.sent, received: rep.received, latency: rep.latency };
}

/** Median and min..max of each percentile over the trials that measured at least one datagram. */
export function summarise(trials: readonly LatencyTrial[]): Record<PercentileKey, Spread> | undefined {
  const measured = trials.filter((t) => t.latency.count > 0);
  if (measured.length === 0) return undefined;
  const out = {} as Record<PercentileKey, Spread>;
  for (const key of PERCENTILES) {
    const values = measured.map((t) => t.latency[key] ?? 0).sort((a, b) => a - b);
    out[key] = { median: median(values), min: values[0] ?? 0, max: values[values.length - 1] ?? 0 };
  }
  return out;
}

/** Median of sorted values (mean of the middle two for an even count). */
export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const mid = Math.floor(n / 2);
  return n % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function trialText(t: LatencyTrial): string {
  const l = t.latency;
  const us = (v: number | null): string => (v === null ? '–' : v.toFixed(0));
  const loss = t.sent > 0 ? ` (${t.received}/${t.sent} received)` : '';
  return `p50 ${us(l.p50Us)} p99 ${us(l.p99Us)} p99.9 ${us(l.p999Us)} max ${us(l.maxUs)} µs over ${l.count}${loss}`;
}
