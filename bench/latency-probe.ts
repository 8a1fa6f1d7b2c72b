#!/usr/bin/env node
/**
 * `npm run bench:latency`: one-way latency of MCR's loop settings and
 * placements and the userspace anchors (the C relays; `socat` and
 * `gstreamer` too) at fixed rates, in one lab and one run, without the
 * zero-loss searches of the full suite: the quick way to see what a change
 * to the relay loop does to latency. Each round starts every variant in
 * turn (interleaved, since the host is shared), runs one latency trial per
 * rate (bench/latency.ts: mcrgen --timestamp → method → mcrsink --latency)
 * and stops it; the table gives each percentile's median over the rounds,
 * its range, and the median as a ratio to each anchor's. MCR rows also
 * give the loop counters over the trials (turns per datagram, the share of
 * turns that polled, windows the adaptive policy found the core
 * contended): they say whether the loop slept or spun. `--base-root DIR`
 * adds mcrd's defaults from another build (a checkout of main built there)
 * as variant `base`, for before/after in one run; variant `relay` is the
 * standalone mcr-relay, the same loop without mcrd around it. MCR variants
 * run as the suite does (`--worker-cpus 1`: the worker on the relay core,
 * the supervisor on the other, bench/methods/mcr.ts) except `shared` (all
 * of mcrd on the relay core), `nice` (the same, with the supervisor's
 * threads reniced to 10 once started), `offcore` (the same, with every
 * thread of the supervisor moved to the other core by taskset once
 * started) and `base` (shared: an older build has no --worker-cpus);
 * `basewc` is the --base-root build placed as the suite does; `fifo` and
 * `c-mmsg-fifo` put the loop thread (MCR's `mcr-loop`, the C relay) under
 * SCHED_FIFO 10 with chrt once started, as `rt10` (`mcrd
 * --loop-rt-priority 10`) does from within; `coalesce1000` gives mcrd the ring relay's 1 ms wake
 * rate, `coalesce50` to `coalesce250` the settings between. Diagnostics of MCR's p99
 * (docs/performance.md, "One default cannot be both C relays"): `relay1k` is mcr-relay with a
 * ring of 1024 slots, `relayms` with multishot receive instead of the ring, `relaynogso` with one
 * send per datagram, `relaynodefer` without IORING_SETUP_DEFER_TASKRUN; `auxidle` and `auxnice` put every thread of mcrd and its worker but the
 * loop under SCHED_IDLE or at nice 10 once started (io_uring's own worker threads, if any, with
 * them); `loopnice5` renices the loop thread to 5; `nowatch` turns the rule's loss-of-signal
 * watch off (signalTimeoutMs 0), so mcrd stops asking the worker for arrivals every 500 ms.
 * `slice0` is `mcrd --loop-slice-us 0` (the kernel's scheduler slice for the loop thread; the default asks for 100 µs).
 * The generator makes up none of its own stalls with a burst (`--gen-catch-up-us`, default 0, as in
 * the suite's latency trials); `catchup2000` and `c-mmsg-catchup2000` make up 2 ms, as before
 * 2026-12-06. `genfifo` and `c-mmsg-genfifo` run it under SCHED_FIFO 1 (`--gen-fifo N` does it for
 * every variant): what the other programs on its core cost it, below about 200 kpps, where the sink
 * still gets enough of core 0.
 * `--hog-cpu N
 * --hogs K` keeps core N busy with K `yes` processes of its own for the
 * whole run (a shared core). Writes bench/results/latency-<stamp>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { intOption } from './cli-int.js';
import { execa } from 'execa';
import { packageRoot } from '../tools/native-tool.js';
import { createBenchLab, type BenchLab } from './bench-lab.js';
import { LATENCY_GENERATOR_CATCH_UP_US, OTHER_CPU, type MethodName } from './config.js';
import { ensureDependencies } from './deps.js';
import { describeError } from './errors.js';
import { pacedBurst, realtimeRefusal, setGeneratorBurst } from './generator.js';
import { damonNote, damonState } from './host-counters.js';
import { labUnavailableReason } from './lab/index.js';
import { latencyTrial, median, type LatencyTrial } from './latency.js';
import { START, type RunningMethod } from './methods/index.js';
import { setQuietBudget } from './quiet.js';
import { writeJsonRecord } from './results.js';
import { pinRunnerOffRelayCore } from './pin-runner.js';
import { LOOP_THREAD_NAME } from '../supervisor/fleet/loop-thread.js';
import { sleep, warmUp } from './trial.js';

interface Variant {
  name: string;
  method: MethodName;
  mcrdArgs?: string[];
  /** Run mcrd from --base-root. */
  base?: boolean;
  /** The standalone relay (mcr-relay, the same loop without mcrd and its worker process), not mcrd. */
  standalone?: boolean;
  /** Flags for the standalone relay, before --mcrd-args. */
  relayArgs?: string[];
  /**
   * Once started, move every thread of the supervisor (mcrd's own process, not its worker) to this
   * core: whether the supervisor sharing the relay core is what delays the p99 (docs/performance-history.md, "Latency on a shared core: busy polling that waits").
   */
  supervisorCpu?: number;
  /** mcrd all on the relay core (`taskset -c 1`), not `--worker-cpus 1` (bench/methods/mcr.ts). */
  sharesCore?: boolean;
  /** Once started, renice every thread of the supervisor to this (it stays on the relay core). */
  supervisorNice?: number;
  /**
   * Once started, put every thread of mcrd and its worker but the loop thread under SCHED_IDLE: whether
   * the supervisor's and the worker's Node threads, which share core 0 with the generator and the sink,
   * delay the sink's receive (docs/performance.md, "One default cannot be both C relays").
   */
  auxIdle?: boolean;
  /** The bench rule's signalTimeoutMs (0: no loss-of-signal watch, so mcrd does not poll the worker every 500 ms). */
  signalTimeoutMs?: number;
  /** Once started, renice every thread of mcrd and its worker but the loop thread to this. */
  auxNice?: number;
  /** Once started, renice the loop thread (MCR's `mcr-loop`) to this: whether `ksoftirqd` waiting behind it holds frames back. */
  loopNice?: number;
  /** Once started, put the relay's loop thread (MCR's `mcr-loop`, the C relay's process) under SCHED_FIFO at this priority (chrt). */
  fifo?: number;
  /** The generator's SCHED_FIFO priority for this variant's trials (0: a normal task), instead of --gen-fifo. */
  genFifo?: number;
  /** How much of its own stalls the generator makes up with a burst in this variant's trials (mcrgen --catch-up-us), instead of --gen-catch-up-us. */
  genCatchUpUs?: number;
}

