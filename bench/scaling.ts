#!/usr/bin/env node
/**
 * `npm run bench:scaling`: what a second worker gives on one input. In the
 * benchmark lab (same steering as `npm run bench`), mcrd forwards
 * 239.1.1.1:5000 to out0 in four cells, each a zero-loss search (loss ≤
 * 0.01 %): one worker (`taskset -c 1`, core 1) or two (`taskset -c 0,1`:
 * worker 0 on core 0, worker 1 on core 1), offered one flow or `--flows`
 * flows (one mcrgen per flow, each its own fixed source port, the rate
 * split evenly). The generators and the sink's receive work run on core 0 in
 * every cell, so with two workers worker 0 shares core 0 with them; the
 * relay input's receive softirq (RPS), where the kernel picks a fan-out
 * member for each frame, stays on core 1. `--rounds` repeats the four
 * cells so the report shows the spread on a shared host.
 *
 * The main suite's generator is one flow (one mcrgen), which
 * PACKET_FANOUT_HASH always gives to one worker: a 2-worker cell there would
 * measure one worker. Hence this separate run, with its own small search:
 * max rate, halve until a trial passes, bisect, one verifying repeat
 * (step down 10 % up to twice if it fails).
 *
 * Writes bench/results/<stamp>-scaling.{json,md} and prints the table.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { intOption } from './cli-int.js';
import { ControlClient } from '../common/control-client.js';
import { packageRoot, nativeToolPath } from '../tools/native-tool.js';
import { labUnavailableReason, type LabProcess } from './lab/index.js';
import { pollUntil } from './lab/time.js';
import { createBenchLab, readSinkRx, type BenchLab } from './bench-lab.js';
import { GROUP, LOSS_THRESHOLD, OTHER_CPU, PORT, TTL } from './config.js';
import { GEN_GSO } from './generator.js';
import { busyShareBetween, hostDescription, readCpuTimes } from './host-counters.js';
import { fileStamp } from './results.js';
import { pinRunnerOffRelayCore } from './pin-runner.js';
import { loadavg } from './suite.js';

interface Args { flows: number; size: number; duration: number; steps: number; rounds: number; mcrdArgs: string[]; out: string }

interface Cell { workers: number; cpus: string; flows: number }

interface Trial {
  rate: number;
  sent: number;
  received: number;
  loss: number;
  pass: boolean;
  /** Busy share of core 0 and core 1 over the trial window. */
  coreBusy: number[];
  /** Datagrams each worker received (stats), by worker id. */
  perWorker: Record<string, number>;
}

interface CellResult extends Cell {
  round: number;
  zeroLossPps: number;
  generatorLimited: boolean;
  verified: boolean;
  reported?: Trial;
  trials: Trial[];
  loadavg: string;
}

const READY_MS = 30_000;
/**
 * Flow i comes from this port + i: the same 5-tuples in every trial, so the
 * kernel's hash splits the flows over the workers the same way each time (a
 * fresh ephemeral port per trial would draw a new split every trial).
 */
const SOURCE_PORT = 40_000;

function parseArgs(argv: string[]): Args {
  const o = new Command('bench:scaling')
    .description('zero-loss rate of mcrd with 1 and 2 workers on one input, offered 1 flow and several')
    .option('--flows <n>', 'flows in the multi-flow cells (one mcrgen each)', intOption(2, 64), 16)
    .option('--size <bytes>', 'UDP payload bytes', intOption(18, 1472), 64)
    .option('--duration <sec>', 'seconds of traffic per trial', intOption(1, 60), 2)
    .option('--steps <n>', 'bisection steps', intOption(1, 12), 3)
    .option('--rounds <n>', 'times the four cells are measured, interleaved', intOption(1, 10), 2)
    .option('--mcrd-args <flags>', "extra mcrd flags, space-separated (default: none, mcrd's defaults)", '')
    .option('--out <dir>', 'results directory', join(packageRoot(), 'bench', 'results'))
    .parse(argv)
    .opts<{ flows: number; size: number; duration: number; steps: number; rounds: number; mcrdArgs: string; out: string }>();
  return { ...o, mcrdArgs: o.mcrdArgs.split(/\s+/).filter((x) => x !== '') };
}

interface Fleet { proc: LabProcess; client: ControlClient; dir: string }

