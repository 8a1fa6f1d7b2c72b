/**
 * UDP_SEGMENT batches come back on their own after an output's MTU comes
 * back up, on real namespaces and without any rule change: under a steady
 * stream of 1200-byte datagrams, out0's MTU drops to 1000 (the kernel then
 * refuses a batch whose segments exceed it, and the relay falls back to one
 * fragmented send per datagram, re-sending the refused batch), stays there
 * long enough for retries to be refused again (each quietly back to single
 * sends), then goes back to 1500. Read from the loop counters while the
 * stream flows: batches resume within a bounded time of the raise and hold
 * (gso_datagrams grows, no new fallback), every retry is counted
 * (gso_retries), a single warn line reported the fallback (printed while the
 * relay runs: the loop's log ring wakes its Node thread), and the sink got
 * every datagram the generator sent, intact.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import type { LabProcess } from '../../../bench/lab/index.js';
import { pollUntil } from '../../../bench/lab/time.js';
import { type GenReport, relayCommand, sinkReport, startGen, startRelay, startSink, stopRelay } from '../harness.js';

const RATE = 20_000;
const SIZE = 1200;
/**
 * Batching must be back this long after the MTU is: a retry each second,
 * half a second of steady batches, and a wide margin for a loaded host
 * (the counters are read through the relay's stdin, which a busy machine
 * slows). It bounds a wait, it does not time anything: the time it took is
 * reported.
 */
const RESUME_WITHIN_MS = 10_000;

async function loopCounters(relay: LabProcess): Promise<Record<string, number>> {
  const reply = await relayCommand(relay, { op: 'stats' }) as { stats?: { loop?: Record<string, number> } };
  const loop = reply.stats?.loop;
  if (loop === undefined) throw new Error(`stats reply without loop counters: ${JSON.stringify(reply)}`);
  return loop;
}

const n = (loop: Record<string, number>, name: string): number => loop[name] ?? 0;

t.test('after an output MTU drop and raise, UDP_SEGMENT batching resumes by itself; nothing lost', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'gsoretry' });
  t.teardown(() => rl.lab.destroy());
  const setMtu = (mtu: number) => rl.lab.exec(rl.relay.ns, 'ip', ['link', 'set', 'out0', 'mtu', String(mtu)]);
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0'],
    { stdin: true });
  // Far more than the run needs: the generator is stopped once the counters have said their piece.
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 10_000_000, idle: 2, duration: 60 });
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 10_000_000, rate: RATE, size: SIZE });
  let genStopped = false;
  const stopGen = async (): Promise<GenReport> => {
    genStopped = true;
    await gen.stop('SIGINT', 5_000);
    const last = gen.stdoutLines.filter((l) => l.startsWith('{')).pop();
    if (last === undefined) throw new Error(`mcrgen printed no report: ${gen.stderrLines.slice(-3).join('\n')}`);
    return JSON.parse(last) as GenReport;
  };
  t.teardown(async () => { if (!genStopped) await gen.stop('SIGINT', 5_000).catch(() => undefined); });

  let loop = await loopCounters(relay);
  const poll = async (what: (l: Record<string, number>) => boolean, ms: number): Promise<boolean> =>
    pollUntil(async () => what(loop = await loopCounters(relay)), ms);

  t.ok(await poll((l) => n(l, 'gso_datagrams') > 1_000, 5_000), 'the stream leaves in batches at MTU 1500');

  await setMtu(1000);
  t.ok(await poll((l) => n(l, 'gso_fallbacks') >= 1, 5_000), 'at MTU 1000 a batch is refused and the output falls back');
  // The loop's log ring wakes the Node thread (no timer reads it): the warn
  // line is printed while the relay runs, not only by the final drain at stop.
  t.ok(await pollUntil(async () => relay.stderrLines.some((l) => l.includes('UDP_SEGMENT refused')), 5_000),
    'the fallback\'s warn line is printed while the relay runs');
  // While the MTU stays low, the retries (about one a second) are refused and fall back again.
  t.ok(await poll((l) => n(l, 'gso_retries') >= 2 && n(l, 'gso_fallbacks') >= 3, 5_000),
    `retries while the MTU is still low fall back again (retries ${n(loop, 'gso_retries')}, fallbacks ${n(loop, 'gso_fallbacks')})`);

  await setMtu(1500);
  const raisedAt = Date.now();
  const atRaise = loop;
  // Resumed: a retry re-enabled batches, and over the last half second they grew with no new fallback.
  let previous = atRaise;
  let resumedAfterMs = -1;
  const resumed = await pollUntil(async () => {
    const now = await loopCounters(relay);
    const steady = n(now, 'gso_retries') > n(atRaise, 'gso_retries') &&
      n(now, 'gso_fallbacks') === n(previous, 'gso_fallbacks') && n(now, 'gso_datagrams') - n(previous, 'gso_datagrams') >= 1_000;
    if (!steady) previous = now;
    else if (resumedAfterMs < 0) resumedAfterMs = Date.now() - raisedAt;
    loop = now;
    return steady;
  }, RESUME_WITHIN_MS, 500);
  t.ok(resumed, `batching resumed within ${RESUME_WITHIN_MS} ms of the MTU going back up, no rule change ` +
    `(after ${resumedAfterMs} ms; retries ${n(loop, 'gso_retries')}, fallbacks ${n(loop, 'gso_fallbacks')}, ` +
    `${n(loop, 'gso_datagrams') - n(atRaise, 'gso_datagrams')} datagrams batched since)`);

  const sent = await stopGen();
  const got = await sinkReport(sink);
  const report = await stopRelay(relay);
  const final = report.loop;
  t.comment(`generator ${sent.sent}, delivered ${got.received}, lost ${got.lost}, kernel drops ${final.kernel_drops}, ` +
    `relayed ${final.sent} (${final.gso_datagrams} in ${final.gso_batches} batches), fallbacks ${final.gso_fallbacks}, ` +
    `retries ${n(final, 'gso_retries')}, send errors ${final.send_errors}, resumed ${resumedAfterMs} ms after the raise`);
  t.equal(final.kernel_drops, 0, 'no input drops at a steady 20 kpps');
  t.equal(final.send_errors, 0, 'no send failed: refused batches were re-sent datagram by datagram');
  t.equal(got.received, sent.sent, 'every datagram the generator sent arrived');
  t.equal(got.lost + got.corrupted + got.duplicated, 0, 'none lost, corrupted or duplicated');
  t.equal(final.gso_fallbacks - n(final, 'gso_retries'), 0, 'every fallback was followed by a retry (batching is on at the end)');
  const warned = relay.stderrLines.filter((l) => l.includes('UDP_SEGMENT refused'));
  t.equal(warned.length, 1, 'one warn line for the fallback, none for the refused retries');
  t.ok(relay.stderrLines.some((l) => l.includes('UDP_SEGMENT accepted again')), 'an info line says batching is back');
});
