/**
 * The soak's resource check (bench/soak/growth.ts): medians of the first
 * window after warm-up and of the last window; flat or shrinking passes,
 * growth above the limit fails, a spike inside a window does not decide,
 * and a process too short-lived for two windows is not assessed; mcrd's
 * warm-up from its GC trace ends where full GCs stop raising the committed
 * heap (capped at half the run), so a ramp that flattens passes and a slow
 * linear leak still fails.
 */
import t from 'tap';
import { checkGrowth, gcWarmup, median, type GcPoint, type ResourceSample } from '../../bench/soak/growth.js';

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

const MIN = 60_000;
const gcOpts = { minMs: 2 * MIN, capMs: 15 * MIN, stepMb: 0.5 };

t.test('gcWarmup: ends at the last full GC that raised the committed heap, within the fixed warm-up and the cap', async (t) => {
  // The 2026-12-03 30-minute run's full GCs (minutes, committed MB): the raise at 9.9 min is the last one above 0.5 MB here.
  const seen: GcPoint[] = [[0.7, 13.2], [2.4, 14.0], [4.2, 13.0], [9.9, 19.7], [12.0, 20.1], [14.0, 20.0]].map(([m, c]) => ({ atMs: m! * MIN, committedMb: c! }));
  const w = gcWarmup(seen, gcOpts);
  t.equal(w.warmupMs, 9.9 * MIN);
  t.match(w.why, /last full GC that raised the committed heap \(594 s\)/);
  t.equal(gcWarmup([], gcOpts).warmupMs, 2 * MIN, 'no full GC: the fixed warm-up');
  t.equal(gcWarmup([{ atMs: 0.5 * MIN, committedMb: 13 }], gcOpts).warmupMs, 2 * MIN, 'a raise before the fixed warm-up ends: the fixed one');
  const late = gcWarmup([{ atMs: 1 * MIN, committedMb: 13 }, { atMs: 22 * MIN, committedMb: 22 }], gcOpts);
  t.equal(late.warmupMs, 15 * MIN, 'a raise after the cap: the cap');
  t.match(late.why, /after the cap/);
  t.equal(gcWarmup([{ atMs: 1 * MIN, committedMb: 13 }, { atMs: 5 * MIN, committedMb: 13.4 }, { atMs: 9 * MIN, committedMb: 12 }], gcOpts).warmupMs, 2 * MIN,
    'steps within 0.5 MB and falls are not raises');
});

/** RSS every 10 s for 30 min, and full GCs every `gcEvery` minutes whose committed heap follows `committed`. */
const run30 = (rss: (min: number) => number, committed: (min: number) => number, gcEvery = 3) => ({
  samples: series(181, 10_000, (i) => rss(i / 6)),
  gcs: Array.from({ length: Math.floor(30 / gcEvery) }, (_, k) => ({ atMs: (k + 0.7) * gcEvery * MIN, committedMb: committed((k + 0.7) * gcEvery) })),
});
const judge = (r: ReturnType<typeof run30>) => {
  const w = gcWarmup(r.gcs, gcOpts);
  return { w, v: checkGrowth(r.samples, { warmupMs: w.warmupMs, windowMs: 2 * MIN, limit: 0.05 }) };
};

t.test('a ramp that flattens (V8 reaching its working size) passes with the GC warm-up, fails with the fixed one', async (t) => {
  // RSS 67 MB for 5 min, up to 75 MB by minute 13, then flat; committed heap 13 MB then up to 22 MB by minute 13, then flat.
  const ramp = (lo: number, hi: number) => (m: number) => (m < 5 ? lo : m < 13 ? lo + ((hi - lo) * (m - 5)) / 8 : hi);
  const r = run30(ramp(67_000, 75_000), ramp(13, 22));
  const { w, v } = judge(r);
  t.ok(w.warmupMs >= 13 * MIN && w.warmupMs <= 15 * MIN, `warm-up ${w.warmupMs / MIN} min: ${w.why}`);
  t.ok(v.assessed && v.ok, JSON.stringify(v));
  const fixed = checkGrowth(r.samples, { warmupMs: 2 * MIN, windowMs: 2 * MIN, limit: 0.05 });
  t.ok(fixed.assessed && !fixed.ok, `the fixed 2-minute warm-up fails it: ${JSON.stringify(fixed)}`);
});

t.test('a slow linear leak still fails: its committed heap rises at every full GC, so the warm-up is the cap', async (t) => {
  // RSS +20 % over 30 min (67 -> 80.4 MB), the heap growing with it.
  const r = run30((m) => 67_000 * (1 + (0.2 * m) / 30), (m) => 13 + (9 * m) / 30);
  const { w, v } = judge(r);
  t.equal(w.warmupMs, 15 * MIN, w.why);
  t.ok(v.assessed && !v.ok, `fails: ${JSON.stringify(v)}`);
  // A leak that only starts after the heap settled also fails: its raises move the warm-up to the cap.
  const late = run30((m) => (m < 10 ? 67_000 : 67_000 * (1 + (0.2 * (m - 10)) / 20)), (m) => (m < 10 ? 13 : 13 + (9 * (m - 10)) / 20));
  const j = judge(late);
  t.ok(j.v.assessed && !j.v.ok, `late leak fails: ${JSON.stringify(j.v)}`);
});
