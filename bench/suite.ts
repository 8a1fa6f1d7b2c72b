/**
 * Runs a whole benchmark: checks the comparison tools and which anchors this
 * host can run, builds one lab for the run, measures the generator's
 * maximum, then the matrix payload × fan-out × method (all methods back to
 * back per payload and fan-out, so each ratio compares trials minutes apart
 * in the same lab; a method the host cannot run gets a cell that says why;
 * then, at fan-out 1, every method's latency in interleaved rounds,
 * latency-rounds.ts),
 * then MCR's design experiments, then the IPv6 cells (fan-out 1 per payload,
 * with IPv6 turned on in the same lab: bench-lab-ipv6.ts). Results accumulate in the object the caller passed, so a
 * signal handler can write whatever was measured so far. A failing cell is
 * recorded with its error code and the run goes on; the lab is destroyed
 * however the run ends.
 */
import { readFileSync } from 'node:fs';
import { createBenchLab, type BenchLab } from './bench-lab.js';
import { enableIpv6 } from './bench-lab-ipv6.js';
import { estimateSec, hasFamily, type BenchConfig, type Family, type MethodName } from './config.js';
import { ensureDependencies } from './deps.js';
import { describeError } from './errors.js';
import { runExperiments } from './experiments.js';
import { runGenerator } from './generator.js';
import { measureLatencyRounds } from './latency-rounds.js';
import { busyShareBetween, readCpuTimes } from './host-counters.js';
import { describeLimit, kpps } from './limits.js';
import { START, type RunningMethod } from './methods/index.js';
import type { BenchResults, CellResult } from './results.js';
import { zeroLossSearch, type SearchResult } from './search.js';
import { setQuietBudget } from './quiet.js';
import { sleep, warmUp, type TrialResult } from './trial.js';

export interface SuiteHooks {
  log(msg: string): void;
  /** Called once the lab exists, so the caller can tear it down from a signal handler. */
  onLab(bl: BenchLab | undefined): void;
}

export async function runSuite(config: BenchConfig, results: BenchResults, hooks: SuiteHooks): Promise<void> {
  const { log } = hooks;
  setQuietBudget(config.quietBudgetSec * 1000);
  const v4 = hasFamily(config, 4);
  const v6 = hasFamily(config, 6) && (config.ipv6?.payloads.length ?? 0) > 0;
  const deps = await ensureDependencies(config.methods, log, config.families ?? [4]);
  Object.assign(results.versions, deps.versions);
  if (v4) for (const [method, why] of Object.entries(deps.skipped)) log(`${method}: not measured: ${why}`);
  if (v6) for (const [method, why] of Object.entries(deps.skipped6)) log(`${method} (IPv6): not measured: ${why}`);
  const skipped = { v4: Object.keys(deps.skipped) as MethodName[], v6: Object.keys(deps.skipped6) as MethodName[] };
  if (skipped.v4.length + skipped.v6.length > 0) {
    log(`estimated ${(estimateSec(config, skipped) / 60).toFixed(1)} min without the methods not measured`);
  }
  results.host.backgroundUtil = await backgroundUtil();
  // The IPv6 cells are fan-out 1: a run of them alone needs one output.
  const maxFanout = v4 ? Math.max(...config.fanouts, config.experiments?.fanout ?? 1) : 1;
  log(`building the lab (relay with ${maxFanout} outputs${config.sinkRps ? '' : ', sinks NOT steered to core 0'})`);
  const bl = await createBenchLab(maxFanout, { sinkRps: config.sinkRps });
  hooks.onLab(bl);
  try {
    if (v4) {
      for (const payload of config.payloads) {
        const report = await runGenerator(bl, { rate: 0, size: payload, durationSec: config.trialSec });
        results.generatorMax.push({ payload, pps: report.pps, report });
        log(`generator maximum at ${payload} B: ${kpps(report.pps)}`);
        await sleep(300);
      }
      for (const payload of config.payloads) {
        for (const fanout of config.fanouts) {
          const cells: CellResult[] = [];
          for (const method of config.methods) {
            const skipped = deps.skipped[method];
            // Said in the cell, so the report shows why a column is empty; nothing is started.
            if (skipped !== undefined) cells.push({ method, payload, fanout, skipped });
            else cells.push(await runCell(bl, config, results, { method, payload, fanout }, log));
            results.cells.push(cells[cells.length - 1] as CellResult);
          }
          // Latency at fan-out 1 only (one sink measures), once every method's rate is known.
          if (config.latency !== undefined && fanout === 1) {
            await measureLatencyRounds(bl, config.latency, payload, cells,
              async (cell) => startCell(bl, config, { method: cell.method, payload, fanout: 1 }),
              { log, failed: (where, error) => results.errors.push({ where, ...error }) });
          }
        }
      }
      await experiments(bl, config, results, log);
    }
    // Last, so every IPv4 figure is taken with IPv6 off, as in earlier runs.
    if (v6) await ipv6Cells(bl, config, results, deps.skipped6, log);
  } finally {
    await bl.destroy();
    hooks.onLab(undefined);
  }
}

