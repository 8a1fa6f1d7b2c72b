/**
 * How fast mcrd answers a well-behaved control client while others abuse
 * its control socket, and whether it keeps forwarding meanwhile (issue 12).
 *
 * In a relay lab, mcrd runs with one worker and a config of one forwarded
 * rule plus `--rules` others (so that `list` answers are large and a reload
 * has work to do). For each abuse kind (bench/control-abusers.ts, in a
 * process of its own) and a baseline without abuse: the abusers start;
 * once all are connecting, mcrgen sends `--rate` datagrams per second for
 * `--seconds` through the forwarded rule to mcrsink, and meanwhile the
 * well-behaved client connects anew every 100 ms and asks `listRules` or
 * `stats` in turn, as `mcrctl list` / `mcrctl stats` do (the same
 * ControlClient, without the CLI's start-up), timing connect plus answer.
 * Then the abusers stop and the sink's count is compared with what was
 * sent, exactly.
 *
 * `node dist/bench/control-abuse.js [--seconds 10] [--rate 10000]
 * [--rules 5000] [--only kind,kind]` prints a table (p50/p99/max per
 * request kind and abuse, datagrams sent and lost, mcrd's CPU share, RSS
 * and open files, how busy the host was) and writes
 * bench/results/<stamp>-control-abuse.json. Before each abuse it waits, a
 * bounded time (bench/quiet.ts), for the host's cores to be quiet; the
 * host's busy share over each abuse is recorded, since other work on the
 * machine slows mcrd's answers as much as the abuse does. Needs root
 * (network namespaces). runControlAbuse() is the same run for
 * tests/integration/serial/mcrd-control-abuse.test.ts, which asserts only that
 * every answer came (within a generous bound) and nothing was lost.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createRelayLab, labUnavailableReason, type LabProcess, type RelayLab } from './lab/index.js';
import { within } from './lab/time.js';
import { ABUSE_KINDS, type AbuseKind, type AbuseReport } from './control-abusers.js';
import { fileStamp } from './results.js';
import { busyShareBetween, readCpuTimes } from './host-counters.js';
import { waitForQuiet } from './quiet.js';
import { ControlClient } from '../common/control-client.js';
import { errorCode } from '../common/control-errors.js';
import { formatConfig, type ConfigRule } from '../supervisor/config/index.js';
import { packageRoot } from '../native/package-root.js';

const ROOT = packageRoot();
const MCRD = join(ROOT, 'dist', 'supervisor', 'mcrd.js');
const ABUSERS = join(ROOT, 'dist', 'bench', 'control-abusers.js');
const TOOL = (name: string): string => join(ROOT, 'build', 'Release', name);

/** How many abusive clients each kind runs. */
export const ABUSERS_PER_KIND: Record<AbuseKind, number> = {
  concurrent: 200, slowloris: 200, oversized: 20, garbage: 20, unread: 20, reload: 1,
};
/** Gap between two probes of the well-behaved client (from the start of one to the start of the next). */
const PROBE_EVERY_MS = 100;
/** What the well-behaved client waits for an answer at most: a probe slower than this is a failure. */
export const PROBE_TIMEOUT_MS = 5000;
const TRAFFIC = { inGroup: '239.1.1.1', inPort: 5000, outGroup: '239.2.2.2', outPort: 6000, size: 200 };

export type Scenario = AbuseKind | 'none';

export interface Latency {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  /** Probes not answered, by error code. */
  failures: Record<string, number>;
}

export interface ScenarioResult {
  abuse: Scenario;
  abusers: number;
  probes: { listRules: Latency; stats: Latency };
  traffic: { sent: number; received: number; lost: number; duplicated: number; reordered: number };
  abuser: AbuseReport | null;
  /** mcrd's CPU time over the scenario as a share of one core; RSS and open files before and after. */
  mcrd: { samePid: boolean; workerRestarts: number; cpuShare: number; rssKiB: [number, number]; fds: [number, number] };
  /** How busy the host's cores were over the scenario (0..1, all cores), and the 1-minute load average at its end. */
  host: { busy: number; loadavg1: number; quietWaitMs: number };
}

