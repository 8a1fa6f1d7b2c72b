/**
 * Broadcast outputs, on real namespaces: a multicast input relayed to the
 * limited broadcast (255.255.255.255) and to the directed broadcast of the
 * output interface's subnet (10.99.1.255 on out0's /24). Without
 * SO_BROADCAST on the egress socket the kernel refuses both at connect()
 * with EACCES (ip(7), SO_BROADCAST in socket(7)), so the rule could not be
 * added. Receivers in the sink namespace bind 0.0.0.0:PORT, where broadcasts
 * are delivered, and count every datagram: zero loss, byte-exact. A second
 * run at full speed makes the datagrams leave in UDP_SEGMENT batches, which
 * must reach the broadcast receivers whole too. SO_BROADCAST is only for the
 * output interface's own broadcast addresses: another subnet's stays refused.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../bench/lab/index.js';
import { output, relayCommand, runGen, sinkReport, startRelay, startSink, stopRelay } from './harness.js';

const LIMITED = '255.255.255.255';

for (const speed of ['steady', 'full'] as const) {
  t.test(`multicast in, limited and directed broadcast out of one veth (${speed} rate): zero loss`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const rl = await createRelayLab({ tag: 'bcast' });
    t.teardown(() => rl.lab.destroy());
    const out = rl.relay.outputs[0];
    if (out === undefined) throw new Error('the lab has no output 0');
    // out0 is 10.99.1.1/24: its subnet's directed broadcast is 10.99.1.255.
    const directed = out.addr.replace(/\.\d+$/, '.255');
    const count = 20_000;
    const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
      '--outputs', `${LIMITED}:7000:${out.ifname},${directed}:7001:${out.ifname}`]);
    // No --group and no --bind: mcrsink binds 0.0.0.0:PORT and so gets broadcasts to that port.
    const limitedSink = await startSink(rl, 0, { port: 7000, count, idle: 3 });
    const directedSink = await startSink(rl, 0, { port: 7001, count, idle: 3 });
    // Full speed: datagrams wait in the relay's ring and leave in batches.
    const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count, rate: speed === 'full' ? 0 : 20_000, size: 200 });
    const [gotLimited, gotDirected] = await Promise.all([sinkReport(limitedSink), sinkReport(directedSink)]);
    const report = await stopRelay(relay);
    const loop = report.loop;
    t.comment(`${speed}: sent ${gen.sent}, kernel drops ${loop.kernel_drops}, relayed ${loop.sent} (${loop.gso_datagrams} in ` +
      `${loop.gso_batches} batches), errors ${loop.send_errors}; ${LIMITED} got ${gotLimited.received}, ${directed} got ${gotDirected.received}`);
    t.equal(output(report, 0, 0).connected, true, `the ${LIMITED} output is connected`);
    t.equal(output(report, 0, 1).connected, true, `the ${directed} output is connected`);
    t.equal(loop.send_errors, 0, 'no send failed');
    if (speed === 'steady') t.equal(loop.kernel_drops, 0, 'no input drops at a steady 20 kpps');
    // At full speed the input may overflow before the relay; what it took must all arrive.
    const relayed = gen.sent - loop.kernel_drops;
    t.equal(loop.matched, relayed, 'the relay matched every datagram that reached it');
    for (const [name, got] of [[LIMITED, gotLimited], [directed, gotDirected]] as const) {
      t.equal(got.received, relayed, `${name}: every relayed datagram arrived`);
      t.equal(got.corrupted + got.duplicated, 0, `${name}: none corrupted or duplicated`);
      // lost counts gaps in the generator's sequence, which input drops make too.
      if (speed === 'steady') t.equal(got.lost, 0, `${name}: no gap in the sequence`);
      t.equal(got.minSize, 200, `${name}: whole datagrams`);
    }
    if (speed === 'full') t.ok(loop.gso_batches > 0, 'batches were sent to the broadcast outputs');
  });
}

t.test('the broadcast address of another interface\'s subnet stays refused (EACCES)', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'bcastno' });
  t.teardown(() => rl.lab.destroy());
  const out = rl.relay.outputs[0];
  if (out === undefined) throw new Error('the lab has no output 0');
  // 10.99.0.255 is the input link's broadcast: out0 gets no SO_BROADCAST for it.
  const foreign = rl.relay.input.addr.replace(/\.\d+$/, '.255');
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', `239.2.2.2:6000:${out.ifname}`], { stdin: true });
  const refused = await relayCommand(relay, { op: 'add', rule: { inputGroup: '239.1.1.2', inputPort: 5002,
    outputs: [{ group: foreign, port: 7002, interface: out.ifname }] } });
  const accepted = await relayCommand(relay, { op: 'add', rule: { inputGroup: '239.1.1.3', inputPort: 5003,
    outputs: [{ group: out.addr.replace(/\.\d+$/, '.255'), port: 7003, interface: out.ifname }] } });
  await stopRelay(relay);
  t.equal(refused.msg, 'command failed', `an output to ${foreign} out of ${out.ifname} is refused`);
  t.equal(refused.code, 'EACCES', 'with the kernel\'s EACCES');
  t.equal(accepted.msg, 'command done', 'while out0\'s own subnet broadcast is accepted');
});
