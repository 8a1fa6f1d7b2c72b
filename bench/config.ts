/**
 * What a benchmark run measures: the matrix (methods × payload × fan-out),
 * trial length, bisection depth and the MCR design experiments, for the
 * `--quick` and full presets, plus the fixed facts every part shares (the
 * stream's group and port, which core does what) and the run-time estimate
 * printed before starting.
 */

/**
 * MCR and its anchors: the kernel's multicast routing, the nftables netdev
 * relay (the strongest in-kernel relay without multicast routing), the plain
 * C relay in its two designs (the best simple program), and the tools users
 * reach for first (socat, GStreamer). Every MCR figure is a ratio to each
 * anchor measured in the same run.
 */
export type MethodName = 'mcr' | 'kernel' | 'nft' | 'c-ring' | 'c-mmsg' | 'socat' | 'gstreamer';
export const METHODS: readonly MethodName[] = ['mcr', 'kernel', 'nft', 'c-ring', 'c-mmsg', 'socat', 'gstreamer'];
export const ANCHORS: readonly MethodName[] = METHODS.filter((m) => m !== 'mcr');
export const METHOD_LABELS: Record<MethodName, string> = {
  mcr: 'MCR',
  kernel: 'kernel (smcroute)',
  nft: 'nftables netdev',
  'c-ring': 'C TPACKET_V3',
  'c-mmsg': 'C recvmmsg',
  socat: 'socat',
  gstreamer: 'GStreamer',
};

/** The one stream: every method forwards 239.1.1.1:5000 to 239.1.1.1:5000 on each output (rewriting it to the same values). */
export const GROUP = '239.1.1.1';
export const PORT = 5000;

/**
 * The IP version of a cell. IPv4 is the whole matrix; IPv6 cells (issue 16)
 * forward GROUP6:PORT the same way, at fan-out 1, in the same lab once
 * IPv6 is on (bench-lab-ipv6.ts).
 */
export type Family = 4 | 6;
export const FAMILIES: readonly Family[] = [4, 6];
/** The IPv6 stream's group: transient, global scope (ff1e::/16), any-source (not the ff3x::/32 SSM range). */
export const GROUP6 = 'ff1e::1:1';

/** The group a cell of `family` forwards. */
export function groupOf(family: Family | undefined): string {
  return family === 6 ? GROUP6 : GROUP;
}

/** mcrgen's default; must exceed the kernel's default ttl-threshold of 1 to be routed. */
export const TTL = 8;

/** The relay (and its receive softirq, via RPS) owns core 1; generator and sinks share core 0. */
export const RELAY_CPU = 1;
export const OTHER_CPU = 0;

/** RFC 2544 asks for zero loss; 0.01 % tolerates a stray drop in a few hundred thousand. */
export const LOSS_THRESHOLD = 1e-4;

/**
 * A failed trial that lost at most this share is judged with up to two
 * more trials at its rate (search.ts). 1 %: a stall of a few milliseconds loses
 * well under it, and a relay clearly over its limit well over it, so those
 * fail at once without the repeats' time.
 */
export const SPORADIC_LOSS = 0.01;

export interface ExperimentConfig {
  payload: number;
  fanout: number;
  batches: number[];
  ringDepths: number[];
  /** Seconds strace -c watches the relay (0: skip). */
  straceSec: number;
  /** Compare mcrd's throughput settings at fan-out 1 (full runs; quick ones stay short without it). */
  settings: boolean;
}

