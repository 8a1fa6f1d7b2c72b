/**
 * What one `stats` answer costs mcrd's event loop once the workers' replies
 * are in: StatsReport.build() (supervisor/stats/) over WORKERS workers'
 * counters for --rules rules × --outputs outputs, every rule counting and
 * some outputs failing by errno, as bench/metrics-scrape.ts feeds it. Each
 * run gets new counters objects, as the fleet's ping replies are (the
 * report reads them as fresh readings). Prints one JSON line: median, p95
 * and max over --runs builds (after a warm-up) of the CPU time of a build
 * (process.cpuUsage: the whole process, GC threads included) and its wall
 * time, and the load average (wall times on a busy machine include others'
 * work). bench/control-abuse.ts measures the same answer end to end, over
 * the control socket, with the workers' round-trip.
 *
 *   node dist/bench/stats-build.js [--rules 5000] [--outputs 1] [--runs 40]
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Rule } from '../proto/index.js';
import { native } from '../native/index.js';
import { summary, syntheticRules, syntheticWorkerCounters } from './synthetic-counters.js';
import { StatsReport, type CounterSlot } from '../supervisor/stats/stats-report.js';

const { values } = parseArgs({ options: { rules: { type: 'string', default: '5000' }, outputs: { type: 'string', default: '1' },
  runs: { type: 'string', default: '40' } } });
const RULES = Number(values.rules);
const OUTPUTS = Number(values.outputs);
const RUNS = Number(values.runs);
const WARMUP = 5;
const WORKERS = 2;

const rules: Rule[] = syntheticRules(RULES, OUTPUTS);
const loopNames = native.counterLayout().loop;


const report = new StatsReport();
const cpu: number[] = [];
const wall: number[] = [];
for (let i = 0; i < WARMUP + RUNS; i++) {
  const slots: CounterSlot[] = Array.from({ length: WORKERS }, (_, w) => ({ id: `eth1/${w}`, iface: 'eth1', state: 'running', restarts: 0,
    worker: { pid: 1000 + w }, counters: syntheticWorkerCounters(rules, loopNames, i + 1 + w, 1000 + w) }));
  const start = performance.now();
  const before = process.cpuUsage();
  report.build(slots, rules, start + i * 1000);
  const used = process.cpuUsage(before);
  if (i < WARMUP) continue;
  wall.push(performance.now() - start);
  cpu.push((used.user + used.system) / 1000);
}
const [load1] = loadavg();
console.log(JSON.stringify({ rules: RULES, outputs: OUTPUTS, workers: WORKERS, runs: RUNS, cpuMs: summary(cpu), wallMs: summary(wall),
  load1: Number(load1?.toFixed(2)), cpus: availableParallelism() }));
