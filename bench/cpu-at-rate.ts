#!/usr/bin/env node
/**
 * `npm run bench:cpu`: does a relay's CPU follow its load? For each variant
 * (mcrd with its defaults, with each `--busy-poll-us` setting, mcrd's
 * defaults from another build with `--base-root DIR` as variant `base`, and
 * the C anchors), in one lab and one run: the relay's CPU over an idle window
 * (0 pps), its zero-loss rate (the suite's search, bench/search.ts), and
 * its CPU at fixed offered rates, 10 % and 50 % of one common basis (the
 * first variant's zero-loss rate, or --basis-pps), so every variant faces
 * the same load. CPU is the suite's measure (trial.ts methodCoreSec: core
 * 1's busy time less other programs' there, plus the method's threads on
 * other cores); "% of a core" is that over the trial's window. Beside it,
 * the IPIs core 0 (the sinks' core) took per datagram at 50 %: a relay's
 * send raises one whenever core 0's receive backlog had drained, so fewer,
 * larger sends raise fewer; on a paravirtualized host each is a hypervisor
 * trip on the sending core. The variants run interleaved,
 * --repeats times, since the host is shared: the report gives each
 * figure's median and range. Writes bench/results/cpu-<stamp>.json and
 * prints a markdown table.
 */
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { intOption } from './cli-int.js';
import { packageRoot } from '../tools/native-tool.js';
import { createBenchLab, type BenchLab } from './bench-lab.js';
import { OTHER_CPU, preset, type MethodName } from './config.js';
import { ensureDependencies } from './deps.js';
import { describeError } from './errors.js';
import { pacedBurst, setGeneratorBurst } from './generator.js';
import { interruptsPer, readInterrupts, readProcessCpuSec } from './host-counters.js';
import { labUnavailableReason } from './lab/index.js';
import { START, type RunningMethod } from './methods/index.js';
import { writeJsonRecord } from './results.js';
import { pinRunnerOffRelayCore } from './pin-runner.js';
import { zeroLossSearch } from './search.js';
import { runTrial, sleep, warmUp, type TrialResult } from './trial.js';

interface Variant {
  name: string;
  method: MethodName;
  mcrdArgs?: string[];
  /** Run mcrd from --base-root (another build, for before/after in one run). */
  base?: boolean;
}

const VARIANTS: Record<string, Variant> = {
  default: { name: 'mcrd defaults (busy poll auto)', method: 'mcr', mcrdArgs: [] },
  base: { name: 'mcrd defaults from --base-root', method: 'mcr', mcrdArgs: [], base: true },
  bp1000: { name: '--busy-poll-us 1000', method: 'mcr', mcrdArgs: ['--busy-poll-us', '1000'] },
  off: { name: '--busy-poll-us 0 (never poll)', method: 'mcr', mcrdArgs: ['--busy-poll-us', '0'] },
  coalesce20: { name: '--coalesce-us 20 (burst cap 256 sends)', method: 'mcr', mcrdArgs: ['--coalesce-us', '20'] },
  coalesce50: { name: '--coalesce-us 50 (burst cap 256 sends)', method: 'mcr', mcrdArgs: ['--coalesce-us', '50'] },
  coalesce100: { name: '--coalesce-us 100 (burst cap 256 sends)', method: 'mcr', mcrdArgs: ['--coalesce-us', '100'] },
  coalesce250: { name: '--coalesce-us 250 (burst cap 256 sends)', method: 'mcr', mcrdArgs: ['--coalesce-us', '250'] },
  // The C TPACKET_V3 relay's wake-up rate (its 1 ms block timeout): CPU at the same latency budget.
  coalesce1000: { name: '--coalesce-us 1000 (burst cap 256 sends)', method: 'mcr', mcrdArgs: ['--coalesce-us', '1000'] },
  slice0: { name: '--loop-slice-us 0 (the kernel\'s slice)', method: 'mcr', mcrdArgs: ['--loop-slice-us', '0'] },
  // The packaged unit's default (--loop-rt-priority auto under LimitRTPRIO=10):
  // this lab cannot give its workers the limit, so the priority is asked for,
  // and root workers keep CAP_SYS_NICE to come back from a step down.
  rt10: { name: '--loop-rt-priority 10 --user root (the packaged default)', method: 'mcr', mcrdArgs: ['--loop-rt-priority', '10', '--user', 'root'] },
  'c-ring': { name: 'C anchor c-ring', method: 'c-ring' },
  'c-mmsg': { name: 'C anchor c-mmsg', method: 'c-mmsg' },
};

