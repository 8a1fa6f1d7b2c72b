/**
 * How each worker's loop thread (`mcr-loop`) is scheduled, read from
 * /proc/PID/task/TID (the kernel's own view), with the relay forwarding as
 * before:
 *
 * - By default (`--loop-rt-priority auto`) the loop thread takes SCHED_FIFO
 *   at the priority RLIMIT_RTPRIO grants (at most 10), the normal policy
 *   where it is 0, and mcrd says which at start and in `--check-host`.
 *   This project's machines can only run the second branch: root's limit
 *   is 0 and cannot be raised (no CAP_SYS_RESOURCE); the test reads the
 *   limit itself and expects what it grants. The other tests here ask for
 *   the normal policy where the limit would give a real-time default.
 * - `--loop-rt-priority N`: the loop thread under SCHED_FIFO at N, the
 *   worker's other threads and mcrd under the normal policy (`stat`). The
 *   loop starts before the worker drops to its user, so mcrd's
 *   CAP_SYS_NICE lets it; an mcrd without that capability (here: taken out
 *   of its bounding set with setpriv) and with no RLIMIT_RTPRIO sees the
 *   worker refused with EPERM and a reason that says what to give it. (The
 *   RLIMIT_RTPRIO way, LimitRTPRIO= in a unit, is not tried here: raising
 *   that limit takes CAP_SYS_RESOURCE, which this test machine's root does
 *   not have.)
 * - `--loop-slice-us`: by default ("auto") and with N, the loop thread
 *   alone gets a scheduler slice of 100 or N µs (sched_setattr, Linux 6.12;
 *   `se.slice` in `sched`, a file that needs a kernel with scheduler
 *   debugging: the test says so when it is missing). Where the kernel
 *   refuses one (here: a seccomp filter that fails sched_setattr with EPERM,
 *   build/Release/deny_syscall, as a sandbox would; no setting makes
 *   this kernel refuse it otherwise), the default falls back to the
 *   kernel's slice, mcrd warns once and the relay forwards (mcr-relay
 *   too: one warning, then forwarding), while an explicit value refuses
 *   the worker with a reason that names the way out. A slice under the kernel's 100 µs is refused before anything
 *   starts, with the range.
 *
 * The bench's record of the loop thread (bench/lab/threads.ts
 * describeLoopThread, one line in each MCR cell's commands) is checked
 * against the same worker: the slice in force, or SCHED_FIFO and its
 * priority.
 */
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeLoopThread, SCHED_FIFO, SCHED_OTHER, skipUnlessRoot, threadsOf as threads, type ThreadView } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import type { LabProcess, RelayLab } from '../../bench/lab/index.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay, TOOL } from './harness.js';
import { hasSysNice, MCRD, mcrctl, mcrctlJson, mcrdLab, NORMAL_POLICY, rtprioLimit, workersOf } from './mcrd-harness.js';
import type { LogsResult, LoopState } from '../../proto/index.js';

/** mcrd in the lab with one rule and `flags`; its socket, once it is ready. */
async function startMcrd(t: Test, tag: string, flags: string[], wrap: string[] = []): Promise<{ rl: RelayLab; mcrd: LabProcess; socket: string }> {
  const { rl, dir } = await mcrdLab(t, tag);
  const config = join(dir, 'rules.json5');
  writeFileSync(config, `{ daemon: { workers: 1 }, rules: [
    { inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "239.2.2.1", port: 6000, interface: "out0" }] },
  ] }`);
  const socket = join(dir, 'mcrd.sock');
  // `wrap` runs mcrd under another program (setpriv): [program, ...its args].
  const [cmd = process.execPath, ...args] = [...wrap, process.execPath, MCRD, '--config', config, '--control-socket', socket, ...flags];
  const mcrd = rl.lab.spawn(rl.relay.ns, cmd, args);
  t.teardown(() => mcrd.stop().catch(() => undefined));
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  return { rl, mcrd, socket };
}

