/**
 * pps in `mcrctl stats --json`, end to end: mcrgen sends a known rate
 * (2000 pps) through mcrd in a namespace lab; the first stats answer has no
 * rate, a later one shows about 2000 pps for the rule and its output, and
 * after kill -9 of the worker carrying the flow (its counters start again
 * from zero) no rate is negative and the rate comes back. The tolerance is
 * wide (±30 %): the point is a real rate, not a benchmark, on a shared box.
 */
import t from 'tap';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { ROOT, startGen } from './harness.js';
import type { StatsResult, WorkersResult } from '../../proto/index.js';
import { mcrdLab } from './mcrd-harness.js';

const MCRD = join(ROOT, 'dist', 'supervisor', 'mcrd.js');
const MCRCTL = join(ROOT, 'dist', 'tools', 'mcrctl.js');
const RATE = 2000;
/** The measurement window: long enough that batching and ping latency do not matter. */
const WINDOW_MS = 2000;

t.test('mcrctl stats --json shows the rate mcrgen sends, and survives a worker restart', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'rates');
  const socket = join(dir, 'mcrd.sock');
  const mcrctl = async <T>(...args: string[]): Promise<T> => {
    const r = await execa(process.execPath, [MCRCTL, '--socket', socket, '--json', ...args], { timeout: 20_000 });
    return JSON.parse(r.stdout) as T;
  };
  const stats = (): Promise<StatsResult> => mcrctl<StatsResult>('stats');

  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--control-socket', socket, '--workers', '2']);
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  await mcrctl('add', '--input-interface', 'in0', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0', '--name', 'rated');

  const first = await stats();
  t.equal(first.rateIntervalMs, undefined, 'first sample: no interval');
  t.notOk('pps' in (first.rules[0] ?? {}), 'first sample: no pps, rather than a made-up 0');

  startGen(rl, { dest: '239.1.1.1', port: 5000, count: RATE * 30, rate: RATE, size: 100 });
  // Wait (bounded) for forwarding to start, so the window below is all traffic.
  const deadline = Date.now() + 10_000;
  while ((await stats()).rules[0]?.packets === 0 && Date.now() < deadline) await sleep(100);

  const inRange = (pps: number | undefined): boolean => pps !== undefined && pps > RATE * 0.7 && pps < RATE * 1.3;
  await stats(); // the reference sample
  await sleep(WINDOW_MS);
  const steady = await stats();
  const rule = steady.rules[0];
  t.ok(steady.rateIntervalMs !== undefined && steady.rateIntervalMs >= 500, `rates over ${steady.rateIntervalMs} ms`);
  t.ok(inRange(rule?.pps), `rule pps ${rule?.pps} is about ${RATE}`);
  t.ok(inRange(rule?.outputs[0]?.pps), `output pps ${rule?.outputs[0]?.pps} is about ${RATE}`);

  // kill -9 the worker carrying the (single) flow: its counters restart at 0.
  const carrier = steady.workers.reduce((a, b) => (b.received > a.received ? b : a));
  const { workers } = await mcrctl<WorkersResult>('workers');
  const victim = workers.find((w) => w.id === carrier.worker);
  // Never signal a pid we did not find: pid 0 would be the whole process group (the test runner, CI).
  if (victim === undefined || !(victim.pid > 0)) {
    t.fail(`worker ${carrier.worker} carries the flow but has no pid: ${JSON.stringify(victim)}`);
    return;
  }
  process.kill(victim.pid, 'SIGKILL');
  await mcrd.waitForLine('stdout', /"restarts":1,.*"msg":"worker running"/, 15_000);
  const afterRestart = await stats();
  const rates = [afterRestart.rules[0]?.pps, ...(afterRestart.rules[0]?.outputs ?? []).map((o) => o.pps)];
  t.ok(rates.every((pps) => pps === undefined || (Number.isFinite(pps) && pps >= 0)), `no negative rate after the restart: ${rates.join(', ')}`);
  // Rates are clamped at 0, so the line above cannot see totals that fell
  // back to the new worker's count: these can (the ledger carries them).
  t.ok((afterRestart.rules[0]?.packets ?? 0) >= (steady.rules[0]?.packets ?? Infinity),
    `the rule's total goes on through the restart: ${steady.rules[0]?.packets} then ${afterRestart.rules[0]?.packets}`);
  t.ok((afterRestart.rules[0]?.outputs[0]?.packets ?? 0) >= (steady.rules[0]?.outputs[0]?.packets ?? Infinity),
    `and its output's: ${steady.rules[0]?.outputs[0]?.packets} then ${afterRestart.rules[0]?.outputs[0]?.packets}`);
  await sleep(WINDOW_MS);
  const recovered = await stats();
  t.ok(inRange(recovered.rules[0]?.pps), `rule pps ${recovered.rules[0]?.pps} is about ${RATE} again`);

  const result = await mcrd.stop('SIGTERM', 20_000);
  t.equal(result.exitCode, 0, 'mcrd exited 0');
});
