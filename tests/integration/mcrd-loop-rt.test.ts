/**
 * `--loop-rt-priority N`: each worker's loop thread (`mcr-loop`) runs under
 * SCHED_FIFO at N and the worker's other threads under the normal policy,
 * read from /proc/PID/task/TID/stat (the kernel's own view), and the relay
 * forwards as before. The loop starts before the worker drops to its user,
 * so mcrd's CAP_SYS_NICE lets it; an mcrd without that capability (here:
 * taken out of its bounding set with setpriv) and with no RLIMIT_RTPRIO
 * sees the worker refused with EPERM and a reason that says what to give
 * it. (The RLIMIT_RTPRIO way, LimitRTPRIO= in a unit, is not tried here:
 * raising that limit takes CAP_SYS_RESOURCE, which this test machine's
 * root does not have.)
 */
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { MCRD, mcrdLab, workersOf } from './mcrd-harness.js';

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;

/** Name, scheduling policy and real-time priority of every thread of a process (stat fields 41 and 40). */
function threads(pid: number): Array<{ name: string; policy: number; rtPriority: number }> {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: field 3 is rest[0].
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), rtPriority: Number(rest[37]), policy: Number(rest[38]) };
  });
}

function writeConfig(dir: string): string {
  const config = join(dir, 'rules.json5');
  writeFileSync(config, `{ daemon: { workers: 1 }, rules: [
    { inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "239.2.2.1", port: 6000, interface: "out0" }] },
  ] }`);
  return config;
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
  const { rl, dir } = await mcrdLab(t, 'looprt');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--config', writeConfig(dir), '--control-socket', socket, '--loop-rt-priority', '10']);
  t.teardown(() => mcrd.stop().catch(() => undefined));
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  const [worker] = await workersOf(socket);
  t.equal(worker?.state, 'running', 'the worker runs');
  const all = threads(worker?.pid ?? Number.NaN);
  const list = all.map((th) => `${th.name}:${th.policy}/${th.rtPriority}`).join(' ');
  const loops = all.filter((th) => th.name === 'mcr-loop');
  t.equal(loops.length, 1, `one loop thread: ${list}`);
  t.strictSame([loops[0]?.policy, loops[0]?.rtPriority], [SCHED_FIFO, 10], 'the loop thread: SCHED_FIFO at 10');
  t.ok(all.filter((th) => th.name !== 'mcr-loop').every((th) => th.policy === SCHED_OTHER), `every other thread of the worker: the normal policy (${list})`);
  t.ok(threads(mcrd.pid).every((th) => th.policy === SCHED_OTHER), 'mcrd itself: the normal policy');

  const sink = await startSink(rl, 0, { group: '239.2.2.1', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 4000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'the relay forwards everything');
  t.equal((await mcrd.stop()).exitCode, 0, 'mcrd exits 0');
});

t.test('without CAP_SYS_NICE or the real-time limit the worker is refused with EPERM and says what to give it', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rtprio = /^Max realtime priority\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  if (rtprio !== '0') {
    t.plan(0, `this process's RLIMIT_RTPRIO is ${rtprio ?? 'unknown'}, not 0: a worker could use SCHED_FIFO without CAP_SYS_NICE`);
    return;
  }
  const { rl, dir } = await mcrdLab(t, 'looprt0');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = rl.lab.spawn(rl.relay.ns, 'setpriv', ['--bounding-set', '-sys_nice', '--', process.execPath, MCRD,
    '--config', writeConfig(dir), '--control-socket', socket, '--loop-rt-priority', '10']);
  t.teardown(() => mcrd.stop().catch(() => undefined));
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
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
