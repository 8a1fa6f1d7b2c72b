/**
 * Egress edge cases of the UDP_SEGMENT batches and of honest send
 * accounting, on real namespaces:
 * - an output whose MTU is below the datagrams refuses UDP_SEGMENT
 *   (EINVAL): the relay falls back to one (fragmented) send per datagram for
 *   that output, re-sends the refused batch, and loses nothing;
 * - an output behind a tiny token-bucket qdisc drops on transmit: with
 *   IP_RECVERR each drop comes back as ENOBUFS and is counted on the output,
 *   so delivered + counted errors = everything the relay matched;
 * - a walk far behind (the relay stopped while 16000 datagrams wait in its
 *   ring) still leaves in full batches, not datagram by datagram: one flow
 *   fills some 350 batches in that one walk, more than the loop's list of
 *   open flows holds, which used to send the rest of the walk one by one.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';
import { pollUntil } from '../../../bench/lab/time.js';

t.test('an output that refuses UDP_SEGMENT (MTU below the datagram): fallback to single sends, nothing lost', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'gsofb' });
  t.teardown(() => rl.lab.destroy());
  // 1200-byte datagrams in, a 1000-byte MTU out: a batch is refused with
  // EINVAL (each segment must fit the MTU), single sends are fragmented.
  await rl.lab.exec(rl.relay.ns, 'ip', ['link', 'set', 'out0', 'mtu', '1000']);
  await rl.lab.exec(rl.sinks[0]?.ns ?? '', 'ip', ['link', 'set', 'dn0', 'mtu', '1000']);
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 20_000, idle: 3 });
  // Full speed, so datagrams wait in the ring and batches form.
  const gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 20_000, rate: 0, size: 1200 });
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  const loop = report.loop;
  t.comment(`sent ${gen.sent}, delivered ${got.received}, kernel drops ${loop.kernel_drops}, batches ${loop.gso_batches}, fallbacks ${loop.gso_fallbacks}, retries ${loop.gso_retries}, ` +
    `output ${JSON.stringify(report.rules[0]?.outputs[0])}`);
  // About once a second the output retries a batch, which this MTU refuses again (gso-retry.test.ts).
  const retries = loop.gso_retries ?? 0;
  t.ok(loop.gso_fallbacks >= 1, 'the output fell back');
  t.ok(loop.gso_fallbacks - retries === 0 || loop.gso_fallbacks - retries === 1, 'every retry at this MTU fell back again');
  t.equal(loop.send_errors, 0, 'the refused batch was re-sent, not counted lost');
  t.equal(got.corrupted + got.duplicated, 0, 'intact, no duplicates');
  t.equal(got.received, loop.sent, 'every datagram the relay sent arrived');
  t.equal(gen.sent, got.received + loop.kernel_drops, 'generator total = delivered + counted input drops');
  t.equal(loop.inflight_sends + loop.inflight_buffers, 0, 'drained at stop');
});

for (const gso of [false, true]) {
  t.test(`transmit drops on the output come back as ENOBUFS and are counted (${gso ? 'batches' : 'single sends'})`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const rl = await createRelayLab({ tag: 'enobufs' });
    t.teardown(() => rl.lab.destroy());
    // 2 Mbit/s behind a 100 KB queue: a 20 kpps stream of 200-byte datagrams
    // (about 37 Mbit/s on the wire) overflows it at once. The 70 KB burst is
    // larger than any batch, so tbf queues or drops a batch whole instead of
    // cutting it up first (docs/relay.md, "Send errors and batches").
    await rl.lab.exec(rl.relay.ns, 'tc', ['qdisc', 'add', 'dev', 'out0', 'root', 'tbf', 'rate', '2mbit', 'burst', '70kb', 'limit', '100kb']);
    const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0',
      ...(gso ? [] : ['--no-udp-gso'])]);
    const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 10_000, idle: 3 });
    await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 10_000, rate: 20_000, size: 200 });
    const got = await sinkReport(sink);
    const report = await stopRelay(relay);
    const out = report.rules[0]?.outputs[0] ?? {};
    const loop = report.loop;
    t.comment(`matched ${loop.matched}, sent ${loop.sent}, errors ${loop.send_errors}, delivered ${got.received}, batches ${loop.gso_batches}`);
    t.ok(Number(out.err_enobufs) > 0, 'the qdisc drops were reported as ENOBUFS');
    t.equal(Number(out.errors), Number(out.err_enobufs), 'and nothing else failed');
    t.equal(loop.sent + loop.send_errors, loop.matched, 'every matched datagram was sent or counted as a send error');
    t.equal(got.received, loop.sent, 'what the relay counted as sent arrived');
    t.equal(got.corrupted + got.duplicated, 0, 'intact, no duplicates');
    if (gso) t.ok(loop.gso_batches > 0, 'batches were sent');
  });
}

t.test('a walk of a full ring after a stall leaves in batches, not one by one', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'longwalk' });
  t.teardown(() => rl.lab.destroy());
  // MTU 1500: 16384 ring slots; 1400-byte datagrams: 46 per batch, so one
  // walk over 16000 of them fills about 350 batches of the same flow.
  const count = 16_000;
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0']);
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count, idle: 3 });
  // Our own relay, stopped so the kernel fills its ring while it cannot walk.
  const inputRx = async (): Promise<number> =>
    Number((await rl.lab.exec(rl.relay.ns, 'cat', [`/sys/class/net/${rl.relay.input.ifname}/statistics/rx_packets`])).stdout.trim());
  const rxBefore = await inputRx();
  process.kill(relay.pid, 'SIGSTOP');
  let gen;
  try {
    gen = await runGen(rl, { dest: '239.1.1.1', port: 5000, count, rate: 100_000, size: 1400 });
    // Every datagram has reached the relay's input (and with it the ring) before the relay walks again.
    t.ok(await pollUntil(async () => (await inputRx()) - rxBefore >= count, 5000), 'all datagrams reached the stopped relay\'s input');
  } finally {
    process.kill(relay.pid, 'SIGCONT');  // also when the generator failed, before the lab's teardown
  }
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  const loop = report.loop;
  const oneByOne = loop.sent - loop.gso_datagrams;
  t.comment(`sent ${gen.sent}, relayed ${loop.sent} in ${loop.gso_batches} batches, ${oneByOne} one by one, ` +
    `kernel drops ${loop.kernel_drops}, pool empty ${loop.gso_pool_empty}, delivered ${got.received}`);
  t.equal(loop.kernel_drops, 0, 'the ring held every datagram while the relay was stopped');
  t.equal(loop.sent, count, 'the relay sent every datagram');
  t.ok(oneByOne <= count / 100, `at most 1 % sent one by one (${oneByOne})`);
  t.equal(loop.gso_pool_empty, 0, 'never short of batch records');
  t.equal(got.received, count, 'every datagram delivered');
  t.equal(got.corrupted + got.duplicated + got.reordered, 0, 'intact, once, in order');
});
