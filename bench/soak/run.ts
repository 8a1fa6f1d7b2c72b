#!/usr/bin/env node
/**
 * `npm run soak -- --minutes M`: mcrd in the namespace lab under steady
 * traffic for M minutes (default 10), one random fault every 10–30 s
 * (seeded; the seed is printed and in the report), exact accounting of
 * every datagram, and the checks of issue 12's "Soak". Writes
 * bench/results/<stamp>-soak.{json,md}; exit status 1 if any check failed.
 *
 * Ctrl-C / SIGTERM / SIGHUP: resumes any worker the soak stopped, kills
 * mcrd and its workers by PID and removes the scratch directory; the lab's
 * own hook (registered after this one, so it runs next) kills the
 * generators and sinks and deletes the namespaces. No report is written
 * for an interrupted run.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { intOption } from '../cli-int.js';
import { labUnavailableReason } from '../lab/index.js';
import { packageRoot } from '../../tools/native-tool.js';
import { freshSeed } from './rng.js';
import { parseKinds } from './schedule.js';
import { runSoak, type LiveState } from './soak.js';
import { summarize } from './summary.js';
import { writeReport } from './report.js';

const ROOT = packageRoot();
/**
 * Total datagrams per second over the five base rules (7 output streams).
 * About half of the highest rate at which this soak's steady phases stayed
 * lossless on the 2-core development machine while other test suites ran
 * (docs/reliability.md, "Soak", says how it was found).
 */
export const DEFAULT_RATE = 20_000;


const program = new Command('soak')
  .description('Run mcrd under traffic and random faults in a namespace lab and account for every datagram (issue 12).')
  .option('--minutes <m>', 'how long to run', intOption(1, 24 * 60), 10)
  .option('--seed <n>', 'seed of the fault schedule (default: time-based, printed)', intOption(0, 2 ** 32 - 1))
  .option('--faults <list>', 'all, none (traffic only: rate calibration), or a comma-separated list of kinds', 'all')
  .option('--rate <pps>', 'datagrams per second over all base rules', intOption(5, 1_000_000), DEFAULT_RATE)
  .option('--size <bytes>', 'UDP payload bytes (above the lowered MTU of the output-mtu fault)', intOption(300, 1400), 512)
  .option('--out <dir>', 'results directory', join(ROOT, 'bench', 'results'));
program.parse();
const opts = program.opts<{ minutes: number; seed?: number; faults: string; rate: number; size: number; out: string }>();

const unavailable = labUnavailableReason();
if (unavailable !== undefined) {
  process.stderr.write(`soak: ${unavailable}\n`);
  process.exit(2);
}

const live: LiveState = { stopped: new Set(), workerPids: new Set() };
const mcrdChild = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === live.mcrd?.pid;
  } catch {
    return false;
  }
};
// Registered before the first lab exists, so this runs before the lab's own hook (bench/lab/registry.ts).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const onSignal = (): void => {
    live.aborted = sig;
    for (const pid of live.stopped) if (mcrdChild(pid)) process.kill(pid, 'SIGCONT');
    for (const pid of live.workerPids) if (mcrdChild(pid)) process.kill(pid, 'SIGKILL');
    live.mcrd?.killNow();
    if (live.dir !== undefined) rmSync(live.dir, { recursive: true, force: true });
    process.stderr.write(`soak: ${sig}: mcrd and its workers killed, scratch directory removed; the lab removes its namespaces and processes\n`);
    process.removeListener(sig, onSignal);
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.on(sig, onSignal);
}

const seed = opts.seed ?? freshSeed();
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
say(`soak: seed ${seed} (replay with --seed ${seed})`);
const run = await runSoak({ minutes: opts.minutes, seed, kinds: parseKinds(opts.faults), rate: opts.rate, size: opts.size,
  log: say }, live);
const summary = summarize(run);
const files = writeReport(opts.out, summary, run, (p) => relative(ROOT, p));
for (const c of summary.checks) say(`${c.ok ? 'pass' : 'FAIL'}: ${c.name}${c.ok ? '' : `: ${c.detail.slice(0, 3).join('; ')}`}`);
say(`soak: ${summary.ok ? 'passed' : 'FAILED'}; report ${relative(ROOT, files.md)} and ${relative(ROOT, files.json)}`);
process.exit(summary.ok ? 0 : 1);
