/**
 * The suite's interleaved latency rounds without a lab (a fake start and a
 * fake trial): each round starts every method once and stops it, the order
 * rotates by one per round, each method is measured at its loads and at
 * the equal rates it carries, a method without a zero-loss rate is marked
 * skipped, a failing trial ends its point, a failing start records its
 * error and a failing stop is reported, and the medians come from all the
 * rounds' trials.
 */
import t from 'tap';
import { preset, type LatencyConfig, type MethodName } from '../../bench/config.js';
import { latencyRounds, rotate, type RoundHooks } from '../../bench/latency-rounds.js';
import type { LatencyTrial } from '../../bench/latency.js';
import type { CellResult } from '../../bench/results.js';
import type { SearchResult } from '../../bench/search.js';

const config: LatencyConfig = { loads: [0.1, 0.5], trials: 3, trialSec: 2, settingsPps: 10_000, equalRatesPps: [10_000, 100_000], interleaved: true };

function cell(method: MethodName, zeroLossPps: number): CellResult {
  return { method, payload: 64, fanout: 1, search: { zeroLossPps } as SearchResult };
}

function trialAt(p50: number): LatencyTrial {
  return { sent: 100, received: 100, latency: { count: 100, untimed: 0, noKernelTime: 0, negative: 0, overflow: 0,
    minUs: 1, p50Us: p50, p99Us: 2 * p50, p999Us: 3 * p50, maxUs: 4 * p50, meanUs: p50 } };
}

/** Runs the rounds with a fake lab: `events` records starts, trials and stops in order. */
async function run(cells: CellResult[], opts: { failStart?: (m: MethodName, round: number) => boolean; failTrial?: (m: MethodName, rate: number) => boolean;
  failStop?: boolean } = {}) {
  const events: string[] = [];
  const errors: string[] = [];
  const starts = new Map<MethodName, number>();
  let current: MethodName | undefined;
  const hooks: RoundHooks = { log: () => undefined, failed: (where, e) => errors.push(`${where}: ${e.code}`) };
  await latencyRounds(config, 64, cells, async (c) => {
    const n = starts.get(c.method) ?? 0;
    starts.set(c.method, n + 1);
    events.push(`start ${c.method}`);
    if (opts.failStart?.(c.method, n) === true) throw Object.assign(new Error('no start'), { code: 'ERR_BENCH_NOT_FORWARDING' });
    current = c.method;
    return { stop: async () => {
      events.push(`stop ${c.method}`);
      current = undefined;
      if (opts.failStop === true) throw Object.assign(new Error('stuck'), { code: 'ERR_BENCH_STOP' });
    } };
  }, async (rate) => {
    const m = current as MethodName;
    events.push(`trial ${m} ${rate}`);
    if (opts.failTrial?.(m, rate) === true) throw Object.assign(new Error('no report'), { code: 'ERR_BENCH_TOOL_OUTPUT' });
    // Each method's p50 is its round number, so the median shows all rounds were used.
    return trialAt(10 * (starts.get(m) ?? 0));
  }, hooks);
  return { events, errors };
}

t.test('rotate: every start position, wrapping, and the empty list', async (t) => {
  t.same(rotate([1, 2, 3], 0), [1, 2, 3]);
  t.same(rotate([1, 2, 3], 1), [2, 3, 1]);
  t.same(rotate([1, 2, 3], 5), [3, 1, 2]);
  t.same(rotate([], 2), []);
});