export interface ControlAbuseOptions {
  scenarios: readonly Scenario[];
  seconds: number;
  rate: number;
  rules: number;
  /** Lab namespace tag. */
  tag?: string;
  /** Before each scenario, wait (a bounded time, bench/quiet.ts) for the host's cores to be quiet. */
  waitForQuiet?: boolean;
  /** Runs once per scenario while the abuse goes on (after the abusers are ready), beside the probes. */
  whileAbused?: (socket: string, abuse: Scenario) => Promise<void>;
  onScenario?: (r: ScenarioResult) => void;
}

export interface ControlAbuseResults {
  started: string;
  host: { cores: number; loadavg: number[] };
  options: Omit<ControlAbuseOptions, 'onScenario' | 'tag' | 'whileAbused'>;
  scenarios: ScenarioResult[];
}

/** Rule i of the bulk: its own input group and port, one output. `shift` changes every output port (a reload that touches all). */
function bulkRule(i: number, shift: number): ConfigRule {
  const x = (i >> 8) & 255;
  const y = i & 255;
  return { name: `bulk${i}`, inputInterface: 'in0', inputGroup: `239.3.${x}.${y}`, inputPort: 10_000 + i,
    outputs: [{ group: `239.4.${x}.${y}`, port: 30_000 + i + shift, interface: 'out0' }] };
}

function configText(rules: number, shift: number): string {
  const forwarded: ConfigRule = { name: 'forwarded', inputInterface: 'in0', inputGroup: TRAFFIC.inGroup, inputPort: TRAFFIC.inPort,
    outputs: [{ group: TRAFFIC.outGroup, port: TRAFFIC.outPort, interface: 'out0' }] };
  return formatConfig({ daemon: {}, rules: [forwarded, ...Array.from({ length: rules }, (_, i) => bulkRule(i, shift))] });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function latency(times: number[], failures: Record<string, number>): Latency {
  const sorted = [...times].sort((a, b) => a - b);
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  return { samples: times.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? NaN), failures };
}

/** Clock ticks per second of /proc/PID/stat's times (sysconf(_SC_CLK_TCK), 100 on Linux). */
const TICKS_PER_SEC = 100;

function procFigures(pid: number): { rssKiB: number; fds: number; cpuSec: number } {
  const m = /^VmRSS:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th (proc(5)).
  const stat = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  const cpuSec = (Number(stat[11]) + Number(stat[12])) / TICKS_PER_SEC;
  return { rssKiB: Number(m?.[1] ?? NaN), fds: readdirSync(`/proc/${pid}/fd`).length, cpuSec };
}

/** One probe as mcrctl makes it: a new connection, one request, close. Resolves with ms, or rejects. */
async function probe(socket: string, kind: 'listRules' | 'stats'): Promise<number> {
  const client = new ControlClient({ connectTimeoutMs: PROBE_TIMEOUT_MS, requestTimeoutMs: PROBE_TIMEOUT_MS });
  const begin = performance.now();
  try {
    await client.connect(socket);
    await client.request({ kind });
    return performance.now() - begin;
  } finally {
    await client.close();
  }
}

