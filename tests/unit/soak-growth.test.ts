/**
 * The soak's resource check (bench/soak/growth.ts): medians of the first
 * window after warm-up and of the last window; flat or shrinking passes,
 * growth above the limit fails, a spike inside a window does not decide,
 * and a process too short-lived for two windows is not assessed.
 */
import t from 'tap';
import { checkGrowth, median, type ResourceSample } from '../../bench/soak/growth.js';

const series = (n: number, everyMs: number, value: (i: number) => number): ResourceSample[] =>
  Array.from({ length: n }, (_, i) => ({ atMs: i * everyMs, value: value(i) }));
const opts = { warmupMs: 60_000, windowMs: 60_000, limit: 0.05 };

t.test('median of odd and even counts, and of nothing', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
});

t.test('flat after warm-up passes, even with a big warm-up climb', async (t) => {
  const v = checkGrowth(series(61, 10_000, (i) => (i < 6 ? 1000 + i * 500 : 5000)), opts);
  t.ok(v.assessed && v.ok, JSON.stringify(v));
  t.equal(v.assessed ? v.growth : NaN, 0);
});

t.test('4 % growth passes, 6 % fails, shrinking passes', async (t) => {
  const grow = (to: number) => checkGrowth(series(61, 10_000, (i) => 1000 + ((to - 1000) * i) / 60), opts);
  const four = grow(1052);
  const six = grow(1078);
  t.ok(four.assessed && four.ok, `+4 %: ${JSON.stringify(four)}`);
  t.ok(six.assessed && !six.ok, `+6 %: ${JSON.stringify(six)}`);
  const shrink = checkGrowth(series(61, 10_000, (i) => 2000 - i), opts);
  t.ok(shrink.assessed && shrink.ok && shrink.growth < 0);
});

t.test('one spike in the last window does not fail a flat process', async (t) => {
  const v = checkGrowth(series(61, 10_000, (i) => (i === 59 ? 9000 : 1000)), opts);
  t.ok(v.assessed && v.ok, JSON.stringify(v));
});

t.test('too short a life is not assessed, and says why', async (t) => {
  const v = checkGrowth(series(15, 10_000, () => 1000), opts);
  t.notOk(v.assessed);
  t.match(v.assessed ? '' : v.reason, /lived 140 s: less than warm-up \+ two windows \(180 s\)/);
  t.notOk(checkGrowth([], opts).assessed, 'no samples');
});

t.test('the warm-up counts from the process start when given', async (t) => {
  // Sampled from 100 s on, started at 0: 100..300 s covers warm-up (60) + two windows (120).
  const samples = series(21, 10_000, () => 500).map((s) => ({ ...s, atMs: s.atMs + 100_000 }));
  t.ok(checkGrowth(samples, { ...opts, startMs: 0 }).assessed);
});

t.test('from zero: any growth is infinite and fails; zero stays ok', async (t) => {
  const up = checkGrowth(series(61, 10_000, (i) => (i < 30 ? 0 : 3)), opts);
  t.ok(up.assessed && !up.ok);
  const zero = checkGrowth(series(61, 10_000, () => 0), opts);
  t.ok(zero.assessed && zero.ok);
});
