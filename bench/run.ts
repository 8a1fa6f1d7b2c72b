#!/usr/bin/env node
/**
 * `npm run bench`: the benchmark suite of issues 4 and 15. Measures MCR and
 * its anchors (the kernel's multicast forwarding via smcroute, an nftables
 * netdev relay, a plain C relay in two designs, socat, GStreamer) side by
 * side in one namespace lab and one run: zero-loss throughput (RFC 2544 bisection) and
 * relay-core CPU per million packets for payloads 64/1400 B and fan-out
 * 1/2/5/10, one-way latency at 10 % and 50 % of each fan-out-1 zero-loss
 * rate (latency.ts), plus MCR's batch / ring-depth / syscall experiments,
 * and IPv6 cells at fan-out 1 (issue 16; `--families 6` runs only those). Writes
 * bench/results/<stamp>.{json,md,svg} and prints the markdown.
 *
 * Runs as root on a machine with at least two cores. Ctrl-C (or the
 * watchdog, at twice the estimate) stops it: the lab, its processes and the
 * temp dir are removed by PID and name, and what was measured so far is
 * written, marked interrupted. `--render FILE.json` rebuilds the report of
 * an earlier run without measuring anything.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { labUnavailableReason } from './lab/index.js';
import { packageRoot } from '../tools/native-tool.js';
import type { BenchLab } from './bench-lab.js';
import { estimateSec, FAMILIES, LATENCY_ROUNDS_FULL, LOSS_THRESHOLD, MCR_MATRIX_ARGS, METHODS, OTHER_CPU, preset, type BenchConfig, type MethodName } from './config.js';
import { BenchError, describeError } from './errors.js';
import { hostDescription } from './host-counters.js';
import { describeLimit } from './limits.js';
import { pinRunnerOffRelayCore } from './pin-runner.js';
import { renderMarkdown } from './report-md.js';
import { renderSvg } from './report-svg.js';
import { fileStamp, writeResults, type BenchResults } from './results.js';
import { loadavg, runSuite } from './suite.js';

const ROOT = packageRoot();

interface ParsedArgs {
  config: BenchConfig;
  /** --render FILE.json: only re-render the report of an earlier run. */
  render?: string;
}

