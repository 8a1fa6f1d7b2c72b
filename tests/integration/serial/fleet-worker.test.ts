/**
 * A fleet worker started the way mcrd starts it: packet socket and command
 * stream handed over SCM_RIGHTS, pinned, switched to `nobody` with no
 * capabilities, rules synced and changed by protobuf commands while traffic
 * flows, counters by supervisor rule id, and a clean stop.
 */
import t from 'tap';
import { join } from 'node:path';
import { createRelayLab, skipUnlessRoot, type LabProcess } from '../../../bench/lab/index.js';
import { ROOT, runGen, sinkReport, startSink } from '../harness.js';

const DRIVER = join(ROOT, 'dist', 'tests', 'fixtures', 'fleet-driver.js');
const hash = (s: string): string => Buffer.from(s).toString('hex');

async function ask(driver: LabProcess, n: number, cmd: unknown): Promise<Record<string, unknown>> {
  driver.write(JSON.stringify(cmd) + '\n');
  const line = await driver.waitForLine('stdout', new RegExp(`^\\{"n":${n},`), 20_000);
  const answer = JSON.parse(line) as Record<string, unknown>;
  if (answer.error !== undefined) throw new Error(`driver: ${String(answer.error)} (${String(answer.code)})`);
  return answer;
}

const rule = (id: number, group: string, port: number, outGroup: string) => ({
  id, name: `r${id}`, inputInterface: 'in0', inputGroup: group, inputPort: port,
  outputs: [{ group: outGroup, port: 6000, interface: 'out0' }],
});

t.test('fleet worker: handover, privilege drop, commands, counters, stop', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'fleet' });
  t.teardown(() => rl.lab.destroy());
  const driver = rl.lab.spawn(rl.relay.ns, process.execPath, [DRIVER], { stdin: 'pipe' });
  let n = 0;
  const started = await ask(driver, ++n, { op: 'start', spec: { interface: 'in0', user: 'nobody', cpu: 1 } });
  t.type(started.pid, 'number', 'worker started');
  const status = await ask(driver, ++n, { op: 'status' });
  t.match(status.uid as string, /^65534\s+65534\s+65534\s+65534$/, 'worker runs as nobody (real, effective, saved, fs)');
  t.equal(status.capEff, '0000000000000000', 'no effective capability left');
  t.equal(status.cpus, '1', 'pinned to its core');

  const synced = await ask(driver, ++n, { op: 'send', body: { kind: 'syncRules', generation: 1, hash: hash('g1'),
    rules: [rule(10, '239.1.1.1', 5000, '239.2.2.2')] } });
  t.equal((synced.reply as { generation: number }).generation, 1, 'ack carries the generation');
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 20_000, idle: 3 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 20_000, rate: 20_000, size: 200 });
  const got = await sinkReport(sink);
  t.equal(got.received, 20_000, 'the synced rule forwards everything');

  const added = await ask(driver, ++n, { op: 'send', body: { kind: 'addRule', generation: 2, hash: hash('g2'),
    rule: rule(11, '239.1.1.3', 5003, '239.2.2.4') } });
  t.equal((added.reply as { generation: number }).generation, 2);
  const dup = await ask(driver, ++n, { op: 'send', body: { kind: 'addRule', generation: 3, hash: hash('g3'),
    rule: rule(11, '239.1.1.3', 5003, '239.2.2.4') } });
  const dupReply = dup.reply as { generation: number; error?: { code: string } };
  t.equal(dupReply.error?.code, 'EEXIST', 'a duplicate add is refused');
  t.equal(dupReply.generation, 2, 'and the worker reports the generation it really holds');
  const removed = await ask(driver, ++n, { op: 'send', body: { kind: 'removeRule', generation: 4, hash: hash('g4'), id: 11 } });
  t.equal((removed.reply as { generation: number }).generation, 4);

  // A command the worker cannot decode is answered with an error and logged;
  // the commands after it are served (they were all skipped before).
  const garbage = await ask(driver, ++n, { op: 'sendGarbage' });
  await driver.waitForLine('stderr', /"code":"ERR_MCR_UNKNOWN_KIND".*"msg":"command not understood/, 10_000);
  t.match(garbage.reply, { seq: 900, generation: 4, error: { code: 'ERR_MCR_UNKNOWN_KIND' } },
    'answered with an error for its seq, and with the generation the worker holds (not 0)');
  // A Buffer through JSON: { type: 'Buffer', data: [...] }.
  t.same((garbage.reply as { hash: { data: number[] } }).hash.data, [...Buffer.from('g4')],
    'and the hash of the table it holds (not an empty one)');
  const pinged = await ask(driver, ++n, { op: 'send', body: { kind: 'ping', stats: true } });
  const stats = (pinged.reply as { stats: { received: number; rules: Array<{ ruleId: number; packets: number }> } }).stats;
  t.ok(stats.received >= 20_000, 'received counter');
  t.same(stats.rules.map((r) => [r.ruleId, r.packets]), [[10, 20_000]], 'counters keyed by supervisor rule id');

  const stopped = await ask(driver, ++n, { op: 'send', body: { kind: 'stop' } });
  t.notOk((stopped.reply as { error?: unknown }).error, 'stop acknowledged');
  const exit = await ask(driver, ++n, { op: 'exit' });
  t.equal(exit.code, 0, 'worker exited 0');
  t.ok(driver.stderrLines.some((l) => l.includes('worker stopped: final counters')), 'final counters logged');
  driver.endInput();
  await driver.stop('SIGTERM', 5000);
});
