/**
 * Runs the C++ unit tests of the native core (build/Release/core_tests, built
 * by node-gyp from binding.gyp during `npm ci`) and turns each line of their
 * TAP output into one tap assertion, so a failing parser, rule-table or
 * buffer-pool test shows up by name, with its file:line diagnostics, in the
 * normal `npm test` report. A missing binary is a failure, not a skip: the
 * native core is part of the product, and a silently skipped suite would
 * hide a broken build.
 */

import { packageRoot } from '../../native/package-root.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';

// The suite has ~60 tests; far fewer means the binary is stale or a filter
// crept in, which would make a green result meaningless.
const MIN_TESTS = 30;


interface NativeTest {
  ok: boolean;
  name: string;
  diagnostics: string[];
}

interface NativeReport {
  planned: number | undefined;
  tests: NativeTest[];
}

/** Parses the subset of TAP 13 core_tests prints: plan, test lines, indented `# ` diagnostics. */
function parseTap(stdout: string): NativeReport {
  const tests: NativeTest[] = [];
  let planned: number | undefined;
  for (const line of stdout.split('\n')) {
    const plan = /^1\.\.(\d+)/.exec(line);
    if (plan) {
      planned = Number(plan[1]);
      continue;
    }
    const result = /^(not ok|ok) (\d+) - (.*)$/.exec(line);
    if (result) {
      tests.push({ ok: result[1] === 'ok', name: result[3] ?? '', diagnostics: [] });
      continue;
    }
    const diagnostic = /^\s+# (.*)$/.exec(line);
    const last = tests[tests.length - 1];
    if (diagnostic && last) last.diagnostics.push(diagnostic[1] ?? '');
  }
  return { planned, tests };
}

t.test('native core unit tests (core_tests)', async (t) => {
  const root = packageRoot();
  const binary = join(root, 'build', 'Release', 'core_tests');
  if (!existsSync(binary)) {
    t.fail(`${binary} not found: run \`npm ci\` (its install step builds the native targets with node-gyp)`);
    return;
  }

  const run = await execa(binary, [], { cwd: root, reject: false, timeout: 60_000 });
  t.notOk(run.timedOut, 'core_tests finished within 60 s');

  const report = parseTap(run.stdout);
  for (const test of report.tests) {
    t.ok(test.ok, test.name, test.ok ? {} : { diagnostics: test.diagnostics });
  }

  t.ok(
    report.tests.length >= MIN_TESTS,
    `at least ${MIN_TESTS} native tests ran (saw ${report.tests.length})`,
  );
  // A crash mid-run leaves fewer result lines than the plan announced.
  t.equal(report.tests.length, report.planned, 'every planned native test reported a result');
  t.equal(run.exitCode, 0, 'core_tests exited 0', {
    signal: run.signal,
    stderr: run.stderr.slice(-4000),
  });
});
