/**
 * Malformed frames injected between good ones are counted by reason and
 * dropped; the good traffic around them is unaffected. Frames larger than a
 * receive buffer are counted as oversize, not forwarded cut.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../bench/lab/index.js';
import { frame, malformedFrames } from './frames.js';
import { genReport, inject, sinkReport, startGen, startRelay, startSink, stopRelay } from './harness.js';

const REPEAT = 50;

t.test('malformed frames between good ones: counted by reason, good traffic intact', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'bad' });
  t.teardown(() => rl.lab.destroy());
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 40_000, idle: 3 });
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 40_000, rate: 20_000, size: 300 });
  const bad = malformedFrames('239.1.1.1', 5000);
  const sent = await inject(rl, Object.values(bad), REPEAT);
  const genDone = await genReport(gen);
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  t.equal(sent, Object.keys(bad).length * REPEAT, 'all malformed frames sent');
  t.equal(genDone.sent, 40_000);
  t.equal(got.received, 40_000, 'every good datagram forwarded');
  t.equal(got.lost + got.corrupted, 0, 'good traffic unaffected');
  for (const counter of Object.keys(bad)) {
    // IPv6 frames can also come from the kernel itself; at least ours count.
    const value = report.loop[counter] ?? -1;
    if (counter === 'drop_not_ipv4') t.ok(value >= REPEAT, `${counter} = ${value}`);
    else t.equal(value, REPEAT, `${counter} counted each injected frame`);
  }
  t.equal(report.loop.matched, 40_000, 'only good datagrams matched');
});

t.test('frames larger than a receive buffer are counted as oversize', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'big' });
  t.teardown(() => rl.lab.destroy());
  // 512-byte buffers on a 1500-MTU link: a 1000-byte frame cannot fit.
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000',
    '--outputs', '239.2.2.2:6000:out0', '--buffer-size', '512']);
  const small = frame({ group: '239.1.1.1', port: 5000, payload: Buffer.alloc(100, 1) });
  const big = frame({ group: '239.1.1.1', port: 5000, payload: Buffer.alloc(1000, 2) });
  await inject(rl, [small, big], 20);
  const report = await stopRelay(relay);
  t.equal(report.loop.drop_oversize, 20, 'each big frame counted once');
  t.equal(report.loop.matched, 20, 'small frames still forwarded');
  t.equal(report.loop.sent, 20);
});