/** The relay forwards 2 000 of 2 000, and mcrd then stops with 0. */
async function forwardsAndStops(t: Test, rl: RelayLab, mcrd: LabProcess): Promise<void> {
  const sink = await startSink(rl, 0, { group: '239.2.2.1', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 4000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'the relay forwards everything');
  t.equal((await mcrd.stop()).exitCode, 0, 'mcrd exits 0');
}

/** Waits for the worker to be refused with `code`; asserts it and returns its reason (mcrctl workers). */
async function refusedWith(t: Test, socket: string, code: string): Promise<string> {
  let reason = '';
  const refused = await pollUntil(async () => {
    const [w] = await workersOf(socket);
    reason = w?.reason ?? '';
    return reason.includes(code);
  }, 15_000);
  t.ok(refused, `the worker's reason: ${reason}`);
  return reason;
}

t.test('--loop-rt-priority puts the loop thread alone under SCHED_FIFO', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (!hasSysNice()) {
    t.plan(0, 'this root lacks CAP_SYS_NICE (a container without it?): mcrd could not give its workers SCHED_FIFO');
    return;
  }
  const { rl, mcrd, socket } = await startMcrd(t, 'looprt', ['--loop-rt-priority', '10']);
  const [worker] = await workersOf(socket);
  t.equal(worker?.state, 'running', 'the worker runs');
  const all = threads(worker?.pid ?? Number.NaN);
  const list = all.map((th) => `${th.name}:${th.policy}/${th.rtPriority}`).join(' ');
  const loops = all.filter((th) => th.name === 'mcr-loop');
  t.equal(loops.length, 1, `one loop thread: ${list}`);
  t.strictSame([loops[0]?.policy, loops[0]?.rtPriority], [SCHED_FIFO, 10], 'the loop thread: SCHED_FIFO at 10');
  t.match(worker?.loop, { rtPriority: 10 }, 'mcrctl workers says the same');
  t.match(describeLoopThread(worker?.pid ?? Number.NaN), /^\(loop\) mcr-loop: SCHED_FIFO 10, /, 'the bench records the policy with each MCR cell');
  t.ok(all.filter((th) => th.name !== 'mcr-loop').every((th) => th.policy === SCHED_OTHER), `every other thread of the worker: the normal policy (${list})`);
  t.ok(threads(mcrd.pid).every((th) => th.policy === SCHED_OTHER), 'mcrd itself: the normal policy');
  await forwardsAndStops(t, rl, mcrd);
});

t.test('by default (auto) the loop takes SCHED_FIFO only as far as RLIMIT_RTPRIO grants it, and mcrd says which', async (t) => {
  if (skipUnlessRoot(t)) return;
  const limit = rtprioLimit();
  const want = Math.min(limit, 10);
  // This project's machines: root's RLIMIT_RTPRIO is 0 and cannot be raised
  // (no CAP_SYS_RESOURCE), so here the normal-policy branch runs.
  t.comment(`RLIMIT_RTPRIO ${limit}: expecting ${want > 0 ? `SCHED_FIFO ${want}` : 'the normal policy'}`);
  const { rl, mcrd, socket } = await startMcrd(t, 'loopauto', []);
  const [worker] = await workersOf(socket);
  t.equal(worker?.state, 'running', `the worker runs (${worker?.reason ?? ''})`);
  const loops = threads(worker?.pid ?? Number.NaN).filter((th) => th.name === 'mcr-loop');
  t.equal(loops.length, 1, 'one loop thread');
  t.strictSame([loops[0]?.policy, loops[0]?.rtPriority], want > 0 ? [SCHED_FIFO, want] : [SCHED_OTHER, 0], 'the loop thread\'s policy and priority (the kernel\'s view)');
  t.match(worker?.loop, { rtPriority: want }, 'mcrctl workers says the same');
  const said = mcrd.stdoutLines.filter((l) => l.includes('--loop-rt-priority auto'));
  t.equal(said.length, 1, 'mcrd says once at start how the loops run');
  t.match(said[0], /"level":30/, 'at info: neither is a fault');
  t.match(JSON.parse(said[0] ?? '{}'), { loopRtPriority: want, rtprioLimit: limit,
    msg: want > 0 ? new RegExp(`SCHED_FIFO at priority ${want} \\(--loop-rt-priority auto: RLIMIT_RTPRIO is ${limit}\\)`)
      : /normal policy \(--loop-rt-priority auto: RLIMIT_RTPRIO is 0\).*latency tail/ }, 'with the limit it read');
  const check = await execa(process.execPath, [MCRD, '--check-host'], { reject: false, timeout: 30_000 });
  const line = check.stdout.split('\n').find((l) => l.includes('loop real-time priority')) ?? '';
  t.match(line, want > 0 ? /^PASS .*SCHED_FIFO at priority/ : /^INFO .*normal policy.*fix: LimitRTPRIO=10 in the unit/, `mcrd --check-host: ${line}`);
  await forwardsAndStops(t, rl, mcrd);
});

