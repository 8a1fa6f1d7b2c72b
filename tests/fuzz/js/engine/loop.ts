/**
 * The fuzz loop of the JavaScript fuzzer, run in a worker thread by fuzz.ts.
 * It instruments the code under test as it is imported (hooks.ts), imports
 * the harness (tests/fuzz/js/<name>.ts, which exports `fuzz(data)`), runs
 * every corpus input, then mutates corpus inputs (mutate.ts) until the time
 * or run budget is spent. Like libFuzzer, an input is kept (and written to
 * the first corpus directory) when it reaches a new feature: a counter seen
 * for the first time, or one hit a number of times in a bucket (1, 2, 3,
 * 4-7, 8-15, 16-31, 32-127, 128+) not seen for it before.
 *
 * Any exception or rejection out of `fuzz` is a finding: the input is saved
 * as <artifact_prefix>crash-<sha1>, the error and its stack printed, and
 * the thread exits with status 77. Progress and final statistics are
 * printed in libFuzzer's line formats (`#N NEW cov: ...`, `stat::...`),
 * so tests/fuzz/libfuzzer-output.ts reads both fuzzers alike; this
 * fuzzer's own lines say `jsfuzz`.
 *
 * In replay mode (files given instead of directories) nothing is
 * instrumented: each file runs once, so a finding's stack points at the
 * real lines of dist/ and, through source maps, of the .ts files.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { workerData } from 'node:worker_threads';
import Module, { register } from 'node:module';
import { describe, type HookData, type Registration } from './hooks.js';
import { COUNTERS_NAME, instrument, type ModuleMap } from './instrument.js';
import { Mutator, Rng } from './mutate.js';
import { HEADER_BYTES, SLOT_LENGTH, SLOT_RUNNING, SLOT_SEQ, type CoverageReport, type EngineOptions, type FileCoverage } from './shared.js';

interface LoopData {
  options: EngineOptions;
  shared: SharedArrayBuffer;
  harnessPath: string;
  include: string[];
  root: string;
}

type FuzzFn = (data: Buffer) => unknown;

const { options, shared, harnessPath, include, root } = workerData as LoopData;
const slots = new Int32Array(shared, 0, HEADER_BYTES / 4);
const inputView = new Uint8Array(shared, HEADER_BYTES);
const MAX_COUNTERS = 1 << 20;
const started = Date.now();

const print = (line: string): void => {
  // Straight to fd 2: a worker's process.stderr is relayed through the main
  // thread, and lost when the supervisor terminates this thread.
  writeSync(2, `${line}\n`);
};
const sha1 = (data: Uint8Array): string => createHash('sha1').update(data).digest('hex');
const rssMb = (): number => Math.round(process.memoryUsage.rss() / (1024 * 1024));

const counters = new Uint32Array(MAX_COUNTERS);
/** Per counter, a bit per hit-count bucket seen so far. */
const seen = new Uint8Array(MAX_COUNTERS);
let used = 0;
let edges = 0;
let features = 0;

interface LoadedModule extends Registration {
  base: number;
}
const modules: LoadedModule[] = [];

/** Gives an instrumented module its counters: the next free slice of the one array. */
function allocate(r: Registration): Uint32Array {
  const base = used;
  if (base + r.kinds.length > MAX_COUNTERS) throw new Error(`jsfuzz: more than ${MAX_COUNTERS} counters; instrument fewer files`);
  used += r.kinds.length;
  modules.push({ ...r, base });
  return counters.subarray(base, used);
}
(globalThis as { __mcrFuzzAlloc?: typeof allocate }).__mcrFuzzAlloc = allocate;

/**
 * Instruments CommonJS files under `include` as require() compiles them
 * (protobufjs's reader, for the wire harnesses): the loader hooks see only
 * ES modules.
 */