/** One-way latency trials (latency.ts), after each fan-out-1 cell's zero-loss search. */
export interface LatencyConfig {
  /** Offered rates as fractions of the cell's zero-loss rate. */
  loads: number[];
  /** Repeats per rate: the report gives the median and the min..max spread. */
  trials: number;
  /** Seconds of traffic per latency trial. */
  trialSec: number;
  /** Fixed rate of the latency trials of MCR's settings experiments (full runs), pps. */
  settingsPps: number;
  /**
   * Offered rates (pps) every method is also measured at where its zero-loss
   * rate reaches them, so MCR's latency can be set against each anchor's at
   * the same load: the fractions above put each method at its own rate,
   * and MCR, the faster, then carries more. Absent in runs before 2026-12-05.
   */
  equalRatesPps?: number[];
  /**
   * How much of its own stalls the generator makes up with a burst in
   * latency trials (mcrgen --catch-up-us; absent in runs before 2026-12-06,
   * which made up 2000 µs, as the throughput trials still do). Other
   * programs on its core hold it back now and then, MCR's supervisor and
   * worker threads among them; a burst that makes up the lost time queues
   * at the relay and lands in the tail, a lab artifact that no real source
   * produces (docs/performance.md, "Generator stalls on core 0").
   */
  generatorCatchUpUs?: number;
  /**
   * The trials run in rounds that start every method in turn (the order
   * rotated per round: latency-rounds.ts), so each method's trials are
   * spread over the same minutes as the others'. Absent in runs before
   * 2026-12-06T21-26-55Z, which took a method's trials back to back right after its
   * own search.
   */
  interleaved?: boolean;
}

/**
 * Latency rounds of a full run (trials per point; a quick run takes 3).
 * Three were too few to tell methods a few µs apart: at 1400 B and
 * 10 kpps the run of 2026-12-06T21-26-55Z had MCR's p50 / p99 at 1.06× /
 * 1.30× the recvmmsg relay's from 3 rounds, and 10 interleaved rounds on
 * the same host an hour later 0.86× / 0.72× (latency-2026-12-07T00-20-21Z:
 * p50 36–58 µs against 39–62 over the rounds). Seven take the median's
 * spread down by about a third (1/√n) for ~18 more minutes.
 */
export const LATENCY_ROUNDS_FULL = 7;

/** The generator's catch-up in latency trials: none beyond mcrgen's two-batch minimum. */
export const LATENCY_GENERATOR_CATCH_UP_US = 0;

/**
 * The equal-rate latency points: 10 kpps (a media stream; issue 15's figures
 * for orientation were taken there) and 100 kpps (under half of either C
 * relay's zero-loss rate at 64 B on this project's VM, so both C relays and
 * MCR are measured at it; socat and GStreamer stop short of it).
 */
export const EQUAL_RATES_PPS = [10_000, 100_000] as const;

/** The IPv6 cells: fan-out 1 at each payload, each method in the run (issue 16). */
export interface Ipv6Config {
  payloads: number[];
}

export interface BenchConfig {
  mode: 'quick' | 'full';
  methods: MethodName[];
  payloads: number[];
  fanouts: number[];
  /**
   * IP versions measured (`--families`; absent in runs before IPv6 cells
   * existed = [4]). 4: the matrix, latency and experiments; 6: the IPv6 cells.
   */
  families?: Family[];
  /** The IPv6 cells' payloads (fan-out 1); undefined in runs before they existed. */
  ipv6?: Ipv6Config | undefined;
  /** Seconds of traffic per trial. */
  trialSec: number;
  /** Bisection steps once a passing and a failing rate bracket the result (within 2×, or [hi/2, hi]). */
  bisectSteps: number;
  /** Step-downs allowed when the verifying repeat fails. */
  maxStepDowns: number;
  /** Seconds the whole run may spend waiting for a quiet host before trials (quiet.ts). */
  quietBudgetSec: number;
  experiments: ExperimentConfig | undefined;
  /** Latency trials; undefined with --no-latency (and in runs before they existed). */
  latency?: LatencyConfig | undefined;
  /**
   * Steer each sink interface's receive work to core 0 with RPS (default).
   * Off, it runs on the sending core, inside the method's own sends: a
   * diagnostic for what the cross-core wake-ups (IPIs) cost each method.
   */
  sinkRps: boolean;
  /**
   * Diagnostic: keep the relay core awake during the kernel's trials
   * (awake-core.ts), to compare it with MCR's busy polling on equal terms.
   */
  awakeCore: boolean;
  /**
   * mcrd flags for the MCR cells (default MCR_MATRIX_ARGS: none, mcrd's
   * defaults; `--mcrd-args "FLAGS"` measures others).
   */
  mcrdArgs: string[];
  outDir: string;
}

