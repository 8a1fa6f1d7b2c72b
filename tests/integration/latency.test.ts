/**
 * One-way latency measurement end to end (mcrgen --timestamp → mcr-relay →
 * mcrsink --latency, over veths in namespaces): the sink's latency report
 * is present and sane (every datagram measured, 0 < p50 ≤ p99 ≤ p99.9 ≤
 * max), and it sees a delay that is really there: the same stream through
 * a relay that pauses 2 ms after each walk (--coalesce-us 2000) shows a
 * median several times the plain relay's. Ratios and ordering only, never
 * absolute times: the host is shared and loaded.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../bench/lab/index.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay, type SinkLatency, type SinkReport } from './harness.js';

const COUNT = 3000;
const RATE = 5000;

t.test('latency through the relay is measured, and a 2 ms coalescing pause shows in it', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'lat' });
  t.teardown(() => rl.lab.destroy());
  const through = async (extra: string[]): Promise<SinkReport> => {
    const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0', ...extra]);
    try {
      const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: COUNT, idle: 3, latency: true });
      const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: COUNT, rate: RATE, size: 64, timestamp: true });
      t.equal(gen.sent, COUNT, `${extra.join(' ') || 'plain'}: mcrgen sent all`);
      return await sinkReport(sink);
    } finally {
      await stopRelay(relay);
    }
  };
  const plain = await through([]);
  const paused = await through(['--coalesce-us', '2000']);
  const lat: Record<string, SinkLatency> = {};
  for (const [name, r] of [['plain', plain], ['coalesce 2000', paused]] as const) {
    t.equal(r.corrupted, 0, `${name}: nothing corrupted`);
    const l = r.latency;
    if (l === undefined || l === null) {
      t.fail(`${name}: the sink's report has a latency object`);
      continue;
    }
    lat[name] = l;
    t.ok(r.received > 0, `${name}: datagrams arrived`);
    t.equal(l.count, r.received, `${name}: every datagram received was measured`);
    t.equal(l.untimed + l.noKernelTime + l.negative + l.overflow, 0, `${name}: all timestamped, all with a kernel time, none negative`);
    const [p50, p99, p999, max] = [l.p50Us ?? 0, l.p99Us ?? 0, l.p999Us ?? 0, l.maxUs ?? 0];
    t.ok(p50 > 0 && p50 <= p99 && p99 <= p999 && p999 <= max, `${name}: 0 < p50 ${p50} ≤ p99 ${p99} ≤ p99.9 ${p999} ≤ max ${max} µs`);
    t.ok((l.minUs ?? 0) > 0 && (l.minUs ?? 0) <= p50, `${name}: 0 < min ≤ p50`);
  }
  const a = lat.plain?.p50Us ?? 0;
  const b = lat['coalesce 2000']?.p50Us ?? 0;
  t.comment(`p50: plain ${a} µs, --coalesce-us 2000 ${b} µs (×${(b / Math.max(a, 1e-9)).toFixed(1)})`);
  // A 2 ms pause after each walk holds a datagram arriving at a random
  // point of it ~1 ms on average; the plain relay's median is tens of µs.
  t.ok(b > 3 * a, 'the coalescing pause raises the median latency at least threefold');
});