function hookRequire(): void {
  const proto = Module.prototype as unknown as { _compile: (content: string, filename: string) => unknown };
  const compile = proto._compile;
  proto._compile = function (this: unknown, content: string, filename: string): unknown {
    if (!include.some((prefix) => filename.startsWith(prefix))) return compile.call(this, content, filename);
    const slot = `__mcrFuzzCjs${cjsMaps.length}`;
    const { code, map } = instrument(content, filename, `var ${COUNTERS_NAME} = globalThis.__mcrFuzzAlloc(globalThis.${slot});`);
    cjsMaps.push(map);
    (globalThis as Record<string, unknown>)[slot] = describe(filename, root, map);
    return compile.call(this, code, filename);
  };
}
const cjsMaps: ModuleMap[] = [];

function bucket(count: number): number {
  if (count >= 128) return 7;
  if (count >= 32) return 6;
  if (count >= 16) return 5;
  if (count >= 8) return 4;
  if (count >= 4) return 3;
  return count - 1;
}

/** Merges the counters of the last execution into `seen`; returns how many features were new. */
function collect(): number {
  let fresh = 0;
  for (let i = 0; i < used; i++) {
    const c = counters[i] ?? 0;
    if (c === 0) continue;
    const bit = 1 << bucket(c);
    const before = seen[i] ?? 0;
    if ((before & bit) !== 0) continue;
    if (before === 0) edges++;
    seen[i] = before | bit;
    features++;
    fresh++;
  }
  return fresh;
}

class Finding extends Error {
  constructor(readonly error: unknown) {
    super('finding');
  }
}

let fuzz: FuzzFn = () => undefined;

/** Runs one input; throws a Finding for anything `fuzz` throws or rejects with. */
async function execute(data: Buffer): Promise<void> {
  counters.fill(0, 0, used);
  inputView.set(data.subarray(0, inputView.length));
  Atomics.store(slots, SLOT_LENGTH, Math.min(data.length, inputView.length));
  Atomics.add(slots, SLOT_SEQ, 1);
  Atomics.store(slots, SLOT_RUNNING, 1);
  try {
    const result = fuzz(data);
    // Await only what is a promise: a synchronous target stays synchronous.
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') await result;
  } catch (err) {
    throw new Finding(err);
  } finally {
    Atomics.store(slots, SLOT_RUNNING, 0);
  }
}

function describeError(err: unknown): { title: string; text: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const title = `${err.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${err.message.split('\n')[0] ?? ''}`;
    return { title, text: err.stack ?? title };
  }
  return { title: `a thrown ${typeof err}: ${String(err)}`, text: String(err) };
}

async function report(first: Finding, data: Buffer, sequence: string): Promise<never> {
  // Errors were created without stacks (see fuzzLoop); run the input again
  // with them for a report that says where. Targets are deterministic, but
  // if this run does not fail the same way, the first error is reported.
  Error.stackTraceLimit = 20;
  let finding = first;
  try {
    await execute(data);
  } catch (err) {
    if (err instanceof Finding) finding = err;
  }
  const { title, text } = describeError(finding.error);
  print(`==${process.pid}== ERROR: jsfuzz: uncaught exception: ${title}`);
  for (const line of text.split('\n')) print(line);
  if (finding.error instanceof Error && finding.error.cause !== undefined) print(`cause: ${describeError(finding.error.cause).text}`);
  print(`SUMMARY: jsfuzz: uncaught exception: ${title}`);
  if (sequence !== '') print(`MS: ${sequence}`);
  const path = `${options.artifactPrefix}crash-${sha1(data)}`;
  writeFileSync(path, data);
  print(`artifact_prefix='${options.artifactPrefix}'; Test unit written to ${path}`);
  print(`Base64: ${data.toString('base64')}`);
  finalStats();
  writeCoverage();
  process.exit(77);
}

let executions = 0;
let newUnits = 0;
let peakRss = 0;

