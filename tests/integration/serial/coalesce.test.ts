/**
 * `--coalesce-us`: after a walk of the ring that forwarded frames the loop
 * pauses, so more datagrams wait for each walk and each send. Proved on
 * real namespaces at a steady 20 kpps: with a 500 µs pause every datagram
 * is still delivered intact and in order, the pause is counted
 * (coalesce_waits), a walk carries several times as many datagrams as
 * without it, and the walk after a pause makes no io_uring_enter call (the
 * pause's own call submitted and reaped). The burst after a pause is bounded: at fan-out 8 a 2 ms
 * pause gathers ~40 datagrams, 320 sends, more than the 256 a walk may
 * queue (kCoalesceBurstSends): the walks stop at the cap (coalesce_capped),
 * the rest follows without a pause, and nothing is lost or reordered.
 */
import t from 'tap';
import { skipUnlessRoot } from '../../../bench/lab/index.js';
import { steadyStream } from '../harness.js';

const COUNT = 10_000;

const relayAt20k = (extra: string[]) => steadyStream('coal', extra, { count: COUNT });

t.test('a coalescing pause gathers more datagrams per walk and loses nothing', async (t) => {
  if (skipUnlessRoot(t)) return;
  // Never polling, so every loop turn is a wake-up with a walk.
  const plain = await relayAt20k(['--busy-poll-us', '0']);
  const coalesced = await relayAt20k(['--busy-poll-us', '0', '--coalesce-us', '500']);
  const perWalk = (r: typeof plain): number => (r.loop.matched ?? 0) / Math.max(1, r.loop.loop_iterations ?? 0);
  t.comment(`datagrams per loop turn: ${perWalk(plain).toFixed(2)} without, ${perWalk(coalesced).toFixed(2)} with 500 µs; ` +
    `coalesce_waits ${coalesced.loop.coalesce_waits}`);
  for (const [name, r] of [['without', plain], ['with 500 µs', coalesced]] as const) {
    t.equal(r.got.received, COUNT, `${name}: every datagram delivered`);
    t.equal(r.got.corrupted + r.got.duplicated + r.got.reordered, 0, `${name}: intact, once, in order`);
  }
  t.equal(plain.loop.coalesce_waits, 0, 'no pause unless asked for');
  t.ok((coalesced.loop.coalesce_waits ?? 0) > 0, 'the pauses are counted');
  t.ok(perWalk(coalesced) >= 4, 'a walk carries several datagrams at 20 kpps');
  t.ok(perWalk(coalesced) >= 2 * perWalk(plain), 'at least twice as many as without the pause');
  // The pause's io_uring_enter submits and reaps; the walk after it reads
  // the ring without one. Were every turn still to enter, there would be
  // one call per turn plus one per pause.
  const enters = (r: typeof plain) => `${r.loop.submit_calls} io_uring_enter calls in ${r.loop.loop_iterations} turns`;
  t.comment(`without: ${enters(plain)}; with: ${enters(coalesced)}, ${coalesced.loop.coalesce_waits} pauses`);
  t.ok((plain.loop.submit_calls ?? 0) >= (plain.loop.loop_iterations ?? 0), 'without pauses every turn enters the kernel');
  t.ok((coalesced.loop.submit_calls ?? 0) < (coalesced.loop.loop_iterations ?? 0) + (coalesced.loop.coalesce_waits ?? 0) / 2,
    'the walk after a pause makes no io_uring_enter call of its own');
});

t.test('a walk after a pause stops at the burst cap and loses nothing', async (t) => {
  if (skipUnlessRoot(t)) return;
  const outputs = Array.from({ length: 8 }, (_, i) => `239.2.2.${i + 2}:6000:out0`).join(',');
  const r = await relayAt20k(['--outputs', outputs, '--coalesce-us', '2000']);
  t.comment(`fan-out 8, 2000 µs pauses: coalesce_capped ${r.loop.coalesce_capped}, coalesce_waits ${r.loop.coalesce_waits}, ` +
    `sends_queued ${r.loop.sends_queued}`);
  t.equal(r.got.received, COUNT, 'every datagram delivered');
  t.equal(r.got.corrupted + r.got.duplicated + r.got.reordered, 0, 'intact, once, in order');
  t.equal(r.loop.sends_queued, COUNT * 8, 'each datagram sent to all eight outputs');
  t.ok((r.loop.coalesce_capped ?? 0) > 0, 'walks stopped at the cap');
  // Every pause gathers more than the cap: about half the walks that
  // forwarded end at it (the walk after a capped one takes the rest).
  t.ok((r.loop.coalesce_capped ?? 0) >= (r.loop.coalesce_waits ?? 0) / 4, 'the cap acts on most pauses');
});
