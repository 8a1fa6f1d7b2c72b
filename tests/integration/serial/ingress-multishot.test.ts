/**
 * The other ingress: multishot recv into provided buffers (`--ingress
 * multishot`). The other integration tests run the default (the TPACKET
 * ring); this one covers volume, fan-out, oversize and overload accounting
 * on the multishot path.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { frame } from '../frames.js';
import { inject, runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

t.test('multishot ingress: 100k packets fanned out to 2 outputs, zero loss', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'msv', outputs: 2 });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--ingress', 'multishot', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0,239.2.2.2:6000:out1']);
  t.match(relay.stderrLines.join('\n'), /"ingress":"multishot"/, 'runs the multishot ingress');
  const sinks = [
    await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 100_000, idle: 3 }),
    await startSink(rl, 1, { group: '239.2.2.2', port: 6000, count: 100_000, idle: 3 }),
  ];
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 100_000, rate: 50_000, size: 700 });
  const got = await Promise.all(sinks.map((s) => sinkReport(s)));
  const report = await stopRelay(relay);
  for (const [i, r] of got.entries()) {
    t.equal(r.received, 100_000, `output ${i} received everything`);
    t.equal(r.lost + r.corrupted, 0, `output ${i} intact`);
  }
  t.equal(report.loop.sent, 200_000);
  t.equal(report.loop.inflight_buffers, 0, 'every buffer returned');
});

t.test('multishot ingress: oversize frames counted, overload accounted', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'mso' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--ingress', 'multishot', '--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0', '--buffer-size', '512', '--buffer-count', '16', '--max-inflight', '8']);
  const small = frame({ group: '239.1.1.1', port: 5000, payload: Buffer.alloc(100, 1) });
  const big = frame({ group: '239.1.1.1', port: 5000, payload: Buffer.alloc(1000, 2) });
  await inject(rl, [small, big], 20);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 100_000, idle: 3 });
  const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 100_000, rate: 0, size: 64 });
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.equal(report.loop.drop_oversize, 20, 'each big frame counted once');
  t.equal(report.loop.kernel_packets, report.loop.frames + report.loop.kernel_drops, 'socket saw = read + dropped');
  t.equal(gen.sent, got.received + report.loop.kernel_drops, 'generator total = delivered + counted drops');
  t.equal(report.loop.sent, report.loop.matched);
});