interface Sample {
  variant: string;
  repeat: number;
  idleSec: number;
  /** The forwarding processes' CPU over the idle window, % of a core (for MCR: mcrd and its worker). */
  idlePct: number;
  /** The loop's process alone (MCR's worker; the C relay). */
  idleLoopPct: number;
  zeroLossPps: number;
  at10?: TrialResult;
  at50?: TrialResult;
  /**
   * Function-call IPIs core 0 (the sinks' core) took per input datagram in
   * each trial: raised by the relay's sends whenever core 0's backlog had
   * drained, so fewer, larger sends raise fewer (docs/performance-history.md,
   * "Wake-ups set the CPU per datagram").
   */
  sinkIpis?: { at10?: number; at50?: number };
  error?: { code: string; message: string };
}

function parseArgs(argv: string[]) {
  const int = intOption();
  const program = new Command('bench:cpu')
    .description('CPU at 0 pps, at 10 % and 50 % of a zero-loss basis, and the zero-loss rate, per relay variant, in one lab')
    .option('--variants <list>', `comma-separated, in order (the first sets the basis): ${Object.keys(VARIANTS).join(',')}`, 'default,bp1000,off,c-ring')
    .option('--payload <bytes>', 'UDP payload', int, 64)
    .option('--fanout <n>', 'outputs', int, 1)
    .option('--repeats <n>', 'rounds over all variants', int, 2)
    .option('--duration <sec>', 'seconds per trial', int, 3)
    .option('--idle <sec>', 'seconds of the idle window', int, 10)
    .option('--steps <n>', 'bisection steps of the zero-loss search', int, 4)
    .option('--basis-pps <pps>', 'the rate 10 % and 50 % are of (default: the first variant\'s first zero-loss rate)', int)
    .option('--base-root <dir>', 'package root of another MCR build, for variant base')
    .option('--gen-burst <n>', 'the largest paced burst of the generator, in datagrams (1 = evenly spaced; the suite sends up to 8: rate ÷ 5000, at least 1)', int, 8)
    .option('--out <dir>', 'results directory', join(packageRoot(), 'bench', 'results'));
  program.parse(argv, { from: 'user' });
  const o = program.opts<{ variants: string; payload: number; fanout: number; repeats: number; duration: number; idle: number;
    steps: number; basisPps?: number; baseRoot?: string; genBurst: number; out: string }>();
  if (o.variants.split(',').map((s) => s.trim()).includes('base') && o.baseRoot === undefined) throw new InvalidArgumentError('variant base needs --base-root');
  return o;
}

async function idleWindow(running: RunningMethod, seconds: number): Promise<{ allPct: number; loopPct: number }> {
  const cpu = (pids: readonly number[]) => pids.reduce((s, pid) => s + readProcessCpuSec(pid), 0);
  const loop = [running.loopPid ?? running.pids[0] ?? 0].filter((p) => p > 0);
  const all0 = cpu(running.pids);
  const loop0 = cpu(loop);
  const start = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - start) / 1000;
  return { allPct: (100 * (cpu(running.pids) - all0)) / wall, loopPct: (100 * (cpu(loop) - loop0)) / wall };
}

async function measureVariant(bl: BenchLab, key: string, repeat: number, o: ReturnType<typeof parseArgs>,
  basis: () => number | undefined, log: (s: string) => void): Promise<Sample> {
  const v = VARIANTS[key];
  if (v === undefined) throw new InvalidArgumentError(`unknown variant ${key}`);
  const out: Sample = { variant: key, repeat, idleSec: o.idle, idlePct: 0, idleLoopPct: 0, zeroLossPps: 0 };
  let running: RunningMethod | undefined;
  try {
    running = await START[v.method](bl, { fanout: o.fanout, ...(v.mcrdArgs !== undefined ? { mcrdArgs: v.mcrdArgs } : {}),
      ...(v.base === true && o.baseRoot !== undefined ? { mcrdRoot: o.baseRoot } : {}) });
    await warmUp(bl, o.fanout, o.payload);
    await sleep(1000);  // the warm-up's traffic is over before the idle window starts
    const idle = await idleWindow(running, o.idle);
    out.idlePct = idle.allPct;
    out.idleLoopPct = idle.loopPct;
    const config = { ...preset('quick', o.out), trialSec: o.duration, bisectSteps: o.steps };
    const cell = { method: v.method, payload: o.payload, fanout: o.fanout };
    const search = await zeroLossSearch(bl, running, cell, config, () => undefined);
    out.zeroLossPps = search.zeroLossPps;
    const b = basis() ?? search.zeroLossPps;
    out.sinkIpis = {};
    for (const share of [10, 50] as const) {
      const irqBefore = readInterrupts();
      const t = await runTrial(bl, running, { ...cell, rate: Math.round((b * share) / 100), durationSec: o.duration, purpose: `cpu at ${share} %` });
      const at = share === 10 ? 'at10' : 'at50';
      out[at] = t;
      out.sinkIpis[at] = interruptsPer(irqBefore, readInterrupts(), 'CAL', OTHER_CPU, t.gen.sent);
    }
    log(`${v.name} #${repeat}: idle ${out.idlePct.toFixed(2)} % (loop ${out.idleLoopPct.toFixed(2)} %), zero-loss ${(out.zeroLossPps / 1000).toFixed(0)} kpps, ` +
      `10 %: ${pct(out.at10)} of a core, ${perM(out.at10)} s/M, loss ${loss(out.at10)}; 50 %: ${pct(out.at50)}, ${perM(out.at50)} s/M, loss ${loss(out.at50)}`);
  } catch (err) {
    out.error = describeError(err);
    log(`${v.name} #${repeat}: FAILED ${out.error.code} ${out.error.message}`);
  } finally {
    await running?.stop().catch(() => undefined);
  }
  return out;
}

