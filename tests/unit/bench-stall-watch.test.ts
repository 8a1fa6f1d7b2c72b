/**
 * bench/stall-watch.ts without a lab: the windows kept are exactly those in
 * which the watched core's backlog dropped frames, with the deltas of every
 * counter (softnet_stat's 32-bit counters across a wrap too), and the log
 * line says what was dropped and whether ksoftirqd waited.
 */
import t from 'tap';
import { describeStall, stallWindows, type StallSample } from '../../bench/stall-watch.js';

const s = (atMs: number, processed: number, dropped: number, runMs = 0, waitMs = 0, steal = 0): StallSample =>
  ({ atMs, processed, dropped, softirqdRunNs: runMs * 1e6, softirqdWaitNs: waitMs * 1e6, stealMs: steal });

t.test('only windows with drops are kept, with each counter\'s delta', async (t) => {
  const w = stallWindows([s(0, 1000, 5), s(20, 10_000, 5, 1, 0), s(40, 10_871, 1196, 1, 0.06, 0), s(60, 19_000, 1196, 2, 7.5, 1)]);
  t.equal(w.length, 1, 'one window dropped frames');
  t.same(w[0], { atMs: 20, windowMs: 20, processed: 871, dropped: 1191, softirqdRunMs: 0, softirqdWaitMs: 0.06, stealMs: 0 });
});

t.test('a counter that wrapped at 2^32 still gives its delta', async (t) => {
  const w = stallWindows([s(0, 2 ** 32 - 100, 2 ** 32 - 1), s(20, 900, 10)]);
  t.equal(w.length, 1);
  t.equal(w[0]?.processed, 1000);
  t.equal(w[0]?.dropped, 11);
});

t.test('no samples, one sample, or no drops: no windows', async (t) => {
  t.same(stallWindows([]), []);
  t.same(stallWindows([s(0, 1, 1)]), []);
  t.same(stallWindows([s(0, 1, 1), s(20, 9000, 1)]), []);
});

t.test('the log line names the drop, the work done and ksoftirqd\'s wait', async (t) => {
  const line = describeStall({ atMs: 1230, windowMs: 20.4, processed: 871, dropped: 1191, softirqdRunMs: 0, softirqdWaitMs: 0.06, stealMs: 0 });
  t.equal(line, '+1.23 s: 1191 dropped, 871 processed in 20 ms; ksoftirqd ran 0.00 ms, waited 0.06 ms; steal 0 ms');
});
