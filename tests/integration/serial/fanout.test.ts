/**
 * Fan-out: one datagram to several outputs on several interfaces, and a
 * failing output beside a good one.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { output, runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

t.test('fan-out to 3 outputs on 2 interfaces', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'fan', outputs: 2 });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0,239.3.3.3:6001:out0:4,239.4.4.4:6002:out1']);
  const sinks = [
    await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 30_000, idle: 3 }),
    await startSink(rl, 0, { group: '239.3.3.3', port: 6001, count: 30_000, idle: 3 }),
    await startSink(rl, 1, { group: '239.4.4.4', port: 6002, count: 30_000, idle: 3 }),
  ];
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 30_000, rate: 30_000, size: 500 });
  const reports = await Promise.all(sinks.map((s) => sinkReport(s)));
  const relayReport = await stopRelay(relay);
  reports.forEach((r, i) => {
    t.equal(r.received, 30_000, `output ${i} received everything`);
    t.equal(r.lost + r.corrupted + r.duplicated, 0, `output ${i}: no loss, corruption or duplicates`);
  });
  t.equal(relayReport.loop.sends_queued, 90_000, 'three sends per datagram');
  t.equal(relayReport.loop.sent, 90_000, 'all sends completed');
  t.equal(relayReport.loop.inflight_buffers, 0, 'every shared buffer returned once');
});

t.test('an unreachable unicast output never disturbs a good one', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'unreach' });
  t.teardown(() => rl.lab.destroy());
  // 10.50.0.1 has no route in the relay namespace: every send fails.
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '10.50.0.1:7000:out0,239.2.2.2:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 50_000, idle: 3 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 50_000, rate: 50_000, size: 100 });
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.equal(got.received, 50_000, 'the good output lost nothing');
  t.equal(got.lost, 0);
  const bad = output(report, 0, 0);
  t.equal(bad.connected, false, 'unroutable output sends with an explicit destination');
  t.equal(bad.errors, 50_000, 'every failed send counted on the bad output');
  t.equal(bad.err_enetunreach, 50_000, 'counted by errno');
  t.equal(output(report, 0, 1).packets, 50_000, 'good output counted every packet');
  t.equal(report.loop.send_errors, 50_000, 'loop-wide send error count');
  const warnings = relay.stderrLines.filter((l) => l.includes('"code":"ENETUNREACH"'));
  t.ok(warnings.length >= 1, 'the first error is logged');
  t.ok(warnings.length < 20, `then rate-limited (${warnings.length} lines for 50000 errors)`);
});
