/**
 * The soak run from start to end: build the lab, start mcrd with the base
 * rules, sample its counters and the processes' resources, run one epoch
 * per planned fault until the time is up, then stop mcrd, tear everything
 * down and judge: per-epoch accounting, counters that went backwards, RSS
 * and fd growth, mcrd's log, leftovers. Everything the signal handler needs
 * to clean up is kept in `LiveState` as it is created.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabProcess, RelayLab } from '../lab/index.js';
import { backwardEvents, type BackwardEvent, type FaultWindow } from './counters.js';
import { runEpoch, type EpochResult } from './epoch.js';
import type { FaultContext } from './fault-context.js';
import { checkLogs, type LogVerdict } from './log-check.js';
import { findLeftovers } from './leftovers.js';
import { McrdControl } from './mcrd-control.js';
import { parseGcTrace, type GcTrace } from './gc-trace.js';
import { ResourceSampler } from './resources.js';
import { CounterSampler } from './sampler.js';
import { takeSnapshot } from './snapshot.js';
import { planFaults, type PlannedFault, type PlannedKind } from './schedule.js';
import { BASE_RULES, configText, createSoakLab, pairsOf } from './topology.js';

export interface SoakOptions {
  minutes: number;
  seed: number;
  kinds: PlannedKind[];
  /** Total datagrams per second over the base rules. */
  rate: number;
  size: number;
  log(line: string): void;
}

/** What exists right now, for the signal handler's synchronous cleanup. */
export interface LiveState {
  rl?: RelayLab;
  dir?: string;
  mcrd?: LabProcess;
  stopped: Set<number>;
  workerPids: Set<number>;
  aborted?: string;
}

export interface SoakRun {
  /** mcrd's GCs (node --trace-gc), when it ran. */
  gc?: GcTrace;
  /** Soak clock (ms) when mcrd was spawned: the zero of its GC trace's clock. */
  mcrdStartMs?: number;
  options: Omit<SoakOptions, 'log'>;
  startedAt: string;
  durationSec: number;
  plan: PlannedFault[];
  epochs: EpochResult[];
  backwards: BackwardEvent[];
  resources: ResourceSampler;
  logs: LogVerdict | undefined;
  mcrdExit: string;
  leftovers: string[];
  samplerErrors: number;
  samples: number;
  /** A failure that ended the run early (mcrd died, a step threw). */
  fatal?: string;
}

const SAMPLE_EVERY_MS = 500;
const QUIESCE_MS = 5000;
const READY_TIMEOUT_MS = 60_000;