/** mcrd with `workers` workers on the input, restricted to `cpus` (worker i on the (i mod n)-th of them). */
async function startFleet(bl: BenchLab, cell: Cell, a: Args): Promise<Fleet> {
  const { rl } = bl;
  const dir = mkdtempSync(join(tmpdir(), 'mcr-scaling-'));
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'scaling.json5');
  const out = rl.relay.outputs[0];
  if (out === undefined) throw new Error('the bench lab has no output');
  writeFileSync(config, JSON.stringify({ rules: [{ name: 'scaling', inputInterface: rl.relay.input.ifname, inputGroup: GROUP, inputPort: PORT,
    outputs: [{ group: GROUP, port: PORT, interface: out.ifname }] }] }));
  const proc = rl.lab.spawn(rl.relay.ns, 'taskset', ['-c', cell.cpus, process.execPath, join(packageRoot(), 'dist', 'supervisor', 'mcrd.js'),
    '--config', config, '--control-socket', socket, '--workers', String(cell.workers), '--log-level', 'warn', ...a.mcrdArgs], { maxLines: 2000 });
  const client = new ControlClient({ requestTimeoutMs: 10_000 });
  const ready = await pollUntil(async () => {
    if (!client.connected) await client.connect(socket).catch(() => undefined);
    if (!client.connected) return false;
    const rows = (await client.request({ kind: 'workers' }).catch(() => ({ workers: [] })) as { workers: Array<{ state: string }> }).workers;
    return rows.filter((w) => w.state === 'running').length === cell.workers;
  }, READY_MS, 200);
  if (!ready) {
    client.close();
    await proc.stop('SIGKILL', 2000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mcrd did not run ${cell.workers} workers within ${READY_MS / 1000} s: ${proc.stdoutLines.slice(-2).join(' | ')}`);
  }
  return { proc, client, dir };
}

async function stopFleet(f: Fleet): Promise<void> {
  f.client.close();
  await f.proc.stop('SIGTERM', 20_000).catch(() => undefined);
  rmSync(f.dir, { recursive: true, force: true });
}

async function workerReceived(f: Fleet): Promise<Record<string, number>> {
  const reply = await f.client.request({ kind: 'stats' }) as { workers: Array<{ worker: string; received: number }> };
  return Object.fromEntries(reply.workers.map((w) => [w.worker, w.received]));
}

/** One trial: `flows` generators on core 0 offer `rate` in all (0: each as fast as it can) for `duration` s. */
async function trial(bl: BenchLab, f: Fleet, rate: number, flows: number, a: Args): Promise<Trial> {
  const { rl } = bl;
  const rx0 = (await readSinkRx(bl, 1))[0] ?? 0;
  const w0 = await workerReceived(f);
  const cpu0 = readCpuTimes();
  const t0 = performance.now();
  const reports = await Promise.all(Array.from({ length: flows }, async (_, i) => {
    const args = ['-c', String(OTHER_CPU), nativeToolPath('mcrgen'), '--dest', GROUP, '--port', String(PORT), '--interface', rl.src.ifname,
      '--ttl', String(TTL), '--size', String(a.size), '--rate', String(Math.round(rate / flows)), '--gso', String(GEN_GSO),
      '--batch', String(GEN_GSO), '--duration', String(a.duration), '--stream', String(i), '--source-port', String(SOURCE_PORT + i)];
    const r = await rl.lab.exec(rl.src.ns, 'taskset', args, { timeoutMs: a.duration * 1000 + 15_000 });
    const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (line === undefined) throw new Error(`mcrgen printed no report: ${r.stderr.trim()}`);
    return JSON.parse(line) as { sent: number; durationSec: number };
  }));
  const cpu1 = readCpuTimes();
  const windowSec = (performance.now() - t0) / 1000;
  // What is still in flight arrives within the settle time; 2 s as RFC 2544 §23 allows.
  let rx1 = rx0;
  let last = -1;
  await pollUntil(async () => {
    last = rx1;
    rx1 = (await readSinkRx(bl, 1))[0] ?? 0;
    return rx1 === last;
  }, 2000, 250);
  const w1 = await workerReceived(f);
  const sent = reports.reduce((s, r) => s + r.sent, 0);
  const secs = Math.max(...reports.map((r) => r.durationSec));
  const received = rx1 - rx0;
  const loss = sent > 0 ? Math.max(0, 1 - received / sent) : 1;
  return { rate: secs > 0 ? sent / secs : 0, sent, received, loss, pass: loss <= LOSS_THRESHOLD, coreBusy: [0, 1].map((i) => busyShareBetween(cpu0, cpu1, windowSec, [i])),
    perWorker: Object.fromEntries(Object.entries(w1).map(([w, n]) => [w, n - (w0[w] ?? 0)])) };
}

/** Max rate, halve until a pass, bisect, verify (step down 10 % at most twice). */
async function search(bl: BenchLab, f: Fleet, flows: number, a: Args, log: (t: Trial, why: string) => void):
  Promise<Pick<CellResult, 'zeroLossPps' | 'generatorLimited' | 'verified' | 'reported' | 'trials'>> {
  const trials: Trial[] = [];
  const run = async (rate: number, why: string): Promise<Trial> => {
    const t = await trial(bl, f, rate, flows, a);
    trials.push(t);
    log(t, why);
    return t;
  };
  const max = await run(0, 'generator max');
  if (max.pass) {
    const again = await run(0, 'repeat at generator max');
    if (again.pass) return { zeroLossPps: Math.min(max.rate, again.rate), generatorLimited: true, verified: true, reported: again, trials };
  }
  let hi = max.rate;
  let lo = 0;
  for (let r = max.rate / 2, i = 0; i < 8 && r >= 500; r /= 2, i++) {
    if ((await run(r, 'bracket')).pass) {
      lo = r;
      break;
    }
    hi = r;
  }
  if (lo === 0) return { zeroLossPps: 0, generatorLimited: false, verified: false, trials };
  for (let i = 0; i < a.steps; i++) {
    const mid = (lo + hi) / 2;
    if ((await run(mid, 'bisect')).pass) lo = mid;
    else hi = mid;
  }
  for (let down = 0; down <= 2; down++, lo *= 0.9) {
    const v = await run(lo, down === 0 ? 'verify' : 'verify after a step down');
    if (v.pass) return { zeroLossPps: v.rate, generatorLimited: false, verified: true, reported: v, trials };
  }
  return { zeroLossPps: lo / 0.9, generatorLimited: false, verified: false, trials };
}


const pct = (x: number): string => `${Math.round(100 * x)} %`;

function markdown(results: CellResult[], a: Args, started: Date): string {
  const host = hostDescription();
  const lines = [
    `# mcrd scaling: 1 and 2 workers on one input (${started.toISOString()})`, '',
    `Host: ${host.cpuModel}, ${host.cores} cores, kernel ${host.kernel}. ${a.size} B payload, fan-out 1, ${a.duration} s trials, ` +
      `loss ≤ ${LOSS_THRESHOLD * 100} %, mcrd flags: ${a.mcrdArgs.length > 0 ? a.mcrdArgs.join(' ') : '(defaults)'}. ` +
      'Generators (one mcrgen per flow) and the sink\'s receive work on core 0; the relay input\'s softirq on core 1; ' +
      'with 2 workers, worker 0 shares core 0 with the generators.', '',
    '| round | workers (cores) | flows | zero-loss kpps | verified | core 0 busy | core 1 busy | per-worker share | load avg |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const t = r.reported;
    const total = t === undefined ? 0 : Object.values(t.perWorker).reduce((x, y) => x + y, 0);
    const shares = t === undefined || total === 0 ? '-' : Object.entries(t.perWorker).map(([w, n]) => `${w} ${pct(n / total)}`).join(', ');
    lines.push(`| ${r.round} | ${r.workers} (${r.cpus}) | ${r.flows} | ${(r.zeroLossPps / 1000).toFixed(1)}${r.generatorLimited ? ' (generator-limited)' : ''} | ` +
      `${r.verified ? 'yes' : 'no'} | ${t ? pct(t.coreBusy[0] ?? 0) : '-'} | ${t ? pct(t.coreBusy[1] ?? 0) : '-'} | ${shares} | ${r.loadavg} |`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv);
  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) {
    process.stderr.write(`bench:scaling: ${unavailable}\n`);
    return 2;
  }
  pinRunnerOffRelayCore();
  const cells: Cell[] = [
    { workers: 1, cpus: '1', flows: 1 }, { workers: 1, cpus: '1', flows: a.flows },
    { workers: 2, cpus: '0,1', flows: 1 }, { workers: 2, cpus: '0,1', flows: a.flows },
  ];
  const started = new Date();
  const results: CellResult[] = [];
  let bl: BenchLab | undefined;
  process.once('SIGINT', () => { bl?.destroySync(); process.exit(130); });
  try {
    bl = await createBenchLab(1, { sinkRps: true });
    for (let round = 1; round <= a.rounds; round++) {
      for (const cell of cells) {
        const f = await startFleet(bl, cell, a);
        try {
          const load = loadavg();
          process.stdout.write(`round ${round}: ${cell.workers} worker(s) on cores ${cell.cpus}, ${cell.flows} flow(s), load ${load}\n`);
          const r = await search(bl, f, cell.flows, a, (t, why) => process.stdout.write(
            `  ${why}: offered ${(t.rate / 1000).toFixed(1)} kpps, loss ${(t.loss * 100).toFixed(3)} % ${t.pass ? 'pass' : 'FAIL'}, ` +
            `cores ${t.coreBusy.map(pct).join(' / ')}, per worker ${JSON.stringify(t.perWorker)}\n`));
          results.push({ ...cell, round, ...r, loadavg: load });
        } finally {
          await stopFleet(f);
        }
      }
    }
  } finally {
    await bl?.destroy();
  }
  const md = markdown(results, a, started);
  mkdirSync(a.out, { recursive: true });
  const base = join(a.out, `${fileStamp(started)}-scaling`);
  writeFileSync(`${base}.json`, JSON.stringify({ started: started.toISOString(), args: a, host: hostDescription(), results }, null, 2) + '\n');
  writeFileSync(`${base}.md`, md);
  process.stdout.write(`\n${md}\nwrote ${base}.json and ${base}.md\n`);
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`bench:scaling: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
