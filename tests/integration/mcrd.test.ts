/**
 * mcrd end to end, driven through its control socket: add a rule (workers
 * start for the interface), traffic flows in order through two workers,
 * stats by rule and worker, kill -9 of a worker (a new one forwards with its
 * rules), remove, and SIGTERM (every worker gone, socket file removed).
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { ControlClient } from '../../common/control-client.js';
import { ROOT, runGen, sinkReport, startSink } from './harness.js';
import { mcrdLab, pidAlive as alive, pidsGone } from './mcrd-harness.js';

const MCRD = join(ROOT, 'dist', 'supervisor', 'mcrd.js');

t.test('mcrd: rules over the control socket, two workers, restart, clean stop', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'mcrd');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--control-socket', socket, '--workers', '2', '--user', 'nobody']);
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  const client = new ControlClient();
  await client.connect(socket);
  t.teardown(() => client.close());

  const added = await client.request({ kind: 'addRule', rule: { name: 'cam', inputInterface: 'in0', inputGroup: '239.1.1.1',
    inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] } });
  const ruleId = (added as { rule: { id: number } }).rule.id;
  t.ok(ruleId > 0, 'rule id returned');
  const workers = (await client.request({ kind: 'workers' }) as { workers: Array<{ id: string; pid: number; state: string }> }).workers;
  t.equal(workers.length, 2, 'two workers for in0');
  t.ok(workers.every((w) => w.state === 'running' && w.pid > 0), 'both running');

  // Several flows (sources differ by port) spread over the two workers; each stays in order.
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 40_000, idle: 3 });
  await Promise.all([1, 2, 3, 4].map((stream) =>
    runGen(rl, { dest: '239.1.1.1', port: 5000, count: 10_000, rate: 10_000, size: 100, stream })));
  const got = await sinkReport(sink);
  t.equal(got.received, 40_000, 'every datagram of every flow arrived');
  t.equal(got.reordered, 0, `each flow kept its order: ${JSON.stringify(got)}`);
  const stats = await client.request({ kind: 'stats' }) as { rules: Array<{ ruleId: number; packets: number }>; workers: Array<{ received: number }> };
  t.equal(stats.rules[0]?.packets, 40_000, 'rule counter summed over workers');

  // kill -9 one worker: a new one takes its place with the rule.
  const victim = workers[0]?.pid ?? 0;
  process.kill(victim, 'SIGKILL');
  await mcrd.waitForLine('stdout', /"restarts":1,.*"msg":"worker running"/, 10_000);
  const after = (await client.request({ kind: 'workers' }) as { workers: Array<{ pid: number; restarts: number }> }).workers;
  t.ok(after.some((w) => w.restarts === 1 && w.pid !== victim && w.pid > 0), 'worker restarted and counted');
  const sink2 = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 20_000, idle: 3 });
  await Promise.all([5, 6].map((stream) => runGen(rl, { dest: '239.1.1.1', port: 5000, count: 10_000, rate: 10_000, size: 100, stream })));
  t.equal((await sinkReport(sink2)).received, 20_000, 'forwarding through the restarted fleet');

  await client.request({ kind: 'removeRule', id: ruleId });
  const none = (await client.request({ kind: 'workers' }) as { workers: unknown[] }).workers;
  t.equal(none.length, 0, 'no rules left on in0: its workers stopped');
  const lastPids = after.map((w) => w.pid);

  await client.request({ kind: 'addRule', rule: { inputInterface: 'in0', inputGroup: '239.1.1.9', inputPort: 5009,
    outputs: [{ group: '239.2.2.9', port: 6009, interface: 'out0' }] } });
  const finalWorkers = (await client.request({ kind: 'workers' }) as { workers: Array<{ pid: number }> }).workers.map((w) => w.pid);
  const result = await mcrd.stop('SIGTERM', 20_000);
  t.equal(result.exitCode, 0, 'mcrd exited 0');
  t.notOk(existsSync(socket), 'socket file removed');
  t.ok([...lastPids, ...finalWorkers].every((pid) => !alive(pid)), 'no worker left running');
});

t.test('SIGKILL of mcrd leaves no worker behind', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'orphan');
  const socket = join(dir, 'mcrd.sock');
  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--control-socket', socket, '--workers', '2']);
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  const client = new ControlClient();
  await client.connect(socket);
  await client.request({ kind: 'addRule', rule: { inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] } });
  const pids = (await client.request({ kind: 'workers' }) as { workers: Array<{ pid: number }> }).workers.map((w) => w.pid);
  client.close();
  t.equal(pids.length, 2);
  t.ok(pids.every(alive), 'workers running');
  await mcrd.stop('SIGKILL', 5000);
  // PR_SET_PDEATHSIG delivers SIGKILL to each worker when mcrd dies; wait
  // (bounded) for the kernel to finish them off.
  t.ok(await pidsGone(pids, 5000), 'no worker survived its supervisor');
});