/**
 * The IPv6 cells (issue 16): IPv6 on in the lab (bench-lab-ipv6.ts), the
 * generator's IPv6 maximum per payload, then each method at fan-out 1 per
 * payload, back to back as in the matrix; a method this host cannot run
 * over IPv6 (the kernel's without CONFIG_IPV6_MROUTE) gets a cell that says why.
 */
async function ipv6Cells(bl: BenchLab, config: BenchConfig, results: BenchResults, skipped6: Partial<Record<MethodName, string>>, log: (msg: string) => void): Promise<void> {
  const payloads = config.ipv6?.payloads ?? [];
  log('turning IPv6 on in the lab for the IPv6 cells');
  await enableIpv6(bl);
  for (const payload of payloads) {
    const report = await runGenerator(bl, { rate: 0, size: payload, durationSec: config.trialSec, family: 6 });
    results.generatorMax.push({ payload, family: 6, pps: report.pps, report });
    log(`generator maximum over IPv6 at ${payload} B: ${kpps(report.pps)}`);
    await sleep(300);
  }
  for (const payload of payloads) {
    for (const method of config.methods) {
      const skipped = skipped6[method];
      if (skipped !== undefined) results.cells.push({ method, payload, fanout: 1, family: 6, skipped });
      else results.cells.push(await runCell(bl, config, results, { method, payload, fanout: 1, family: 6 }, log));
    }
  }
}

async function runCell(
  bl: BenchLab,
  config: BenchConfig,
  results: BenchResults,
  cell: { method: MethodName; payload: number; fanout: number; family?: Family },
  log: (msg: string) => void,
): Promise<CellResult> {
  const out: CellResult = { ...cell };
  const family = cell.family ?? 4;
  const name = `${cell.method}${family === 6 ? ' IPv6' : ''} ${cell.payload} B ×${cell.fanout}`;
  let running: RunningMethod | undefined;
  try {
    running = await startCell(bl, config, cell);
    out.commands = running.commands;
    out.search = await zeroLossSearch(bl, running, cell, config, (t, note) => log(`${name} ${note}: ${trialLine(t)}`));
    out.limit = describeLimit(out.search, config.sinkRps);
    log(`${name}: zero-loss ${summary(out.search)}; limit: ${out.limit}`);
  } catch (err) {
    out.error = describeError(err);
    results.errors.push({ where: name, ...out.error });
    log(`${name}: FAILED ${out.error.code} ${out.error.message}`);
  } finally {
    if (running !== undefined) {
      try {
        await running.stop();
      } catch (err) {
        results.errors.push({ where: `${name} stop`, ...describeError(err) });
      }
    }
  }
  return out;
}

/**
 * Starts the cell's method with the run's settings and warms it up; the
 * caller stops it. A warm-up that fails stops the method before throwing.
 */
async function startCell(bl: BenchLab, config: BenchConfig, cell: { method: MethodName; payload: number; fanout: number; family?: Family }): Promise<RunningMethod> {
  const family = cell.family ?? 4;
  const running = await START[cell.method](bl, { fanout: cell.fanout, ...(family === 6 ? { family } : {}), ...(cell.method === 'mcr' ? { mcrdArgs: config.mcrdArgs } : {}),
    ...(cell.method === 'kernel' && config.awakeCore ? { awakeCore: true } : {}) });
  try {
    await warmUp(bl, cell.fanout, cell.payload, family);
  } catch (err) {
    await running.stop().catch(() => undefined);
    throw err;
  }
  return running;
}