/**
 * mcrd's flags in the matrix: none. Users run defaults, so the matrix
 * measures them (issue 15): inputs consumed unless a local listener needs
 * them (`consumeInputs` "auto") and busy polling only while the arrival
 * rate pays for it (`--busy-poll-us auto`, native/core/poll_policy.h), a
 * 100 µs scheduler slice for the loop thread (`--loop-slice-us auto`). The
 * flags earlier runs measured, `--consume-inputs --busy-poll-us 1000`, are
 * one of the full run's SETTINGS_VARIANTS; `--mcrd-args` measures any other.
 * Not --coalesce-us: its larger bursts (a walk's datagrams × the outputs,
 * at once) overflow the one 1000-packet backlog all ten sinks share on
 * core 0 in this lab (docs/performance.md).
 */
export const MCR_MATRIX_ARGS: readonly string[] = [];

/**
 * The mcrd settings the full run's experiments compare: defaults (busy
 * polling "auto", the loop's 100 µs slice where the kernel gives one), each
 * setting alone (busy polling off and fixed, the kernel's slice), the other
 * two with --consume-inputs.
 */
export const SETTINGS_VARIANTS: ReadonlyArray<{ name: string; args: string[] }> = [
  { name: 'mcrd defaults', args: [] },
  { name: '--consume-inputs', args: ['--consume-inputs'] },
  { name: '--coalesce-us 20', args: ['--coalesce-us', '20'] },
  { name: '--consume-inputs --coalesce-us 20', args: ['--consume-inputs', '--coalesce-us', '20'] },
  { name: '--busy-poll-us 0 (never poll)', args: ['--busy-poll-us', '0'] },
  { name: '--loop-slice-us 0 (the kernel\'s slice)', args: ['--loop-slice-us', '0'] },
  { name: '--busy-poll-us 1000', args: ['--busy-poll-us', '1000'] },
  { name: '--consume-inputs --busy-poll-us 1000', args: ['--consume-inputs', '--busy-poll-us', '1000'] },
];

export function preset(mode: 'quick' | 'full', outDir: string): BenchConfig {
  if (mode === 'quick') {
    return {
      mode,
      methods: [...METHODS],
      payloads: [64, 1400],
      fanouts: [1],
      trialSec: 2,
      bisectSteps: 3,
      maxStepDowns: 2,
      quietBudgetSec: 20,
      families: [...FAMILIES],
      // Brief: proves every method forwards IPv6 and gives the 64 B ratios; the full run adds 1400 B.
      ipv6: { payloads: [64] },
      experiments: { payload: 64, fanout: 1, batches: [], ringDepths: [], straceSec: 2, settings: false },
      latency: { loads: [0.1, 0.5], trials: 3, trialSec: 1, settingsPps: 10_000, equalRatesPps: [...EQUAL_RATES_PPS], generatorCatchUpUs: LATENCY_GENERATOR_CATCH_UP_US, interleaved: true },
      sinkRps: true,
      awakeCore: false,
      mcrdArgs: [...MCR_MATRIX_ARGS],
      outDir,
    };
  }
  return {
    mode,
    methods: [...METHODS],
    payloads: [64, 1400],
    fanouts: [1, 2, 5, 10],
    trialSec: 5,
    bisectSteps: 5,
    maxStepDowns: 3,
    quietBudgetSec: 180,
    families: [...FAMILIES],
    ipv6: { payloads: [64, 1400] },
    experiments: { payload: 64, fanout: 10, batches: [1, 16, 32, 64, 128], ringDepths: [128, 256, 1024, 4096], straceSec: 3, settings: true },
    latency: { loads: [0.1, 0.5], trials: LATENCY_ROUNDS_FULL, trialSec: 2, settingsPps: 10_000, equalRatesPps: [...EQUAL_RATES_PPS], generatorCatchUpUs: LATENCY_GENERATOR_CATCH_UP_US, interleaved: true },
    sinkRps: true,
    awakeCore: false,
    mcrdArgs: [...MCR_MATRIX_ARGS],
    outDir,
  };
}

