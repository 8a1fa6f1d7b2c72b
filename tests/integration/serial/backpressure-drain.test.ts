/**
 * Receiving paused at the in-flight cap drains what waits in the ring
 * without waiting for the stats timer. A relay with a deep ring and a
 * small cap (--max-inflight 8, below the 64 sends it submits at once, so
 * its sends complete inside the submit that takes them) falls behind a
 * burst at full speed; once the burst ends, no new frame wakes it, and the
 * frames left in the ring must still go out at once: the wait after a
 * paused walk ends on that walk's send completions. A wait that slept
 * until one completion beyond them took one walk of 8 frames per stats
 * tick (100 ms): the ring's last 1 700 frames went out over some 20 s.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

t.test('a paused ring drains at once after the burst that filled it', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'bpdrain' });
  t.teardown(() => rl.lab.destroy());
  // --busy-poll-us 0: the loop's waits count its sends always (as the
  // adaptive policy does once the loop is busy), the case that stalled.
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0', '--buffer-count', '4096', '--max-inflight', '8', '--no-udp-gso', '--busy-poll-us', '0']);
  // The sink ends 3 s after its last arrival (60 s at most).
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 100_000, idle: 3, duration: 60 });
  const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 100_000, rate: 0, size: 64 });
  const burstEnded = Date.now();
  const got = await sinkReport(sink, 70_000);
  const drainedWithin = (Date.now() - burstEnded) / 1000 - 3;
  const report = await stopRelay(relay);
  const loop = report.loop;
  t.comment(`sent ${gen.sent}, delivered ${got.received}, relayed ${loop.sent}, kernel drops ${loop.kernel_drops}, pauses ${loop.backpressure_pauses}, ` +
    `last datagram ${drainedWithin.toFixed(1)} s after the burst`);
  t.ok(loop.backpressure_pauses > 0, 'receiving paused at the cap');
  t.ok(drainedWithin < 7, 'the last datagram arrived within seconds of the burst\'s end, not one stats tick per 8 frames');
  t.equal(got.corrupted + got.duplicated, 0, 'what arrived is intact');
  t.equal(loop.send_errors, 0, 'no send failed');
  t.equal(got.received, loop.sent, 'everything the relay sent arrived');
  t.equal(gen.sent, got.received + loop.kernel_drops, 'generator total = delivered + counted drops');
});