t.test('without CAP_SYS_NICE or the real-time limit the worker is refused with EPERM and says what to give it', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rtprio = rtprioLimit();
  if (rtprio !== 0) {
    t.plan(0, `this process's RLIMIT_RTPRIO is ${rtprio}, not 0: a worker could use SCHED_FIFO without CAP_SYS_NICE`);
    return;
  }
  const { mcrd, socket } = await startMcrd(t, 'looprt0', ['--loop-rt-priority', '10'], ['setpriv', '--bounding-set', '-sys_nice', '--']);
  const reason = await refusedWith(t, socket, 'EPERM');
  t.match(reason, /SCHED_FIFO/, 'names the policy');
  t.match(reason, /CAP_SYS_NICE/, 'says which capability would do');
  t.match(reason, /LimitRTPRIO/, 'and which limit');
  t.equal((await mcrd.stop()).exitCode, 0, 'mcrd still stops cleanly');
});

/** Skips `t` (true) when the kernel shows no se.slice: slices cannot be read back. */
function skipUnlessSliceShown(t: Test): boolean {
  if (existsSync('/proc/self/sched') && /^se\.slice\s*:/m.test(readFileSync('/proc/self/sched', 'utf8'))) return false;
  t.plan(0, 'this kernel shows no se.slice in /proc/PID/sched (no CONFIG_SCHED_DEBUG, or older than 6.6): the slice cannot be read back');
  return true;
}

/** The worker's threads, with the one loop thread apart ("name:slice" list for messages). */
async function loopThreadOf(t: Test, socket: string): Promise<{ pid: number; loop: ThreadView | undefined; others: ThreadView[]; list: string; state: LoopState | undefined }> {
  const [worker] = await workersOf(socket);
  t.equal(worker?.state, 'running', `the worker runs (${worker?.reason ?? ''})`);
  const pid = worker?.pid ?? Number.NaN;
  const all = threads(pid);
  const list = all.map((th) => `${th.name}:${th.sliceNs}`).join(' ');
  const loops = all.filter((th) => th.name === 'mcr-loop');
  t.equal(loops.length, 1, `one loop thread: ${list}`);
  t.ok(all.every((th) => th.policy === SCHED_OTHER), 'all under the normal policy');
  return { pid, loop: loops[0], others: all.filter((th) => th.name !== 'mcr-loop'), list, state: worker?.loop };
}

for (const [what, flags, us] of [['by default (auto)', [], 100], ['--loop-slice-us 150', ['--loop-slice-us', '150'], 150]] as const) {
  t.test(`${what}: the loop thread alone gets a slice of ${us} µs`, async (t) => {
    if (skipUnlessRoot(t) || skipUnlessSliceShown(t)) return;
    const { rl, mcrd, socket } = await startMcrd(t, `loopslice${us}`, [...flags, ...NORMAL_POLICY]);
    const { pid, loop, others, list, state } = await loopThreadOf(t, socket);
    t.equal(loop?.sliceNs, us * 1000, `the loop thread: a slice of ${us} µs`);
    t.match(state, { ingress: 'ring', sliceUs: us, rtPriority: 0 }, 'mcrctl workers says the same');
    t.notOk('sliceRefused' in (state ?? {}), 'and no refusal');
    t.match((await mcrctl(socket, ['workers'])).stdout, new RegExp(`running .* slice ${us}us`), 'in its LOOP column too');
    t.equal(describeLoopThread(pid), `(loop) mcr-loop: SCHED_OTHER, slice ${us} µs`, 'the bench records the same with each MCR cell');
    t.ok(others.every((th) => th.sliceNs !== us * 1000), `the worker's other threads keep the kernel's slice (${list})`);
    t.notMatch(mcrd.stdoutLines.join('\n'), /loop scheduler slice/, 'no warning about the slice');
    await forwardsAndStops(t, rl, mcrd);
  });
}

