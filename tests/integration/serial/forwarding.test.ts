/**
 * End-to-end forwarding through mcr-relay in a namespace lab: volume with
 * byte-exact payloads, group and port rewrite, multicast to unicast, unicast
 * to multicast, and jumbo frames on an MTU-9000 link.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { output, runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

t.test('100k packets, one rule with group+port rewrite: zero loss, byte-exact', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'fwd' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 100_000, idle: 3 });
  const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 100_000, rate: 60_000, size: 1000 });
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.equal(gen.sent, 100_000, 'generator sent everything');
  t.equal(got.received, 100_000, 'sink received every packet');
  t.equal(got.lost, 0, 'nothing lost');
  t.equal(got.corrupted, 0, 'payloads byte-exact (checksum and fill verified)');
  t.equal(got.duplicated, 0, 'no duplicates');
  t.equal(got.reordered, 0, 'order kept');
  t.equal(got.minSize, 1000);
  t.equal(got.maxSize, 1000);
  t.equal(report.loop.matched, 100_000, 'relay matched every datagram');
  t.equal(report.loop.sent, 100_000, 'relay sent every datagram');
  t.equal(report.loop.kernel_drops, 0, 'no kernel drops');
  t.equal(report.loop.inflight_buffers, 0, 'every buffer returned');
  t.equal(output(report, 0, 0).packets, 100_000, 'per-output counter');
  t.equal(report.rules[0]?.bytes, 100_000 * 1000, 'per-rule byte counter');
});

t.test('multicast in, unicast out', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'm2u' });
  t.teardown(() => rl.lab.destroy());
  const sinkAddr = rl.sinks[0]?.addr ?? '';
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', `${sinkAddr}:7000:out0`]);
  const sink = await startSink(rl, 0, { bind: sinkAddr, port: 7000, count: 20_000, idle: 3 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 20_000, rate: 40_000, size: 200 });
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.equal(got.received, 20_000, 'unicast sink received everything');
  t.equal(got.lost + got.corrupted, 0, 'no loss, no corruption');
  t.equal(output(report, 0, 0).connected, true, 'unicast output is a connected socket');
});

t.test('unicast in (to the relay host), multicast out', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'u2m' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', rl.relay.input.addr, '--input-port', '5000',
    '--outputs', '239.5.5.5:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.5.5.5', port: 6000, count: 20_000, idle: 3 });
  await runGen(rl, { dest: rl.relay.input.addr, port: 5000, count: 20_000, rate: 40_000, size: 200 });
  const got = await sinkReport(sink);
  await stopRelay(relay);
  t.equal(got.received, 20_000, 'multicast sink received everything');
  t.equal(got.lost + got.corrupted, 0, 'no loss, no corruption');
});

t.test('9000-byte MTU: 8972-byte payloads forwarded whole', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'jumbo', mtu: 9000 });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 20_000, idle: 3 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 20_000, rate: 20_000, size: 8972 });
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.equal(got.received, 20_000, 'every jumbo datagram arrived');
  t.equal(got.lost + got.corrupted, 0, 'no loss, no corruption');
  t.equal(got.maxSize, 8972, 'full payload size');
  t.equal(report.loop.drop_oversize, 0, 'no frame counted as oversize');
});
