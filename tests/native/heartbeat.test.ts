/**
 * The heartbeat block mcrd's watchdog reads: a memfd mcrd creates and maps,
 * handed to a process whose Loop maps it too and beats in it every turn.
 * Proven across two processes, as in production: the beat grows while the
 * other process's loop runs (with no traffic, from its stats timer alone),
 * stands still while that process is stopped, and grows again once it
 * continues. A descriptor that is not a heartbeat block is refused.
 */
import t from 'tap';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { native } from '../../native/index.js';
import { loopThreadPolicy, loopThreadState } from '../../supervisor/fleet/loop-thread.js';
import { ROOT } from '../integration/harness.js';
import { pollUntil } from '../../bench/lab/time.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NATIVE = join(ROOT, 'dist', 'native', 'index.js');
const isRoot = process.getuid?.() === 0;

t.test('createHeartbeat gives a zeroed 8-word block and an fd', async (t) => {
  const { fd, words } = native.createHeartbeat();
  t.ok(fd > 2, 'a new descriptor');
  t.equal(words.length, 8);
  t.same([...words], new Array(8).fill(0n), 'zero-filled');
  closeSync(fd);
  words[1] = 7n; // the mapping outlives the fd
  t.equal(words[1], 7n);
});

t.test('a Loop refuses a heartbeatFd that is not a heartbeat block', { skip: isRoot ? false : 'needs root (AF_PACKET socket)' }, async (t) => {
  const devNull = openSync('/dev/null', 'r');
  const packetFd = native.openPacketSocket('lo');
  t.throws(() => new native.Loop({ packetFd, heartbeatFd: devNull }), { code: 'EINVAL' });
  t.throws(() => new native.Loop({ packetFd, heartbeatFd: 'x' as unknown as number }), { code: 'ERR_MCR_INVALID_ARG' });
  closeSync(devNull);
  native.closeFd(packetFd);
});

t.test('the loop of another process beats while it runs, not while it is stopped', { skip: isRoot ? false : 'needs root (AF_PACKET socket)' }, async (t) => {
  const { fd, words } = native.createHeartbeat();
  const beat = (): bigint => words[0] ?? 0n;
  // The child's loop maps the block from its fd 3 and closes that fd.
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { native } from '${NATIVE}';
    const loop = new native.Loop({ packetFd: native.openPacketSocket('lo'), heartbeatFd: 3 });
    loop.start();
    native.closeFd(3);
    setTimeout(() => process.exit(0), 30000);
  `], { stdio: ['ignore', 'ignore', 'inherit', fd] });
  const exited = once(child, 'exit');
  closeSync(fd);
  const pid = child.pid;
  t.teardown(async () => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    }
    await exited;
  });
  if (pid === undefined) throw new Error('the child did not start');
  t.ok(await pollUntil(async () => beat() > 0n, 10_000), 'the first beat within 10 s');
  const a = beat();
  await sleep(500);
  const b = beat();
  // 100 ms stats timer: about 5 turns in 500 ms with no traffic; at least 2 on a busy machine.
  t.match(loopThreadState(pid), /^[RS]$/, 'the loop thread (mcr-loop) runs or sleeps');
  t.equal(loopThreadPolicy(pid), 0, 'under the normal policy (SCHED_OTHER), as mcrctl workers reads it');
  t.ok(b - a >= 2n, `beats with no traffic (${a} -> ${b} in 500 ms)`);

  process.kill(pid, 'SIGSTOP');
  await sleep(200); // let a turn in progress finish storing
  const stopped = beat();
  await sleep(600);
  t.equal(beat(), stopped, 'no beat while the process is stopped');
  t.equal(loopThreadState(pid), 'T', 'the watchdog finds the loop thread (mcr-loop) stopped');

  process.kill(pid, 'SIGCONT');
  t.ok(await pollUntil(async () => beat() > stopped, 5_000), 'beats again once continued');
});
