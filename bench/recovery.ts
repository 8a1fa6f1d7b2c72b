/**
 * `npm run bench:recovery`: does a relay get back to its rate after it was
 * overrun? A zero-loss search first drives every method far past its limit
 * (the generator flat out), then bisects with the same running relay; a
 * relay that stayed slower after an overrun would fail rates it passed
 * before, and the search would report too low a figure. This tool checks
 * that directly, in one lab: trials at a fixed rate before, one trial with
 * the generator flat out, trials at the same rate after, then the same
 * rate once more on a freshly started relay (is any slowness kept in the
 * relay's process, or in the host?). Each line gives loss, where it was
 * counted and the cores' busy shares; the JSON keeps every trial.
 * `--watch-stalls MS` also logs, per trial, each MS-long window in which
 * the relay core's input backlog dropped frames (stall-watch.ts), and
 * `--gen-catch-up-us` sets how much of its own stalls the generator makes
 * up (mcrgen --catch-up-us).
 */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { intOption } from './cli-int.js';
import { packageRoot } from '../tools/native-tool.js';
import { createBenchLab } from './bench-lab.js';
import { RELAY_CPU, type MethodName } from './config.js';
import { ensureDependencies } from './deps.js';
import { describeError } from './errors.js';
import { labUnavailableReason } from './lab/index.js';
import { setGeneratorCatchUp } from './generator.js';
import { lossBreakdown } from './limits.js';
import { describeStall, watchStalls, type StallWindow } from './stall-watch.js';
import { START, type RunningMethod } from './methods/index.js';
import { writeJsonRecord } from './results.js';
import { pinRunnerOffRelayCore } from './pin-runner.js';
import { trialLine } from './suite.js';
import { runTrial, sleep, warmUp, type TrialResult } from './trial.js';

/** The overrun trial: rate 0 is the generator flat out, as in the zero-loss search's first trial. */
const FLAT_OUT = 0;
const METHODS: readonly MethodName[] = ['mcr', 'c-ring', 'c-mmsg'];

function parseArgs(argv: string[]) {
  const int = intOption();
  const program = new Command('bench:recovery')
    .description('loss at a fixed rate before and after one trial that overruns the relay, and on a restarted relay')
    .addOption(new Option('--method <name>', 'relay under test').choices(METHODS).default('mcr'))
    .requiredOption('--rate <pps>', 'the fixed rate (pick one the method passes, near its zero-loss rate)', int)
    .option('--payload <bytes>', 'UDP payload', int, 64)
    .option('--fanout <n>', 'outputs', int, 1)
    .option('--before <n>', 'trials at the rate before the overrun', int, 2)
    .option('--after <n>', 'trials at the rate after it', int, 4)
    .option('--duration <sec>', 'seconds per trial', int, 5)
    .option('--mcrd-args <flags>', 'mcrd flags (method mcr), space-separated', '')
    .option('--watch-stalls <ms>', "sample the relay core's input backlog, ksoftirqd and steal every MS ms during each trial and log the windows with drops (bench/stall-watch.ts)", intOption(5, 1000))
    .option('--gen-catch-up-us <us>', "how much of a stall of its own the generator makes up with a burst (mcrgen --catch-up-us)", intOption(0, 100_000), 2000)
    .option('--out <dir>', 'results directory', join(packageRoot(), 'bench', 'results'));
  program.parse(argv, { from: 'user' });
  return program.opts<{ method: MethodName; rate: number; payload: number; fanout: number; before: number; after: number;
    duration: number; mcrdArgs: string; watchStalls?: number; genCatchUpUs: number; out: string }>();
}

interface Step { phase: 'before' | 'overrun' | 'after' | 'restarted'; trial: TrialResult; stalls?: StallWindow[] }

function describe(s: Step): string {
  const where = lossBreakdown(s.trial).slice(0, 3).map((l) => `${l.where} ${l.packets}`);
  return `${s.phase.padEnd(9)} ${trialLine(s.trial)}${where.length > 0 ? `; counted at: ${where.join(', ')}` : ''}`;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const why = labUnavailableReason();
  if (why !== undefined) throw new Error(why);
  pinRunnerOffRelayCore();
  setGeneratorCatchUp(o.genCatchUpUs);
  const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
  await ensureDependencies([o.method], log);
  const bl = await createBenchLab(o.fanout, { sinkRps: true });
  const stop = () => { bl.destroySync(); process.exit(130); };
  process.once('SIGINT', stop);
  const mcrdArgs = o.mcrdArgs.split(' ').filter((a) => a !== '');
  const cell = { method: o.method, payload: o.payload, fanout: o.fanout };
  const steps: Step[] = [];
  const trial = async (running: RunningMethod, phase: Step['phase'], rate: number) => {
    const watch = o.watchStalls === undefined ? undefined : watchStalls(RELAY_CPU, o.watchStalls);
    let result: TrialResult;
    let stalls: StallWindow[] | undefined;
    try {
      result = await runTrial(bl, running, { ...cell, rate, durationSec: o.duration, purpose: phase });
    } finally {
      stalls = watch?.stop();
    }
    const s: Step = { phase, trial: result, ...(stalls !== undefined ? { stalls } : {}) };
    steps.push(s);
    log(describe(s));
    for (const w of s.stalls ?? []) log(`  core ${RELAY_CPU} backlog ${describeStall(w)}`);
  };
  const start = async () => {
    const running = await START[o.method](bl, { fanout: o.fanout, ...(o.method === 'mcr' ? { mcrdArgs } : {}) });
    await warmUp(bl, o.fanout, o.payload);
    await sleep(1000);
    return running;
  };
  let running: RunningMethod | undefined;
  try {
    running = await start();
    for (let i = 0; i < o.before; i++) await trial(running, 'before', o.rate);
    await trial(running, 'overrun', FLAT_OUT);
    for (let i = 0; i < o.after; i++) await trial(running, 'after', o.rate);
    await running.stop();
    running = undefined;
    running = await start();
    await trial(running, 'restarted', o.rate);
  } finally {
    await running?.stop().catch(() => undefined);
    await bl.destroy();
    process.off('SIGINT', stop);
  }
  const file = writeJsonRecord(o.out, 'recovery', { schema: 'mcr-bench-recovery/1', options: o, steps });
  const worst = (phase: Step['phase']) => Math.max(0, ...steps.filter((s) => s.phase === phase).map((s) => 100 * s.trial.loss));
  process.stdout.write(`${o.method} ${o.payload} B ×${o.fanout} at ${(o.rate / 1000).toFixed(0)} kpps: worst loss before ${worst('before').toFixed(3)} %, ` +
    `after the overrun ${worst('after').toFixed(3)} %, restarted ${worst('restarted').toFixed(3)} %\n(${file})\n`);
}

main().catch((err: unknown) => {
  const e = describeError(err);
  process.stderr.write(`bench:recovery: ${e.code} ${e.message}\n`);
  process.exit(1);
});
