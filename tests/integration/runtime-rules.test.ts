/**
 * Rules added and removed while traffic flows: the untouched flow loses
 * nothing; the changed flow starts and stops forwarding around the commands.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../bench/lab/index.js';
import { genReport, relayCommand, sinkReport, startGen, startRelay, startSink, stopRelay } from './harness.js';

const FLOW_B = {
  name: 'flow-b',
  inputGroup: '239.1.1.2',
  inputPort: 5002,
  outputs: [{ group: '239.2.2.3', port: 6002, interface: 'out0' }],
};

t.test('add and remove a rule while another flow runs', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'rt' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0'], { stdin: true });
  const sinkA = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 60_000, idle: 3 });
  const sinkB = await startSink(rl, 0, { group: '239.2.2.3', port: 6002, count: 60_000, idle: 5, duration: 30 });
  // 3 s of flow A; flow B runs alongside, with its rule added then removed.
  const genA = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 60_000, rate: 20_000, size: 200, stream: 1 });
  const genB = startGen(rl, { dest: '239.1.1.2', port: 5002, count: 60_000, rate: 20_000, size: 200, stream: 2 });
  await sinkA.waitForLine('stderr', /"event":"ready"/, 1000);
  const added = await relayCommand(relay, { op: 'add', rule: FLOW_B });
  t.equal(added.msg, 'command done', 'add applied while traffic flows');
  const idB = added.id as number;
  // Let flow B forward for a while: wait until its rule counted packets.
  let forwardedB = 0;
  const deadline = Date.now() + 10_000;
  while (forwardedB < 5000 && Date.now() < deadline) {
    const stats = await relayCommand(relay, { op: 'stats' });
    const rules = (stats.stats as { rules: Array<{ id: number; packets: number }> }).rules;
    forwardedB = rules.find((r) => r.id === idB)?.packets ?? 0;
  }
  t.ok(forwardedB >= 5000, `flow B forwarded after the add (${forwardedB})`);
  const removed = await relayCommand(relay, { op: 'remove', id: idB });
  t.equal(removed.msg, 'command done', `remove applied while traffic flows: ${JSON.stringify(removed)}`);
  const [doneA, doneB] = [await genReport(genA), await genReport(genB)];
  const gotA = await sinkReport(sinkA);
  const gotB = await sinkReport(sinkB);
  const report = await stopRelay(relay);
  t.equal(doneA.sent, 60_000);
  t.equal(gotA.received, 60_000, 'flow A lost nothing through both changes');
  t.equal(gotA.lost + gotA.corrupted + gotA.reordered, 0, 'flow A intact and in order');
  t.ok(gotB.received >= 5000, `flow B forwarded while its rule existed (${gotB.received})`);
  t.ok(gotB.received < doneB.sent, 'flow B stopped after the remove');
  t.equal(report.rules.length, 1, 'one rule left');
  t.equal(report.loop.inflight_buffers, 0, 'no buffer leaked by the removal');
});

t.test('replace all rules at once; a refused set changes nothing', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'repl' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0'], { stdin: true });
  const ruleA = { inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] };
  const refused = await relayCommand(relay, { op: 'replace', rules: [FLOW_B, { ...FLOW_B, name: 'twin' }] });
  t.equal(refused.msg, 'command failed', 'two rules with one match are refused');
  t.equal(refused.code, 'EEXIST');
  const kept = await relayCommand(relay, { op: 'stats' });
  t.equal((kept.stats as { rules: unknown[] }).rules.length, 1, 'the old set stayed');
  const replaced = await relayCommand(relay, { op: 'replace', rules: [ruleA, FLOW_B] });
  t.equal(replaced.msg, 'command done');
  const ids = replaced.ids as number[];
  t.equal(ids.length, 2, 'one id per new rule');
  t.notOk(ids.includes(1), 'new ids, not the replaced rule\'s');
  const sinkB = await startSink(rl, 0, { group: '239.2.2.3', port: 6002, count: 10_000, idle: 3 });
  const genB = startGen(rl, { dest: '239.1.1.2', port: 5002, count: 10_000, rate: 20_000, size: 100, stream: 2 });
  await genReport(genB);
  const gotB = await sinkReport(sinkB);
  const report = await stopRelay(relay);
  t.equal(gotB.received, 10_000, 'a rule from the new set forwards everything');
  t.equal(report.rules.length, 2);
  t.equal(report.loop.inflight_buffers, 0);
});