function finalStats(): void {
  const seconds = Math.max((Date.now() - started) / 1000, 1e-3);
  peakRss = Math.max(peakRss, rssMb());
  print(`stat::number_of_executed_units: ${executions}`);
  print(`stat::average_exec_per_sec:     ${Math.round(executions / seconds)}`);
  print(`stat::new_units_added:          ${newUnits}`);
  print(`stat::peak_rss_mb:              ${peakRss}`);
}

/** Per instrumented file: lines with a statement that ran, branch arms and functions entered. */
function coverage(): CoverageReport {
  const files: FileCoverage[] = [];
  for (const m of modules) {
    const hit = (id: number): boolean => (seen[m.base + id] ?? 0) !== 0;
    const lineHit = new Map<number, boolean>();
    for (const [line, id] of m.statements) lineHit.set(line, (lineHit.get(line) ?? false) || hit(id));
    const count = (kind: string) => {
      let covered = 0;
      let total = 0;
      m.kinds.forEach((k, id) => {
        if (k !== kind) return;
        total++;
        if (hit(id)) covered++;
      });
      return { covered, total };
    };
    const uncoveredLines = [...lineHit].filter(([, h]) => !h).map(([line]) => line).sort((a, b) => a - b);
    files.push({
      file: m.file,
      lines: { covered: lineHit.size - uncoveredLines.length, total: lineHit.size },
      branches: count('branch'),
      functions: count('function'),
      uncoveredLines,
    });
  }
  files.sort((a, b) => a.file.localeCompare(b.file));
  return { edges, edgesTotal: used, features, files };
}

function writeCoverage(): void {
  if (options.coverageOut !== '') writeFileSync(options.coverageOut, `${JSON.stringify(coverage(), null, 2)}\n`);
}

function corpusFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .sort();
}

function formatSize(bytes: number): string {
  return bytes < 10_000 ? `${bytes}b` : bytes < 10_000_000 ? `${Math.round(bytes / 1024)}Kb` : `${Math.round(bytes / (1024 * 1024))}Mb`;
}

async function replay(): Promise<void> {
  for (const file of options.inputs) {
    const data = readFileSync(file);
    print(`Running: ${file}`);
    const t0 = process.hrtime.bigint();
    try {
      await execute(data);
    } catch (err) {
      if (err instanceof Finding) await report(err, data, '');
      throw err;
    }
    executions++;
    print(`Executed ${file} in ${Number((process.hrtime.bigint() - t0) / 1_000_000n)} ms`);
  }
  print(`***\n*** NOTE: fuzzing was not performed, you have only\n***       executed the target code on a fixed set of inputs.\n***`);
  finalStats();
}