export async function runSoak(o: SoakOptions, live: LiveState): Promise<SoakRun> {
  const t0 = performance.now();
  const clock = (): number => Math.round(performance.now() - t0);
  const { log: say, ...options } = o;
  const plan = planFaults({ seed: o.seed, durationSec: o.minutes * 60, kinds: o.kinds });
  const run: SoakRun = { options, startedAt: new Date().toISOString(), durationSec: 0, plan, epochs: [], backwards: [],
    resources: new ResourceSampler(), logs: undefined, mcrdExit: 'not started', leftovers: [], samplerErrors: 0, samples: 0 };
  const dir = mkdtempSync(join(tmpdir(), 'mcr-soak-'));
  live.dir = dir;
  const configPath = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  let rl: RelayLab | undefined;
  let mcrd: LabProcess | undefined;
  let sampler: CounterSampler | undefined;
  let control: McrdControl | undefined;
  const windows: FaultWindow[] = [];
  try {
    const pkg = takeSnapshot(dir);
    rl = await createSoakLab();
    live.rl = rl;
    writeFileSync(configPath, configText({ withReloadRule: false, eTtl: 8 }));
    // --trace-gc: mcrd's full GCs go in the report (gc-trace.ts), to tell heap sizing from retention.
    run.mcrdStartMs = clock();
    mcrd = rl.lab.spawn(rl.relay.ns, process.execPath, ['--trace-gc', pkg.mcrd, '--config', configPath, '--control-socket', socket], { maxLines: 2_000_000 });
    live.mcrd = mcrd;
    // 60 s, not 20: on this 2-core VM with other suites running (load 13-17) mcrd took over 20 s to be ready, and once its workers over 20 s to run, on 2026-12-04.
    await mcrd.waitForLine('stdout', /"msg":"mcrd ready"/, READY_TIMEOUT_MS);
    control = new McrdControl(socket, mcrd.pid, pkg.mcrctl);
    if ((await control.settled({ timeoutMs: READY_TIMEOUT_MS })) === undefined) throw new Error(`mcrd's workers did not all run within ${READY_TIMEOUT_MS / 1000} s of its start`);
    sampler = new CounterSampler(socket, clock);
    await sampler.start(SAMPLE_EVERY_MS);
    const s = sampler;
    const quiet = (): void => {
      const workers = s.last?.workers ?? [];
      for (const w of workers) if (w.pid > 0) live.workerPids.add(w.pid);
      run.resources.sample(clock(), [{ role: 'mcrd', pid: (mcrd as LabProcess).pid }, ...workers.map((w) => ({ role: w.id, pid: w.pid }))]);
    };
    let stream = 0;
    const ctx: FaultContext = {
      rl, mcrd, control, socket, configPath, tools: pkg, ratePerRule: Math.max(1, Math.round(o.rate / BASE_RULES.length)), size: o.size,
      pairs: BASE_RULES.flatMap(pairsOf), nextStream: () => ++stream, quiesce: () => quiesce(s),
      sample: () => s.sample().then(() => undefined, () => undefined), stopped: live.stopped,
      reload: { withZ: false, eTtl: 8, count: 0 }, log: say,
    };
    say(`soak: seed ${o.seed}, ${o.minutes} min, ${plan.length} faults planned, ${o.rate} datagrams/s over ${BASE_RULES.length} rules (${ctx.ratePerRule} each), ${o.size} B payloads`);
    for (const p of plan) {
      if (live.aborted !== undefined) break;
      if (clock() >= o.minutes * 60_000) break;
      if (mcrd.exited) throw new Error(`mcrd exited during the soak: ${mcrd.stderrLines.slice(-5).join(' | ')}`);
      const e = await runEpoch({ ctx, sampler: s, clock, onQuiet: quiet }, p);
      run.epochs.push(e);
      windows.push(e.window);
      say(epochLine(e));
    }
  } catch (err) {
    run.fatal = (err as Error).stack ?? String(err);
    say(`soak: stopped early: ${(err as Error).message}`);
  } finally {
    sampler?.close();
    control?.close();
    run.samples = sampler?.samples.length ?? 0;
    run.samplerErrors = sampler?.errors.length ?? 0;
    if (sampler !== undefined) {
      const iface = new Map(BASE_RULES.map((r) => [r.name, r.inputInterface]));
      run.backwards = backwardEvents(sampler.samples, windows, (name) => iface.get(name));
    }
    if (mcrd !== undefined) {
      if (mcrd.exited) {
        run.mcrdExit = `exited during the soak (${String(mcrd.process.exitCode ?? mcrd.process.signalCode)})`;
      } else {
        const r = await mcrd.stop('SIGTERM', 20_000).catch((err: unknown) => ({ exitCode: undefined, signal: String(err) }));
        run.mcrdExit = r.exitCode === 0 ? 'exit 0 on SIGTERM' : `ended with ${String(r.exitCode ?? r.signal)} on SIGTERM`;
      }
      run.logs = checkLogs(mcrd.stdoutLines, mcrd.stderrLines);
      run.gc = parseGcTrace(mcrd.stdoutLines);
    }
    for (const pid of live.stopped) if (control?.isWorker(pid)) process.kill(pid, 'SIGCONT');
    const namespaces = rl?.lab.namespaces ?? [];
    await rl?.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
    run.leftovers = await findLeftovers({ namespaces, pids: [...(mcrd ? [mcrd.pid] : []), ...live.workerPids], paths: [socket, dir] });
    run.durationSec = Math.round(clock() / 1000);
  }
  return run;
}

/** Waits until every worker's counters stand still with nothing in flight (bounded). */
async function quiesce(s: CounterSampler): Promise<void> {
  const deadline = Date.now() + QUIESCE_MS;
  let prev = s.samples[await s.sample().catch(() => -1)];
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const cur = s.samples[await s.sample().catch(() => -1)];
    if (prev !== undefined && cur !== undefined && cur.workers.every((w) => {
      const p = prev?.workers.find((x) => x.id === w.id);
      return w.state === 'running' && w.loop !== undefined && p?.loop !== undefined && p.pid === w.pid && (w.loop.inflight_sends ?? 0) === 0 &&
        ['frames', 'sent', 'send_errors', 'kernel_drops'].every((k) => w.loop?.[k] === p.loop?.[k]);
    })) return;
    prev = cur;
  }
}

function epochLine(e: EpochResult): string {
  const fault = e.phases.find((p) => !p.steady) ?? e.phases[1];
  const lost = fault?.interfaces.reduce((n, i) => n + i.lostPairs, 0) ?? 0;
  const notCounted = fault?.interfaces.reduce((n, i) => n + i.notCounted, 0) ?? 0;
  const rec = e.outcome.recoveryMs === undefined ? '' : `, recovered in ${e.outcome.recoveryMs} ms`;
  const verdict = e.failures.length === 0 ? 'ok' : `FAIL (${e.failures.length}): ${e.failures[0] ?? ''}`;
  const wd = e.outcome.watchdog === undefined ? '' : e.outcome.watchdog.present ? ` (watchdog replaced it after ${e.outcome.watchdog.replacedAfterMs ?? '?'} ms)` : ' (watchdog not present: resumed with SIGCONT)';
  const at = `[${new Date().toISOString().slice(11, 19)}] `;
  return `${at}#${e.index} ${e.kind} ${e.outcome.target}${wd}${rec}: lost ${lost} output datagrams, ${notCounted} not counted by MCR; ${verdict}`;
}
