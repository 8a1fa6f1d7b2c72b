/**
 * Rates from samples of running totals (supervisor/stats/rate-tracker.ts):
 * no rate without an earlier sample at least MIN_RATE_INTERVAL_MS old,
 * steady rates, incomplete samples not kept as references, new and removed
 * keys, never a negative rate, and the bounded history. How the totals are
 * kept across worker restarts is the ledger's (counter-ledger.test.ts).
 */
import t from 'tap';
import { MIN_RATE_INTERVAL_MS, MIN_SNAPSHOT_SPACING_MS, RateTracker } from '../../supervisor/stats/rate-tracker.js';

const totals = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));

t.test('the first sample has no rate; the next one at least the minimum interval later has', async (t) => {
  const r = new RateTracker<string>();
  const first = r.sample(0, totals({ a: 500 }), true);
  t.equal(first.intervalMs, undefined, 'no interval on the first sample');
  t.equal(first.rate('a'), undefined, 'no rate on the first sample, not 0');
  const soon = r.sample(MIN_RATE_INTERVAL_MS - 1, totals({ a: 900 }), true);
  t.equal(soon.intervalMs, undefined, 'too close to the only earlier sample: still no rate');
  const second = r.sample(MIN_RATE_INTERVAL_MS, totals({ a: 1500 }), true);
  t.equal(second.intervalMs, MIN_RATE_INTERVAL_MS, 'from the first sample');
  t.equal(second.rate('a'), (1000 * 1000) / MIN_RATE_INTERVAL_MS, '1000 packets over the interval');
});

t.test('a rate is taken from the newest sample at least the minimum interval old', async (t) => {
  const r = new RateTracker<string>();
  r.sample(0, totals({ a: 0 }), true);
  r.sample(1000, totals({ a: 1000 }), true);
  // 200 ms after the sample at 1000: that one is too recent, 0 is the reference.
  const s = r.sample(1200, totals({ a: 1300 }), true);
  t.equal(s.intervalMs, 1200);
  t.equal(s.rate('a'), (1300 * 1000) / 1200);
  const later = r.sample(2200, totals({ a: 2300 }), true);
  t.equal(later.intervalMs, 1000, 'now the sample at 1200 is the newest old enough');
  t.equal(later.rate('a'), 1000);
});

t.test('an incomplete sample gets rates but is not kept as a reference', async (t) => {
  const r = new RateTracker<string>();
  r.sample(0, totals({ a: 0 }), true);
  r.sample(1000, totals({ a: 1000 }), true);
  const partial = r.sample(2000, totals({ a: 1500 }), false);
  t.equal(partial.rate('a'), 500, 'rates still come, from what the totals hold');
  // The missing share arrives: spread over the interval since the last complete sample, not crammed into one second.
  const back = r.sample(3000, totals({ a: 3000 }), true);
  t.equal(back.intervalMs, 2000, 'measured from the last complete sample');
  t.equal(back.rate('a'), 1000);
});

t.test('keys: a key added since the reference has no rate; a removed one neither; never negative', async (t) => {
  const r = new RateTracker<string>();
  r.sample(0, totals({ a: 0 }), true);
  const s = r.sample(1000, totals({ a: 100, b: 50 }), true);
  t.equal(s.rate('a'), 100);
  t.equal(s.rate('b'), undefined, 'b did not exist at the reference');
  t.equal(s.rate('c'), undefined, 'unknown key');
  const next = r.sample(2000, totals({ a: 200, b: 150 }), true);
  t.equal(next.rate('b'), 100, 'b has a rate once it has a reference');
  const gone = r.sample(3000, totals({ a: 300 }), true);
  t.equal(gone.rate('b'), undefined, 'b removed');
  const down = r.sample(4000, totals({ a: 10 }), true);
  t.equal(down.rate('a'), 0, 'a total that went down (it never should) gives 0, not a negative rate');
});

t.test('the history stays small whatever the request rate', async (t) => {
  const r = new RateTracker<string>();
  let max = 0;
  for (let ms = 0; ms <= 10_000; ms += 7) {
    r.sample(ms, totals({ a: ms * 2 }), true);
    max = Math.max(max, r.historyLength);
  }
  t.ok(max <= MIN_RATE_INTERVAL_MS / MIN_SNAPSHOT_SPACING_MS + 2, `at most ${max} snapshots kept`);
  const s = r.sample(10_010, totals({ a: 20_020 }), true);
  t.ok(s.intervalMs !== undefined && s.intervalMs >= MIN_RATE_INTERVAL_MS, 'rates still over at least the minimum interval');
  t.equal(s.rate('a'), 2000);
});
