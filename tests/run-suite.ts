/**
 * The test suite's runner (`npm test`): tap, in two phases, so that the
 * integration tests that must run one at a time do not leave the second
 * core idle.
 *
 *   node dist/tests/run-suite.js [--one-lane] [-- TAP-ARGS...]
 *
 * Phase 1 runs the integration tests that may share the machine (and the
 * fuzz-output checks), two files at a time (package.json's `"jobs": 2`).
 * Phase 2 runs, side by side, the files under tests/integration/serial/
 * one at a time (package.json's `"serial"`: they measure CPU, latency or
 * time bounds, or install the package) and, in a second tap run one file at
 * a time, the unit and native tests. Those are CPU work and no timing, so
 * to a serial file they are "the other core busy", which every test must
 * stand (README, "Tests"); the serial files alone left one of the two cores
 * mostly idle for about half of the suite. The second lane's output is kept
 * in a file and printed after the first lane ends, so neither stream is cut
 * into the other. `--one-lane` runs the two lanes one after the other
 * instead (for a run beside `busy-core.js`, which loads the other core
 * itself). With tap arguments, runs just `tap TAP-ARGS...`.
 *
 * Ends with one line per tap run (its exit status and wall time) and exits
 * 0 only when every run exited 0. A SIGINT or SIGTERM is passed on to the
 * running tap processes by their PIDs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const TAP = join('node_modules', '.bin', 'tap');

const PARALLEL = ['dist/tests/fuzz/*.test.js', 'dist/tests/integration/*.test.js'];
const SERIAL = ['dist/tests/integration/serial/*.test.js'];
const CPU_ONLY = ['dist/tests/unit/**/*.test.js', 'dist/tests/native/*.test.js'];

interface Outcome { name: string; status: number; seconds: number }

const running = new Set<ChildProcess>();

/** Runs tap with `args`; its output to the terminal, or to `logFile`. */
function tap(name: string, args: string[], logFile?: string): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const out = logFile === undefined ? undefined : createWriteStream(logFile);
    const child = spawn(TAP, args, { stdio: out === undefined ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    if (out !== undefined) {
      child.stdout?.pipe(out, { end: false });
      child.stderr?.pipe(out, { end: false });
    }
    running.add(child);
    const done = (status: number): void => {
      running.delete(child);
      const finish = (): void => resolve({ name, status, seconds: (performance.now() - started) / 1000 });
      if (out === undefined) finish();
      else out.end(finish);
    };
    child.on('error', (err) => {
      process.stderr.write(`run-suite: cannot run ${TAP} (${(err as NodeJS.ErrnoException).code ?? err.message}): run \`npm ci\` first\n`);
      done(127);
    });
    child.on('close', (code, signal) => done(code ?? (signal !== null ? 128 : 1)));
  });
}

function passOn(signal: NodeJS.Signals): void {
  for (const child of running) {
    if (child.pid !== undefined && child.pid > 0 && child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { 'one-lane': { type: 'boolean', default: false } }, allowPositionals: true });
  process.on('SIGINT', () => passOn('SIGINT'));
  process.on('SIGTERM', () => passOn('SIGTERM'));

  const outcomes: Outcome[] = [];
  if (positionals.length > 0) {
    outcomes.push(await tap('tap ' + positionals.join(' '), positionals));
  } else {
    outcomes.push(await tap('integration (two at a time)', PARALLEL));
    if (values['one-lane']) {
      outcomes.push(await tap('integration/serial (one at a time)', SERIAL));
      outcomes.push(await tap('unit and native', ['--jobs', '2', ...CPU_ONLY]));
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'mcr-suite-'));
      const log = join(dir, 'unit-native.tap');
      try {
        const [serial, cpuOnly] = await Promise.all([
          tap('integration/serial (one at a time)', SERIAL),
          tap('unit and native (one at a time, beside the serial files)', ['--jobs', '1', ...CPU_ONLY], log),
        ]);
        process.stdout.write(`\n# unit and native tests, run beside the serial files:\n${readFileSync(log, 'utf8')}`);
        outcomes.push(serial, cpuOnly);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  process.stdout.write('\n');
  for (const o of outcomes) {
    process.stdout.write(`# run-suite: ${o.name}: ${o.status === 0 ? 'passed' : `FAILED (exit ${o.status})`} in ${o.seconds.toFixed(0)} s\n`);
  }
  process.exitCode = outcomes.every((o) => o.status === 0) ? 0 : 1;
}

void main();