/** Seconds a trial costs beyond its traffic: counter snapshots, settling, the gap before the next. */
export const TRIAL_OVERHEAD_SEC = 0.8;
/** Starting the sink, its ready line, its 1 s idle end and its report, per latency trial (runs of 2026-12-04: about 2 s). */
export const LATENCY_TRIAL_OVERHEAD_SEC = 2;
/** Starting, warming up and stopping one method for one cell. */
export const CELL_OVERHEAD_SEC = 3;
/** Starting, warming up and stopping one method for one latency round (latency-rounds.ts). */
export const LATENCY_ROUND_START_SEC = 4;

/** Whether a run measures `family` (runs before `families` existed measured IPv4 only). */
export function hasFamily(c: BenchConfig, family: Family): boolean {
  return (c.families ?? [4]).includes(family);
}

/**
 * Methods a run will not measure, per family (deps.ts: an anchor this host
 * lacks, such as the kernel's forwarding without CONFIG_IP_MROUTE). The run
 * prints its estimate before it knows them and again once it does.
 */
export interface SkippedMethods {
  v4: readonly MethodName[];
  v6: readonly MethodName[];
}

/** Expected wall-clock seconds of a run (typical case: one verification, no step-down), less the methods `skipped`. */
export function estimateSec(c: BenchConfig, skipped: SkippedMethods = { v4: [], v6: [] }): number {
  const trial = c.trialSec + TRIAL_OVERHEAD_SEC;
  const v4 = hasFamily(c, 4);
  const v6Payloads = hasFamily(c, 6) ? (c.ipv6?.payloads.length ?? 0) : 0;
  const methods4 = c.methods.filter((m) => !skipped.v4.includes(m)).length;
  const methods6 = c.methods.filter((m) => !skipped.v6.includes(m)).length;
  const cells = (v4 ? methods4 * c.payloads.length * c.fanouts.length : 0) + methods6 * v6Payloads;
  // On average: max trial, two or three bracketing probes, bisection, a
  // verifying repeat, a step-down now and then, and since the majority rule
  // (search.ts) one or two more trials after each narrow failure: 15.2
  // trials per measured cell in the full run of 2026-12-05T17-46-59Z.
  const perCell = (c.bisectSteps + 10) * trial + CELL_OVERHEAD_SEC;
  const genMax = ((v4 ? c.payloads.length : 0) + v6Payloads) * trial;
  let experiments = 0;
  if (c.experiments !== undefined && v4) {
    const e = c.experiments;
    const settings = e.settings ? SETTINGS_VARIANTS.length : 0;
    experiments = (e.batches.length + e.ringDepths.length + 2 + 1 + settings) * (trial + CELL_OVERHEAD_SEC) + e.straceSec;
  }
  let latency = 0;
  if (c.latency !== undefined && c.fanouts.includes(1) && v4) {
    const l = c.latency;
    const one = l.trialSec + LATENCY_TRIAL_OVERHEAD_SEC;
    latency = methods4 * c.payloads.length * ((l.loads.length + (l.equalRatesPps?.length ?? 0)) * one + LATENCY_ROUND_START_SEC) * l.trials;
    if (c.experiments?.settings === true) latency += SETTINGS_VARIANTS.length * l.trials * one;
  }
  const setup = 15;
  return setup + genMax + cells * perCell + experiments + latency;
}
