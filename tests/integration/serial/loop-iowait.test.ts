/**
 * A worker's core does not look disk-bound. The loop sleeps in
 * io_uring_enter with requests in flight (its input's poll, the command
 * read, the stats timer), and the kernel counts such a sleep as I/O wait:
 * top and /proc/stat showed the core's idle time as `iowait`, which
 * monitors alert on. From Linux 6.15 the loop asks for its sleeps to be left
 * out (IORING_ENTER_NO_IOWAIT; native/core/ring_wait.h). Proved on real
 * namespaces: mcr-relay pinned to one CPU with `taskset`, with a rule and no
 * traffic, then with a stream of 5 kpps (the loop sleeps between frames),
 * and the CPU's `iowait` read from /proc/stat against its idle time over
 * each window. Without the flag that share was 85–100 % (100 % in both
 * windows here; docs/mcrd.md, "What top shows on a worker's core"). The loop says which
 * way it runs in its "relay loop started" log line (`noIowait`), checked
 * against the kernel's version; on a kernel without the feature (before
 * 6.15) the test checks that it says false and skips the measurement,
 * naming the kernel.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCpuList } from '../../../supervisor/cpu-set.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

/** One CPU's line of /proc/stat: idle and iowait, and every field summed, in ticks. */
function cpuTicks(cpu: number): { idle: number; iowait: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (line === undefined) throw new Error(`/proc/stat has no line for cpu${cpu}`);
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] ?? 0, iowait: f[4] ?? 0 };
}

/**
 * The share of `cpu`'s not-busy time (idle + iowait) that was counted as
 * iowait while `during` ran, with the ticks it is taken over. Windows are
 * repeated (at most three) until the CPU was idle at least 20 ticks
 * (200 ms at the usual USER_HZ), so a CPU kept busy by other work does not
 * pass on no evidence.
 */
async function iowaitShare(cpu: number, during: () => Promise<unknown>): Promise<{ share: number; ticks: number }> {
  let idle = 0;
  let iowait = 0;
  for (let i = 0; i < 3 && idle + iowait < 20; i++) {
    const before = cpuTicks(cpu);
    await during();
    const after = cpuTicks(cpu);
    idle += after.idle - before.idle;
    iowait += after.iowait - before.iowait;
  }
  return { share: idle + iowait === 0 ? Number.NaN : iowait / (idle + iowait), ticks: idle + iowait };
}

t.test('the loop\'s sleeps are not counted as iowait on its core (Linux 6.15)', async (t: Test) => {
  if (skipUnlessRoot(t)) return;
  const allowed = parseCpuList(/^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '') ?? [];
  const cpu = allowed[allowed.length - 1];
  if (cpu === undefined) throw new Error('this process\'s allowed CPUs could not be read from /proc/self/status');
  const rl = await createRelayLab({ tag: 'iowait' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0'],
    { wrap: ['taskset', '-c', String(cpu)] });
  const started = relay.stderrLines.find((l) => /"msg":"relay loop started"/.test(l));
  const info = JSON.parse(started ?? '{}') as { noIowait?: boolean };
  t.type(info.noIowait, 'boolean', 'the loop says whether its sleeps count as iowait');
  // Said against the kernel's version, so a loop that stopped asking (or a
  // broken feature probe) fails here instead of skipping the measurement.
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number);
  const kernelHasIt = major > 6 || (major === 6 && minor >= 15);
  t.equal(info.noIowait, kernelHasIt, `noIowait is ${String(kernelHasIt)} on Linux ${release()} (IORING_FEAT_NO_IOWAIT is 6.15's)`);
  if (info.noIowait !== true) {
    t.comment(`skipped the measurement: this kernel (${release()}) lacks IORING_FEAT_NO_IOWAIT (Linux 6.15), so the loop's sleeps count as iowait`);
    await stopRelay(relay);
    return;
  }

  // 2 s of an idle relay is the window measured, not a wait for something to happen.
  const idle = await iowaitShare(cpu, () => sleep(2000));
  t.comment(`no traffic: cpu${cpu} iowait ${(idle.share * 100).toFixed(1)} % of ${idle.ticks} idle ticks`);
  t.ok(idle.share < 0.15, `no traffic: under 15 % of cpu${cpu}'s idle time is iowait (${(idle.share * 100).toFixed(1)} %)`);

  // 2 s per window, up to three windows.
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 30_000, idle: 3 });
  const stream = await iowaitShare(cpu, () => runGen(rl, { dest: '239.1.1.1', port: 5000, count: 10_000, rate: 5000, size: 200 }));
  t.comment(`5 kpps: cpu${cpu} iowait ${(stream.share * 100).toFixed(1)} % of ${stream.ticks} idle ticks`);
  t.ok(stream.share < 0.15, `a stream of 5 kpps: under 15 % of cpu${cpu}'s idle time is iowait (${(stream.share * 100).toFixed(1)} %)`);
  const report = await stopRelay(relay);
  const got = await sinkReport(sink);
  t.equal(got.received, report.rules[0]?.packets, 'and the relay forwarded every datagram it matched');
});
