/**
 * Rates from counter samples (supervisor/stats/rate-tracker.ts): no rate
 * without an earlier sample at least MIN_RATE_INTERVAL_MS old, steady rates,
 * restarts and counter resets never giving negative rates, one worker's
 * reset not hidden by another's growth, unread workers, new and removed
 * keys, and the bounded history.
 */
import t from 'tap';
import { MIN_RATE_INTERVAL_MS, MIN_SNAPSHOT_SPACING_MS, RateTracker, type WorkerReading } from '../../supervisor/stats/rate-tracker.js';

const read = (worker: string, instance: number, counters: Record<string, number>): WorkerReading =>
  ({ state: 'read', worker, instance, counters: new Map(Object.entries(counters)) });

t.test('the first sample has no rate; the next one at least the minimum interval later has', async (t) => {
  const r = new RateTracker();
  const first = r.sample(0, [read('in0/0', 10, { a: 500 })], ['a']);
  t.equal(first.intervalMs, undefined, 'no interval on the first sample');
  t.equal(first.rate('a'), undefined, 'no rate on the first sample, not 0');
  const soon = r.sample(MIN_RATE_INTERVAL_MS - 1, [read('in0/0', 10, { a: 900 })], ['a']);
  t.equal(soon.intervalMs, undefined, 'too close to the only earlier sample: still no rate');
  const second = r.sample(MIN_RATE_INTERVAL_MS, [read('in0/0', 10, { a: 1500 })], ['a']);
  t.equal(second.intervalMs, MIN_RATE_INTERVAL_MS, 'from the first sample');
  t.equal(second.rate('a'), (1000 * 1000) / MIN_RATE_INTERVAL_MS, '1000 packets over the interval');
});

t.test('a rate is taken from the newest sample at least the minimum interval old', async (t) => {
  const r = new RateTracker();
  r.sample(0, [read('w', 1, { a: 0 })], ['a']);
  r.sample(1000, [read('w', 1, { a: 1000 })], ['a']);
  // 200 ms after the sample at 1000: that one is too recent, 0 is the reference.
  const s = r.sample(1200, [read('w', 1, { a: 1300 })], ['a']);
  t.equal(s.intervalMs, 1200);
  t.equal(s.rate('a'), (1300 * 1000) / 1200);
  const later = r.sample(2200, [read('w', 1, { a: 2300 })], ['a']);
  t.equal(later.intervalMs, 1000, 'now the sample at 1200 is the newest old enough');
  t.equal(later.rate('a'), 1000);
});

t.test('a restarted worker (new pid) counts from zero: no negative rate', async (t) => {
  const r = new RateTracker();
  r.sample(0, [read('w', 1, { a: 10_000 })], ['a']);
  r.sample(1000, [read('w', 1, { a: 12_000 })], ['a']);
  const s = r.sample(2000, [read('w', 2, { a: 300 })], ['a']);
  t.equal(s.rate('a'), 300, 'the new process counted 300 since it started');
  const after = r.sample(3000, [read('w', 2, { a: 2300 })], ['a']);
  t.equal(after.rate('a'), 2000, 'and the rate is back to what it forwards');
});

t.test('a counter that goes down in the same process counted from zero', async (t) => {
  const r = new RateTracker();
  r.sample(0, [read('w', 1, { a: 5000 })], ['a']);
  const s = r.sample(1000, [read('w', 1, { a: 400 })], ['a']);
  t.equal(s.rate('a'), 400);
  t.ok((s.rate('a') ?? -1) >= 0, 'never negative');
});

t.test("one worker's reset is not hidden by another's growth", async (t) => {
  const r = new RateTracker();
  r.sample(0, [read('w0', 1, { a: 5000 }), read('w1', 2, { a: 5000 })], ['a']);
  // A sum per rule would read 10000 -> 6500 and see a reset, or worse, a
  // smaller growth than real; per worker: +1000 and +500.
  const s = r.sample(1000, [read('w0', 1, { a: 6000 }), read('w1', 3, { a: 500 })], ['a']);
  t.equal(s.rate('a'), 1500);
});

t.test('idle workers count nothing; an unread worker keeps its last reading and no snapshot is kept', async (t) => {
  const r = new RateTracker();
  r.sample(0, [read('w0', 1, { a: 0 }), read('w1', 2, { a: 0 })], ['a']);
  const idle = r.sample(1000, [read('w0', 1, { a: 1000 }), { state: 'idle', worker: 'w1' }], ['a']);
  t.equal(idle.rate('a'), 1000, 'an idle slot adds nothing');
  const unread = r.sample(2000, [read('w0', 1, { a: 2000 }), { state: 'unread', worker: 'w1' }], ['a']);
  t.equal(unread.rate('a'), 1000, 'rates still come, from the workers that answered');
  // w1 answers again with everything it counted meanwhile, spread over the
  // interval since the last complete sample (at 1000), not crammed into one second.
  const back = r.sample(3000, [read('w0', 1, { a: 3000 }), read('w1', 2, { a: 1000 })], ['a']);
  t.equal(back.intervalMs, 2000, 'measured from the last complete sample');
  t.equal(back.rate('a'), 1500, '(2000 + 1000) packets over 2 s');
});

t.test('keys: a rule added since the reference has no rate; removed keys are forgotten', async (t) => {
  const r = new RateTracker();
  r.sample(0, [read('w', 1, { a: 0 })], ['a']);
  const s = r.sample(1000, [read('w', 1, { a: 100, b: 50 })], ['a', 'b']);
  t.equal(s.rate('a'), 100);
  t.equal(s.rate('b'), undefined, 'b did not exist at the reference');
  t.equal(s.rate('c'), undefined, 'unknown key');
  const next = r.sample(2000, [read('w', 1, { a: 200, b: 150 })], ['a', 'b']);
  t.equal(next.rate('b'), 100, 'b has a rate once it has a reference');
  const gone = r.sample(3000, [read('w', 1, { a: 300 })], ['a']);
  t.equal(gone.rate('b'), undefined, 'b removed');
  // A vanished worker is forgotten: its slot coming back is a new start.
  r.sample(4000, [], ['a']);
  const back = r.sample(5000, [read('w', 1, { a: 350 })], ['a']);
  t.equal(back.rate('a'), 350, 'counted from zero after the worker was gone');
});

t.test('the history stays small whatever the request rate', async (t) => {
  const r = new RateTracker();
  let max = 0;
  for (let ms = 0; ms <= 10_000; ms += 7) {
    r.sample(ms, [read('w', 1, { a: ms * 2 })], ['a']);
    max = Math.max(max, r.historyLength);
  }
  t.ok(max <= MIN_RATE_INTERVAL_MS / MIN_SNAPSHOT_SPACING_MS + 2, `at most ${max} snapshots kept`);
  const s = r.sample(10_010, [read('w', 1, { a: 20_020 })], ['a']);
  t.ok(s.intervalMs !== undefined && s.intervalMs >= MIN_RATE_INTERVAL_MS, 'rates still over at least the minimum interval');
  t.equal(s.rate('a'), 2000);
});
