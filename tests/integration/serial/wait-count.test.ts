/**
 * The loop sleeps once per walk. The sends a turn queues complete inside
 * the next turn's io_uring_enter and post their completions before it
 * waits; were the wait to end on them, every walk would cost a second turn
 * (a call, a reap, an empty walk) before the loop really slept
 * (RelayLoop::wait_count(), docs/internals.md). Proved on real namespaces
 * with datagrams evenly spaced 500 µs apart, so each one wakes a sleeping
 * loop and is walked alone. With `--busy-poll-us 0` the wait always counts
 * the sends: about one turn and one io_uring_enter per datagram, where
 * waiting for any completion made two. With the default policy a loop this
 * lightly loaded keeps the extra turn (a cheap look for the next frame of a
 * burst; PollPolicy::counts_sends()): about two turns per walk. Either way every datagram
 * is delivered intact and in order, none of it waiting for the next.
 */
import t, { type Test } from 'tap';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { runGen, sinkReport, startRelay, startSink, stopRelay } from '../harness.js';

const COUNT = 3000;
const RATE = 2000;

async function relayAt2k(t: Test, extra: string[]): Promise<{ turns: number; frames: number; calls: number }> {
  const rl = await createRelayLab({ tag: 'wcnt' });
  try {
    const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0',
      ...extra]);
    const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: COUNT, idle: 3 });
    await runGen(rl, { dest: '239.1.1.1', port: 5000, count: COUNT, rate: RATE, size: 200, batch: 1 });
    const got = await sinkReport(sink);
    const { loop } = await stopRelay(relay);
    const name = extra.length > 0 ? extra.join(' ') : 'defaults';
    t.equal(got.received, COUNT, `${name}: every datagram delivered`);
    t.equal(got.corrupted + got.duplicated + got.reordered, 0, `${name}: intact, once, in order`);
    t.equal(loop.frames, COUNT, `${name}: each datagram walked`);
    return { turns: loop.loop_iterations ?? 0, frames: loop.frames ?? 0, calls: loop.submit_calls ?? 0 };
  } finally {
    await rl.lab.destroy();
  }
}

t.test('a walk costs one turn when the wait counts its sends, two when the loop has time to look', async (t) => {
  if (skipUnlessRoot(t)) return;
  // Never polling and never pausing: every turn is a wake-up, and the wait counts the sends.
  const counted = await relayAt2k(t, ['--busy-poll-us', '0']);
  // The default policy, far below its busy threshold: the wait ends on the sends.
  const looking = await relayAt2k(t, []);
  for (const [name, r] of [['--busy-poll-us 0', counted], ['defaults', looking]] as const) {
    t.comment(`${name}: ${r.frames} frames, ${r.turns} turns, ${r.calls} io_uring_enter calls`);
  }
  // Walks that find two datagrams and the turns of the stats timer and of
  // commands make it a little more or less than one turn per datagram;
  // a wait that ended on the walk's own sends made two.
  t.ok(counted.turns <= 1.3 * COUNT, 'counted: about one turn per walked datagram, not two');
  t.ok(counted.calls <= 1.3 * COUNT, 'counted: about one io_uring_enter per walked datagram');
  // Compared with the counted run rather than with the datagrams: on a busy
  // host the generator's pacing slips and datagrams come in pairs, so both
  // runs walk fewer times than there are datagrams, and the look still
  // doubles the turns of each walk.
  t.ok(looking.turns >= 1.5 * counted.turns, 'light load, default policy: the extra turn that looks for more');
});