const pct = (t?: TrialResult): string => (t === undefined ? '–' : `${((100 * t.methodCoreSec) / t.windowSec).toFixed(1)} %`);
const perM = (t?: TrialResult): string => (t?.cpuSecPerMInput == null ? '–' : t.cpuSecPerMInput.toFixed(2));
const loss = (t?: TrialResult): string => (t === undefined ? '–' : `${(100 * t.loss).toFixed(2)} %`);

function spread(xs: number[], digits: number): string {
  if (xs.length === 0) return '–';
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 === 1 ? s[(s.length - 1) / 2] ?? 0 : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
  return s.length === 1 ? mid.toFixed(digits) : `${mid.toFixed(digits)} (${(s[0] ?? 0).toFixed(digits)}–${(s.at(-1) ?? 0).toFixed(digits)})`;
}

function table(samples: Sample[], keys: string[], basisPps: number, o: ReturnType<typeof parseArgs>): string {
  const rows = [
    `CPU follows load: ${o.payload} B, fan-out ${o.fanout}, generator bursts of ${pacedBurst(basisPps / 10)} at 10 % and ${pacedBurst(basisPps / 2)} at 50 %, ${o.repeats} rounds, ${o.duration} s trials; rates are 10 % and 50 % of ${(basisPps / 1000).toFixed(0)} kpps; median (range)`,
    '',
    '| variant | idle, % of a core (loop process) | 10 %: % of a core | 10 %: CPU s / M datagrams | 50 %: % of a core | 50 %: CPU s / M datagrams | 50 %: IPIs to core 0 / datagram | zero-loss kpps |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const key of keys) {
    const s = samples.filter((x) => x.variant === key && x.error === undefined);
    const core = (t?: TrialResult) => (t === undefined ? [] : [(100 * t.methodCoreSec) / t.windowSec]);
    const per = (t?: TrialResult) => (t?.cpuSecPerMInput == null ? [] : [t.cpuSecPerMInput]);
    rows.push(`| ${VARIANTS[key]?.name ?? key} | ${spread(s.map((x) => x.idleLoopPct), 2)} | ${spread(s.flatMap((x) => core(x.at10)), 1)} | ` +
      `${spread(s.flatMap((x) => per(x.at10)), 2)} | ${spread(s.flatMap((x) => core(x.at50)), 1)} | ${spread(s.flatMap((x) => per(x.at50)), 2)} | ` +
      `${spread(s.flatMap((x) => (x.sinkIpis?.at50 === undefined ? [] : [x.sinkIpis.at50])), 3)} | ${spread(s.map((x) => x.zeroLossPps / 1000), 0)} |`);
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  setGeneratorBurst(o.genBurst);
  const why = labUnavailableReason();
  if (why !== undefined) throw new Error(why);
  pinRunnerOffRelayCore();
  const keys = o.variants.split(',').map((s) => s.trim());
  for (const k of keys) if (VARIANTS[k] === undefined) throw new Error(`unknown variant ${k}: use ${Object.keys(VARIANTS).join(',')}`);
  const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
  await ensureDependencies([...new Set(keys.map((k) => VARIANTS[k]?.method ?? 'mcr'))], log);
  const bl = await createBenchLab(o.fanout, { sinkRps: true });
  const stop = () => { bl.destroySync(); process.exit(130); };
  process.once('SIGINT', stop);
  const samples: Sample[] = [];
  let basisPps = o.basisPps;
  try {
    for (let r = 1; r <= o.repeats; r++) {
      for (const key of keys) {
        const s = await measureVariant(bl, key, r, o, () => basisPps, log);
        if (basisPps === undefined && s.zeroLossPps > 0) basisPps = s.zeroLossPps;
        samples.push(s);
      }
    }
  } finally {
    await bl.destroy();
    process.off('SIGINT', stop);
  }
  const md = table(samples, keys, basisPps ?? 0, o);
  const file = writeJsonRecord(o.out, 'cpu', { schema: 'mcr-bench-cpu/1', options: o, basisPps, samples });
  process.stdout.write(`${md}\n\n(${file})\n`);
}

main().catch((err: unknown) => {
  const e = describeError(err);
  process.stderr.write(`bench:cpu: ${e.code} ${e.message}\n`);
  process.exit(1);
});