t.test('where sched_setattr is refused, the default falls back with one warning and an explicit slice refuses the worker', async (t) => {
  if (skipUnlessRoot(t) || skipUnlessSliceShown(t)) return;
  const deny = [TOOL('deny_syscall'), 'sched_setattr'];
  t.test('auto: the kernel\'s slice, one warning, the relay forwards', async (t) => {
    const { rl, mcrd, socket } = await startMcrd(t, 'slicedeny', [...NORMAL_POLICY], deny);
    const { loop, others, state } = await loopThreadOf(t, socket);
    t.not(loop?.sliceNs, 100_000, 'the loop thread keeps the kernel\'s slice');
    t.match(state, { sliceUs: 0, sliceRefused: 'EPERM' }, 'mcrctl workers says so, with the errno');
    t.equal(loop?.sliceNs, others[0]?.sliceNs, 'the same as the worker\'s other threads');
    const warned = await pollUntil(async () => /"level":40,[^\n]*"check":"loop scheduler slice"/.test(mcrd.stdoutLines.join('\n')), 10_000);
    t.ok(warned, 'mcrd warns');
    const warnings = mcrd.stdoutLines.filter((l) => /"level":40/.test(l) && /loop scheduler slice/.test(l));
    t.equal(warnings.length, 1, 'once');
    t.match(warnings[0], /EPERM.*one scheduler tick.*Linux 6\.12.*--loop-slice-us 0/, 'with the reason, the cost and the way out');
    const started = (await mcrctlJson<LogsResult>(socket, ['logs', '--worker', 'in0/0'])).lines.find((l) => l.message === 'relay loop started');
    t.match(JSON.parse(started?.json ?? '{}'), { loopSliceUs: 0, loopSliceRefused: { code: 'EPERM' } }, 'the worker logs the slice in force (the kernel\'s) and why');
    await forwardsAndStops(t, rl, mcrd);
  });
  t.test('--loop-slice-us 150: the worker is refused and says what to set', async (t) => {
    const { mcrd, socket } = await startMcrd(t, 'slicedeny150', ['--loop-slice-us', '150', ...NORMAL_POLICY], deny);
    const reason = await refusedWith(t, socket, 'EPERM');
    t.match(reason, /scheduler slice of 150 us/, 'names the slice');
    t.match(reason, /--loop-slice-us auto .* or 0/, 'and the settings that start');
    t.match(mcrd.stdoutLines.join('\n'), /"level":40[^\n]*loop scheduler slice[^\n]*every worker would fail to start/, 'mcrd\'s host check warned at start');
    t.equal((await mcrd.stop()).exitCode, 0, 'mcrd still stops cleanly');
  });
  t.test('mcr-relay: auto falls back with one warning and forwards', async (t) => {
    const { rl } = await mcrdLab(t, 'slicerelay');
    const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.1:6000:out0', ...NORMAL_POLICY], { wrap: deny });
    t.teardown(() => relay.stop().catch(() => undefined));
    const warnings = relay.stderrLines.filter((l) => /"level":40/.test(l) && /scheduler slice/.test(l));
    t.equal(warnings.length, 1, 'one warning');
    t.match(warnings[0], /"code":"EPERM".*--loop-slice-us auto: EPERM.*--loop-slice-us 0/, 'with the code, the reason and the way out');
    const sink = await startSink(rl, 0, { group: '239.2.2.1', port: 6000, count: 2000, idle: 2 });
    await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 4000, size: 100 });
    t.equal((await sinkReport(sink)).received, 2000, 'the relay forwards everything');
    t.equal((await stopRelay(relay)).rules[0]?.packets, 2000, 'and counts it');
  });
});

t.test('a slice under 100 µs is refused before mcrd starts, with the range', async (t) => {
  const r = await execa(process.execPath, [MCRD, '--loop-slice-us', '50', '--control-socket', '/nonexistent/mcrd.sock'], { reject: false, timeout: 20_000 });
  t.not(r.exitCode, 0, 'mcrd exits with an error');
  t.match(r.stderr, /--loop-slice-us/, 'names the flag');
  t.match(r.stderr, /0 or 100\.\.100000/, 'gives the range');
});
