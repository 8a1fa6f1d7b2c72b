/**
 * `npm run bench:lookup`: the rule lookup's cost per datagram with 1, 1000
 * and 100 000 exact rules and with prefix rules in the table
 * (native/bench/lookup_bench.cc), as ratios to the 1-exact-rule case of the
 * same run, and the exact cases of another commit's rule table (default
 * `main`, extracted with `git archive`) measured in the same run,
 * alternating, so the cost the wildcard path adds to exact rules shows
 * beside them. Both sides are compiled here with the same g++ flags into a
 * temp directory, so only the rule table differs. Prints a Markdown
 * table for docs/performance.md ("Rule lookup cost").
 *
 *   node dist/bench/lookup.js [--baseline REF] [--rounds N]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../tools/native-tool.js';

const ROOT = packageRoot();
const FLAGS = ['-std=c++20', '-O2', '-fno-strict-aliasing'];

interface Line { case: string; ns_per_lookup: number; ratio: number }

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
}

function run(bin: string): Line[] {
  return execFileSync(bin, ['--repeats', '7'], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l) as Line);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

function main(): void {
  const ref = arg('--baseline', 'main');
  const rounds = Number(arg('--rounds', '5'));
  const dir = mkdtempSync(join(tmpdir(), 'mcr-lookup-'));
  try {
    // The baseline's native/core, and this tree's bench source compiled against it.
    execFileSync('sh', ['-c', `git -C "$0" archive "$1" native/core | tar -x -C "$2"`, ROOT, ref, dir]);
    const base = join(dir, 'lookup_bench_base');
    execFileSync('g++', [...FLAGS, '-DMCR_LOOKUP_BASELINE', '-I', join(dir, 'native'), join(ROOT, 'native/bench/lookup_bench.cc'),
      join(dir, 'native/core/rule_table.cc'), '-o', base]);
    const BIN = join(dir, 'lookup_bench');
    execFileSync('g++', [...FLAGS, '-I', join(ROOT, 'native'), join(ROOT, 'native/bench/lookup_bench.cc'),
      join(ROOT, 'native/core/rule_table.cc'), join(ROOT, 'native/core/wildcard_rules.cc'), '-o', BIN]);
    const ours = new Map<string, number[]>();
    const theirs = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const l of run(BIN)) ours.set(l.case, [...(ours.get(l.case) ?? []), l.ns_per_lookup]);
      for (const l of run(base)) theirs.set(l.case, [...(theirs.get(l.case) ?? []), l.ns_per_lookup]);
    }
    const one = median(ours.get('exact 1') ?? []);
    const baseOne = median(theirs.get('exact 1') ?? []);
    console.log(`| case | ns per lookup | ratio to exact 1 | ${ref}: ns | ${ref}: ratio to its exact 1 |`);
    console.log('|---|---|---|---|---|');
    for (const [c, xs] of ours) {
      const ns = median(xs);
      const b = theirs.get(c);
      const bns = b === undefined ? undefined : median(b);
      console.log(`| ${c} | ${ns.toFixed(1)} | ${(ns / one).toFixed(2)} | ${bns === undefined ? '-' : bns.toFixed(1)} | ${bns === undefined ? '-' : (bns / baseOne).toFixed(2)} |`);
    }
    console.log(`\n${rounds} rounds alternating this tree and ${ref}, each the median of 7 repeats of 200 passes over 4096 keys; medians shown.`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
