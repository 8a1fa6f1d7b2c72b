/**
 * The MCR design experiments of issue 4 (and DESIGN.md's lessons): egress
 * batch size (--batch) and io_uring ring depth (--ring-depth), each at one
 * fixed offered rate, 90 % of MCR's verified zero-loss rate for that payload
 * and fan-out, so every variant faces the same load and the default passes
 * with margin. Each variant is a fresh relay; the table reports loss, the
 * relay core's CPU per million packets, and io_uring_enter calls per packet
 * from the relay's own submit_calls counter; and the same for UDP_SEGMENT
 * batches on and off. Then one strace -c window on the default relay counts
 * every system call of every thread of the forwarding process per packet.
 * Last, mcrd itself (fan-out 1) with its defaults and with each throughput
 * setting (SETTINGS_VARIANTS: --consume-inputs, --coalesce-us, --busy-poll-us,
 * the last two also with --consume-inputs), at 90 % of the run's MCR
 * zero-loss rate at fan-out 1: what each setting buys; and each one's
 * latency at a fixed low rate (config.latency.settingsPps): what it costs.
 */
import type { BenchLab } from './bench-lab.js';
import { SETTINGS_VARIANTS, type BenchConfig } from './config.js';
import { BenchError, describeError } from './errors.js';
import { measurePoint, type LatencyPoint } from './latency.js';
import { runGenerator } from './generator.js';
import { START, type McrTuning, type RunningMethod } from './methods/index.js';
import { straceWindow, type StraceSummary } from './strace.js';
import { disturbed, runTrial, sleep, warmUp, type TrialResult } from './trial.js';

export interface ExperimentRow {
  variant: string;
  tuning: McrTuning;
  /** mcrd rows: the flags mcrd ran with (no standalone relay). */
  mcrdArgs?: string[];
  trial?: TrialResult;
  /** mcrd rows: one-way latency at the fixed config.latency.settingsPps (latency.ts). */
  latency?: LatencyPoint;
  error?: { code: string; message: string };
}

export interface StraceResult {
  seconds: number;
  /** Datagrams matched and sends completed by the relay inside the strace window. */
  inputPackets: number;
  egressPackets: number;
  summary: StraceSummary;
  syscallsPerInput: number | null;
  syscallsPerEgress: number | null;
  ioUringEnterPerInput: number | null;
}

export interface ExperimentsResult {
  payload: number;
  fanout: number;
  ratePps: number;
  basis: string;
  batch: ExperimentRow[];
  ringDepth: ExperimentRow[];
  /** UDP_SEGMENT batches on (the default) and off (--no-udp-gso). */
  gso?: ExperimentRow[];
  strace?: StraceResult;
  straceError?: { code: string; message: string };
  /** mcrd at fan-out 1 with each throughput setting, at settingsRatePps. */
  settings?: ExperimentRow[];
  settingsRatePps?: number;
  settingsBasis?: string;
}

export type ExperimentLogger = (msg: string) => void;

export async function runExperiments(
  bl: BenchLab,
  config: BenchConfig,
  rate: { pps: number; basis: string; settingsPps: number; settingsBasis: string },
  log: ExperimentLogger,
): Promise<ExperimentsResult | undefined> {
  const e = config.experiments;
  if (e === undefined) return undefined;
  const ratePps = rate.pps;
  const out: ExperimentsResult = { payload: e.payload, fanout: e.fanout, ratePps, basis: rate.basis, batch: [], ringDepth: [] };
  const relay = (name: string, tuning: McrTuning): Promise<ExperimentRow> =>
    variant(bl, config, { ratePps, fanout: e.fanout, name, tuning }, log);
  for (const batch of e.batches) out.batch.push(await relay(`batch ${batch}`, { batch }));
  for (const ringDepth of e.ringDepths) out.ringDepth.push(await relay(`ring depth ${ringDepth}`, { ringDepth }));
  out.gso = [];
  for (const udpGso of [true, false]) {
    out.gso.push(await relay(udpGso ? 'UDP_SEGMENT batches (default)' : 'one send per datagram (--no-udp-gso)', { udpGso }));
  }
  if (e.straceSec > 0) {
    try {
      out.strace = await straceRun(bl, config, ratePps, e.straceSec);
      log(`strace: ${out.strace.summary.totalCalls} calls in ${e.straceSec} s, ${fmt(out.strace.syscallsPerInput)} per input datagram`);
    } catch (err) {
      out.straceError = describeError(err);
      log(`strace failed: ${out.straceError.code} ${out.straceError.message}`);
    }
  }
  if (!e.settings) return out;
  out.settingsRatePps = rate.settingsPps;
  out.settingsBasis = rate.settingsBasis;
  out.settings = [];
  for (const s of SETTINGS_VARIANTS) {
    out.settings.push(await variant(bl, config, { ratePps: rate.settingsPps, fanout: 1, name: s.name, mcrdArgs: s.args }, log));
  }
  return out;
}

