/**
 * RLIMIT_MEMLOCK too low for a loop's io_uring: without CAP_IPC_LOCK the
 * kernel charges the ring's memory to the user's locked-memory limit, and
 * io_uring_queue_init fails with ENOMEM. The error keeps its errno code and
 * says which limit to raise and how. Proven in a child that runs as nobody
 * with only CAP_NET_RAW (setpriv), under a 64 KiB limit (prlimit); the same
 * child with CAP_IPC_LOCK starts, so the limit is what made the difference.
 */
import t from 'tap';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../integration/harness.js';

const NATIVE = join(ROOT, 'dist', 'native', 'index.js');
const NOBODY = '65534';

const CHILD = `
  import { native } from '${NATIVE}';
  try {
    const loop = new native.Loop({ packetFd: native.openPacketSocket('lo') });
    loop.start();
    await loop.stop();
    console.log(JSON.stringify({ started: true }));
  } catch (e) {
    console.log(JSON.stringify({ started: false, code: e.code, syscall: e.syscall, message: e.message }));
  }
`;

async function asNobody(caps: string, memlockBytes: number) {
  const r = await execa('setpriv', [
    `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`,
    'prlimit', `--memlock=${memlockBytes}:${memlockBytes}`, process.execPath, '--input-type=module', '-e', CHILD,
  ], { reject: false, timeout: 20_000 });
  if (r.exitCode !== 0) throw new Error(`child failed (${r.exitCode}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { started: boolean; code?: string; syscall?: string; message?: string };
}

async function whyNot(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root (to become nobody with CAP_NET_RAW)';
  const tools = await execa('sh', ['-c', 'command -v setpriv && command -v prlimit'], { reject: false });
  if (tools.exitCode !== 0) return 'setpriv or prlimit (util-linux) not installed';
  const readable = await execa('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'test', '-r', NATIVE], { reject: false });
  if (readable.exitCode !== 0) return `the built tree (${NATIVE}) is not readable by uid ${NOBODY} where this clone lives`;
  return false;
}

const skip = await whyNot();

t.test('a loop under a too-low RLIMIT_MEMLOCK fails with ENOMEM and says what to raise', { skip }, async (t) => {
  const low = await asNobody('+net_raw', 64 * 1024);
  t.equal(low.started, false, 'refused under 64 KiB');
  t.equal(low.code, 'ENOMEM');
  t.match(low.syscall, /^io_uring_queue_init/);
  t.match(low.message, /RLIMIT_MEMLOCK, now 64 KiB/, 'names the limit and its value');
  t.match(low.message, /LimitMEMLOCK=.*ulimit -l.*CAP_IPC_LOCK/, 'says how to raise it');

  const locked = await asNobody('+net_raw,+ipc_lock', 64 * 1024);
  t.same(locked, { started: true }, 'the same limit with CAP_IPC_LOCK starts');
});
