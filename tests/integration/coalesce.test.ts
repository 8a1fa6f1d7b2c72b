/**
 * `--coalesce-us`: after a walk of the ring that forwarded frames the loop
 * pauses, so more datagrams wait for each walk and each send. Proved on
 * real namespaces at a steady 20 kpps: with a 500 µs pause every datagram
 * is still delivered intact and in order, the pause is counted
 * (coalesce_waits), and a walk carries several times as many datagrams as
 * without it.
 */
import t from 'tap';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { steadyStream } from './harness.js';

const COUNT = 10_000;

const relayAt20k = (extra: string[]) => steadyStream('coal', extra, { count: COUNT });

t.test('a coalescing pause gathers more datagrams per walk and loses nothing', async (t) => {
  if (skipUnlessRoot(t)) return;
  const plain = await relayAt20k([]);
  const coalesced = await relayAt20k(['--coalesce-us', '500']);
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
});
