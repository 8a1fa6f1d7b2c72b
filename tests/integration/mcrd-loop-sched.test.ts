/**
 * How each worker's loop thread (`mcr-loop`) is scheduled, read from
 * /proc/PID/task/TID (the kernel's own view), with the relay forwarding as
 * before:
 *
 * - `--loop-rt-priority N`: the loop thread under SCHED_FIFO at N, the
 *   worker's other threads and mcrd under the normal policy (`stat`). The
 *   loop starts before the worker drops to its user, so mcrd's
 *   CAP_SYS_NICE lets it; an mcrd without that capability (here: taken out
 *   of its bounding set with setpriv) and with no RLIMIT_RTPRIO sees the
 *   worker refused with EPERM and a reason that says what to give it. (The
 *   RLIMIT_RTPRIO way, LimitRTPRIO= in a unit, is not tried here: raising
 *   that limit takes CAP_SYS_RESOURCE, which this test machine's root does
 *   not have.)
 * - `--loop-slice-us N`: the loop thread alone gets a scheduler slice of N
 *   µs (sched_setattr, Linux 6.12; `se.slice` in `sched`, a file that needs
 *   a kernel with scheduler debugging: the test says so when it is
 *   missing). A slice under the kernel's 100 µs is refused before anything
 *   starts, with the range.
 */
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import type { LabProcess, RelayLab } from '../../bench/lab/index.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { MCRD, mcrdLab, workersOf } from './mcrd-harness.js';

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;

interface ThreadView { name: string; policy: number; rtPriority: number; sliceNs: number | undefined }

/** Every thread of a process: name, policy and real-time priority (stat fields 41 and 40), scheduler slice (sched, when shown). */
function threads(pid: number): ThreadView[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: field 3 is rest[0].
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const sched = existsSync(`/proc/${pid}/task/${tid}/sched`) ? readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8') : '';
    const slice = /^se\.slice\s*:\s*(\d+)/m.exec(sched)?.[1];
    return {
      name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), rtPriority: Number(rest[37]), policy: Number(rest[38]),
      sliceNs: slice === undefined ? undefined : Number(slice),
    };
  });
}

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

/** Whether this process holds CAP_SYS_NICE (bit 23 of CapEff), which mcrd passes on to a worker until it drops root. */
function hasSysNice(): boolean {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${capEff}`) & (1n << 23n)) !== 0n;
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
  t.ok(all.filter((th) => th.name !== 'mcr-loop').every((th) => th.policy === SCHED_OTHER), `every other thread of the worker: the normal policy (${list})`);
  t.ok(threads(mcrd.pid).every((th) => th.policy === SCHED_OTHER), 'mcrd itself: the normal policy');
  await forwardsAndStops(t, rl, mcrd);
});

t.test('without CAP_SYS_NICE or the real-time limit the worker is refused with EPERM and says what to give it', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rtprio = /^Max realtime priority\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  if (rtprio !== '0') {
    t.plan(0, `this process's RLIMIT_RTPRIO is ${rtprio ?? 'unknown'}, not 0: a worker could use SCHED_FIFO without CAP_SYS_NICE`);
    return;
  }
  const { mcrd, socket } = await startMcrd(t, 'looprt0', ['--loop-rt-priority', '10'], ['setpriv', '--bounding-set', '-sys_nice', '--']);
  let reason = '';
  const refused = await pollUntil(async () => {
    const [w] = await workersOf(socket);
    reason = w?.reason ?? '';
    return /EPERM/.test(reason);
  }, 15_000);
  t.ok(refused, `the worker's reason: ${reason}`);
  t.match(reason, /SCHED_FIFO/, 'names the policy');
  t.match(reason, /CAP_SYS_NICE/, 'says which capability would do');
  t.match(reason, /LimitRTPRIO/, 'and which limit');
  t.equal((await mcrd.stop()).exitCode, 0, 'mcrd still stops cleanly');
});

t.test('--loop-slice-us gives the loop thread alone its slice', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (!existsSync('/proc/self/sched') || !/^se\.slice\s*:/m.test(readFileSync('/proc/self/sched', 'utf8'))) {
    t.plan(0, 'this kernel shows no se.slice in /proc/PID/sched (no CONFIG_SCHED_DEBUG, or older than 6.6): the slice cannot be read back');
    return;
  }
  const { rl, mcrd, socket } = await startMcrd(t, 'loopslice', ['--loop-slice-us', '150']);
  const [worker] = await workersOf(socket);
  t.equal(worker?.state, 'running', `the worker runs (${worker?.reason ?? ''})`);
  const all = threads(worker?.pid ?? Number.NaN);
  const list = all.map((th) => `${th.name}:${th.sliceNs}`).join(' ');
  const loops = all.filter((th) => th.name === 'mcr-loop');
  t.equal(loops.length, 1, `one loop thread: ${list}`);
  t.equal(loops[0]?.sliceNs, 150_000, 'the loop thread: a slice of 150 µs');
  t.ok(all.filter((th) => th.name !== 'mcr-loop').every((th) => th.sliceNs !== 150_000), `the worker's other threads keep the kernel's slice (${list})`);
  t.ok(all.every((th) => th.policy === SCHED_OTHER), 'all under the normal policy');
  await forwardsAndStops(t, rl, mcrd);
});

t.test('a slice under 100 µs is refused before mcrd starts, with the range', async (t) => {
  const r = await execa(process.execPath, [MCRD, '--loop-slice-us', '50', '--control-socket', '/nonexistent/mcrd.sock'], { reject: false, timeout: 20_000 });
  t.not(r.exitCode, 0, 'mcrd exits with an error');
  t.match(r.stderr, /--loop-slice-us/, 'names the flag');
  t.match(r.stderr, /0 or 100\.\.100000/, 'gives the range');
});
