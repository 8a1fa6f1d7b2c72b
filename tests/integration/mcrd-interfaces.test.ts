/**
 * mcrd following interfaces at run time (netlink), on real namespaces:
 * a rule whose input interface does not exist yet leaves its worker
 * 'waiting'; creating the interface starts it and traffic forwards; deleting
 * it stops the worker cleanly (no restart, mcrd answers, the other
 * interface's flow unaffected); re-creating it resumes forwarding; down and
 * up park and restart it. Also: an
 * output interface's address replaced during a stream (datagrams keep
 * arriving, from the new address), and the supervisor's group membership
 * on in0 (listed by `ip maddr` while the rule exists, gone after).
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelayLab, skipUnlessRoot, type RelayLab } from '../../bench/lab/index.js';
import { ControlClient } from '../../common/control-client.js';
import type { WorkerInfo } from '../../proto/index.js';
import { ROOT, genReport, runGen, sinkReport, startGen, startSink } from './harness.js';
import { pidsGone } from './mcrd-harness.js';

const MCRD = join(ROOT, 'dist', 'supervisor', 'mcrd.js');
const MCRGEN = join(ROOT, 'build', 'Release', 'mcrgen');
const WAIT_MS = 10_000;

const RULE_IN0 = `{ name: "a", inputInterface: "in0", inputGroup: "239.1.1.1", inputPort: 5000,
  outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }] }`;
const RULE_IN1 = `{ name: "late", inputInterface: "in1", inputGroup: "239.1.2.1", inputPort: 5100,
  outputs: [{ group: "239.2.2.3", port: 6100, interface: "out0" }] }`;

async function workers(client: ControlClient): Promise<WorkerInfo[]> {
  return (await client.request({ kind: 'workers' }) as { workers: WorkerInfo[] }).workers;
}

/** Polls `workers` (bounded) until `ok` holds for the worker `id`; returns it. */
async function waitForWorker(client: ControlClient, id: string, ok: (w: WorkerInfo) => boolean, what: string): Promise<WorkerInfo> {
  const deadline = Date.now() + WAIT_MS;
  let last: WorkerInfo | undefined;
  while (Date.now() < deadline) {
    last = (await workers(client)).find((w) => w.id === id);
    if (last !== undefined && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`worker ${id} not ${what} within ${WAIT_MS} ms: ${JSON.stringify(last)}`);
}

/** The src↔relay link in1: src up1 10.98.0.1/24 ↔ relay in1 10.98.0.2/24, both up. */
async function addIn1(rl: RelayLab): Promise<void> {
  await rl.lab.addVeth(rl.src.ns, 'up1', rl.relay.ns, 'in1');
  await rl.lab.addAddress(rl.src.ns, 'up1', '10.98.0.1/24');
  await rl.lab.addAddress(rl.relay.ns, 'in1', '10.98.0.2/24');
  await rl.lab.setUp(rl.src.ns, 'up1');
  await rl.lab.setUp(rl.relay.ns, 'in1');
}

async function genOnUp1(rl: RelayLab, count: number): Promise<void> {
  await rl.lab.exec(rl.src.ns, MCRGEN, ['--dest', '239.1.2.1', '--port', '5100', '--interface', 'up1', '--count', String(count),
    '--rate', '5000', '--size', '100', '--duration', '30'], { timeoutMs: 40_000 });
}

async function startMcrd(rl: RelayLab, dir: string, rules: string[]): Promise<{ client: ControlClient; mcrd: ReturnType<RelayLab['lab']['spawn']> }> {
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(config, `{ rules: [ ${rules.join(', ')} ] }\n`);
  const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--config', config, '--control-socket', socket, '--workers', '1']);
  await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 30_000);
  const client = new ControlClient();
  await client.connect(socket);
  return { client, mcrd };
}