const VARIANTS: Record<string, Variant> = {
  base: { name: 'base build: mcrd defaults, sharing the relay core', method: 'mcr', mcrdArgs: [], base: true, sharesCore: true },
  default: { name: 'mcrd defaults (busy poll auto), --worker-cpus 1', method: 'mcr', mcrdArgs: [] },
  basewc: { name: 'base build: mcrd defaults, --worker-cpus 1', method: 'mcr', mcrdArgs: [], base: true },
  shared: { name: 'mcrd defaults, supervisor and worker on the relay core', method: 'mcr', mcrdArgs: [], sharesCore: true },
  off: { name: '--busy-poll-us 0', method: 'mcr', mcrdArgs: ['--busy-poll-us', '0'] },
  relay: { name: 'mcr-relay (no mcrd), defaults', method: 'mcr', standalone: true },
  relay1k: { name: 'mcr-relay (no mcrd), --buffer-count 1024', method: 'mcr', standalone: true, relayArgs: ['--buffer-count', '1024'] },
  relayms: { name: 'mcr-relay (no mcrd), --ingress multishot', method: 'mcr', standalone: true, relayArgs: ['--ingress', 'multishot'] },
  relaynodefer: { name: 'mcr-relay (no mcrd), --no-defer-taskrun', method: 'mcr', standalone: true, relayArgs: ['--no-defer-taskrun'] },
  relaynogso: { name: 'mcr-relay (no mcrd), --no-udp-gso', method: 'mcr', standalone: true, relayArgs: ['--no-udp-gso'] },
  fifo: { name: 'mcrd defaults, loop thread SCHED_FIFO 10', method: 'mcr', mcrdArgs: [], fifo: 10 },
  slice0: { name: 'mcrd --loop-slice-us 0 (the kernel\'s slice)', method: 'mcr', mcrdArgs: ['--loop-slice-us', '0'] },
  rt10: { name: 'mcrd --loop-rt-priority 10', method: 'mcr', mcrdArgs: ['--loop-rt-priority', '10'] },
  'c-mmsg-fifo': { name: 'C recvmmsg, SCHED_FIFO 10', method: 'c-mmsg', fifo: 10 },
  offcore: { name: 'mcrd defaults, supervisor moved off the relay core by taskset', method: 'mcr', mcrdArgs: [], supervisorCpu: OTHER_CPU, sharesCore: true },
  nice: { name: 'mcrd defaults on the relay core, supervisor at nice 10', method: 'mcr', mcrdArgs: [], supervisorNice: 10, sharesCore: true },
  auxidle: { name: 'mcrd defaults, its threads but the loop under SCHED_IDLE', method: 'mcr', mcrdArgs: [], auxIdle: true },
  nowatch: { name: 'mcrd defaults, the rule\'s signal watch off (signalTimeoutMs 0)', method: 'mcr', mcrdArgs: [], signalTimeoutMs: 0 },
  loopnice5: { name: 'mcrd defaults, loop thread at nice 5', method: 'mcr', mcrdArgs: [], loopNice: 5 },
  loopnicem10: { name: 'mcrd defaults, loop thread at nice -10', method: 'mcr', mcrdArgs: [], loopNice: -10 },
  auxnice: { name: 'mcrd defaults, its threads but the loop at nice 10', method: 'mcr', mcrdArgs: [], auxNice: 10 },
  bp1000: { name: '--busy-poll-us 1000', method: 'mcr', mcrdArgs: ['--busy-poll-us', '1000'] },
  coalesce20: { name: '--coalesce-us 20', method: 'mcr', mcrdArgs: ['--coalesce-us', '20'] },
  coalesce50: { name: '--coalesce-us 50', method: 'mcr', mcrdArgs: ['--coalesce-us', '50'] },
  coalesce100: { name: '--coalesce-us 100', method: 'mcr', mcrdArgs: ['--coalesce-us', '100'] },
  coalesce250: { name: '--coalesce-us 250', method: 'mcr', mcrdArgs: ['--coalesce-us', '250'] },
  // The C TPACKET_V3 relay's wake-up rate (its 1 ms block timeout), for CPU at the same latency budget (bench:cpu).
  coalesce1000: { name: '--coalesce-us 1000', method: 'mcr', mcrdArgs: ['--coalesce-us', '1000'] },
  'c-mmsg': { name: 'C recvmmsg', method: 'c-mmsg' },
  // The generator real-time, so that nothing else on core 0 (the bench, the sink, MCR's supervisor
  // and worker threads) holds it back; below ~200 kpps only (docs/performance.md, "Generator stalls on core 0").
  genfifo: { name: 'mcrd defaults, generator SCHED_FIFO 1', method: 'mcr', mcrdArgs: [], genFifo: 1 },
  'c-mmsg-genfifo': { name: 'C recvmmsg, generator SCHED_FIFO 1', method: 'c-mmsg', genFifo: 1 },
  // The latency trials' generator before 2026-12-06: it made up 2 ms of its own stalls with a burst.
  catchup2000: { name: 'mcrd defaults, generator --catch-up-us 2000', method: 'mcr', mcrdArgs: [], genCatchUpUs: 2000 },
  'c-mmsg-catchup2000': { name: 'C recvmmsg, generator --catch-up-us 2000', method: 'c-mmsg', genCatchUpUs: 2000 },
  'c-ring': { name: 'C TPACKET_V3', method: 'c-ring' },
  // The suite's other userspace anchors, for MCR at the rates where they were measured.
  socat: { name: 'socat', method: 'socat' },
  gstreamer: { name: 'GStreamer', method: 'gstreamer' },
};

