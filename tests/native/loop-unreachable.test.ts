/**
 * A started loop that JavaScript no longer references keeps running until
 * stop(): the addon holds its own reference while the thread runs. Before,
 * a garbage collection destroyed the wrapper, whose destructor stopped and
 * joined the thread: the relay stopped forwarding with no line saying why,
 * and a notify the thread had queued could then run on the freed wrapper.
 * Checked in a child (GC exposed) by the loop thread's name in
 * /proc/self/task after a full collection; the child ends with exit(),
 * whose environment teardown stops and joins the loop.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../integration/harness.js';

const NATIVE = join(ROOT, 'dist', 'native', 'index.js');
const isRoot = process.getuid?.() === 0;

t.test('an unreferenced running loop survives garbage collection', {
  skip: !isRoot ? 'needs root (AF_PACKET socket)' : false,
}, async (t) => {
  const script = `
    import { native } from '${NATIVE}';
    import { readdirSync, readFileSync } from 'node:fs';
    import { setTimeout as sleep } from 'node:timers/promises';
    const loopThreads = () => readdirSync('/proc/self/task')
      .filter((tid) => readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim() === 'mcr-loop').length;
    (() => {
      const loop = new native.Loop({ packetFd: native.openPacketSocket('lo') });
      loop.start();
    })();
    const before = loopThreads();
    for (let i = 0; i < 5; i++) { globalThis.gc(); await sleep(50); }
    console.log(JSON.stringify({ before, after: loopThreads() }));
    process.exit(0);
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.signal, null, `not killed by a signal (stderr: ${r.stderr.trim().slice(0, 200)})`);
  t.equal(r.status, 0, 'exits normally, the loop stopped at exit');
  const line = r.stdout.trim().split('\n').pop() ?? '';
  t.same(JSON.parse(line || '{}'), { before: 1, after: 1 }, 'the loop thread still runs after the collections');
});
