/**
 * The tail of a burst is not held back. A walk of the ring stops once its
 * frames have queued kCoalesceBurstSends sends (the burst cap: with thirty
 * outputs, eight or nine frames a walk), and the loop then walks again
 * without a pause. Frames already in the ring raise no new completion, so
 * the turn after a capped walk waits for one 100 µs at most
 * (kCappedWaitNs): when the burst ended with frames still in the ring, they
 * waited for the next frame or the stats timer (100 ms), one capped walk
 * per tick.
 * Proved with the loop's defaults (the adaptive policy) and with
 * `--busy-poll-us 0 --coalesce-us 50` (where every wait counted its sends,
 * the case that held the tail back: 1 500 datagrams took 12 s): COUNT
 * datagrams sent flat out to thirty outputs, far faster than the loop
 * forwards them, reach the sink within a bound set by the same burst
 * through the same relay with one output, whose walks never reach the cap,
 * timed in the same lab just before: BASELINE_FACTOR times that plus
 * BASELINE_SLACK_MS (0.06-0.1 s here once fixed; held back, 32 s with the
 * second settings and 1.3 s with the defaults, whose waits count their
 * sends only once the loop is busy).
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

const OUTPUTS = 30;
const COUNT = 3000;
/**
 * The bound on the burst's time to the sink, against the one-output run's:
 * thirty outputs cost the relay more per frame, and the host is shared, but
 * a tail held for the 100 ms timer costs more than ten such ticks.
 */
const BASELINE_FACTOR = 5;
const BASELINE_SLACK_MS = 300;

for (const settings of [[], ['--busy-poll-us', '0', '--coalesce-us', '50']]) {
  const name = settings.length === 0 ? 'defaults' : settings.join(' ');
  t.test(`${name}: frames left in the ring after a capped walk are forwarded at once, not at the next frame or timer`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const rl = await createRelayLab({ tag: 'btail' });
    t.teardown(() => rl.lab.destroy());
    /** The burst through a relay with `outputs`: the sink's report, the ms from the burst's start to the sink's end, the relay's report. */
    const burst = async (outputs: string) => {
      const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', outputs, ...settings]);
      const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: COUNT, idle: 2, duration: 60 });
      const sentAt = Date.now();
      const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: COUNT, rate: 0, size: 64 });
      t.equal(gen.sent, COUNT, 'the generator sent the burst');
      const got = await sinkReport(sink, 70_000);
      const tookMs = Date.now() - sentAt;
      return { got, tookMs, report: await stopRelay(relay) };
    };
    const baseline = await burst('239.2.2.2:6000:out0');
    t.equal(baseline.got.received, COUNT, 'one output: every datagram reached the sink');
    const boundMs = BASELINE_FACTOR * baseline.tookMs + BASELINE_SLACK_MS;
    const { got, tookMs, report } = await burst(Array.from({ length: OUTPUTS }, (_, i) => `239.2.2.${i + 2}:6000:out0`).join(','));
    t.comment(`sink: ${got.received} of ${COUNT} in ${tookMs} ms from the burst's start (one output: ${baseline.tookMs} ms); loop: coalesce_capped ${report.loop.coalesce_capped}, ` +
      `loop_iterations ${report.loop.loop_iterations}, frames ${report.loop.frames}`);
    t.ok((report.loop.coalesce_capped ?? 0) > 0, 'walks stopped at the burst cap (the case under test)');
    t.equal(got.received, COUNT, 'every datagram reached the sink');
    t.equal(got.reordered + got.duplicated + got.corrupted, 0, 'intact, once, in order');
    t.ok(tookMs < boundMs, `and the ring's tail was not held back for the timer (${tookMs} ms; one output ${baseline.tookMs} ms, ` +
      `bound ${BASELINE_FACTOR}x that + ${BASELINE_SLACK_MS} ms = ${boundMs} ms)`);
  });
}