t.test('an input interface that appears, disappears and returns', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'mcrdif' });
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-if-'));
  t.teardown(async () => {
    await rl.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const { client, mcrd } = await startMcrd(rl, dir, [RULE_IN0, RULE_IN1]);
  t.teardown(() => client.close());

  const before = await workers(client);
  const late = before.find((w) => w.id === 'in1/0');
  t.equal(late?.state, 'waiting', 'in1 does not exist: its worker waits');
  t.equal(late?.pid, 0, 'no process while waiting');
  t.match(late?.reason, /interface in1 does not exist/, 'the reason says why');
  t.equal(before.find((w) => w.id === 'in0/0')?.state, 'running', 'in0 runs meanwhile');
  t.equal((await client.request({ kind: 'listRules' }) as { rules: unknown[] }).rules.length, 2, 'both rules kept');

  // Appears: the worker starts and forwards.
  await addIn1(rl);
  const started = await waitForWorker(client, 'in1/0', (w) => w.state === 'running' && w.pid > 0, 'running');
  t.notOk(started.reason, 'no reason once running');
  let sink = await startSink(rl, 0, { group: '239.2.2.3', port: 6100, count: 2000, idle: 2 });
  await genOnUp1(rl, 2000);
  t.equal((await sinkReport(sink)).received, 2000, 'forwarded from the new interface');

  // Disappears: the worker stops cleanly and waits; mcrd stays healthy.
  const pid = started.pid;
  await rl.lab.exec(rl.relay.ns, 'ip', ['link', 'del', 'in1']);
  const gone = await waitForWorker(client, 'in1/0', (w) => w.state === 'waiting', 'waiting again');
  t.equal(gone.pid, 0, 'no process');
  t.match(gone.reason, /interface in1 does not exist/);
  t.equal(gone.restarts, 0, 'stopped, not restarted');
  t.ok(await pidsGone([pid], 2000), 'the old worker process is gone');
  t.ok(((await client.request({ kind: 'ping' })) as { pid: number }).pid > 0, 'mcrd answers');
  const in0 = (await workers(client)).find((w) => w.id === 'in0/0');
  t.equal(in0?.state, 'running', 'in0 worker untouched');
  t.equal(in0?.restarts, 0, 'in0 worker never restarted');
  sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 5000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'in0 flow unaffected');
  // Quiet for a while: no restart storm while in1 is missing.
  await new Promise((r) => setTimeout(r, 500));
  const still = (await workers(client)).find((w) => w.id === 'in1/0');
  t.equal(still?.state, 'waiting', 'still waiting');
  t.equal(still?.restarts, 0, 'no restarts while missing');
  t.notMatch(mcrd.stdoutLines.join('\n'), /worker exited: restarting/, 'no restart attempted');

  // Returns: forwarding resumes.
  await addIn1(rl);
  await waitForWorker(client, 'in1/0', (w) => w.state === 'running' && w.pid > 0, 'running again');
  const in1Groups = (await rl.lab.exec(rl.relay.ns, 'ip', ['maddr', 'show', 'dev', 'in1'])).stdout;
  t.match(in1Groups, /inet\s+239\.1\.2\.1\b/, 'the group is joined again on the re-created interface');
  sink = await startSink(rl, 0, { group: '239.2.2.3', port: 6100, count: 2000, idle: 2 });
  await genOnUp1(rl, 2000);
  t.equal((await sinkReport(sink)).received, 2000, 'forwarding resumed on the re-created interface');

  // Administratively down: parked with a reason; up again: running.
  await rl.lab.exec(rl.relay.ns, 'ip', ['link', 'set', 'in1', 'down']);
  const down = await waitForWorker(client, 'in1/0', (w) => w.state === 'waiting', 'waiting while down');
  t.match(down.reason, /interface in1 is down/, 'the reason says it is down');
  await rl.lab.exec(rl.relay.ns, 'ip', ['link', 'set', 'in1', 'up']);
  await waitForWorker(client, 'in1/0', (w) => w.state === 'running' && w.pid > 0, 'running when up');

  const result = await mcrd.stop('SIGTERM', 20_000);
  t.equal(result.exitCode, 0, 'mcrd exited 0');
});

