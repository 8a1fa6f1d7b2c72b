#!/usr/bin/env node
/**
 * `npm run fuzz -- [--seconds N]`: coverage-guided fuzzing of the code that
 * reads bytes it does not trust (issue 12). Builds the libFuzzer harnesses
 * of native/fuzz with tests/fuzz/build.sh, runs each for N seconds
 * (default 60) over its committed seeds (tests/fuzz/corpus/<harness>) and
 * the corpus earlier runs grew (build/fuzz/corpus/<harness>, where new
 * inputs go), with a per-input time limit, an RSS limit and leak detection;
 * then replays the whole corpus through a source-coverage build to measure
 * the lines and branches of native/core/<harness>.{cc,h} it reaches. Then
 * the same for the TypeScript harnesses of tests/fuzz/js with jsfuzz
 * (tests/fuzz/js/engine), which reports the coverage of the files each
 * drives itself (JS_TARGETS in paths.ts); coverage.ts reads both kinds of
 * coverage.
 * Prints a table, writes build/fuzz/summary.json and each run's output to
 * build/fuzz/logs/<harness>.log, and exits 1 on any crash (sanitizer report,
 * failed invariant, unexpected exception), leak, timeout or out-of-memory,
 * naming the input that did it (build/fuzz/artifacts/<harness>/) and how to
 * replay it; 2 when the native harnesses cannot be built (build.sh says
 * which Debian packages are missing).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { coverageTools, jsCoverage, jsCoveragePath, sourceCoverage, type Counted, type JsCoverage, type SourceCoverage } from './coverage.js';
import { LibFuzzerOutput, type Status } from './libfuzzer-output.js';
import { HARNESSES, isJsHarness, packageRoot, type HarnessName } from './paths.js';

const ROOT = packageRoot();
const OUT = join(ROOT, 'build', 'fuzz');

interface HarnessResult {
  name: string;
  /** libFuzzer (native/fuzz) or jsfuzz (tests/fuzz/js). */
  engine: 'libFuzzer' | 'jsfuzz';
  status: Status;
  /** The line that says what went wrong (sanitizer summary, failed check, ...). */
  detail?: string;
  /** The input libFuzzer saved for a finding, relative to the package root. */
  artifact?: string;
  reproduce?: string;
  exitCode: number | null;
  seconds: number;
  execs: number;
  execsPerSec: number;
  /** `cov:`: instrumented edges reached, out of `edgesTotal` (native: harness, parser and inlined library code; JS: the instrumented files' counters). */
  edges: number;
  edgesTotal: number;
  /** libFuzzer's `ft:` (features: edges with hit-count buckets, value profile). */
  features: number;
  corpusInputs: number;
  newInputs: number;
  peakRssMb: number;
  sourceCoverage: SourceCoverage | null;
  jsCoverage: JsCoverage | null;
  log: string;
}

