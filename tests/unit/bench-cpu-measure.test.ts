/**
 * How the bench measures a method's CPU without the tick: the tickless-idle
 * check read from /proc/timer_list, each task's exact run time from
 * schedstat, and the split of the window's task time into other programs
 * on the relay core and the method's own threads elsewhere (bench/trial.ts).
 */
import t from 'tap';
import { RELAY_CPU } from '../../bench/config.js';
import { busySecBetween, busyShareBetween, readTasks, tickless, type CpuTimes, type TaskRuntime } from '../../bench/host-counters.js';
import { taskSplit } from '../../bench/trial.js';

const TIMER_LIST = `Timer List Version: v0.10
HRTIMER_MAX_CLOCK_BASES: 8
now at 21506286196811 nsecs

cpu: 0
 clock 0:
  .base:       00000000ae178a59
active timers:
 #0: <00000000ae178a59>, tick_nohz_handler, S:01
 .expires_next   : 21506288000000 nsecs
 .nohz           : 1
 .idle_sleeptime : 7773671477786 nsecs

cpu: 1
 clock 0:
 .expires_next   : 21506288000000 nsecs
 .nohz           : 0
 .idle_sleeptime : 0 nsecs

Tick Device: mode:     1
Per CPU device: 1
 .nohz           : 1
`;

t.test('tickless idle is read per CPU from /proc/timer_list', async (t) => {
  t.equal(tickless(TIMER_LIST, 0), true, 'cpu 0: .nohz 1');
  t.equal(tickless(TIMER_LIST, 1), false, "cpu 1: .nohz 0 (the tick device's section does not count)");
  t.equal(tickless(TIMER_LIST, 2), false, 'no section: cannot tell, so not exact');
  t.equal(tickless('', 0), false, 'empty text');
});

t.test("the window's task time splits into others on the relay core and the method's threads elsewhere", async (t) => {
  const OTHER = (RELAY_CPU as number) === 0 ? 1 : 0;
  const task = (tgid: number, cpu: number, comm: string, runNs: number): TaskRuntime => ({ tgid, cpu, comm, runNs });
  const before = new Map<number, TaskRuntime>([
    [10, task(10, RELAY_CPU, 'mcr-loop', 1e9)],
    [11, task(10, OTHER, 'node', 2e9)],
    [20, task(20, RELAY_CPU, 'kworker/1:0', 5e8)],
    [30, task(30, RELAY_CPU, `ksoftirqd/${RELAY_CPU}`, 1e8)],
    [40, task(40, OTHER, 'sshd', 0)],
  ]);
  const after = new Map<number, TaskRuntime>([
    [10, task(10, RELAY_CPU, 'mcr-loop', 3e9)], // the method on the relay core: in core 1's busy time already
    [11, task(10, OTHER, 'node', 2.25e9)], // the method's thread elsewhere: +0.25 s
    [20, task(20, RELAY_CPU, 'kworker/1:0', 6e8)], // other load on the relay core: +0.1 s
    [30, task(30, RELAY_CPU, `ksoftirqd/${RELAY_CPU}`, 9e8)], // the method's receive path: not other load
    [40, task(40, OTHER, 'sshd', 7e9)], // elsewhere and not the method's: nothing
    [50, task(50, RELAY_CPU, 'newcomer', 3e7)], // started in the window: all of its time
  ]);
  const split = taskSplit(before, after, [10]);
  t.equal(split.otherOnRelaySec.toFixed(3), '0.130', 'kworker 0.1 s + the newcomer 0.03 s');
  t.equal(split.methodOffRelaySec.toFixed(3), '0.250', "the method's Node thread");
});

t.test("a task's run time is exact: a busy spell of this process shows in its schedstat", async (t) => {
  const mine = (m: Map<number, TaskRuntime>): TaskRuntime | undefined => m.get(process.pid);
  const before = mine(readTasks());
  t.ok(before, 'this process is listed under its own thread id');
  t.equal(before?.tgid, process.pid);
  t.ok(Number.isInteger(before?.cpu), 'with its last CPU');
  const start = process.cpuUsage();
  const until = Date.now() + 200;
  let spins = 0;
  while (Date.now() < until) spins++;
  const used = process.cpuUsage(start);
  const after = mine(readTasks());
  const ranMs = ((after?.runNs ?? 0) - (before?.runNs ?? 0)) / 1e6;
  const cpuMs = (used.user + used.system) / 1000;
  t.ok(spins > 0);
  // getrusage of the main thread and schedstat count the same run time;
  // the process's other threads (libuv, V8) may add a little to cpuUsage.
  t.ok(ranMs > 0.5 * cpuMs && ranMs <= cpuMs + 20, `schedstat ${ranMs.toFixed(1)} ms against getrusage ${cpuMs.toFixed(1)} ms`);
});

t.test("a core's busy time: the window less exact idle time, else the tick-sampled busy fields", async (t) => {
  const times = (busySec: number, idleSec: number): CpuTimes => ({ busySec, idleSec, taskSec: busySec, irqSec: 0, stealSec: 0 });
  // A timer-driven relay the tick missed: 0.1 s of tick-sampled busy time, 2.0 s idle of a 3 s window.
  const before = times(10, 100);
  const after = times(10.1, 102);
  t.equal(busySecBetween(before, after, 3, true).toFixed(2), '1.00', 'exact idle: 3 s less 2 s idle');
  t.equal(busySecBetween(before, after, 3, false).toFixed(2), '0.10', 'no exact idle: the tick-sampled fields');
  t.equal(busySecBetween(before, times(10, 103.5), 3, true), 0, 'idle a little over the window (counter resolution): 0, never negative');
});

t.test('a share of cores busy: each core by its own rule, over the window', async (t) => {
  const times = (busySec: number, idleSec: number): CpuTimes => ({ busySec, idleSec, taskSec: busySec, irqSec: 0, stealSec: 0 });
  // Core 0 ticks (busy fields: 0.5 s of 2 s); core 1 is tickless (idle 0.5 s of 2 s: 1.5 s busy, though its tick saw 0.1 s).
  const before = [times(1, 10), times(1, 10)];
  const after = [times(1.5, 11.5), times(1.1, 10.5)];
  const exact = (cpu: number): boolean => cpu === 1;
  t.equal(busyShareBetween(before, after, 2, [0], exact), 0.25, 'core 0: tick-sampled busy over the window');
  t.equal(busyShareBetween(before, after, 2, [1], exact), 0.75, 'core 1: the window less its exact idle');
  t.equal(busyShareBetween(before, after, 2, [0, 1], exact), 0.5, 'both: the sum over both cores\' windows');
  t.equal(busyShareBetween(before, [times(9, 10), times(9, 10)], 2, [0], exact), 1, 'never over 1');
  t.ok(Number.isNaN(busyShareBetween(before, after, 0, [0], exact)), 'no window: NaN, not a share');
});