t.test('each round starts every method once, in an order rotated per round, and runs each of its points once', async (t) => {
  // socat (no zero-loss rate) and gstreamer (failed before its search: no search result) come first and are
  // never started; the rotation is over the methods measured, so mcr and c-mmsg take turns going first.
  const failed: CellResult = { method: 'gstreamer', payload: 64, fanout: 1, error: { code: 'ERR_BENCH_NOT_FORWARDING', message: 'x' } };
  const cells = [cell('socat', 0), failed, cell('mcr', 400_000), cell('c-mmsg', 50_000)];
  const { events, errors } = await run(cells);
  t.same(events.filter((e) => e.startsWith('start')), ['start mcr', 'start c-mmsg', 'start c-mmsg', 'start mcr', 'start mcr', 'start c-mmsg'],
    'rounds 1-3 alternate which method goes first; socat and gstreamer are never started');
  t.equal(failed.latency, undefined, 'a cell without a search result gets no latency');
  // mcr: 10 % and 50 % of 400 k, then both equal rates; c-mmsg: its loads and only the 10 k equal rate (100 k > its 50 k).
  t.same(events.slice(0, 12), ['start mcr', 'trial mcr 40000', 'trial mcr 200000', 'trial mcr 10000', 'trial mcr 100000', 'stop mcr',
    'start c-mmsg', 'trial c-mmsg 5000', 'trial c-mmsg 25000', 'trial c-mmsg 10000', 'stop c-mmsg', 'start c-mmsg']);
  t.same(errors, []);
  const mcr = cells[2]?.latency;
  t.same(mcr?.points.map((p) => [p.load, p.ratePps, p.trials.length]), [[0.1, 40_000, 3], [0.5, 200_000, 3], [undefined, 10_000, 3], [undefined, 100_000, 3]]);
  t.same(mcr?.points[0]?.summary?.p50Us, { median: 20, min: 10, max: 30 }, 'the median is over the three rounds');
  t.equal(cells[3]?.latency?.points.length, 3);
  t.equal(cells[0]?.latency?.skipped, 'no zero-loss rate to take a fraction of');
});

t.test('a failing trial ends its point; the other points and methods go on', async (t) => {
  const cells = [cell('mcr', 400_000), cell('c-mmsg', 50_000)];
  const { events } = await run(cells, { failTrial: (m, rate) => m === 'mcr' && rate === 200_000 });
  t.equal(events.filter((e) => e === 'trial mcr 200000').length, 1, 'tried once, not in later rounds');
  const p = cells[0]?.latency?.points[1];
  t.equal(p?.error?.code, 'ERR_BENCH_TOOL_OUTPUT');
  t.equal(p?.summary, undefined, 'no trial measured: no summary');
  t.equal(cells[0]?.latency?.points[0]?.trials.length, 3);
  t.same(cells[0]?.latency?.points.slice(2).map((q) => [q.ratePps, q.trials.length, q.error]), [[10_000, 3, undefined], [100_000, 3, undefined]],
    'the points after the failed one in the same round are measured in every round');
  t.equal(cells[1]?.latency?.points[0]?.trials.length, 3);
});

t.test('a point\'s summary follows each trial, so a run stopped between rounds keeps what it measured', async (t) => {
  const cells = [cell('mcr', 400_000)];
  let trials = 0;
  const seen: Array<number | undefined> = [];
  await latencyRounds(config, 64, cells, async () => ({ stop: async () => undefined }), async () => {
    // Before this trial is recorded: the summary of the trials so far (none before the first).
    seen.push(cells[0]?.latency?.points[0]?.summary?.p50Us.median);
    trials++;
    return trialAt(10 * trials);
  }, { log: () => undefined, failed: () => undefined });
  // Point 0 is measured at trials 1, 5 and 9 (four points a round).
  t.same([seen[0], seen[4], seen[8]], [undefined, 10, 30], "none, then trial 1 (10), then the median of trials 1 and 5 (10, 50)");
});