/** One variant: the standalone relay with `tuning`, or mcrd with `mcrdArgs`. */
interface VariantSpec {
  ratePps: number;
  fanout: number;
  name: string;
  tuning?: McrTuning;
  mcrdArgs?: string[];
}

async function variant(bl: BenchLab, config: BenchConfig, v: VariantSpec, log: ExperimentLogger): Promise<ExperimentRow> {
  const { name, ratePps } = v;
  const tuning = v.tuning ?? {};
  const base: ExperimentRow = { variant: name, tuning, ...(v.mcrdArgs !== undefined ? { mcrdArgs: v.mcrdArgs } : {}) };
  const e = config.experiments;
  if (e === undefined) return base;
  let running: RunningMethod | undefined;
  try {
    running = await START.mcr(bl, v.mcrdArgs !== undefined ? { fanout: v.fanout, mcrdArgs: v.mcrdArgs } : { fanout: v.fanout, tuning });
    await warmUp(bl, v.fanout, e.payload);
    const spec = { method: 'mcr' as const, payload: e.payload, fanout: v.fanout, rate: ratePps, durationSec: config.trialSec, purpose: 'experiment' };
    let trial = await runTrial(bl, running, spec);
    if (!trial.pass && disturbed(trial)) {
      // Same rule as the search: a failure under other load on core 1 gets one repeat.
      log(`${name}: failed while other load took ${Math.round((100 * trial.interferenceSec) / trial.windowSec)} % of core 1; repeating`);
      trial = await runTrial(bl, running, { ...spec, purpose: 'experiment (repeat: disturbed)' });
    }
    log(`${name}: loss ${(trial.loss * 100).toFixed(3)} %, ${fmt(trial.cpuSecPerMInput)} CPU s/M input, ${fmt(trial.syscallsPerInput)} submits/input`);
    // The mcrd settings rows also measure latency at one fixed, low rate: what each setting adds.
    if (v.mcrdArgs !== undefined && config.latency !== undefined) {
      const latency = await measurePoint(bl, config.latency, e.payload, config.latency.settingsPps, (m) => log(`${name} ${m}`));
      return { ...base, trial, latency };
    }
    return { ...base, trial };
  } catch (err) {
    const error = describeError(err);
    log(`${name}: ${error.code} ${error.message}`);
    return { ...base, error };
  } finally {
    await running?.stop().catch(() => undefined);
  }
}

async function straceRun(bl: BenchLab, config: BenchConfig, ratePps: number, seconds: number): Promise<StraceResult> {
  const e = config.experiments;
  if (e === undefined) throw new BenchError('ERR_BENCH_ARG', 'no experiments configured');
  const running = await START.mcr(bl, { fanout: e.fanout, mcrdArgs: config.mcrdArgs });
  try {
    await warmUp(bl, e.fanout, e.payload);
    const counters = running.counters?.bind(running);
    if (counters === undefined) throw new BenchError('ERR_BENCH_TOOL_OUTPUT', 'MCR exposes no counters');
    // Traffic runs around the whole window; strace starts once it is flowing.
    const traffic = runGenerator(bl, { rate: ratePps, size: e.payload, durationSec: seconds + 2 });
    traffic.catch(() => undefined);
    await sleep(700);
    const before = await counters();
    const summary = await straceWindow(bl, running.loopPid ?? running.pids[0] ?? 0, seconds);
    const after = await counters();
    await traffic;
    const input = (after.matched ?? 0) - (before.matched ?? 0);
    const egress = (after.sent ?? 0) - (before.sent ?? 0);
    const enter = summary.bySyscall.find((s) => s.syscall === 'io_uring_enter')?.calls ?? 0;
    return {
      seconds,
      inputPackets: input,
      egressPackets: egress,
      summary,
      syscallsPerInput: input > 0 ? summary.totalCalls / input : null,
      syscallsPerEgress: egress > 0 ? summary.totalCalls / egress : null,
      ioUringEnterPerInput: input > 0 ? enter / input : null,
    };
  } finally {
    await running.stop().catch(() => undefined);
  }
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : v.toFixed(3);
}
