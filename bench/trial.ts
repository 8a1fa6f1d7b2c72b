/**
 * One trial: offer one rate for D seconds through a running method and
 * measure what arrived and what it cost. Also the warm-up that proves a
 * freshly started method forwards before any trial counts.
 *
 * Loss = 1 − received / (sent × N): `sent` from mcrgen (packets that really
 * left), `received` the sum of the N sink interfaces' rx_packets deltas.
 * "Forwarded input datagrams" = received / N. CPU cost is the method's time
 * on the relay core: all that core 1 did in the window (the window less its
 * exact idle time: its processes, the receive path RPS sends there, and for
 * the kernel the whole forwarding path), less other programs' exact run
 * time there and hypervisor steal, plus the CPU time of the method's
 * processes placed on another core; per million input datagrams forwarded
 * and per million egress packets. Where the kernel does not keep idle time
 * exactly (no tickless idle) it falls back to the tick-sampled irq +
 * softirq time plus the method's processes, which a relay that wakes on a
 * timer aliases with (host-counters.ts). Core 1's total busy time is kept
 * too, and other programs' time and steal are reported
 * as interference: the host may be shared. Diagnostics that say where a loss
 * happened ride along: per-core backlog drops, the relay namespace's IP/UDP
 * counters, and MCR's own loop counters.
 */
import { readSinkRx, snapshot, type BenchLab, type LabSnapshot } from './bench-lab.js';
import { LOSS_THRESHOLD, OTHER_CPU, RELAY_CPU, type Family, type MethodName } from './config.js';
import { BenchError } from './errors.js';
import { runGenerator, type GenReport } from './generator.js';
import { busySecBetween, idleIsExact, readProcessCpuSec, type CpuTimes, type TaskRuntime } from './host-counters.js';
import type { RunningMethod } from './methods/index.js';
import { waitForQuiet } from './quiet.js';

/** At least this long after the generator stops: MCR reads PACKET_STATISTICS every 100 ms. */
const SETTLE_MIN_MS = 250;
/** RFC 2544 §23 waits 2 s for residual frames; a method still delivering after that has lost them. */
const SETTLE_MAX_MS = 2000;
const SETTLE_POLL_MS = 100;

export interface TrialSpec {
  method: MethodName;
  payload: number;
  fanout: number;
  /** The stream's IP version; absent = IPv4. */
  family?: Family;
  /** Offered packets per second; 0 = the generator's maximum. */
  rate: number;
  durationSec: number;
  /** Why this trial ran: "max", "bisect", "verify", "experiment", ... */
  purpose: string;
}

export interface TrialResult extends TrialSpec {
  gen: GenReport;
  /** Egress packets counted at the sinks, in total and per sink. */
  received: number;
  receivedPerSink: number[];
  /** sent × fanout. */
  expected: number;
  /** 1 − received/expected, floored at 0 (stray packets can push it below). */
  loss: number;
  pass: boolean;
  /** The generator reached < 97 % of the offered rate: the trial tested a lower rate than asked. */
  generatorShort: boolean;
  windowSec: number;
  /** Everything core 1 did, seconds: the window less its exact idle time (else the tick-sampled busy fields). */
  relayCoreBusySec: number;
  relayCoreUtil: number;
  otherCoreUtil: number;
  /** CPU time of the method's own processes (0 for the kernel's: it has none doing the work). */
  methodProcessCpuSec: number;
  /**
   * The method's cost: core 1's busy time less other programs' run time and
   * steal there (its processes, its receive path and, for the kernel, all
   * of its forwarding), plus its threads' run time on other cores (mcrd's
   * supervisor, the worker's Node thread under `--worker-cpus`). Where idle
   * time is not exact: core 1's irq + softirq time plus the method's
   * process time, capped at core 1's task time, plus its off-core processes.
   */
  methodCoreSec: number;
  /** Core-1 time not the method's: other programs' run time there and hypervisor steal. */
  interferenceSec: number;
  /** methodCoreSec per million input datagrams forwarded (received / N). */
  cpuSecPerMInput: number | null;
  /** methodCoreSec per million egress packets received. */
  cpuSecPerMEgress: number | null;
  /** Input backlog drops per core during the trial (softnet_stat). */
  backlogDrops: number[];
  /** Non-zero deltas of the relay namespace's /proc/net/snmp. */
  snmp: Record<string, number>;
  /** How long the trial waited for a quiet host first (quiet.ts), and how busy cores 0 and 1 were then. */
  quietWaitMs?: number;
  busyBefore?: [number, number];
  /** A later repeat replaces this trial (it failed while other load disturbed the relay core). */
  superseded?: boolean;
  /** This narrow failure was outvoted: the two trials after it at the same rate passed (search.ts, SPORADIC_LOSS). */
  outvoted?: boolean;
  /** This pass was overruled: the trials before and after it at the same rate failed (search.ts), so it bounds nothing. */
  minority?: boolean;
  /** How long the sinks took to go quiet after the generator stopped (capped at 2 s). */
  settleMs?: number;
  /** The method's own counters, non-zero deltas: MCR's loop counters, the C relay's (received, sent, ring_drops, ...). */
  mcr?: Record<string, number>;
  /** MCR only: io_uring_enter calls (submit_calls) per input datagram and per egress packet. */
  syscallsPerInput?: number;
  syscallsPerEgress?: number;
}

