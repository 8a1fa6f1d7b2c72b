/**
 * Runs the native generator (build/Release/mcrgen) in the source namespace,
 * pinned to core 0, for one trial or one warm-up burst, and returns its
 * report. mcrgen turns IP_RECVERR on and resends on ENOBUFS, so `sent`
 * counts packets that really left the source interface: the denominator of
 * every loss figure.
 */
import { nativeToolPath } from '../native-tool.js';
import { GROUP, OTHER_CPU, PORT, TTL } from './config.js';
import type { BenchLab } from './bench-lab.js';
import { BenchError } from './errors.js';

export interface GenReport {
  sent: number;
  retries: number;
  errors: number;
  errorsByErrno: Record<string, number>;
  durationSec: number;
  /** Achieved rate: sent / durationSec. */
  pps: number;
}

export interface GenOptions {
  /** Packets per second; 0 = as fast as mcrgen can. */
  rate: number;
  /** UDP payload bytes. */
  size: number;
  durationSec?: number;
  count?: number;
}

/** Slack for process start and exit beyond the traffic itself. */
const SLACK_MS = 15_000;

export async function runGenerator(bl: BenchLab, o: GenOptions): Promise<GenReport> {
  const { rl } = bl;
  const args = ['-c', String(OTHER_CPU), nativeToolPath('mcrgen')];
  args.push('--dest', GROUP, '--port', String(PORT), '--interface', rl.src.ifname, '--ttl', String(TTL));
  args.push('--size', String(o.size), '--rate', String(Math.round(o.rate)));
  if (o.durationSec !== undefined) args.push('--duration', String(o.durationSec));
  if (o.count !== undefined) args.push('--count', String(o.count));
  const limitSec = o.durationSec ?? (o.count ?? 0) / Math.max(o.rate, 1000);
  const r = await rl.lab.exec(rl.src.ns, 'taskset', args, { timeoutMs: limitSec * 1000 + SLACK_MS, reject: false });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (line === undefined) {
    throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `mcrgen printed no report (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim()}`);
  }
  const rep = JSON.parse(line) as Partial<GenReport>;
  if (typeof rep.sent !== 'number' || typeof rep.durationSec !== 'number') {
    throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `mcrgen report without sent/durationSec: ${line}`);
  }
  if (r.exitCode !== 0) {
    throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `mcrgen failed (exit ${r.exitCode ?? r.signal}): ${line} ${r.stderr.trim()}`);
  }
  return {
    sent: rep.sent,
    retries: rep.retries ?? 0,
    errors: rep.errors ?? 0,
    errorsByErrno: rep.errorsByErrno ?? {},
    durationSec: rep.durationSec,
    pps: rep.durationSec > 0 ? rep.sent / rep.durationSec : 0,
  };
}