/** Loop counters whose change over a trial the MCR rows show. */
const LOOP_KEYS = ['loop_iterations', 'busy_poll_turns', 'busy_poll_starts', 'busy_poll_contended', 'frames'] as const;

interface Sample {
  variant: string;
  round: number;
  ratePps: number;
  trial?: LatencyTrial;
  /** MCR: the change of LOOP_KEYS over the trial. */
  loop?: Record<string, number>;
  error?: { code: string; message: string };
}

function parseArgs(argv: string[]) {
  const int = intOption();
  const program = new Command('bench:latency')
    .description('one-way latency p50/p99/p99.9 per relay variant at fixed rates, interleaved rounds in one lab')
    .option('--variants <list>', `comma-separated: ${Object.keys(VARIANTS).join(',')}`, 'default,off,bp1000,c-mmsg,c-ring')
    .option('--rates <list>', 'offered rates, pps, comma-separated', '10000')
    .option('--payload <bytes>', 'UDP payload (at least 26: the timestamp)', int, 64)
    .option('--rounds <n>', 'trials per variant, one per round', int, 3)
    .option('--duration <sec>', 'seconds of traffic per trial', int, 2)
    .option('--mcrd-args <flags>', 'extra flags for every MCR variant, space-separated (mcrd\'s; mcr-relay\'s for the relay* variants, after their own)', '')
    .option('--base-root <dir>', 'package root of another MCR build, for variant base')
    .option('--hog-cpu <n>', 'keep this core busy with yes processes during the run', int)
    .option('--hogs <n>', 'how many yes processes --hog-cpu starts', int, 1)
    .option('--gen-burst <n>', 'the largest paced burst of the generator, in datagrams (1 = evenly spaced; the suite sends up to 8: rate ÷ 5000, at least 1)', int, 8)
    .option('--gen-fifo <priority>', "the generator's SCHED_FIFO priority for every variant (default 0 = a normal task; variants genfifo and c-mmsg-genfifo use 1)",
      intOption(0, 99), 0)
    .option('--gen-catch-up-us <us>', 'how much of its own stalls the generator makes up with a burst (mcrgen --catch-up-us; default 0, as in the suite\'s latency trials; variants catchup2000 and c-mmsg-catchup2000 use 2000)',
      intOption(0, 100_000), LATENCY_GENERATOR_CATCH_UP_US)
    .option('--out <dir>', 'results directory', join(packageRoot(), 'bench', 'results'));
  program.parse(argv, { from: 'user' });
  return program.opts<{ variants: string; rates: string; payload: number; rounds: number; duration: number; mcrdArgs: string;
    baseRoot?: string; hogCpu?: number; hogs: number; genBurst: number; genFifo: number; genCatchUpUs: number; out: string }>();
}