interface Options {
  seconds: number;
  timeout: number;
  rssLimitMb: number;
  only: HarnessName[];
  fresh: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function parseOptions(argv: string[]): Options {
  const program = new Command('npm run fuzz --')
    .description('build and run the libFuzzer harnesses of native/fuzz and the jsfuzz harnesses of tests/fuzz/js')
    .option('--seconds <n>', 'how long each harness runs', positiveInt, 60)
    .option('--timeout <n>', 'seconds one input may take before it counts as a hang', positiveInt, 10)
    .option('--rss-limit-mb <n>', 'memory a harness may use (and the largest single allocation) before it counts as out-of-memory', positiveInt, 2048)
    .option('--only <names>', `comma-separated subset of: ${HARNESSES.join(', ')}`)
    .option('--fresh', 'forget the corpus earlier runs grew (build/fuzz/corpus) and start from the seeds', false)
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{ seconds: number; timeout: number; rssLimitMb: number; only?: string; fresh: boolean }>();
  const only = o.only === undefined ? [...HARNESSES] : o.only.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of only) {
    if (!(HARNESSES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown harness '${name}' (known: ${HARNESSES.join(', ')})`);
    }
  }
  return { seconds: o.seconds, timeout: o.timeout, rssLimitMb: o.rssLimitMb, only: only as HarnessName[], fresh: o.fresh };
}

const JSFUZZ = join(ROOT, 'dist', 'tests', 'fuzz', 'js', 'engine', 'fuzz.js');

async function runHarness(name: HarnessName, opts: Options): Promise<HarnessResult> {
  const js = isJsHarness(name);
  const seeds = join(ROOT, 'tests', 'fuzz', 'corpus', name);
  const work = join(OUT, 'corpus', name);
  const artifacts = join(OUT, 'artifacts', name);
  const logPath = join(OUT, 'logs', `${name}.log`);
  if (opts.fresh) rmSync(work, { recursive: true, force: true });
  for (const dir of [work, artifacts, join(OUT, 'logs'), join(OUT, 'js-coverage')]) mkdirSync(dir, { recursive: true });

  const common = [
    work, // new inputs are written to the first corpus directory only
    seeds,
    `-max_total_time=${opts.seconds}`,
    `-timeout=${opts.timeout}`,
    `-rss_limit_mb=${opts.rssLimitMb}`,
    '-max_len=4096',
    '-print_final_stats=1',
    `-artifact_prefix=${artifacts}/`,
  ];
  // jsfuzz runs under this Node; its worker's heap limit is the memory limit.
  const binary = js ? process.execPath : join(OUT, name);
  const args = js
    ? [JSFUZZ, name, ...common, `-coverage_out=${jsCoveragePath(name)}`]
    : [...common, `-malloc_limit_mb=${opts.rssLimitMb}`, '-detect_leaks=1'];
  if (js) rmSync(jsCoveragePath(name), { force: true });
  const env = {
    ...process.env,
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:symbolize=1',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  };
  const log = createWriteStream(logPath);
  log.write(`$ ${js ? 'node' : relative(ROOT, binary)} ${args.map((a) => a.replace(`${ROOT}/`, '')).join(' ')}\n`);
  const parser = new LibFuzzerOutput();
  const started = Date.now();
  let hung = false;
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(binary, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // libFuzzer ends itself after max_total_time, and a slow input after
    // -timeout; this only catches a harness wedged beyond both.
    const watchdog = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, (opts.seconds + opts.timeout + 120) * 1000);
    let pending = '';
    const onData = (chunk: Buffer): void => {
      log.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) parser.line(l);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(watchdog);
      if (pending !== '') parser.line(pending);
      resolve(code);
    });
  });
  await new Promise<void>((resolve) => log.end(resolve));
  const seconds = (Date.now() - started) / 1000;

  let status = parser.status;
  let detail = parser.detail();
  if (hung) {
    status = 'hung';
    detail = `killed after ${Math.round(seconds)} s: the harness did not stop at -max_total_time`;
  } else if (status === 'ok' && exitCode !== 0) {
    status = 'crash';
    detail = `exited with code ${String(exitCode)} and no sanitizer report (see the log)`;
  }
  const artifact = parser.artifact === undefined ? undefined : relative(ROOT, resolve(ROOT, parser.artifact));
  const stat = (key: string): number | undefined => parser.stats.get(key);
  const replay = js ? `node ${relative(ROOT, JSFUZZ)} ${name}` : relative(ROOT, binary);
  return {
    name,
    engine: js ? 'jsfuzz' : 'libFuzzer',
    status,
    ...(detail === undefined ? {} : { detail }),
    ...(artifact === undefined ? {} : { artifact, reproduce: `${replay} ${artifact}` }),
    exitCode,
    seconds: Math.round(seconds * 10) / 10,
    execs: stat('number_of_executed_units') ?? parser.execsFromProgress,
    execsPerSec: stat('average_exec_per_sec') ?? Math.round(parser.execsFromProgress / Math.max(seconds, 1)),
    edges: parser.edges,
    edgesTotal: parser.edgesTotal,
    features: parser.features,
    corpusInputs: parser.corpusInputs,
    newInputs: stat('new_units_added') ?? 0,
    peakRssMb: stat('peak_rss_mb') ?? 0,
    sourceCoverage: null,
    jsCoverage: js ? jsCoverage(name) : null,
    log: relative(ROOT, logPath),
  };
}

const pct = (c: Counted | undefined): string => (c === undefined || c.total === 0 ? '-' : `${((100 * c.covered) / c.total).toFixed(1)}% (${c.covered}/${c.total})`);

function table(results: HarnessResult[]): string {
  const rows = [
    ['harness', 'status', 'time', 'execs', 'exec/s', 'cov (edges)', 'ft', 'corpus', 'target lines', 'target branches', 'file lines'],
    ...results.map((r) => [
      r.name,
      r.status,
      `${Math.round(r.seconds)} s`,
      r.execs.toLocaleString('en-US'),
      r.execsPerSec.toLocaleString('en-US'),
      `${r.edges}/${r.edgesTotal}`,
      String(r.features),
      String(r.corpusInputs),
      pct(r.sourceCoverage?.targetLines ?? r.jsCoverage?.targetLines),
      pct(r.sourceCoverage?.targetBranches ?? r.jsCoverage?.targetBranches),
      pct(r.sourceCoverage?.lines ?? r.jsCoverage?.lines),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    console.error(`fuzz: ${(err as Error).message}`);
    return 2;
  }

  // The JS harnesses were compiled by `npm run fuzz` (tsc) before this runs.
  const native = opts.only.filter((name) => !isJsHarness(name));
  if (native.length > 0) {
    const build = spawnSync(join(ROOT, 'tests', 'fuzz', 'build.sh'), native, { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) {
      console.error('fuzz: building the harnesses failed (see above)');
      return 2;
    }
  }
  const tools = coverageTools();
  const clang = spawnSync(process.env.CXX_FUZZ ?? 'clang++', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';

  const startedAt = new Date();
  const results: HarnessResult[] = [];
  for (const name of opts.only) {
    console.log(`fuzz: ${name} for ${opts.seconds} s`);
    const r = await runHarness(name, opts);
    if (tools !== null && !isJsHarness(name)) r.sourceCoverage = sourceCoverage(name, tools);
    console.log(
      `fuzz: ${name}: ${r.status}, ${r.execs.toLocaleString('en-US')} execs, cov ${r.edges}/${r.edgesTotal} edges, target lines ${pct(r.sourceCoverage?.targetLines ?? r.jsCoverage?.targetLines)}`,
    );
    if (r.status !== 'ok') {
      console.log(`fuzz: ${name}: ${r.detail ?? ''}`);
      if (r.reproduce !== undefined) console.log(`fuzz: ${name}: replay with: ${r.reproduce}`);
      console.log(`fuzz: ${name}: full output in ${r.log}`);
    }
    results.push(r);
  }

  const ok = results.every((r) => r.status === 'ok');
  const summary = {
    date: startedAt.toISOString(),
    secondsPerHarness: opts.seconds,
    timeoutSeconds: opts.timeout,
    rssLimitMb: opts.rssLimitMb,
    compiler: clang,
    sourceCoverage: tools !== null ? 'clang source coverage of the corpus replayed' : 'unavailable (no llvm-profdata/llvm-cov)',
    jsCoverage: 'jsfuzz: lines, branches and functions of the target files reached by any input run (JS_TARGETS in tests/fuzz/paths.ts)',
    node: process.version,
    ok,
    harnesses: results,
  };
  writeFileSync(join(OUT, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`\n${table(results)}\n`);
  console.log(`fuzz: summary in ${relative(ROOT, join(OUT, 'summary.json'))}`);
  if (!ok) {
    const bad = results.filter((r) => r.status !== 'ok').map((r) => `${r.name} (${r.status})`);
    console.error(`fuzz: FAILED: ${bad.join(', ')}; add each input to tests/fuzz/corpus/<harness>/ once fixed`);
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`fuzz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 2;
  },
);