export async function runTrial(bl: BenchLab, running: RunningMethod, spec: TrialSpec): Promise<TrialResult> {
  const quiet = await waitForQuiet();
  running.trialStarting?.();
  let w: Awaited<ReturnType<typeof trafficWindow>>;
  try {
    w = await trafficWindow(bl, running, spec);
  } finally {
    running.trialEnded?.();
  }
  const mcrAfter = running.counters ? await running.counters() : undefined;
  const result = measure(spec, w.gen, w.before, w.after, w.procAfter - w.procBefore, w.offCoreSec, running.pids, exactIdle(), w.mcrBefore, mcrAfter);
  return { ...result, settleMs: w.settleMs, quietWaitMs: quiet.waitedMs, busyBefore: quiet.busy };
}

/** The counters before, the traffic, the settling, the counters after: what runTrial measures. */
async function trafficWindow(bl: BenchLab, running: RunningMethod, spec: TrialSpec) {
  const mcrBefore = running.counters ? await running.counters() : undefined;
  const procBefore = processCpu(running);
  const offCoreBefore = processCpu(running, running.offCorePids ?? []);
  // The sinks quiet first: what the last trial was still delivering when its
  // settle gave up (2 s) would count as this trial's and hide its loss
  // (found in 2026-12-06T11-05-47Z: sinks that received more than was sent).
  await settle(bl, spec.fanout, 0);
  const before = await snapshot(bl, spec.fanout);
  const gen = await runGenerator(bl, { rate: spec.rate, size: spec.payload, durationSec: spec.durationSec, ...(spec.family === 6 ? { family: 6 as const } : {}) });
  const settleMs = await settle(bl, spec.fanout);
  const after = await snapshot(bl, spec.fanout);
  const procAfter = processCpu(running);
  const offCoreAfter = processCpu(running, running.offCorePids ?? []);
  return { mcrBefore, procBefore, before, gen, settleMs, after, procAfter, offCoreSec: offCoreAfter - offCoreBefore };
}

/**
 * Waits until the sinks stop receiving (no change over one poll), at least
 * `minMs` and at most SETTLE_MAX_MS, so packets a method queued late in the
 * trial still count; returns how long that took.
 */