async function loopCounters(running: RunningMethod): Promise<Record<string, number> | undefined> {
  if (running.name !== 'mcr' || running.counters === undefined) return undefined;
  return running.counters();
}

/** The threads named `comm` in the method's processes (MCR: the worker's loop thread; the C relay: its one thread). */
function threadsNamed(pids: readonly number[], comm: string): number[] {
  const tids = pids.filter((pid) => pid > 0).flatMap((pid) => {
    try {
      return readdirSync(`/proc/${pid}/task`).filter((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === comm).map(Number);
    } catch {
      return [];  // the process ended meanwhile
    }
  });
  if (tids.length === 0) throw new Error(`no thread named ${comm} in pids ${pids.join(', ')} to act on`);
  return tids;
}

/** One round of one variant: started once, one trial per rate, stopped. */
async function measure(bl: BenchLab, key: string, round: number, rates: number[], o: ReturnType<typeof parseArgs>,
  log: (s: string) => void): Promise<Sample[]> {
  const v = VARIANTS[key];
  if (v === undefined) throw new InvalidArgumentError(`unknown variant ${key}`);
  const extra = o.mcrdArgs.trim() === '' ? [] : o.mcrdArgs.trim().split(/\s+/);
  const out: Sample[] = [];
  let running: RunningMethod | undefined;
  try {
    running = await START[v.method](bl, {
      fanout: 1,
      ...(v.method === 'mcr' && v.standalone !== true ? { mcrdArgs: [...(v.mcrdArgs ?? []), ...extra] } : {}),
      ...(v.standalone === true ? { tuning: { extraArgs: [...(v.relayArgs ?? []), ...extra] } } : {}),
      ...(v.base === true && o.baseRoot !== undefined ? { mcrdRoot: o.baseRoot } : {}),
      ...(v.sharesCore === true ? { mcrdSharesCore: true } : {}),
      ...(v.signalTimeoutMs !== undefined ? { mcrdSignalTimeoutMs: v.signalTimeoutMs } : {}),
    });
    const supervisor = running.pids[0] ?? 0;
    if (v.supervisorCpu !== undefined && supervisor > 0) {
      // -a: every thread mcrd has now (main, libuv pool, V8); the worker is its own process and stays pinned.
      await execa('taskset', ['-a', '-p', '-c', String(v.supervisorCpu), String(supervisor)], { timeout: 5000 });
    }
    if (v.supervisorNice !== undefined && supervisor > 0) {
      // Nice is per thread on Linux: renice each of the supervisor's threads, not only its main one.
      for (const tid of readdirSync(`/proc/${supervisor}/task`)) setPriority(Number(tid), v.supervisorNice);
    }
    if (v.auxIdle === true || v.auxNice !== undefined) {
      // The loop must be found (and so named) first: otherwise the loop itself would be deprioritised.
      const loops = threadsNamed(running.pids, LOOP_THREAD_NAME);
      for (const pid of running.pids.filter((p) => p > 0)) {
        for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
          if (loops.includes(tid)) continue;
          try {
            if (v.auxNice !== undefined) setPriority(tid, v.auxNice);
            else await execa('chrt', ['-i', '-p', '0', String(tid)], { timeout: 5000 });
          } catch {
            // The thread ended between the listing and now.
          }
        }
      }
    }
    if (v.loopNice !== undefined) {
      for (const tid of threadsNamed(running.pids, LOOP_THREAD_NAME)) setPriority(tid, v.loopNice);
    }
    if (v.fifo !== undefined) {
      for (const tid of threadsNamed(running.pids, v.method === 'mcr' ? LOOP_THREAD_NAME : 'c_relay')) {
        await execa('chrt', ['-f', '-p', String(v.fifo), String(tid)], { timeout: 5000 });
      }
    }
    await warmUp(bl, 1, o.payload);
    await sleep(500);
    for (const ratePps of rates) {
      const sample: Sample = { variant: key, round, ratePps };
      out.push(sample);
      try {
        const before = await loopCounters(running);
        sample.trial = await latencyTrial(bl, o.payload, ratePps, o.duration,
          { catchUpUs: v.genCatchUpUs ?? o.genCatchUpUs, fifoPriority: v.genFifo ?? o.genFifo });
        const after = await loopCounters(running);
        if (before !== undefined && after !== undefined) {
          sample.loop = Object.fromEntries(LOOP_KEYS.map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
        }
        const l = sample.trial.latency;
        log(`${v.name} #${round} at ${ratePps} pps: p50 ${l.p50Us} p99 ${l.p99Us} p99.9 ${l.p999Us} max ${l.maxUs?.toFixed(0)} µs, ` +
          `${sample.trial.received}/${sample.trial.sent}` + (sample.loop === undefined ? '' : `, loop ${JSON.stringify(sample.loop)}`));
      } catch (err) {
        sample.error = describeError(err);
        log(`${v.name} #${round} at ${ratePps} pps: FAILED ${sample.error.code} ${sample.error.message}`);
      }
    }
  } catch (err) {
    const error = describeError(err);
    log(`${v.name} #${round}: FAILED ${error.code} ${error.message}`);
    out.push({ variant: key, round, ratePps: 0, error });
  } finally {
    await running?.stop().catch(() => undefined);
  }
  return out;
}

const PCTS = [['p50Us', 'p50'], ['p99Us', 'p99'], ['p999Us', 'p99.9']] as const;

function stat(samples: Sample[], key: string, p: (typeof PCTS)[number][0]): { med: number; min: number; max: number } | undefined {
  const xs = samples.filter((s) => s.variant === key && s.trial !== undefined && s.trial.latency.count > 0)
    .map((s) => s.trial?.latency[p] ?? 0).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  return { med: median(xs), min: xs[0] ?? 0, max: xs.at(-1) ?? 0 };
}

function table(all: Sample[], keys: string[], ratePps: number, o: ReturnType<typeof parseArgs>): string {
  const samples = all.filter((s) => s.ratePps === ratePps);
  const anchors = keys.filter((k) => VARIANTS[k]?.method !== 'mcr');
  const head = ['variant', ...PCTS.map(([, n]) => `${n} µs`), ...anchors.flatMap((a) => PCTS.slice(0, 2).map(([, n]) => `${n} ÷ ${a}`)),
    'turns / datagram', 'polled turns', 'contended windows'];
  const rows = [
    `One-way latency, ${o.payload} B at ${ratePps} pps in bursts of ${pacedBurst(ratePps)}, fan-out 1, ${o.rounds} rounds of ${o.duration} s` +
      `${o.hogCpu !== undefined ? `, core ${o.hogCpu} kept busy by ${o.hogs} yes process(es)` : ''}; median (min–max) over the rounds`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
  ];
  for (const key of keys) {
    const cells = [VARIANTS[key]?.name ?? key];
    for (const [p] of PCTS) {
      const s = stat(samples, key, p);
      cells.push(s === undefined ? '–' : `${s.med.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`);
    }
    for (const a of anchors) {
      for (const [p] of PCTS.slice(0, 2)) {
        const mine = stat(samples, key, p);
        const theirs = stat(samples, a, p);
        cells.push(mine === undefined || theirs === undefined || theirs.med <= 0 ? '–' : (mine.med / theirs.med).toFixed(2));
      }
    }
    const loops = samples.filter((s) => s.variant === key && s.loop !== undefined).map((s) => s.loop ?? {});
    const sum = (k: string) => loops.reduce((acc, l) => acc + (l[k] ?? 0), 0);
    cells.push(loops.length === 0 || sum('frames') === 0 ? '–' : (sum('loop_iterations') / sum('frames')).toFixed(2));
    cells.push(loops.length === 0 || sum('loop_iterations') === 0 ? '–' : `${((100 * sum('busy_poll_turns')) / sum('loop_iterations')).toFixed(0)} %`);
    cells.push(loops.length === 0 ? '–' : String(sum('busy_poll_contended')));
    rows.push(`| ${cells.join(' | ')} |`);
  }
  return rows.join('\n');
}

/** A busy loop pinned to `cpu`, for a shared relay core; stopped by its PID. */
function startHog(cpu: number): ChildProcess {
  const hog = spawn('taskset', ['-c', String(cpu), 'yes'], { stdio: ['ignore', 'ignore', 'ignore'] });
  hog.on('error', () => undefined);
  return hog;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  setGeneratorBurst(o.genBurst);
  const why = labUnavailableReason();
  if (why !== undefined) throw new Error(why);
  pinRunnerOffRelayCore();
  if (o.payload < 26) throw new InvalidArgumentError('--payload must be at least 26 (the timestamp)');
  const keys = o.variants.split(',').map((s) => s.trim());
  for (const k of keys) if (VARIANTS[k] === undefined) throw new Error(`unknown variant ${k}: use ${Object.keys(VARIANTS).join(',')}`);
  if (keys.includes('base') && o.baseRoot === undefined) throw new InvalidArgumentError('variant base needs --base-root');
  const fifo = Math.max(0, ...keys.map((k) => VARIANTS[k]?.genFifo ?? o.genFifo));
  const refused = fifo > 0 ? await realtimeRefusal(fifo) : undefined;
  if (refused !== undefined) throw new Error(`a SCHED_FIFO ${fifo} generator is refused here (${refused}): leave out --gen-fifo and the genfifo variants`);
  const rates = o.rates.split(',').map((r) => Number(r.trim()));
  if (rates.some((r) => !Number.isInteger(r) || r <= 0)) throw new InvalidArgumentError('--rates: positive integers');
  const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
  await ensureDependencies([...new Set(keys.map((k) => VARIANTS[k]?.method ?? 'mcr'))], log);
  // Interleaved rounds already spread the host's load over every variant;
  // waiting for quiet would only stretch the run on a loaded host.
  setQuietBudget(0);
  const bl = await createBenchLab(1, { sinkRps: true });
  const hogCpu = o.hogCpu;
  const hogs = hogCpu !== undefined ? Array.from({ length: o.hogs }, () => startHog(hogCpu)) : [];
  const stopHog = () => {
    for (const hog of hogs) if (hog.pid !== undefined && hog.pid > 0 && hog.exitCode === null) hog.kill('SIGKILL');
  };
  const stop = () => { stopHog(); bl.destroySync(); process.exit(130); };
  process.once('SIGINT', stop);
  const samples: Sample[] = [];
  try {
    for (let r = 1; r <= o.rounds; r++) {
      for (const key of keys) samples.push(...await measure(bl, key, r, rates, o, log));
    }
  } finally {
    stopHog();
    await bl.destroy();
    process.off('SIGINT', stop);
  }
  const damon = damonState();
  const md = [...rates.map((rate) => table(samples, keys, rate, o)),
    `Host: ${damonNote(damon)}`].join('\n\n');
  const file = writeJsonRecord(o.out, 'latency', { schema: 'mcr-bench-latency/1', options: o, host: { damon }, samples });
  process.stdout.write(`${md}\n\n(${file})\n`);
}

main().catch((err: unknown) => {
  const e = describeError(err);
  process.stderr.write(`bench:latency: ${e.code} ${e.message}\n`);
  process.exit(1);
});