function parseArgs(argv: string[]): ParsedArgs {
  const list = (parse: (s: string) => number) => (v: string) => v.split(',').map((s) => parse(s.trim()));
  const int = (min: number, max: number) => (s: string): number => {
    const n = Number(s);
    if (!/^\d+$/.test(s) || n < min || n > max) throw new InvalidArgumentError(`expected integers ${min}..${max}`);
    return n;
  };
  const program = new Command('bench')
    .description('Zero-loss throughput and CPU cost of MCR vs its anchors (kernel/smcroute, nftables, C relay, socat, GStreamer), in a namespace lab.')
    .option('--quick', 'reduced matrix: fan-out 1, 2 s trials, 3 bisection steps, IPv6 cells at 64 B only (about 13 minutes on a quiet host)')
    .option('--methods <list>', `comma-separated subset of ${METHODS.join(',')}`)
    .option('--payloads <list>', 'UDP payload sizes in bytes', list(int(18, 1472)))
    .option('--fanouts <list>', 'numbers of outputs', list(int(1, 32)))
    .option('--families <list>', 'IP versions: 4 (the matrix, latency, experiments) and/or 6 (the IPv6 fan-out-1 cells); default 4,6',
      list((s) => { if (s !== '4' && s !== '6') throw new InvalidArgumentError('expected 4 and/or 6'); return Number(s); }))
    .option('--ipv6-payloads <list>', 'UDP payload sizes of the IPv6 cells (default 64,1400)', list(int(18, 1452)))
    .option('--duration <sec>', 'seconds of traffic per trial', int(1, 60))
    .option('--steps <n>', 'bisection steps', int(1, 12))
    .option('--no-experiments', 'skip the MCR batch / ring-depth / strace experiments')
    .option('--no-latency', 'skip the one-way latency trials (at 10 % and 50 % of each fan-out-1 zero-loss rate, and at 10 and 100 kpps)')
    .option('--latency-rounds <n>', `rounds of latency trials, one trial per method and point each (default ${LATENCY_ROUNDS_FULL}; quick 3)`, int(1, 30))
    .option('--mcrd-args <flags>', `mcrd flags for the MCR cells, space-separated (default: "${MCR_MATRIX_ARGS.join(' ')}", mcrd's defaults)`)
    .option('--no-sink-rps', "diagnostic: leave the sinks' receive work on the sending core instead of steering it to core 0")
    .option('--awake-core', "diagnostic: keep the relay core awake during the kernel's trials with a SCHED_IDLE busy loop, as MCR's --busy-poll-us does")
    .option('--out <dir>', 'results directory', join(ROOT, 'bench', 'results'))
    .option('--render <file.json>', 're-render the .md and .svg of an earlier run from its JSON (no measuring)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(0);
      process.stderr.write(`bench: ${err.message.replace(/^error: /, '')} (see --help)\n`);
      process.exit(2);
    }
    throw err;
  }
  const o = program.opts<{
    quick?: boolean;
    methods?: string;
    payloads?: number[];
    fanouts?: number[];
    families?: number[];
    ipv6Payloads?: number[];
    duration?: number;
    steps?: number;
    experiments: boolean;
    latency: boolean;
    latencyRounds?: number;
    sinkRps: boolean;
    awakeCore?: boolean;
    mcrdArgs?: string;
    out: string;
    render?: string;
  }>();
  const c = preset(o.quick === true ? 'quick' : 'full', o.out);
  if (o.methods !== undefined) {
    const names = o.methods.split(',').map((s) => s.trim());
    const bad = names.filter((n) => !(METHODS as readonly string[]).includes(n));
    if (bad.length > 0 || names.length === 0) {
      process.stderr.write(`bench: unknown method(s) ${bad.join(', ')}: use ${METHODS.join(',')}\n`);
      process.exit(2);
    }
    c.methods = METHODS.filter((m) => names.includes(m)) as MethodName[];
  }
  if (o.payloads !== undefined) c.payloads = o.payloads;
  if (o.fanouts !== undefined) c.fanouts = o.fanouts;
  if (o.families !== undefined) c.families = FAMILIES.filter((f) => o.families?.includes(f));
  if (o.ipv6Payloads !== undefined) c.ipv6 = { payloads: o.ipv6Payloads };
  if (o.duration !== undefined) c.trialSec = o.duration;
  if (o.steps !== undefined) c.bisectSteps = o.steps;
  if (!o.experiments) c.experiments = undefined;
  if (!o.latency) c.latency = undefined;
  else if (o.latencyRounds !== undefined && c.latency !== undefined) c.latency.trials = o.latencyRounds;
  c.sinkRps = o.sinkRps;
  c.awakeCore = o.awakeCore === true;
  if (o.mcrdArgs !== undefined) c.mcrdArgs = o.mcrdArgs.split(/\s+/).filter((x) => x !== '');
  return o.render === undefined ? { config: c } : { config: c, render: o.render };
}

/**
 * Rebuilds the report of an earlier run from its JSON (every raw trial is
 * there), recomputing each cell's limit text: for when the report code
 * changes after a long run. Writes FILE.md and FILE.svg beside FILE.json.
 */