async function experiments(bl: BenchLab, config: BenchConfig, results: BenchResults, log: (msg: string) => void): Promise<void> {
  const e = config.experiments;
  if (e === undefined || !config.methods.includes('mcr')) return;
  try {
    const genMax = results.generatorMax.find((g) => g.payload === e.payload)?.pps ?? 100_000;
    // An experiment's rate is 90 % of MCR's zero-loss figure for its payload and
    // fan-out in this run; the cell is measured first if the matrix did not.
    const rateAt = async (fanout: number): Promise<{ pps: number; basis: string }> => {
      let basis = results.cells.find((c) => c.method === 'mcr' && c.payload === e.payload && c.fanout === fanout && c.family !== 6)?.search;
      if (basis === undefined) {
        const cell = await runCell(bl, config, results, { method: 'mcr', payload: e.payload, fanout }, log);
        results.cells.push(cell);
        basis = cell.search;
      }
      const zeroLoss = basis?.zeroLossPps ?? 0;
      if (zeroLoss === 0) return { pps: Math.round(0.09 * genMax), basis: `9 % of the generator's maximum (MCR had no zero-loss rate at fan-out ${fanout})` };
      return { pps: Math.round(0.9 * zeroLoss), basis: `90 % of the zero-loss ${basis?.generatorLimited ? '(generator-limited) ' : ''}rate of MCR ` +
        `with ${config.mcrdArgs.join(' ') || 'mcrd defaults'} at fan-out ${fanout}, ${kpps(zeroLoss)}` };
    };
    const main = await rateAt(e.fanout);
    log(`experiments at ${kpps(main.pps)} (${main.basis})`);
    // The mcrd settings compare at fan-out 1, where the host's own receive path weighs most.
    const settings = e.settings ? await rateAt(1) : { pps: 0, basis: '' };
    results.experiments = await runExperiments(bl, config, { pps: main.pps, basis: main.basis, settingsPps: settings.pps, settingsBasis: settings.basis },
      (msg) => log(`experiment ${msg}`));
  } catch (err) {
    results.experimentsError = describeError(err);
    log(`experiments FAILED ${results.experimentsError.code} ${results.experimentsError.message}`);
  }
}

/** Busy fraction of each core over one second with nothing of ours running. */
async function backgroundUtil(): Promise<number[]> {
  const a = readCpuTimes();
  const t0 = performance.now();
  await sleep(1000);
  const b = readCpuTimes();
  const windowSec = (performance.now() - t0) / 1000;
  return b.map((_, i) => busyShareBetween(a, b, windowSec, [i]));
}

/** One trial as the suite logs it: offered and sent rates, loss, pass, the cores' shares and the drop counters. */
export function trialLine(t: TrialResult): string {
  const offered = t.rate === 0 ? 'max' : kpps(t.rate);
  const drops = t.mcr?.kernel_drops ? `, kernel_drops ${t.mcr.kernel_drops}` : '';
  const backlog = t.backlogDrops.some((d) => d > 0) ? `, backlog drops ${t.backlogDrops.join('/')}` : '';
  const other = t.interferenceSec > 0.02 * t.windowSec ? `, others on core1 ${((100 * t.interferenceSec) / t.windowSec).toFixed(0)} %` : '';
  return `offered ${offered}, sent ${kpps(t.gen.pps)} → loss ${(t.loss * 100).toFixed(3)} % ${t.pass ? 'PASS' : 'fail'} ` +
    `(core1 ${(t.relayCoreUtil * 100).toFixed(0)} %${other}, core0 ${(t.otherCoreUtil * 100).toFixed(0)} %${drops}${backlog})`;
}

function summary(s: SearchResult): string {
  if (s.zeroLossPps === 0) return `none (fails at ${kpps(s.failedBelowPps ?? 0)})`;
  return `${s.generatorLimited ? '≥ ' : ''}${kpps(s.zeroLossPps)}${s.generatorLimited ? ' (generator-limited)' : ''}${s.verified ? '' : ' (unverified)'}`;
}

export function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}
