/**
 * Every bench script's first step on the lab: move its own process (all its
 * threads, and so every child it starts without a taskset of its own: ip,
 * cat, sysctl, mcrctl) onto core 0, so the orchestration never lands on the
 * relay core, where it would take CPU the relay's figures count and delay
 * the loop its latency figures time. The methods, the generator and the
 * sinks pin themselves.
 */
import { execFileSync } from 'node:child_process';
import { OTHER_CPU } from './config.js';
import { BenchError } from './errors.js';

export function pinRunnerOffRelayCore(): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(OTHER_CPU), String(process.pid)], { stdio: 'ignore', timeout: 5000 });
  } catch (err) {
    throw new BenchError('ERR_BENCH_ENV', `taskset could not pin the runner to core ${OTHER_CPU}: ${String(err)} ` +
      '(install util-linux, which has taskset)');
  }
}