function render(file: string): void {
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  if (results.schema !== 'mcr-bench/1') throw new BenchError('ERR_BENCH_ARG', `${file} is not an mcr-bench/1 results file`);
  for (const c of results.cells) if (c.search !== undefined) c.limit = describeLimit(c.search, results.config.sinkRps);
  const base = file.replace(/\.json$/, '');
  const markdown = renderMarkdown(results);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.svg`, renderSvg(results));
  process.stdout.write(markdown + '\n');
}

/** Everything the suite needs, checked before anything is created. */
function checkEnvironment(): void {
  const why = labUnavailableReason();
  if (why !== undefined) throw new BenchError('ERR_BENCH_ENV', why);
  if (availableParallelism() < 2) throw new BenchError('ERR_BENCH_ENV', 'needs 2 CPUs: the relay gets core 1, generator and sinks core 0');
  for (const path of ['dist/worker/relay-cli.js', 'build/Release/mcrgen', 'build/Release/mcrsink', 'build/Release/mcr_native.node', 'build/Release/c_relay']) {
    if (!existsSync(join(ROOT, path))) throw new BenchError('ERR_BENCH_ENV', `${path} is missing: build first (npm run build)`);
  }
  for (const tool of ['taskset', 'strace', 'timeout']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore', timeout: 5000 });
    } catch {
      throw new BenchError('ERR_BENCH_ENV', `${tool} is required (util-linux / strace / coreutils)`);
    }
  }
}

function mcrCommit(): string {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', timeout: 5000 }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', timeout: 5000 }).trim();
    return dirty === '' ? rev : `${rev}+dirty`;
  } catch {
    return 'unknown';
  }
}

function log(msg: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${msg}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render !== undefined) {
    try {
      render(args.render);
      process.exit(0);
    } catch (err) {
      const e = describeError(err);
      process.stderr.write(`bench: ${e.code}: ${e.message}\n`);
      process.exit(1);
    }
  }
  const config = args.config;
  try {
    checkEnvironment();
    pinRunnerOffRelayCore();
  } catch (err) {
    const e = describeError(err);
    process.stderr.write(`bench: ${e.code}: ${e.message}\n`);
    process.exit(1);
  }
  const started = new Date();
  const stamp = fileStamp(started);
  const host = hostDescription();
  const results: BenchResults = {
    schema: 'mcr-bench/1',
    startedAt: started.toISOString(),
    config,
    lossThreshold: LOSS_THRESHOLD,
    host: { ...host, loadavgAtStart: loadavg(), backgroundUtil: [] },
    versions: { node: process.version, mcrCommit: mcrCommit() },
    generatorMax: [],
    cells: [],
    errors: [],
  };
  const estimate = estimateSec(config);
  const fams = config.families ?? [4];
  const what = [
    ...(fams.includes(4) ? [`payload ${config.payloads.join('/')} × fan-out ${config.fanouts.join('/')}`] : []),
    ...(fams.includes(6) ? [`IPv6 payload ${config.ipv6?.payloads.join('/') ?? '–'} × fan-out 1`] : []),
  ].join(' + ');
  log(`${config.mode} run: ${config.methods.join(', ')} × (${what}); ` +
    `estimated ${(estimate / 60).toFixed(1)} min on a quiet host, plus up to ${config.quietBudgetSec} s waiting for quiet ` +
    `(stops itself at ${((2 * estimate) / 60).toFixed(0)} min)`);

  let lab: BenchLab | undefined;
  let files: string[] = [];
  const save = (): void => {
    results.finishedAt = new Date().toISOString();
    files = writeResults(config.outDir, stamp, results, renderMarkdown(results), renderSvg(results));
  };
  const abort = (why: string, status: number): void => {
    results.interrupted = why;
    try {
      lab?.destroySync();
    } catch {
      // Going down anyway; the lab's own exit hook tries again.
    }
    try {
      save();
      process.stderr.write(`bench: stopped (${why}); partial results in ${files.join(', ')}; lab removed\n`);
    } catch (err) {
      process.stderr.write(`bench: stopped (${why}); could not write results: ${String(err)}\n`);
    }
    process.exit(status);
  };
  for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(sig, () => abort(sig, status));
  }
  const watchdog = setTimeout(() => abort('watchdog: twice the estimated time', 1), 2 * estimate * 1000);
  watchdog.unref();

  let failed = false;
  try {
    await runSuite(config, results, { log, onLab: (bl) => (lab = bl) });
  } catch (err) {
    failed = true;
    const e = describeError(err);
    results.errors.push({ where: 'run', ...e });
    log(`run FAILED: ${e.code} ${e.message}`);
  }
  clearTimeout(watchdog);
  save();
  process.stdout.write(renderMarkdown(results) + '\n');
  log(`wrote ${files.join(', ')}`);
  process.exit(failed ? 1 : 0);
}

void main();
