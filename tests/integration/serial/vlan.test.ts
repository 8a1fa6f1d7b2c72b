/**
 * A VLAN-tagged input: the relay receives on the 802.1Q sub-interface.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot, skipUnlessVlan } from '../../../bench/lab/index.js';
import { frame } from '../frames.js';
import { inject, runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

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

t.test('802.1Q-tagged frames on the input link itself are forwarded', async (t) => {
  if (skipUnlessRoot(t)) return;
  // No VLAN sub-interface needed: tagged frames arrive on in0 and the relay,
  // bound to in0, takes them whether the kernel moved the tag into metadata
  // (skb_vlan_untag) or left it in the frame for the parser to skip.
  const rl = await createRelayLab({ tag: 'tagged' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 500, idle: 3 });
  const payload = Buffer.from('tagged-frame-payload-0123456789');
  const sent = await inject(rl, [frame({ group: '239.1.1.1', port: 5000, payload }, { vlan: 100 })], 500);
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.equal(sent, 500, 'tagged frames injected');
  t.equal(report.loop.matched, 500, 'every tagged frame matched the rule');
  t.equal(report.loop.drop_not_ipv4, 0, 'none mistaken for non-IPv4');
  t.equal(got.received, 500, 'every datagram reached the sink');
  t.equal(got.minSize, payload.length, 'payload forwarded whole');
});