t.test('a method that fails to start records the error on its open points and keeps earlier rounds\' trials', async (t) => {
  const cells = [cell('mcr', 400_000), cell('c-mmsg', 50_000)];
  const { events, errors } = await run(cells, { failStart: (m, n) => m === 'c-mmsg' && n === 1 });
  t.same(errors, ['c-mmsg 64 B ×1 latency round 2 start: ERR_BENCH_NOT_FORWARDING'], 'the failed start is in the run\'s errors');
  t.equal(events.filter((e) => e === 'stop c-mmsg').length, 1, 'only the start that worked is stopped');
  t.equal(events.filter((e) => e === 'start c-mmsg').length, 2, 'not started again after its failure');
  for (const p of cells[1]?.latency?.points ?? []) {
    t.equal(p.error?.code, 'ERR_BENCH_NOT_FORWARDING');
    t.equal(p.trials.length, 1, 'round 1 kept');
    t.ok(p.summary !== undefined);
  }
  t.equal(cells[0]?.latency?.points[0]?.trials.length, 3, 'the other method measured every round');
});

t.test('a stop that fails is reported as the run\'s error and the rounds go on', async (t) => {
  const cells = [cell('mcr', 400_000)];
  const { errors } = await run(cells, { failStop: true });
  t.same(errors, ['mcr 64 B ×1 latency round 1 stop: ERR_BENCH_STOP', 'mcr 64 B ×1 latency round 2 stop: ERR_BENCH_STOP',
    'mcr 64 B ×1 latency round 3 stop: ERR_BENCH_STOP']);
  t.equal(cells[0]?.latency?.points[0]?.trials.length, 3);
});

t.test('the presets interleave, and the report says how the trials ran', async (t) => {
  t.equal(preset('full', '/tmp').latency?.interleaved, true);
  t.equal(preset('quick', '/tmp').latency?.interleaved, true);
  const { interleavedText } = await import('../../bench/latency-report.js');
  t.match(interleavedText(config), /each round started every method in turn/);
  const older = { ...config };
  delete older.interleaved;
  t.match(interleavedText(older), /back to back after its own search.*before 2026-12-06T21-26-55Z/);
});

t.test('the estimate leaves out the methods the host cannot measure, per family', async (t) => {
  const { estimateSec } = await import('../../bench/config.js');
  const full = preset('full', '/tmp');
  const all = estimateSec(full);
  const oneMethod = { ...full, methods: ['mcr' as const] };
  const noKernel = estimateSec(full, { v4: ['kernel'], v6: ['kernel'] });
  // Every family's cells, latency rounds and all, scale with the methods
  // measured: leaving out one of n takes one method's share.
  const perMethod = estimateSec({ ...oneMethod, experiments: undefined }) - estimateSec({ ...oneMethod, methods: [], experiments: undefined });
  t.ok(Math.abs(all - noKernel - perMethod) < 1e-6, `without the kernel: ${all - noKernel} s less, one method's share is ${perMethod} s`);
  const v6Only = estimateSec(full, { v4: [], v6: ['kernel'] });
  t.ok(v6Only < all && v6Only > noKernel, `skipped over IPv6 only: ${v6Only} s, between ${noKernel} and ${all}`);
  t.equal(estimateSec(full, { v4: [], v6: [] }), all, 'nothing skipped: the estimate before the check');
});

t.test('the estimate counts a start per method, payload and round', async (t) => {
  const { estimateSec, LATENCY_ROUND_START_SEC, LATENCY_TRIAL_OVERHEAD_SEC } = await import('../../bench/config.js');
  const base = { ...preset('full', '/tmp'), payloads: [64], fanouts: [1], methods: ['mcr' as const], experiments: undefined, families: [4 as const] };
  const l = base.latency as LatencyConfig;
  const withRounds = estimateSec(base);
  const without = estimateSec({ ...base, latency: undefined });
  const points = l.loads.length + (l.equalRatesPps?.length ?? 0);
  const expected = l.trials * (points * (l.trialSec + LATENCY_TRIAL_OVERHEAD_SEC) + LATENCY_ROUND_START_SEC);
  t.ok(Math.abs(withRounds - without - expected) < 1e-6, `the latency phase adds ${withRounds - without} s, expected ${expected} s`);
});
