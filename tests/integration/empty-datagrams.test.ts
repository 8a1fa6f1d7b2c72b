/**
 * Empty UDP datagrams (no payload) are relayed, each as one datagram, also
 * when several of a flow wait in the ring for one walk. A UDP_SEGMENT
 * batch cannot carry them: the kernel cuts a batch into datagrams only
 * when it holds more than one segment's bytes, so a batch of empty
 * datagrams left as one, and an empty datagram behind a full one left as
 * nothing, while the relay counted each as sent. With `--coalesce-us 2000`
 * the loop pauses after a walk, so the frames mcrinject sends back to back
 * wait for the next walk together: twenty empty datagrams in a row, then
 * twenty pairs of a 100-byte datagram and an empty one, each must reach the
 * sink (mcrsink counts an empty datagram as received, and as corrupted:
 * it carries no sequence number).
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../bench/lab/index.js';
import { frame } from './frames.js';
import { inject, sinkReport, startRelay, startSink, stopRelay } from './harness.js';

const REPEAT = 20;

t.test('empty datagrams are relayed one for one, also where a walk finds several of a flow', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'empty' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0',
    '--coalesce-us', '2000']);
  const empty = frame({ payload: Buffer.alloc(0) });
  const full = frame({ payload: Buffer.alloc(100, 0xab) });
  const expected = REPEAT + 2 * REPEAT;
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: expected, idle: 2 });
  t.equal(await inject(rl, [empty], REPEAT), REPEAT, 'twenty empty datagrams injected back to back');
  t.equal(await inject(rl, [full, empty], REPEAT), 2 * REPEAT, 'then twenty pairs of a full and an empty one');
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.comment(`sink: received ${got.received}, minSize ${got.minSize}, maxSize ${got.maxSize}; relay: packets ${report.rules[0]?.packets}, ` +
    `loop turns ${report.loop.loop_iterations}, coalesce_waits ${report.loop.coalesce_waits}`);
  t.ok((report.loop.coalesce_waits ?? 0) > 0, 'the loop paused, so walks found several frames');
  t.equal(report.rules[0]?.packets, expected, 'the relay forwarded every one');
  t.equal(got.received, expected, 'and the sink received every one');
  t.equal(got.minSize, 0, 'empty ones among them');
});
