/**
 * Runs a command (the test suite) with other cores kept busy, to check that
 * the tests pass on a loaded machine: tests that assert rates or timing must
 * compare ratios measured in the same run or wait for conditions with
 * bounds, and this is how that is checked.
 *
 *   node dist/tests/load/busy-core.js [--burners N] [--nice N] -- npm test
 *
 * Starts N burner processes (default 1: on the 2-core test machine, "the
 * other core busy"), each a Node process spinning in a loop at the given
 * nice value (default 0: the same priority as the tests), runs the command
 * with the terminal's stdio, then ends the burners by their PIDs, whatever
 * way the command ended (exit, signal, Ctrl-C), and exits with the command's
 * status. It prints, on stderr, the burners' PIDs at the start and at the
 * end the wall time, the CPU seconds the burners took and the share of the
 * machine's cores that was busy over the run, so a run that was not loaded
 * shows it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

/** Clock ticks per second of /proc times (sysconf(_SC_CLK_TCK), 100 on Linux). */
const TICKS_PER_SEC = 100;

function cpuSeconds(pid: number): number {
  try {
    // utime and stime: the 12th and 13th fields after the command's closing parenthesis (proc(5)).
    const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SEC;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies over all cores, from /proc/stat's first line. */
function machineTicks(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number): number => f[i] ?? 0;
  const idle = at(3) + at(4);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

function usage(message: string): never {
  process.stderr.write(`busy-core: ${message}\nusage: node dist/tests/load/busy-core.js [--burners N] [--nice N] -- COMMAND [ARGS...]\n`);
  process.exit(2);
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { burners: { type: 'string', default: '1' }, nice: { type: 'string', default: '0' } },
    allowPositionals: true,
  });
  const burners = Number(values.burners);
  const nice = Number(values.nice);
  if (!Number.isInteger(burners) || burners < 1 || burners > availableParallelism()) usage(`--burners must be 1..${availableParallelism()}, got ${values.burners}`);
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) usage(`--nice must be 0..19, got ${values.nice}`);
  const [command, ...args] = positionals;
  if (command === undefined) usage('no command given');

  const spinners: ChildProcess[] = [];
  for (let i = 0; i < burners; i++) {
    const child = spawn(process.execPath, ['-e', `require('os').setPriority(${nice}); for (;;) {}`], { stdio: 'ignore' });
    spinners.push(child);
    if (child.pid === undefined) {
      for (const c of spinners) if (c.pid !== undefined) c.kill('SIGKILL');
      usage('could not start a burner process');
    }
  }
  const pids = spinners.map((c) => c.pid as number);
  const startedMs = performance.now();
  const ticks = machineTicks();
  process.stderr.write(`busy-core: ${burners} burner(s) running, pid ${pids.join(', ')}, nice ${nice}, on ${availableParallelism()} cores\n`);

  const stopBurners = (): void => {
    const burnt = pids.map(cpuSeconds).reduce((a, b) => a + b, 0);
    const now = machineTicks();
    const busy = now.total > ticks.total ? (now.busy - ticks.busy) / (now.total - ticks.total) : NaN;
    for (const c of spinners) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const wall = (performance.now() - startedMs) / 1000;
    process.stderr.write(`busy-core: ${wall.toFixed(0)} s; burners took ${burnt.toFixed(0)} CPU s (${(burnt / wall).toFixed(2)} cores); cores busy ${(busy * 100).toFixed(0)} % over the run\n`);
  };

  const run = spawn(command, args, { stdio: 'inherit' });
  // Ctrl-C reaches the command through the terminal; a SIGTERM to this
  // process is passed on. Either way the burners end when the command does.
  process.on('SIGTERM', () => run.kill('SIGTERM'));
  process.on('SIGINT', () => undefined);
  run.on('error', (err) => {
    stopBurners();
    usage(`cannot run ${command}: ${err.message}`);
  });
  run.on('exit', (code, signal) => {
    stopBurners();
    process.exit(code ?? (signal !== null ? 128 : 1));
  });
}

main();
