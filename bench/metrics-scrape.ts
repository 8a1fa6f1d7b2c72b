/**
 * How long one scrape of mcrd's metrics endpoint takes with 1000 rules × 4
 * outputs (issue 13 asks for under 50 ms): the stats answer built by
 * StatsReport from two workers' counters (what the `stats` request does
 * once the workers' replies are in), then every metric group's update and
 * prom-client's text. The workers' round-trip is not in it: that is I/O the
 * event loop waits on, not work it does. Prints one JSON line: median, p95
 * and max over RUNS scrapes after WARMUP of the wall time of a scrape, of
 * its CPU time (the whole process's: V8's GC threads included) and of the
 * wall time of its stats answer alone (which `mcrctl stats` pays too); the
 * size of the text and its number of series; the load average, since wall
 * times on a busy machine include others' work (`chrt -f 10 node ...` keeps
 * them out of the benchmark's core).
 *
 *   node dist/bench/metrics-scrape.js [--rules N] [--outputs N] [--runs N]
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Rule, WorkerInfo } from '../proto/index.js';
import { native } from '../native/index.js';
import { summary, syntheticRules, syntheticWorkerCounters } from './synthetic-counters.js';
import { MetricsCollector } from '../supervisor/metrics/collector.js';
import { counterNames, type MetricsSnapshot } from '../supervisor/metrics/snapshot.js';
import { StatsReport, type CounterSlot } from '../supervisor/stats/stats-report.js';

const { values } = parseArgs({ options: { rules: { type: 'string', default: '1000' }, outputs: { type: 'string', default: '4' },
  runs: { type: 'string', default: '50' } } });
const RULES = Number(values.rules);
const OUTPUTS = Number(values.outputs);
const RUNS = Number(values.runs);
const WARMUP = 5;
const WORKERS = 2;

const rules: Rule[] = syntheticRules(RULES, OUTPUTS);
const names = counterNames(native.counterLayout());


const workers: WorkerInfo[] = Array.from({ length: WORKERS }, (_, w) => ({ id: `eth1/${w}`, interface: 'eth1', core: w, pid: 1000 + w,
  state: 'running', restarts: 0, generation: 1, logLevel: 'info', startedAtMs: 0 }));
/**
 * New counters objects for every scrape, as the fleet's ping replies are (the
 * report reads them as fresh); made just before each timed scrape (in mcrd
 * they arrive decoded from the workers' replies), and only one round at a
 * time, so the heap holds what mcrd's would.
 */
const slotsFor = (round: number): CounterSlot[] => workers.map((w, i) =>
  ({ id: w.id, iface: w.interface, state: 'running', restarts: 0, worker: { pid: w.pid }, counters: syntheticWorkerCounters(rules, native.counterLayout().loop, round + 1 + i) }));
const report = new StatsReport();
let next: CounterSlot[] = [];
let lastStatsMs = 0;
const source = async (): Promise<MetricsSnapshot> => {
  const start = performance.now();
  const stats = report.build(next, rules, start);
  lastStatsMs = performance.now() - start;
  return { stats, rules, workers, reload: { successful: true, lastSuccessSeconds: Date.now() / 1000 } };
};
const collector = new MetricsCollector({ source, names, version: 'bench' });

const wall: number[] = [];
const cpu: number[] = [];
const statsWall: number[] = [];
let text = '';
for (let i = 0; i < WARMUP + RUNS; i++) {
  next = slotsFor(i);
  const start = performance.now();
  const before = process.cpuUsage();
  text = await collector.scrape();
  const used = process.cpuUsage(before);
  if (i < WARMUP) continue;
  wall.push(performance.now() - start);
  cpu.push((used.user + used.system) / 1000);
  statsWall.push(lastStatsMs);
}
/** Median, p95 and max of a list of milliseconds, to 0.1 ms. */
const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
const [load1] = loadavg();
// CPU time is what a scrape costs mcrd; wall time also holds whatever else this machine ran meanwhile (load1 says how busy it was).
console.log(JSON.stringify({ rules: RULES, outputs: OUTPUTS, workers: WORKERS, runs: RUNS, wallMs: summary(wall), cpuMs: summary(cpu),
  statsWallMs: summary(statsWall), bytes: Buffer.byteLength(text), series, load1: Number(load1?.toFixed(2)), cpus: availableParallelism() }));