t.test('output address change: datagrams keep arriving, from the new address', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'mcrdaddr' });
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-addr-'));
  t.teardown(async () => {
    await rl.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const { client, mcrd } = await startMcrd(rl, dir, [RULE_IN0]);
  t.teardown(() => client.close());
  await waitForWorker(client, 'in0/0', (w) => w.state === 'running', 'running');

  // 4 s of traffic at 2000/s; the address changes about a second in.
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 8000, idle: 2, duration: 20 });
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 8000, rate: 2000, size: 100 });
  await new Promise((r) => setTimeout(r, 1000));
  await rl.lab.exec(rl.relay.ns, 'ip', ['addr', 'add', '10.99.11.1/24', 'dev', 'out0']);
  await rl.lab.exec(rl.relay.ns, 'ip', ['addr', 'del', '10.99.1.1/24', 'dev', 'out0']);
  await mcrd.waitForLine('stdout', /egress sockets rebuilt/, WAIT_MS);
  await genReport(gen);
  const got = await sinkReport(sink) as Awaited<ReturnType<typeof sinkReport>> & { sources: Record<string, number> };
  t.ok((got.sources['10.99.1.1'] ?? 0) > 0, `datagrams from the old address before the change: ${JSON.stringify(got.sources)}`);
  t.ok((got.sources['10.99.11.1'] ?? 0) > 2000, 'and from the new address after it');
  t.same(Object.keys(got.sources).sort(), ['10.99.1.1', '10.99.11.1'], 'from no other address');
  // Only the gap between the old address going and the re-sync may lose datagrams.
  t.ok(got.received > 7000, `the stream kept flowing (${got.received} of 8000)`);
  await mcrd.stop('SIGTERM', 20_000);
});

t.test('mcrd holds the input group membership while a rule uses it', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'mcrdgrp' });
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-grp-'));
  t.teardown(async () => {
    await rl.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const { client, mcrd } = await startMcrd(rl, dir, [RULE_IN0]);
  t.teardown(() => client.close());
  const maddr = async (): Promise<string> => (await rl.lab.exec(rl.relay.ns, 'ip', ['maddr', 'show', 'dev', 'in0'])).stdout;
  t.match(await maddr(), /inet\s+239\.1\.1\.1\b/, 'ip maddr lists the rule\'s group on in0');

  // The membership is mcrd's, not the worker's: it stays while the worker is dead.
  const worker = await waitForWorker(client, 'in0/0', (w) => w.state === 'running', 'running');
  process.kill(worker.pid, 'SIGKILL');
  await pidsGone([worker.pid], 1000);
  t.match(await maddr(), /inet\s+239\.1\.1\.1\b/, 'still joined while its worker is dead');
  await waitForWorker(client, 'in0/0', (w) => w.state === 'running' && w.pid !== worker.pid, 'restarted');

  // A second rule on another group, then the first rule removed: only its group leaves.
  await client.request({ kind: 'addRule', rule: { name: 'b', inputInterface: 'in0', inputGroup: '239.1.1.2', inputPort: 5002,
    outputs: [{ group: '239.2.2.4', port: 6002, interface: 'out0' }] } });
  t.match(await maddr(), /inet\s+239\.1\.1\.2\b/, 'the second rule\'s group joined');
  await client.request({ kind: 'removeRule', name: 'a' });
  const after = await maddr();
  t.notMatch(after, /inet\s+239\.1\.1\.1\b/, 'the removed rule\'s group is gone');
  t.match(after, /inet\s+239\.1\.1\.2\b/, 'the remaining rule\'s group stays');
  await client.request({ kind: 'removeRule', name: 'b' });
  t.notMatch(await maddr(), /inet\s+239\.1\.1\./, 'no rule left: no membership left');
  await mcrd.stop('SIGTERM', 20_000);
});
