/**
 * An mcrd worker whose relay loop ends on an error exits at once, with the
 * loop's reason, and mcrd restarts it (instead of a worker that runs on
 * forwarding nothing until the watchdog notices its heartbeat stopped).
 * The error is made by running mcrd under a seccomp filter that refuses
 * io_uring_enter (build/Release/deny_syscall; Node's own libuv told not to
 * use io_uring): every worker's loop starts, then its first io_uring_enter
 * fails.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { TOOL } from './harness.js';
import { MCRD, mcrctlJson, mcrdLab } from './mcrd-harness.js';
import type { WorkersResult } from '../../proto/index.js';

t.test('a worker whose loop ended exits with the reason, and is restarted', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'loopend');
  const config = join(dir, 'rules.json5');
  writeFileSync(config, `{ daemon: { workers: 1 }, rules: [
    { inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "239.2.2.1", port: 6000, interface: "out0" }] },
  ] }`);
  const socket = join(dir, 'mcrd.sock');
  const mcrd = rl.lab.spawn(rl.relay.ns, 'env', ['UV_USE_IO_URING=0', TOOL('deny_syscall'), 'io_uring_enter',
    process.execPath, MCRD, '--config', config, '--control-socket', socket]);
  t.teardown(() => mcrd.stop().catch(() => undefined));
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  let last = '';
  const ended = await pollUntil(async () => {
    const w = (await mcrctlJson<WorkersResult>(socket, ['workers'])).workers[0];
    last = JSON.stringify(w ?? {});
    return /the relay loop ended: io_uring_enter failed/.test(w?.lastExit ?? '') && (w?.restarts ?? 0) >= 1;
  }, 20_000);
  t.ok(ended, `mcrctl workers gives the loop's reason for the exit, and the worker was restarted (${last})`);
  t.match(last, /EPERM/, 'with the errno');
  t.ok(mcrd.stdoutLines.some((l) => /"code":"MCR_LOOP_ENDED"/.test(l) || /the relay loop ended/.test(l)), 'mcrd\'s log has it too');
  t.equal((await mcrd.stop()).exitCode, 0, 'mcrd stops cleanly');
});
