/**
 * The JavaScript side of `npm run fuzz`: the runner's list of JS harnesses
 * matches the harness files and their seed corpora; the instrumentation
 * counts each branch arm it promises (instrument.ts), run on a small
 * module; how the runner reads jsfuzz's findings (libfuzzer-output.ts);
 * and jsfuzz itself replaying the committed seeds of a harness without a
 * finding, then fuzzing a bounded number of runs.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instrument } from './js/engine/instrument.js';
import { Mutator, Rng } from './js/engine/mutate.js';
import { LibFuzzerOutput } from './libfuzzer-output.js';
import { HARNESSES, JS_HARNESSES, JS_TARGETS, packageRoot } from './paths.js';

const ROOT = packageRoot();

t.test('the runner knows every JS harness file, each with seeds and existing target files', async (t) => {
  const files = readdirSync(join(ROOT, 'tests', 'fuzz', 'js'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
  t.same([...JS_HARNESSES].sort(), files);
  for (const name of JS_HARNESSES) {
    t.ok((HARNESSES as readonly string[]).includes(name), `${name} runs with npm run fuzz`);
    const seeds = readdirSync(join(ROOT, 'tests', 'fuzz', 'corpus', name));
    t.ok(seeds.length >= 5, `${name}: ${seeds.length} seeds`);
    for (const file of JS_TARGETS[name].files) t.ok(existsSync(join(ROOT, file)), `${name}: ${file} exists`);
  }
});

t.test('instrumentation counts function entries, both arms of if and ?:, logical right operands, cases, loops and catch', async (t) => {
  const source = `
export function f(x, list) {
  let n = 0;
  if (x > 1) n++;
  const y = x === 2 ? 'two' : 'other';
  const z = x && list.length;
  switch (x) { case 1: n += 1; break; default: n += 2; }
  for (const item of list) n += item;
  try { if (x === 3) throw new Error('three'); } catch { n = -1; }
  return [n, y, z];
}`;
  const { code, map } = instrument(source, 'f.js', 'const __mcrFuzzCov = globalThis.__testCounters;');
  t.same(map.kinds.filter((k) => k === 'function').length, 2, 'the module and f');
  t.ok(map.kinds.filter((k) => k === 'branch').length >= 8, 'then, else, two ?: arms, &&, two cases, catch');
  t.ok(map.kinds.includes('loop'));
  t.ok(map.literals.includes('three') && map.literals.includes('two'), 'string literals collected for the dictionary');
  const counters = new Uint32Array(map.kinds.length);
  (globalThis as { __testCounters?: Uint32Array }).__testCounters = counters;
  // Evaluated as a script: drop `export`; the module's body is plain JavaScript.
  const f = new Function(`${code.replace('export function', 'function')}\nreturn f;`)() as (x: number, list: number[]) => unknown[];
  const run = (x: number, list: number[]): number[] => {
    counters.fill(0);
    const result = f(x, list);
    t.ok(Array.isArray(result));
    return [...counters];
  };
  const one = run(1, []);
  const two = run(2, [5]);
  const three = run(3, []);
  t.not(JSON.stringify(one), JSON.stringify(two), 'different paths, different counters');
  t.not(JSON.stringify(two), JSON.stringify(three));
  t.same(f(1, []), [1, 'other', 0], 'behaviour unchanged');
  t.same(f(2, [5]), [8, 'two', 1]);
  t.same(f(3, []), [-1, 'other', 0]);
});

t.test('mutations stay within max_len', async (t) => {
  const rng = new Rng(42);
  const mutator = new Mutator(rng, [Buffer.from('inputInterface')], () => Buffer.from('another corpus input'));
  let input: Buffer = Buffer.from('{ rules: [] }');
  for (let i = 0; i < 2000; i++) {
    input = mutator.mutate(input, 64);
    if (input.length > 64) t.fail(`mutant of ${input.length} bytes`);
  }
  t.pass();
});

t.test('the runner reads jsfuzz findings: an exception, a timeout, out-of-memory, and its edge total', async (t) => {
  const read = (text: string): LibFuzzerOutput => {
    const out = new LibFuzzerOutput();
    for (const line of text.split('\n')) out.line(line);
    return out;
  };
  const crash = read(`INFO: instrumented 9 modules: 416 counters
#1	INITED cov: 57 ft: 58 corp: 1/0b exec/s: 0 rss: 233Mb
==1== ERROR: jsfuzz: uncaught exception: TypeError: x is not a function
TypeError: x is not a function
SUMMARY: jsfuzz: uncaught exception: TypeError: x is not a function
artifact_prefix='/tmp/a/'; Test unit written to /tmp/a/crash-0a1b
stat::number_of_executed_units: 12`);
  t.equal(crash.status, 'crash');
  t.equal(crash.edgesTotal, 416);
  t.equal(crash.edges, 57);
  t.equal(crash.detail(), 'SUMMARY: jsfuzz: uncaught exception: TypeError: x is not a function');
  t.equal(crash.artifact, '/tmp/a/crash-0a1b');
  const timeout = read(`artifact_prefix='/tmp/a/'; Test unit written to /tmp/a/timeout-ff
==1== ERROR: jsfuzz: timeout after 11 seconds
SUMMARY: jsfuzz: timeout`);
  t.equal(timeout.status, 'timeout');
  t.equal(timeout.detail(), 'ERROR: jsfuzz: timeout after 11 seconds');
  const oom = read('==1== ERROR: jsfuzz: out-of-memory (the JS heap reached -rss_limit_mb=2048)\nSUMMARY: jsfuzz: out-of-memory');
  t.equal(oom.status, 'oom');
});

t.test('jsfuzz replays the committed seeds, then fuzzes a bounded run', async (t) => {
  const jsfuzz = join(ROOT, 'dist', 'tests', 'fuzz', 'js', 'engine', 'fuzz.js');
  const seeds = join(ROOT, 'tests', 'fuzz', 'corpus', 'worker_codec');
  const files = readdirSync(seeds).map((f) => join(seeds, f));
  const replay = spawnSync(process.execPath, [jsfuzz, 'worker_codec', ...files], { encoding: 'utf8', timeout: 120_000 });
  t.equal(replay.status, 0, replay.status === 0 ? 'replay exits 0' : replay.stderr.slice(-3000));
  t.match(replay.stderr, new RegExp(`stat::number_of_executed_units: ${files.length}\\b`));

  const work = mkdtempSync(join(tmpdir(), 'jsfuzz-test-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const run = spawnSync(process.execPath, [jsfuzz, 'worker_codec', work, seeds, '-runs=3000', '-seed=7', `-artifact_prefix=${work}/`, `-coverage_out=${join(work, 'cov.json')}`], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(run.status, 0, run.status === 0 ? 'fuzzing 3000 runs exits 0' : run.stderr.slice(-3000));
  const out = new LibFuzzerOutput();
  for (const line of run.stderr.split('\n')) out.line(line);
  t.equal(out.status, 'ok');
  t.ok(out.edges > 0 && out.edges <= out.edgesTotal, `cov ${out.edges}/${out.edgesTotal}`);
  t.ok((out.stats.get('number_of_executed_units') ?? 0) >= 3000);
  t.ok(existsSync(join(work, 'cov.json')));
});
