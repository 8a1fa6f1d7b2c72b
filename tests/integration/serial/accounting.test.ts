/**
 * Honest accounting under overload: with a deliberately tiny relay (16
 * buffers, 8 sends in flight) and a burst at full speed, every datagram the
 * generator sent is either delivered or counted as dropped by the kernel on
 * the relay's socket; nothing disappears unaccounted. Once with one send per
 * datagram (where the in-flight cap must engage) and once with the default
 * UDP_SEGMENT batches.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

for (const gso of [false, true]) {
  const mode = gso ? 'UDP_SEGMENT batches' : 'one send per datagram';
  t.test(`overload (${mode}): sent = delivered + kernel drops${gso ? '' : ', receive paused at the caps'}`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const rl = await createRelayLab({ tag: 'acct' });
    t.teardown(() => rl.lab.destroy());
    const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
      '--outputs', '239.2.2.2:6000:out0', '--buffer-count', '16', '--max-inflight', '8', ...(gso ? [] : ['--no-udp-gso'])]);
    const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 200_000, idle: 3 });
    const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 200_000, rate: 0, size: 64 });
    const got = await sinkReport(sink);
    const report = await stopRelay(relay);
    const loop = report.loop;
    t.comment(`sent ${gen.sent}, delivered ${got.received}, kernel drops ${loop.kernel_drops}, ` +
      `pauses ${loop.backpressure_pauses}, buffer exhaustion ${loop.recv_buffer_exhausted}, GSO batches ${loop.gso_batches}`);
    t.equal(got.corrupted + got.duplicated, 0, 'what arrived is intact');
    t.equal(loop.kernel_packets, loop.frames + loop.kernel_drops, 'every frame the socket saw was read or counted dropped');
    t.equal(loop.matched, loop.sent, 'every matched datagram was sent');
    t.equal(loop.send_errors, 0, 'no send failed');
    t.equal(got.received, loop.sent, 'every sent datagram arrived');
    t.equal(gen.sent, got.received + loop.kernel_drops, 'generator total = delivered + counted drops');
    // The sink sees gaps only before its last arrival; drops after it are in
    // the relay's count but not in the sink's.
    t.ok(got.lost <= loop.kernel_drops, 'the sink\'s gaps are among the relay\'s counted drops');
    if (gso) {
      t.ok(loop.gso_batches > 0 && loop.gso_datagrams > loop.gso_batches, 'waiting datagrams went out in batches');
    } else {
      t.equal(loop.gso_batches, 0, 'no batches with --no-udp-gso');
      t.ok(loop.backpressure_pauses + loop.recv_buffer_exhausted > 0, 'the caps were reached and receiving paused');
    }
    t.equal(loop.inflight_sends + loop.inflight_buffers, 0, 'drained at stop');
  });
}
