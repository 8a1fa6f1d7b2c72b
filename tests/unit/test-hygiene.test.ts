/**
 * Rules the test suite and the lab keep so that a failing test cannot take
 * the machine with it: no `process.kill` whose pid could fall back to 0 or
 * a negative number (`pid ?? 0` signals the whole process group: the test
 * runner and CI). Read from the sources, so a new offender fails here.
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { packageRoot } from '../../native/package-root.js';

const ROOT = packageRoot();

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

t.test('no process.kill with a pid that may fall back to 0 or below', async (t) => {
  const offenders: string[] = [];
  let calls = 0;
  for (const file of [...sources(join(ROOT, 'tests')), ...sources(join(ROOT, 'bench'))]) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const m = /process\.kill\(([^,)]*)/.exec(line);
      if (m === null) return;
      calls++;
      const pid = m[1] ?? '';
      // `x ?? 0`, `x || 0`, `-x`, or a literal 0 / negative number.
      if (/\?\?|\|\||^\s*-|^\s*0\s*$/.test(pid) && !line.includes('test-hygiene')) offenders.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
    });
  }
  t.ok(calls > 10, `${calls} process.kill calls read`);
  t.same(offenders, []);
});

// The relay core's figures count its CPU and time its loop: a bench script's
// own process (and every helper it starts) must stay off it (bench/pin-runner.ts).
t.test('every bench script that builds the lab pins itself off the relay core first', async (t) => {
  const scripts = sources(join(ROOT, 'bench')).filter((file) => {
    const text = readFileSync(file, 'utf8');
    return /function main\(/.test(text) && (text.includes('createBenchLab(') || text.includes('runSuite('));
  });
  t.ok(scripts.length >= 6, `${scripts.length} bench scripts build the lab: ${scripts.map((f) => relative(ROOT, f)).join(', ')}`);
  const unpinned = scripts.filter((file) => !readFileSync(file, 'utf8').includes('pinRunnerOffRelayCore()')).map((f) => relative(ROOT, f));
  t.same(unpinned, [], 'each calls pinRunnerOffRelayCore()');
});