/** Probes every PROBE_EVERY_MS, alternating list and stats, until `done` settles. */
async function probeUntil(socket: string, done: Promise<unknown>): Promise<ScenarioResult['probes']> {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  const times = { listRules: [] as number[], stats: [] as number[] };
  const failures = { listRules: {} as Record<string, number>, stats: {} as Record<string, number> };
  for (let i = 0; !finished; i++) {
    const kind = i % 2 === 0 ? 'listRules' : 'stats';
    const next = performance.now() + PROBE_EVERY_MS;
    try {
      times[kind].push(await probe(socket, kind));
    } catch (err) {
      const code = errorCode(err) ?? 'EIO';
      failures[kind][code] = (failures[kind][code] ?? 0) + 1;
    }
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return { listRules: latency(times.listRules, failures.listRules), stats: latency(times.stats, failures.stats) };
}

interface Running {
  rl: RelayLab;
  dir: string;
  socket: string;
  config: string;
  configs: [string, string];
  mcrd: LabProcess;
}

async function startLab(opts: ControlAbuseOptions): Promise<Running> {
  const rl = await createRelayLab({ tag: opts.tag ?? 'ctlbench' });
  const dir = mkdtempSync(join(tmpdir(), 'mcr-ctlabuse-'));
  try {
    const configs: [string, string] = [join(dir, 'a.json5'), join(dir, 'b.json5')];
    writeFileSync(configs[0], configText(opts.rules, 0));
    writeFileSync(configs[1], configText(opts.rules, 1));
    const config = join(dir, 'mcrd.json5');
    writeFileSync(config, readFileSync(configs[0]));
    const socket = join(dir, 'mcrd.sock');
    const mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, [MCRD, '--config', config, '--control-socket', socket, '--workers', '1']);
    await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, 60_000);
    return { rl, dir, socket, config, configs, mcrd };
  } catch (err) {
    await rl.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function workerRestarts(socket: string): Promise<number> {
  const client = new ControlClient({ connectTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
  await client.connect(socket);
  try {
    return (await client.request({ kind: 'workers' })).workers.reduce((n, w) => n + w.restarts, 0);
  } finally {
    await client.close();
  }
}

async function runScenario(run: Running, abuse: Scenario, opts: ControlAbuseOptions): Promise<ScenarioResult> {
  const { rl, socket } = run;
  const quietWaitMs = opts.waitForQuiet === true ? (await waitForQuiet()).waitedMs : 0;
  const before = procFigures(run.mcrd.pid);
  const cpuBefore = readCpuTimes();
  const startedMs = performance.now();
  const restartsBefore = await workerRestarts(socket);
  let abuser: LabProcess | undefined;
  const abusers = abuse === 'none' ? 0 : ABUSERS_PER_KIND[abuse];
  try {
    if (abuse !== 'none') {
      // The abusers live in the test's namespace: the socket is a path, not an address.
      abuser = rl.lab.spawn(rl.relay.ns, process.execPath, [ABUSERS, '--kind', abuse, '--socket', socket, '--clients', String(abusers),
        '--configs', run.configs.join(','), '--config', run.config], { maxLines: 100 });
      await abuser.waitForLine('stderr', /"event":"ready"/, 30_000);
    }
    const count = Math.round(opts.rate * opts.seconds);
    const sink = rl.lab.spawn(rl.sinks[0]?.ns ?? '', TOOL('mcrsink'), ['--port', String(TRAFFIC.outPort), '--group', TRAFFIC.outGroup,
      '--interface', rl.sinks[0]?.ifname ?? '', '--count', String(count), '--duration', String(opts.seconds + 30), '--idle', '3']);
    await sink.waitForLine('stderr', /"event":"ready"/, 10_000);
    const gen = rl.lab.spawn(rl.src.ns, TOOL('mcrgen'), ['--dest', TRAFFIC.inGroup, '--port', String(TRAFFIC.inPort), '--interface', rl.src.ifname,
      '--count', String(count), '--rate', String(opts.rate), '--size', String(TRAFFIC.size), '--duration', String(opts.seconds + 30)]);
    const genLine = gen.waitForLine('stdout', /^\{/, (opts.seconds + 40) * 1000);
    const hook = opts.whileAbused?.(socket, abuse);
    const probes = await probeUntil(socket, genLine);
    await hook;
    const sent = (JSON.parse(await genLine) as { sent: number }).sent;
    let report: AbuseReport | null = null;
    if (abuser) {
      await abuser.stop('SIGTERM', 20_000);
      const line = abuser.stdoutLines.find((l) => l.startsWith('{'));
      report = line === undefined ? null : (JSON.parse(line) as AbuseReport);
      abuser = undefined;
    }
    const got = JSON.parse(await sink.waitForLine('stdout', /^\{/, 40_000)) as { received: number; duplicated: number; reordered: number };
    const after = procFigures(run.mcrd.pid);
    const cpuShare = Math.round(((after.cpuSec - before.cpuSec) / ((performance.now() - startedMs) / 1000)) * 100) / 100;
    const cpuAfter = readCpuTimes();
    const share = busyShareBetween(cpuBefore, cpuAfter, (performance.now() - startedMs) / 1000, cpuAfter.map((_, i) => i));
    const busy = Math.round(share * 100) / 100;
    const restarts = (await workerRestarts(socket)) - restartsBefore;
    return {
      abuse, abusers, probes, abuser: report,
      traffic: { sent, received: got.received, lost: sent - got.received, duplicated: got.duplicated, reordered: got.reordered },
      mcrd: { samePid: !run.mcrd.exited, workerRestarts: restarts, cpuShare, rssKiB: [before.rssKiB, after.rssKiB], fds: [before.fds, after.fds] },
      host: { busy, loadavg1: Math.round((loadavg()[0] ?? NaN) * 100) / 100, quietWaitMs },
    };
  } finally {
    if (abuser) await abuser.stop('SIGKILL', 5000);
  }
}

/** Runs every scenario in one lab and one mcrd; the lab is gone when it resolves. */
export async function runControlAbuse(opts: ControlAbuseOptions): Promise<ControlAbuseResults> {
  const { onScenario: _o, tag: _t, whileAbused: _w, ...options } = opts;
  const results: ControlAbuseResults = {
    started: new Date().toISOString(),
    host: { cores: availableParallelism(), loadavg: loadavg() },
    options, scenarios: [],
  };
  const run = await startLab(opts);
  try {
    for (const abuse of opts.scenarios) {
      const r = await within(runScenario(run, abuse, opts), (opts.seconds + 120) * 1000, `the ${abuse} scenario`);
      results.scenarios.push(r);
      opts.onScenario?.(r);
    }
    const stopped = await run.mcrd.stop('SIGTERM', 20_000);
    if (stopped.exitCode !== 0) throw new Error(`mcrd exited with ${stopped.exitCode ?? stopped.signal} after the run: ${run.mcrd.stdoutLines.slice(-5).join('\n')}`);
  } finally {
    if (!run.mcrd.exited) await run.mcrd.stop('SIGKILL', 5000).catch(() => undefined);
    await run.rl.lab.destroy();
    rmSync(run.dir, { recursive: true, force: true });
  }
  return results;
}

function row(r: ScenarioResult): string {
  const l = (x: Latency): string => `${x.p50} / ${x.p99} / ${x.max}${Object.keys(x.failures).length > 0 ? ` (failed: ${JSON.stringify(x.failures)})` : ''}`;
  return `| ${r.abuse} | ${r.abusers} | ${l(r.probes.listRules)} | ${l(r.probes.stats)} | ${r.traffic.sent} | ${r.traffic.lost} | ${r.mcrd.cpuShare} | ${r.mcrd.rssKiB[0]} → ${r.mcrd.rssKiB[1]} | ${r.mcrd.fds[0]} → ${r.mcrd.fds[1]} | ${r.host.busy} / ${r.host.loadavg1} |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '10' }, rate: { type: 'string', default: '10000' }, rules: { type: 'string', default: '5000' },
      only: { type: 'string' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/control-abuse.js [--seconds 10] [--rate 10000] [--rules 5000] [--only none,concurrent,...]\n');
    return;
  }
  const reason = labUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot run: ${reason}`);
  const scenarios: Scenario[] = values.only !== undefined ? values.only.split(',') as Scenario[] : ['none', ...ABUSE_KINDS];
  for (const s of scenarios) if (s !== 'none' && !ABUSE_KINDS.includes(s)) throw new Error(`unknown abuse ${s}: use none or ${ABUSE_KINDS.join(', ')}`);
  process.stdout.write('| abuse | clients | list ms p50 / p99 / max | stats ms p50 / p99 / max | datagrams | lost | mcrd CPU | mcrd RSS KiB | mcrd fds | host busy / load |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
  const results = await runControlAbuse({
    scenarios, seconds: Number(values.seconds), rate: Number(values.rate), rules: Number(values.rules), waitForQuiet: true,
    onScenario: (r) => process.stdout.write(row(r) + '\n'),
  });
  const file = join(ROOT, 'bench', 'results', `${fileStamp(new Date(results.started))}-control-abuse.json`);
  writeFileSync(file, JSON.stringify(results, null, 1) + '\n');
  process.stdout.write(`\nwritten: ${file}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`control-abuse: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
