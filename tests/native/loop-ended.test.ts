/**
 * A relay loop whose ring stops working ends, and says so. Under a seccomp
 * filter that refuses io_uring_enter (build/Release/deny_syscall, as a
 * broken sandbox or a failing kernel would; nothing else makes the call
 * fail on purpose) a Loop starts (its ring is made with io_uring_setup),
 * then its first io_uring_enter fails: the loop thread ends, logs
 * MCR_LOOP_ENDED with the errno to the relay's log ring (nobody may be
 * awaiting stop()), and the first command given after that line is refused at once with
 * ERR_MCR_STOPPED instead of returning a promise that never settles; stop()
 * reports the errno (asked after the end: no unhandled rejection ended the
 * process first). mcr-relay then exits 1 with that line (below); an mcrd
 * worker exits the same way, through Relay's onLoopEnded, and is restarted.
 */
import t from 'tap';
import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT, TOOL } from '../integration/harness.js';

const NATIVE = join(ROOT, 'dist', 'native', 'index.js');

// The child: a Loop on lo, started, then asked what happened to it.
const CHILD = `
import { native } from '${NATIVE}';
const out = {};
const loop = new native.Loop({ packetFd: native.openPacketSocket('lo') });
let woke;
const logged = new Promise((r) => { woke = r; });
// Each wake drains the log ring; the wait ends with the line it is about.
out.logs = [];
out.started = Boolean(loop.start(() => {
  out.logs.push(...loop.drainLogs());
  if (out.logs.some((l) => l.code === 'MCR_LOOP_ENDED')) woke();
}));
out.woke = await Promise.race([logged.then(() => 'logged'), new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
// The thread marks itself ended before it logs MCR_LOOP_ENDED, so whoever
// has read that line finds the very next command refused by a throw, not
// by a promise that settles once the thread is joined. The rule is a valid
// one: an invalid one would be refused for itself (ERR_MCR_INVALID_ARG).
try {
  const pending = loop.addRule({ id: 1, inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'lo' }] });
  out.add = 'a promise';
  out.later = await Promise.race([pending.then(() => 'applied', (err) => err.code),
    new Promise((r) => setTimeout(() => r('unanswered'), 1000))]);
} catch (err) { out.add = err.code; }
try { await loop.stop(); out.stop = 'ok'; } catch (err) { out.stop = err.code; }
console.log(JSON.stringify(out));
process.exit(0);
`;

t.test('a loop whose io_uring_enter fails ends, logs MCR_LOOP_ENDED and refuses commands', { skip: process.getuid?.() === 0 ? false : 'needs root (a packet socket)' }, async (t) => {
  // UV_USE_IO_URING=0: Node's own libuv must not need the refused call.
  const r = await execa(TOOL('deny_syscall'), ['io_uring_enter', process.execPath, '--input-type=module', '-e', CHILD],
    { reject: false, timeout: 20_000, env: { UV_USE_IO_URING: '0' } });
  t.equal(r.exitCode, 0, `the child ran (${r.stderr})`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { started?: boolean; logs?: Array<{ code: string; errno: number; level: number; message: string }>;
    add?: string; later?: string; stop?: string };
  t.equal(out.started, true, 'the loop starts: its ring is made without io_uring_enter');
  t.equal((out as { woke?: string }).woke, 'logged', 'its log ring woke this thread (not the 5 s bound)');
  const ended = out.logs?.find((l) => l.code === 'MCR_LOOP_ENDED');
  t.ok(ended, `its thread logs that it ended (${JSON.stringify(out.logs)})`);
  t.equal(ended?.errno, 1, 'with the errno, EPERM');
  t.equal(ended?.level, 50, 'as an error');
  t.match(ended?.message ?? '', /nothing is forwarded any more: restart the relay/, 'saying what it means and what to do');
  t.equal(out.add, 'ERR_MCR_STOPPED', `the first command after that line is refused at once (${JSON.stringify(out)})`);
  t.equal(out.stop, 'EPERM', 'and stop() reports the errno');
});

t.test('mcr-relay whose loop ended exits 1 and says why', { skip: process.getuid?.() === 0 ? false : 'needs root (a packet socket)' }, async (t) => {
  const relay = join(ROOT, 'dist', 'worker', 'relay-cli.js');
  const r = await execa(TOOL('deny_syscall'), ['io_uring_enter', process.execPath, relay, '--input-interface', 'lo',
    '--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:lo'],
  { reject: false, timeout: 20_000, env: { UV_USE_IO_URING: '0' } });
  t.equal(r.exitCode, 1, 'it does not run on forwarding nothing');
  t.match(r.stderr, /"code":"MCR_LOOP_ENDED","errno":1/, 'the loop\'s log line, with the errno');
  t.match(r.stderr, /^mcr-relay: EPERM: the relay loop ended: .*restart the relay/m, 'and its last line says what happened and what to do');
});
