/**
 * What `npm run fuzz` (run.ts) measures of a harness's reach once it has run:
 * for a libFuzzer harness, clang source coverage of native/core/<harness>.{cc,h}
 * with its whole corpus replayed through the coverage build (llvm-profdata,
 * llvm-cov; absent tools mean no figures, not a failure); for a jsfuzz
 * harness, the coverage of its target files (JS_TARGETS in paths.ts) that
 * jsfuzz wrote. Kept apart from the runner: reading llvm-cov's report is its
 * own job, and run.ts only asks for the numbers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { CoverageReport } from './js/engine/shared.js';
import { FUZZ_TARGETS, JS_TARGETS, packageRoot, type JsHarnessName, type NativeHarnessName } from './paths.js';

const ROOT = packageRoot();
const OUT = join(ROOT, 'build', 'fuzz');

export interface Counted {
  covered: number;
  total: number;
}

export interface FunctionCoverage {
  file: string;
  name: string;
  lines: Counted;
  branches: Counted;
  regions: Counted;
}

/** Clang source coverage of native/core/<harness>.{cc,h} after replaying the whole corpus. */
export interface SourceCoverage {
  files: string[];
  /** Whole files. */
  lines: Counted;
  branches: Counted;
  regions: Counted;
  /** The functions the harness drives (names matching targetPattern). */
  targetPattern: string;
  targetLines: Counted;
  targetBranches: Counted;
  functions: FunctionCoverage[];
}

/** jsfuzz's coverage of a JavaScript harness's target files (JS_TARGETS[name].files), over every input it ran. */
export interface JsCoverage {
  files: Array<{ file: string; lines: Counted; branches: Counted; functions: Counted; uncoveredLines: number[] }>;
  targetLines: Counted;
  targetBranches: Counted;
  targetFunctions: Counted;
  /** Lines of every instrumented file (the target files and what they call, such as protobufjs's reader). */
  lines: Counted;
}

export interface CoverageTools {
  profdata: string;
  cov: string;
  demangler: string | null;
}

/** The first of `names` that runs (`<args> --version`), or null. */
function findTool(names: string[], args: string[] = []): string | null {
  for (const name of names) {
    const r = spawnSync(name, [...args, '--version'], { stdio: 'ignore' });
    if (r.status === 0) return name;
  }
  return null;
}

/** llvm-profdata and llvm-cov (with a demangler when there is one), or null when either is missing. */
export function coverageTools(): CoverageTools | null {
  const profdata = findTool(['llvm-profdata', 'llvm-profdata-14'], ['merge']);
  const cov = findTool(['llvm-cov', 'llvm-cov-14']);
  return profdata === null || cov === null ? null : { profdata, cov, demangler: findTool(['c++filt', 'llvm-cxxfilt', 'llvm-cxxfilt-14']) };
}

/** Where jsfuzz writes a JavaScript harness's coverage (its -coverage_out). */
export const jsCoveragePath = (name: string): string => join(OUT, 'js-coverage', `${name}.json`);

/** Reads what jsfuzz wrote to -coverage_out: the target files' totals, and lines over all instrumented files. */
export function jsCoverage(name: JsHarnessName): JsCoverage | null {
  const path = jsCoveragePath(name);
  if (!existsSync(path)) return null;
  const report = JSON.parse(readFileSync(path, 'utf8')) as CoverageReport;
  const targets = JS_TARGETS[name].files;
  const files = report.files.filter((f) => targets.includes(f.file));
  const sum = (rows: CoverageReport['files'], k: 'lines' | 'branches' | 'functions'): Counted =>
    rows.reduce((acc, r) => ({ covered: acc.covered + r[k].covered, total: acc.total + r[k].total }), { covered: 0, total: 0 });
  return {
    files,
    targetLines: sum(files, 'lines'),
    targetBranches: sum(files, 'branches'),
    targetFunctions: sum(files, 'functions'),
    lines: sum(report.files, 'lines'),
  };
}

/**
 * Replays every corpus input through build/fuzz/cov/<name> (clang source
 * coverage, no sanitizers) and reads llvm-cov's per-function report of
 * native/core/<name>.{cc,h}: totals for the files, and for the functions
 * the harness drives (FUZZ_TARGETS; the files also hold code no harness can
 * reach, such as fd_channel's socket calls).
 */
export function sourceCoverage(name: NativeHarnessName, tools: CoverageTools): SourceCoverage | null {
  const binary = join(OUT, 'cov', name);
  if (!existsSync(binary)) return null;
  const raw = join(OUT, 'cov', `${name}.profraw`);
  const merged = join(OUT, 'cov', `${name}.profdata`);
  rmSync(raw, { force: true });
  const dirs = [join(OUT, 'corpus', name), join(ROOT, 'tests', 'fuzz', 'corpus', name)].filter((d) => existsSync(d) && readdirSync(d).length > 0);
  const replay = spawnSync(binary, ['-runs=0', ...dirs], { cwd: ROOT, env: { ...process.env, LLVM_PROFILE_FILE: raw }, stdio: 'ignore' });
  if (replay.status !== 0 || !existsSync(raw)) return null;
  if (spawnSync(tools.profdata, ['merge', '-sparse', raw, '-o', merged], { stdio: 'ignore' }).status !== 0) return null;
  const files = ['cc', 'h'].map((ext) => join(ROOT, 'native', 'core', `${name}.${ext}`)).filter((f) => existsSync(f));
  const demangle = tools.demangler === null ? [] : [`-Xdemangler=${tools.demangler}`];
  const report = spawnSync(tools.cov, ['report', '-show-functions', ...demangle, binary, `-instr-profile=${merged}`, ...files], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (report.status !== 0) return null;

  // Rows end in nine columns: regions, missed, %, lines, missed, %, branches, missed, %.
  const functions: FunctionCoverage[] = [];
  let file = '';
  for (const line of report.stdout.split('\n')) {
    const header = /^File '(.*)':$/.exec(line);
    if (header) {
      file = relative(ROOT, header[1] ?? '');
      continue;
    }
    const m = /^(.*\S)\s+(\d+)\s+(\d+)\s+\S+\s+(\d+)\s+(\d+)\s+\S+\s+(\d+)\s+(\d+)\s+\S+$/.exec(line);
    if (!m || m[1] === 'TOTAL' || m[1] === 'Name') continue;
    const n = m.slice(2).map(Number) as [number, number, number, number, number, number];
    functions.push({
      file,
      name: m[1] ?? '',
      regions: { covered: n[0] - n[1], total: n[0] },
      lines: { covered: n[2] - n[3], total: n[2] },
      branches: { covered: n[4] - n[5], total: n[4] },
    });
  }
  if (functions.length === 0) return null;
  const sum = (rows: FunctionCoverage[], k: 'lines' | 'branches' | 'regions'): Counted =>
    rows.reduce((acc, r) => ({ covered: acc.covered + r[k].covered, total: acc.total + r[k].total }), { covered: 0, total: 0 });
  const targets = functions.filter((f) => FUZZ_TARGETS[name].test(f.name));
  return {
    files: files.map((f) => relative(ROOT, f)),
    lines: sum(functions, 'lines'),
    branches: sum(functions, 'branches'),
    regions: sum(functions, 'regions'),
    targetPattern: FUZZ_TARGETS[name].source,
    targetLines: sum(targets, 'lines'),
    targetBranches: sum(targets, 'branches'),
    functions,
  };
}
