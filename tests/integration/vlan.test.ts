/**
 * A VLAN-tagged input: the relay receives on the 802.1Q sub-interface.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot, skipUnlessVlan } from '../../tools/lab/index.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay } from './harness.js';

t.test('VLAN-tagged input forwarded without loss', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (await skipUnlessVlan(t)) return;
  const rl = await createRelayLab({ tag: 'vlan', vlan: 100 });
  t.teardown(() => rl.lab.destroy());
  t.equal(rl.relay.input.ifname, 'in0.100', 'relay listens on the VLAN interface');
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 20_000, idle: 3 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 20_000, rate: 40_000, size: 400 });
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.equal(got.received, 20_000, 'every datagram arrived');
  t.equal(got.lost + got.corrupted, 0);
  t.equal(report.loop.drop_not_ipv4, 0, 'tagged frames parsed as IPv4');
});
