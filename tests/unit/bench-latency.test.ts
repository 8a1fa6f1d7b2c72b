/**
 * The bench's latency figures without a lab: the median and min..max of
 * each percentile over repeated trials (trials that measured nothing are
 * left out), and the report's Latency section: one row per method, payload
 * and load with "median (min–max)", MCR as a ratio to each userspace anchor
 * at the same load and, matched by rate, at the same offered rate, and no
 * section for a run without latency trials; the generator's command under
 * SCHED_FIFO (bench:latency's diagnostic variants), and no catch-up burst in
 * latency trials, which the report states.
 */
import t from 'tap';
import { LATENCY_GENERATOR_CATCH_UP_US, preset, type MethodName } from '../../bench/config.js';
import { generatorCommand } from '../../bench/generator.js';
import { median, summarise, type LatencyTrial, type SinkLatency } from '../../bench/latency.js';
import { catchUpText, latencySection, spread } from '../../bench/latency-report.js';
import { renderMarkdown } from '../../bench/report-md.js';
import type { BenchResults, CellResult } from '../../bench/results.js';

function lat(p50: number, p99: number, p999: number, max: number, count = 1000): SinkLatency {
  return { count, untimed: 0, noKernelTime: 0, negative: 0, overflow: 0, minUs: p50 / 2, p50Us: p50, p99Us: p99, p999Us: p999, maxUs: max, meanUs: p50 };
}
const trial = (l: SinkLatency): LatencyTrial => ({ sent: 1000, received: l.count, latency: l });

t.test('median of sorted values, odd and even counts', async (t) => {
  t.equal(median([]), 0);
  t.equal(median([5]), 5);
  t.equal(median([1, 2, 9]), 2);
  t.equal(median([1, 2, 4, 9]), 3);
});

t.test('summarise: median and spread per percentile, empty trials left out', async (t) => {
  const s = summarise([trial(lat(30, 100, 300, 900)), trial(lat(40, 80, 200, 5000)), trial(lat(35, 120, 250, 700)),
    trial({ ...lat(0, 0, 0, 0, 0), minUs: null, p50Us: null, p99Us: null, p999Us: null, maxUs: null })]);
  t.same(s?.p50Us, { median: 35, min: 30, max: 40 });
  t.same(s?.p99Us, { median: 100, min: 80, max: 120 });
  t.same(s?.p999Us, { median: 250, min: 200, max: 300 });
  t.same(s?.maxUs, { median: 900, min: 700, max: 5000 });
  t.equal(summarise([]), undefined, 'nothing measured: no summary');
  t.equal(spread({ median: 35, min: 30, max: 40 }), '35 (30–40)');
  t.equal(spread({ median: 12_345, min: 12_345, max: 12_345 }), '12345', 'one value when the trials agree');
});

function cellWith(method: MethodName, p50s: number[], p99s: number[]): CellResult {
  const point = (load: number, k: number) => {
    const trials = p50s.map((p50, i) => trial(lat(p50 * k, (p99s[i] ?? 0) * k, 1000, 2000)));
    return { load, ratePps: 10_000 * load * 10, trials, summary: summarise(trials) };
  };
  return { method, payload: 64, fanout: 1, latency: { basisPps: 100_000, points: [point(0.1, 1), point(0.5, 2)] } };
}

function results(cells: CellResult[], withLatency = true): BenchResults {
  const config = { ...preset('quick', '/nonexistent'), payloads: [64], fanouts: [1], experiments: undefined };
  if (!withLatency) config.latency = undefined;
  return {
    schema: 'mcr-bench/1', startedAt: '2026-12-04T00:00:00Z', config, lossThreshold: 1e-4,
    host: { cpuModel: 'cpu', kernel: '6.18', cores: 2, loadavgAtStart: '0', backgroundUtil: [0, 0] },
    versions: { node: 'v20', mcrCommit: 'abc' }, generatorMax: [], cells, errors: [],
  };
}

t.test('the Latency section: a row per method and load, MCR ÷ each userspace anchor', async (t) => {
  const cells = [cellWith('mcr', [30, 33, 40], [100, 150, 300]), cellWith('c-mmsg', [37, 37, 50], [60, 61, 70]),
    cellWith('nft', [10, 10, 10], [20, 20, 20])];
  const md = renderMarkdown(results(cells));
  t.match(md, '## Latency (one-way, µs)');
  t.match(md, '| MCR | 64 | 10 % | 10.0 kpps | 33 (30–40) | 150 (100–300) | 1000 | 2000 | 3000/3000 |');
  t.match(md, '| MCR | 64 | 50 % | 50.0 kpps | 66 (60–80) | 300 (200–600) |');
  t.match(md, '| C recvmmsg | 64 | 10 % | 10.0 kpps | 37 (37–50) | 61 (60–70) |');
  t.match(md, '| nftables netdev | 64 | 10 % |', 'in-kernel anchors are listed');
  // Ratios only against userspace anchors: c-mmsg here, not nft.
  t.match(md, '| payload B | load | C recvmmsg |');
  t.match(md, `| 64 | 10 % | ${(33 / 37).toFixed(2)}× / ${(150 / 61).toFixed(2)}× |`);
  t.match(md, `| 64 | 50 % | ${(66 / 74).toFixed(2)}× / ${(300 / 122).toFixed(2)}× |`);
});

