/**
 * Runs the native generator (build/Release/mcrgen) in the source namespace,
 * pinned to core 0, for one trial or one warm-up burst, and returns its
 * report. `sent` counts datagrams that left the source interface (mcrgen
 * resends what its own socket or device refused): the denominator of every
 * loss figure. It sends UDP_SEGMENT messages of 8 datagrams, paced one
 * message at a time (`--gso 8 --batch 8`; the lab turns segmentation offload
 * off on the source interface, so they leave one by one): several times
 * cheaper per datagram than one send each, so core 0 offers more than any
 * method forwards (0.85 Mpps at 64 B, against 0.34 one by one). It also
 * makes loss honest at the relay's input: a veth reports a datagram its
 * peer's backlog refused as ENOBUFS to the sender, which the one-by-one
 * generator resent (a back-pressure no real network gives, and which only
 * helped methods whose queue is that backlog); with --gso such a drop is
 * lost, as on a wire (docs/performance.md, "Generator"). `bench:latency` can
 * run it under SCHED_FIFO (`fifoPriority`, `generatorCommand`), to see what
 * the other programs on core 0 cost it (docs/performance.md, "Generator
 * stalls on core 0").
 */
import { execa } from 'execa';
import { nativeToolPath } from '../tools/native-tool.js';
import { groupOf, OTHER_CPU, PORT, TTL, type Family } from './config.js';
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
  /** Stamp each payload with its send time (mcrgen --timestamp), for the latency trials (latency.ts). */
  timestamp?: boolean;
  /** The stream's IP version (default 4): 6 sends to GROUP6 from up0's IPv6 address (IPv6 on: bench-lab-ipv6.ts). */
  family?: Family;
  /** Run mcrgen under SCHED_FIFO at this priority (chrt); 0 or absent: a normal task. */
  fifoPriority?: number;
  /** How much of its own stalls mcrgen makes up with a burst (`--catch-up-us`), instead of the run's setting. */
  catchUpUs?: number;
}

/** Datagrams per UDP_SEGMENT message of the generator. */
export const GEN_GSO = 8;
/**
 * The largest paced batch, in datagrams: one UDP_SEGMENT message. mcrgen
 * sends fewer below 40 kpps (pacedBurst).
 */
let genBurst = GEN_GSO;

/**
 * Datagrams per paced burst that mcrgen really sends at `ratePps` (for the
 * reports): it aims at a batch about every 200 µs, rate ÷ 5 000 datagrams
 * (rounded down), at least 1 and at most the burst set here
 * (native/tools/mcrgen_sender.cc, `batch`). So with the suite's 8: 2 at
 * 10 kpps, 7 at 39.9 kpps, 8 from 40 kpps on.
 */
export function pacedBurst(ratePps: number): number {
  return Math.min(genBurst, Math.max(1, Math.floor(ratePps / 5000)));
}

/**
 * The largest paced burst for the rest of the run (`bench:cpu --gen-burst`):
 * 1 sends evenly spaced single datagrams, as a paced media stream arrives
 * (up to ~0.34 Mpps at 64 B from core 0), instead of the suite's bursts of
 * up to 8 (pacedBurst).
 */
export function setGeneratorBurst(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new BenchError('ERR_BENCH_ARG', `generator burst ${n}: expected an integer 1..64`);
  genBurst = n;
}

/** µs of a sender stall that mcrgen makes up with a burst at full speed (`--catch-up-us`). */
let genCatchUpUs = 2000;

/** Sets mcrgen's catch-up depth (`--catch-up-us`) for the rest of the run. */
export function setGeneratorCatchUp(us: number): void {
  if (!Number.isInteger(us) || us < 0 || us > 100_000) throw new BenchError('ERR_BENCH_ARG', `generator catch-up ${us} µs: expected an integer 0..100000`);
  genCatchUpUs = us;
}

/** Slack for process start and exit beyond the traffic itself. */
const SLACK_MS = 15_000;

/**
 * The command that starts mcrgen with `tasksetArgs` (`-c CPU mcrgen ...`):
 * under `chrt -f PRIORITY` for a real-time generator, else as it is.
 */
export function generatorCommand(tasksetArgs: readonly string[], fifoPriority: number): [string, string[]] {
  if (!Number.isInteger(fifoPriority) || fifoPriority < 0 || fifoPriority > 99) {
    throw new BenchError('ERR_BENCH_ARG', `generator priority ${fifoPriority}: expected an integer 0..99 (0: a normal task)`);
  }
  return fifoPriority === 0 ? ['taskset', [...tasksetArgs]] : ['chrt', ['-f', String(fifoPriority), 'taskset', ...tasksetArgs]];
}

/**
 * Why this host refuses a SCHED_FIFO task at `priority` (chrt's message:
 * no CAP_SYS_NICE, or a cgroup without a real-time budget), or undefined
 * when it allows one. `bench:latency` asks once before its first trial, so
 * a refusal stops the run with the reason instead of failing every trial.
 */
export async function realtimeRefusal(priority: number): Promise<string | undefined> {
  const r = await execa('chrt', ['-f', String(priority), 'true'], { reject: false, timeout: 10_000 });
  if (r.exitCode === 0) return undefined;
  return (String(r.stderr).trim() || `chrt exited ${r.exitCode ?? r.signal}`).split('\n')[0];
}

export async function runGenerator(bl: BenchLab, o: GenOptions): Promise<GenReport> {
  const { rl } = bl;
  const args = ['-c', String(OTHER_CPU), nativeToolPath('mcrgen')];
  if (o.family === 6 && bl.ipv6 === undefined) throw new BenchError('ERR_BENCH_ARG', 'an IPv6 stream needs IPv6 on in the lab (enableIpv6)');
  // --ttl sets the IPv6 hop limits too: ip6mr, like ipmr, forwards only with more than 1 left.
  args.push('--dest', groupOf(o.family), '--port', String(PORT), '--interface', rl.src.ifname, '--ttl', String(TTL));
  args.push('--size', String(o.size), '--rate', String(Math.round(o.rate)), '--gso', String(genBurst), '--batch', String(genBurst));
  args.push('--catch-up-us', String(o.catchUpUs ?? genCatchUpUs));
  if (o.durationSec !== undefined) args.push('--duration', String(o.durationSec));
  if (o.count !== undefined) args.push('--count', String(o.count));
  if (o.timestamp === true) args.push('--timestamp');
  const limitSec = o.durationSec ?? (o.count ?? 0) / Math.max(o.rate, 1000);
  const [cmd, argv] = generatorCommand(args, o.fifoPriority ?? 0);
  const r = await rl.lab.exec(rl.src.ns, cmd, argv, { timeoutMs: limitSec * 1000 + SLACK_MS, reject: false });
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
