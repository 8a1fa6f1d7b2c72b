/**
 * A loop thread the host refuses (pthread_create EAGAIN: a unit's
 * TasksMax=, a cgroup's pids.max or a user's process limit) makes start()
 * throw EAGAIN with what to raise, and the process lives on to report it:
 * before, the C++ exception passed N-API uncaught and aborted the worker
 * (SIGABRT, a core dump per restart, no line saying why). The refusal is
 * made with RLIMIT_NPROC 1 for a process that switched to `nobody` after
 * opening its packet socket (root is exempt from the limit).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../integration/harness.js';

const NATIVE = join(ROOT, 'dist', 'native', 'index.js');
const isRoot = process.getuid?.() === 0;
const prlimit = spawnSync('prlimit', ['--version'], { encoding: 'utf8' });

t.test('start() of a loop whose thread the host refuses throws EAGAIN; the process lives on', {
  skip: !isRoot ? 'needs root (AF_PACKET socket, then a switch to nobody)' : prlimit.status !== 0 ? 'no prlimit (util-linux)' : false,
}, async (t) => {
  const script = `
    import { native } from '${NATIVE}';
    const loop = new native.Loop({ packetFd: native.openPacketSocket('lo') });
    process.setgid(65534);
    process.setuid(65534);
    try {
      loop.start();
      console.log(JSON.stringify({ started: true }));
      await loop.stop();
    } catch (e) {
      console.log(JSON.stringify({ code: e.code, message: e.message }));
    }
  `;
  const r = spawnSync('prlimit', ['--nproc=1:1', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.signal, null, `not killed by a signal (stderr: ${r.stderr.trim().slice(0, 200)})`);
  t.equal(r.status, 0, 'exits normally');
  const line = r.stdout.trim().split('\n').pop() ?? '';
  t.match(JSON.parse(line || '{}'), { code: 'EAGAIN', message: /pthread_create.*TasksMax=/ }, 'the refusal, with its errno and what to raise');
});