t.test('equal-rate points: a row per method that carries the rate, MCR ÷ anchor matched by rate, "–" where one was not measured', async (t) => {
  const at = (ratePps: number, p50: number, p99: number) => {
    const trials = [trial(lat(p50, p99, 1000, 2000))];
    return { ratePps, trials, summary: summarise(trials) };
  };
  const withEqual = (method: MethodName, basisPps: number, points: ReturnType<typeof at>[]): CellResult =>
    ({ method, payload: 64, fanout: 1, latency: { basisPps, points } });
  const cells = [
    withEqual('mcr', 500_000, [at(10_000, 20, 80), at(100_000, 30, 200)]),
    withEqual('c-mmsg', 200_000, [at(10_000, 25, 60), at(100_000, 40, 100)]),
    // socat carries 20 kpps: measured at 10 kpps only.
    withEqual('socat', 20_000, [at(10_000, 80, 140)]),
  ];
  const r = results(cells);
  t.same(r.config.latency?.equalRatesPps, [10_000, 100_000], 'the presets measure at 10 and 100 kpps');
  const md = latencySection(r).join('\n');
  t.match(md, '| MCR | 64 | equal rate | 100 kpps | 30 | 200 |');
  t.match(md, 'MCR ÷ userspace anchor at the same offered rate');
  t.match(md, '| payload B | rate | C recvmmsg | socat |');
  t.match(md, `| 64 | 10.0 kpps | ${(20 / 25).toFixed(2)}× / ${(80 / 60).toFixed(2)}× | ${(20 / 80).toFixed(2)}× / ${(80 / 140).toFixed(2)}× |`);
  t.match(md, `| 64 | 100 kpps | ${(30 / 40).toFixed(2)}× / ${(200 / 100).toFixed(2)}× | – / – |`, 'socat has no 100 kpps point');
  t.notMatch(md, 'same fraction of its own', 'no same-fraction ratios without fraction points');
});

t.test('a cell without a zero-loss rate says so; a run without latency has no section', async (t) => {
  const skipped: CellResult = { method: 'socat', payload: 64, fanout: 1, latency: { basisPps: 0, points: [], skipped: 'no zero-loss rate to take a fraction of' } };
  const md = latencySection(results([cellWith('mcr', [30], [100]), skipped])).join('\n');
  t.match(md, '| socat | 64 | – | – | not measured: no zero-loss rate to take a fraction of |');
  t.same(latencySection(results([cellWith('mcr', [30], [100])], false)), [], 'latency off: nothing');
  t.same(latencySection(results([])), [], 'no cells with latency: nothing');
});

t.test("mcrd settings rows: latency at the fixed rate and the p50 each adds to the defaults", async (t) => {
  const point = (p50: number) => {
    const trials = [trial(lat(p50, p50 * 3, p50 * 4, p50 * 5))];
    return { ratePps: 10_000, trials, summary: summarise(trials) };
  };
  const r = results([]);
  r.experiments = {
    payload: 64, fanout: 1, ratePps: 0, basis: '', batch: [], ringDepth: [],
    settings: [
      { variant: 'mcrd defaults', tuning: {}, mcrdArgs: [], latency: point(33) },
      { variant: '--coalesce-us 20', tuning: {}, mcrdArgs: ['--coalesce-us', '20'], latency: point(77) },
      { variant: '--busy-poll-us 1000', tuning: {}, mcrdArgs: ['--busy-poll-us', '1000'], latency: point(22) },
    ],
  };
  const md = latencySection(r).join('\n');
  t.match(md, 'mcrd settings at a fixed 10.0 kpps (fan-out 1, 64 B)');
  t.match(md, '| mcrd defaults | 33 | 99 | 132 | 165 | 1000/1000 | +0 |');
  t.match(md, '| --coalesce-us 20 | 77 | 231 | 308 | 385 | 1000/1000 | +44 |');
  t.match(md, '| --busy-poll-us 1000 | 22 | 66 | 88 | 110 | 1000/1000 | -11 |');
});

t.test('the generator under SCHED_FIFO: chrt around taskset, a normal task at 0, bad priorities refused', async (t) => {
  const args = ['-c', '0', '/x/mcrgen', '--rate', '1000'];
  t.same(generatorCommand(args, 0), ['taskset', args]);
  t.same(generatorCommand(args, 1), ['chrt', ['-f', '1', 'taskset', ...args]]);
  for (const bad of [-1, 100, 1.5]) t.throws(() => generatorCommand(args, bad), { code: 'ERR_BENCH_ARG' });
});

t.test('latency trials: no catch-up burst by default, and the report says how much the generator made up', async (t) => {
  const l = preset('full', '/tmp').latency;
  if (l === undefined) throw new Error('the full preset has latency trials');
  t.equal(l.generatorCatchUpUs, LATENCY_GENERATOR_CATCH_UP_US);
  t.equal(preset('quick', '/tmp').latency?.generatorCatchUpUs, 0);
  t.match(catchUpText(l), /none of its own stalls.*--catch-up-us 0/);
  t.match(catchUpText({ ...l, generatorCatchUpUs: 500 }), /up to 500 µs.*--catch-up-us 500/);
  const older = { ...l };
  delete older.generatorCatchUpUs;
  t.match(catchUpText(older), /2 ms.*before 2026-12-06/);
  const section = latencySection(results([cellWith('mcr', [30, 33, 40], [100, 150, 300])])).join('\n');
  t.match(section, /none of its own stalls/);
});
