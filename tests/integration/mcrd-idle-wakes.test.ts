/**
 * An idle worker's Node thread sleeps: with a rule installed and no
 * traffic, it wakes only for mcrd's stream-watch questions (two a second)
 * and the odd housekeeping, not for the loop's logs, which it reads when the
 * loop's log ring says some wait (native/core/log_ring.h), not on a timer.
 * Counted as the voluntary context switches of the worker's main thread
 * over a 5 s window (each wake-up from its epoll wait is one), a count the
 * host's load does not raise. The 250 ms log timer this replaced gave
 * about 6 a second here; now about 2.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { mcrdLab, runningWorkerPid, startMcrd } from './mcrd-harness.js';

/** Two stream-watch questions a second and some slack; the log timer alone was four more. */
const MAX_WAKES_PER_SEC = 3.5;
const WINDOW_MS = 5_000;

function threadCounters(pid: number): { wakes: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  const wakes = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]);
  const runNs = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
  if (!Number.isFinite(wakes) || !Number.isFinite(runNs)) throw new Error(`cannot read the counters of thread ${pid}`);
  return { wakes, cpuMs: runNs / 1e6 };
}

t.test('an idle worker\'s Node thread is not woken for logs', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'idlewake');
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'idle.json5');
  writeFileSync(config, JSON.stringify({ rules: [{ name: 'idle', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] }] }));
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 20_000));
  const pid = await runningWorkerPid(socket, 20_000);
  t.ok(pid > 0, 'the worker is running');
  if (pid === 0) return;
  await new Promise((r) => setTimeout(r, 2_000));  // past the start's own work
  const before = threadCounters(pid);
  const started = Date.now();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const after = threadCounters(pid);
  const sec = (Date.now() - started) / 1000;
  const wakes = (after.wakes - before.wakes) / sec;
  t.comment(`worker ${pid} main thread over ${sec.toFixed(1)} s idle: ${wakes.toFixed(1)} wake-ups/s, ` +
    `${((after.cpuMs - before.cpuMs) / sec).toFixed(2)} ms of CPU/s`);
  t.ok(wakes <= MAX_WAKES_PER_SEC, `the worker's Node thread woke ${wakes.toFixed(1)} times a second (at most ${MAX_WAKES_PER_SEC})`);
});