async function fuzzLoop(): Promise<void> {
  const corpus: Buffer[] = [];
  const known = new Set<string>();
  let corpusBytes = 0;
  const outDir = options.inputs[0];
  if (outDir !== undefined) mkdirSync(outDir, { recursive: true });
  const rng = new Rng(options.seed);
  // Capturing a stack costs more than most decodes, and the code under test
  // throws errors by design (every refused input is one): none while
  // fuzzing, and report() runs a finding's input again to get its stack.
  Error.stackTraceLimit = 0;

  const status = (what: string, data?: Buffer, sequence?: string): void => {
    const seconds = Math.max((Date.now() - started) / 1000, 1e-3);
    const rss = rssMb();
    peakRss = Math.max(peakRss, rss);
    const tail = data === undefined ? '' : ` L: ${data.length}/${options.maxLen}${sequence ? ` MS: ${sequence.split('-').length - 1} ${sequence}` : ''}`;
    print(`#${executions}\t${what.padEnd(6)} cov: ${edges} ft: ${features} corp: ${corpus.length}/${formatSize(corpusBytes)} exec/s: ${Math.round(executions / seconds)} rss: ${rss}Mb${tail}`);
  };
  const keep = (data: Buffer, save: boolean): void => {
    const name = sha1(data);
    if (known.has(name)) return;
    known.add(name);
    corpus.push(data);
    corpusBytes += data.length;
    if (save && outDir !== undefined && !existsSync(join(outDir, name))) writeFileSync(join(outDir, name), data);
  };

  const seeds = options.inputs.flatMap(corpusFiles).map((path) => readFileSync(path).subarray(0, options.maxLen));
  print(`INFO: ${seeds.length} files found in ${options.inputs.join(', ')}`);
  // Smallest first, as libFuzzer does: small inputs claim the features they share with large ones.
  seeds.sort((a, b) => a.length - b.length);
  for (const data of [Buffer.alloc(0), ...seeds]) {
    try {
      await execute(data);
    } catch (err) {
      if (err instanceof Finding) await report(err, data, '');
      throw err;
    }
    executions++;
    if (collect() > 0) keep(data, false);
  }
  if (corpus.length === 0) keep(Buffer.alloc(0), false);
  status('INITED');

  const literals = [...new Set(modules.flatMap((m) => m.literals))].map((w) => Buffer.from(w, 'utf8'));
  const dictionary = [...literals, ...harnessDictionary.map((w) => (typeof w === 'string' ? Buffer.from(w, 'utf8') : Buffer.from(w)))];
  print(`INFO: dictionary of ${dictionary.length} words (literals of the instrumented code and the harness's own)`);
  const mutator = new Mutator(rng, dictionary, () => (corpus.length < 2 ? null : (corpus[rng.below(corpus.length)] ?? null)));
  const deadline = started + options.maxTotalTime * 1000;
  let nextPulse = 1;
  while (Date.now() < deadline && (options.runs === 0 || executions < options.runs)) {
    // Half the time one of the newest quarter: recent finds are where new paths start.
    const recent = rng.chance(2) && corpus.length > 4;
    const index = recent ? corpus.length - 1 - rng.below(Math.ceil(corpus.length / 4)) : rng.below(corpus.length);
    const base = corpus[index] ?? Buffer.alloc(0);
    // A batch of mutants between clock reads: Date.now() per execution costs.
    for (let i = 0; i < 64; i++) {
      const data = mutator.mutate(base, options.maxLen);
      try {
        await execute(data);
      } catch (err) {
        if (err instanceof Finding) await report(err, data, mutator.lastSequence.join('-'));
        throw err;
      }
      executions++;
      if (collect() > 0) {
        keep(data, true);
        newUnits++;
        status('NEW', data, `${mutator.lastSequence.join('-')}-`);
      }
      if (executions >= nextPulse) {
        status('pulse');
        nextPulse *= 2;
      }
    }
  }
  status('DONE');
  print(`Done ${executions} runs in ${Math.round((Date.now() - started) / 1000)} second(s)`);
  finalStats();
  writeCoverage();
}

/** The harness's own words (`export const dictionary`), strings as UTF-8 or raw bytes. */
let harnessDictionary: Array<string | Uint8Array> = [];

async function main(): Promise<void> {
  if (!options.replay) {
    const data: HookData = { include, root };
    register(new URL('./hooks.js', import.meta.url), { data });
    hookRequire();
  }
  const harness = (await import(pathToFileURL(harnessPath).href)) as { fuzz?: FuzzFn; dictionary?: Array<string | Uint8Array> };
  if (typeof harness.fuzz !== 'function') throw new Error(`${harnessPath} does not export a function fuzz(data)`);
  fuzz = harness.fuzz;
  // What ran while the modules were evaluated (their top-level code) counts too.
  collect();
  harnessDictionary = harness.dictionary ?? [];
  if (!options.replay) {
    if (modules.length === 0) throw new Error(`jsfuzz: nothing was instrumented (no module under ${include.join(', ')} was imported)`);
    print(`INFO: instrumented ${modules.length} modules: ${used} counters`);
  }
  print(`INFO: Seed: ${options.seed}`);
  if (options.replay) await replay();
  else await fuzzLoop();
}

await main();