async function settle(bl: BenchLab, fanout: number, minMs = SETTLE_MIN_MS): Promise<number> {
  const start = Date.now();
  await sleep(minMs);
  let last = sum(await readSinkRx(bl, fanout));
  while (Date.now() - start < SETTLE_MAX_MS) {
    await sleep(SETTLE_POLL_MS);
    const now = sum(await readSinkRx(bl, fanout));
    if (now === last) break;
    last = now;
  }
  return Date.now() - start;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function measure(
  spec: TrialSpec,
  gen: GenReport,
  before: LabSnapshot,
  after: LabSnapshot,
  methodProcessCpuSec: number,
  offCoreProcessCpuSec: number,
  methodPids: readonly number[],
  exactIdle: readonly boolean[],
  mcrBefore: Record<string, number> | undefined,
  mcrAfter: Record<string, number> | undefined,
): TrialResult {
  const receivedPerSink = after.sinkRx.map((v, i) => v - (before.sinkRx[i] ?? 0));
  const received = receivedPerSink.reduce((a, b) => a + b, 0);
  const expected = gen.sent * spec.fanout;
  const loss = expected > 0 ? Math.max(0, 1 - received / expected) : 1;
  const windowSec = Number(after.atNs - before.atNs) / 1e9;
  const delta = (cpu: number, k: keyof CpuTimes): number => (after.cpu[cpu]?.[k] ?? 0) - (before.cpu[cpu]?.[k] ?? 0);
  const busy = (cpu: number): number => busySecBetween(before.cpu[cpu], after.cpu[cpu], windowSec, exactIdle[cpu] === true);
  const relayCoreBusySec = busy(RELAY_CPU);
  let methodCoreSec: number;
  let interferenceSec: number;
  if (exactIdle[RELAY_CPU] === true) {
    // Everything core 1 did, less other programs' exact run time there and
    // steal: the method's processes and the kernel's work for it (receive
    // path, softirq in whichever task or in idle, ksoftirqd). Plus the exact
    // run time of the method's threads elsewhere (mcrd's supervisor, the
    // worker's Node thread under --worker-cpus).
    const tasks = taskSplit(before.tasks, after.tasks, methodPids);
    interferenceSec = tasks.otherOnRelaySec + delta(RELAY_CPU, 'stealSec');
    methodCoreSec = Math.max(0, relayCoreBusySec - interferenceSec) + tasks.methodOffRelaySec;
  } else {
    // Tick-sampled counters: process time can exceed core task time by a tick
    // or two. Processes placed off core 1 (mcrd's supervisor) count whole.
    const onCoreProcessSec = Math.max(0, methodProcessCpuSec - offCoreProcessCpuSec);
    methodCoreSec = delta(RELAY_CPU, 'irqSec') + Math.min(onCoreProcessSec, delta(RELAY_CPU, 'taskSec')) + offCoreProcessCpuSec;
    interferenceSec = Math.max(0, delta(RELAY_CPU, 'taskSec') - onCoreProcessSec) + delta(RELAY_CPU, 'stealSec');
  }
  const forwardedInput = received / spec.fanout;
  const result: TrialResult = {
    ...spec,
    gen,
    received,
    receivedPerSink,
    expected,
    loss,
    pass: gen.sent > 0 && gen.errors === 0 && loss <= LOSS_THRESHOLD,
    generatorShort: spec.rate > 0 && gen.pps < 0.97 * spec.rate,
    windowSec,
    relayCoreBusySec,
    relayCoreUtil: relayCoreBusySec / windowSec,
    otherCoreUtil: busy(OTHER_CPU) / windowSec,
    methodProcessCpuSec,
    methodCoreSec,
    interferenceSec,
    cpuSecPerMInput: forwardedInput > 0 ? (methodCoreSec / forwardedInput) * 1e6 : null,
    cpuSecPerMEgress: received > 0 ? (methodCoreSec / received) * 1e6 : null,
    backlogDrops: after.softnet.map((row, cpu) => row.dropped - (before.softnet[cpu]?.dropped ?? 0)),
    snmp: deltas(before.snmp, after.snmp),
  };
  if (mcrBefore !== undefined && mcrAfter !== undefined) {
    result.mcr = deltas(mcrBefore, mcrAfter);
    // Only MCR's loop counts io_uring_enter calls (submit_calls).
    if (spec.method === 'mcr') {
      const submits = result.mcr.submit_calls ?? 0;
      if (forwardedInput > 0) result.syscallsPerInput = submits / forwardedInput;
      if (received > 0) result.syscallsPerEgress = submits / received;
    }
  }
  return result;
}

/**
 * Sends a short burst at a low rate until every one of the N sinks has
 * seen all of it (a few tries, bounded): the method is joined, routed and
 * forwarding before any trial counts.
 */
export async function warmUp(bl: BenchLab, fanout: number, payload: number, family: Family = 4): Promise<void> {
  const count = 300;
  let lastSeen: number[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await snapshot(bl, fanout);
    const gen = await runGenerator(bl, { rate: 3000, size: payload, count, family });
    await settle(bl, fanout);
    const after = await snapshot(bl, fanout);
    lastSeen = after.sinkRx.map((v, i) => v - (before.sinkRx[i] ?? 0));
    if (gen.sent === count && lastSeen.every((n) => n >= count)) return;
    await sleep(200);
  }
  throw new BenchError('ERR_BENCH_NOT_FORWARDING', `warm-up: ${count} packets sent, sinks saw ${lastSeen.join(', ')}`);
}

/** Per core: is its idle time exact (tickless)? Read at the first trial: the kernel's mode does not change while the bench runs. */
let exactIdleCache: boolean[] | undefined;
function exactIdle(): readonly boolean[] {
  exactIdleCache ??= [OTHER_CPU, RELAY_CPU].reduce<boolean[]>((acc, cpu) => {
    acc[cpu] = idleIsExact(cpu);
    return acc;
  }, []);
  return exactIdleCache;
}

/**
 * Exact run time in the window, in seconds: of tasks on the relay core that
 * are neither the method's processes nor that core's ksoftirqd (whose work
 * is the method's receive path), and of the method's own threads on other
 * cores.
 */
export function taskSplit(
  before: ReadonlyMap<number, TaskRuntime>,
  after: ReadonlyMap<number, TaskRuntime>,
  methodPids: readonly number[],
): { otherOnRelaySec: number; methodOffRelaySec: number } {
  let other = 0;
  let method = 0;
  for (const [tid, t] of after) {
    const ran = Math.max(0, t.runNs - (before.get(tid)?.runNs ?? 0));
    const mine = methodPids.includes(t.tgid);
    if (t.cpu === RELAY_CPU && !mine && t.comm !== `ksoftirqd/${RELAY_CPU}`) other += ran;
    else if (t.cpu !== RELAY_CPU && mine) method += ran;
  }
  return { otherOnRelaySec: other / 1e9, methodOffRelaySec: method / 1e9 };
}

/** Other load on the relay core above this share of the window: a failure then gets one repeat. */
const DISTURBED_SHARE = 0.1;

export function disturbed(t: TrialResult): boolean {
  return t.interferenceSec > DISTURBED_SHARE * t.windowSec;
}

/** CPU seconds so far of the method's processes (or of `pids`, some of them). */
function processCpu(running: RunningMethod, pids: readonly number[] = running.pids): number {
  return pids.reduce((sum, pid) => sum + readProcessCpuSec(pid), 0);
}

function deltas(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (typeof v === 'number' && d !== 0) out[k] = d;
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
