/**
 * Turns a finished run into the verdict: totals of the accounting, loss per
 * fault kind, the resource growth of every process, and the list of checks
 * with pass/fail. The JSON report is this object; the markdown report
 * (report.ts) prints it.
 */
import { faultLoss, type FaultLoss } from './accounting.js';
import type { BackwardEvent } from './counters.js';
import { checkGrowth, gcWarmup, median, type GrowthVerdict } from './growth.js';
import type { SoakRun } from './soak.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string[];
}

export interface FaultRow extends FaultLoss {
  index: number;
  kind: string;
  target: string;
  recoveryMs?: number;
  watchdog?: { present: boolean; replacedAfterMs?: number };
  errnos?: Record<string, number>;
  failures: string[];
  notes: string[];
  details: Record<string, unknown>;
  /** Per touched pair: lost in the fault phase. */
  lostByPair: Record<string, number>;
}

export interface KindRow extends FaultLoss {
  kind: string;
  count: number;
  recoveryMs: { min: number; median: number; max: number } | undefined;
}

export interface ProcessGrowth {
  role: string;
  pid: number;
  rss: GrowthVerdict;
  fds: GrowthVerdict;
  /** The warm-up this process was judged with, and why (mcrd's comes from its GC trace: growth.ts, gcWarmup). */
  warmupSec: number;
  warmupWhy: string;
}

export interface SoakSummary {
  ok: boolean;
  seed: number;
  startedAt: string;
  durationSec: number;
  options: SoakRun['options'];
  totals: { datagramsSent: number; outputDatagrams: number; received: number; lost: number; countedByMcr: number; countedAtInput: number; countedByNeigh: number; sinkDrops: number; notCounted: number;
    /** Neighbour table discards in phases that touched no unicast output: other namespaces' (the bound on countedByNeigh's error). */
    neighOther: number;
    steadyOutputDatagrams: number; steadyLost: number };
  byKind: KindRow[];
  faults: FaultRow[];
  backwards: { total: number; byCause: Record<string, number>; events: BackwardEvent[] };
  growth: { warmupSec: number; windowSec: number; limitPct: number; processes: ProcessGrowth[] };
  logs: SoakRun['logs'];
  mcrdExit: string;
  leftovers: string[];
  samples: number;
  samplerErrors: number;
  checks: Check[];
  fatal?: string;
}

const LIMIT = 0.05;
/** A full GC that raises mcrd's committed heap by more than this (above every earlier one) is still warming up (growth.ts, gcWarmup). */
const GC_STEP_MB = 0.5;

export function summarize(run: SoakRun): SoakSummary {
  const dur = run.durationSec;
  const warmupSec = Math.min(120, Math.max(30, Math.round(dur * 0.2)));
  const windowSec = Math.max(30, Math.min(120, Math.round(dur * 0.1)));
  const totals = { datagramsSent: 0, outputDatagrams: 0, received: 0, lost: 0, countedByMcr: 0, countedAtInput: 0, countedByNeigh: 0, sinkDrops: 0, notCounted: 0, neighOther: 0, steadyOutputDatagrams: 0, steadyLost: 0 };
  const faults: FaultRow[] = [];
  const steadyFailures: string[] = [];
  const faultPhaseFailures: string[] = [];
  for (const e of run.epochs) {
    for (const ph of e.phases) {
      const seenRules = new Set<string>();
      for (const a of ph.pairs) {
        if (!seenRules.has(a.pair.rule)) totals.datagramsSent += a.sent;
        seenRules.add(a.pair.rule);
        totals.outputDatagrams += a.sent;
        totals.received += a.received;
        if (ph.steady) {
          totals.steadyOutputDatagrams += a.sent;
          totals.steadyLost += a.lost;
        }
      }
      const l = faultLoss(ph);
      totals.lost += l.lostPairs;
      totals.countedByMcr += l.countedByMcr;
      totals.countedAtInput += l.countedAtInput;
      totals.countedByNeigh += l.countedByNeigh;
      totals.neighOther += l.neighOther;
      totals.sinkDrops += l.sinkDrops;
      totals.notCounted += l.notCounted;
      (ph.steady ? steadyFailures : faultPhaseFailures).push(...ph.failures);
    }
    const fp = e.phases.find((p) => p.label.endsWith(' fault'));
    const loss = fp ? faultLoss(fp) : { sent: 0, lostPairs: 0, countedByMcr: 0, countedAtInput: 0, countedByNeigh: 0, sinkDrops: 0, notCounted: 0, neighOther: 0 };
    const lostByPair: Record<string, number> = {};
    for (const a of fp?.pairs ?? []) if (a.lost !== 0) lostByPair[a.pair.id] = a.lost;
    faults.push({ index: e.index, kind: e.kind, target: e.outcome.target, ...loss,
      ...(e.outcome.recoveryMs !== undefined ? { recoveryMs: e.outcome.recoveryMs } : {}),
      ...(e.outcome.watchdog !== undefined ? { watchdog: e.outcome.watchdog } : {}),
      ...(e.outcome.errnos !== undefined && Object.keys(e.outcome.errnos).length > 0 ? { errnos: e.outcome.errnos } : {}),
      failures: e.outcome.failures, notes: e.outcome.notes, details: e.outcome.details, lostByPair });
  }
  const kinds = [...new Set(faults.map((f) => f.kind))];
  const byKind: KindRow[] = kinds.map((kind) => {
    const rows = faults.filter((f) => f.kind === kind);
    const rec = rows.map((f) => f.recoveryMs).filter((x): x is number => x !== undefined);
    const sum = (k: keyof FaultLoss): number => rows.reduce((n, f) => n + f[k], 0);
    return { kind, count: rows.length, sent: sum('sent'), lostPairs: sum('lostPairs'), countedByMcr: sum('countedByMcr'), countedAtInput: sum('countedAtInput'), countedByNeigh: sum('countedByNeigh'), sinkDrops: sum('sinkDrops'),
      notCounted: sum('notCounted'), neighOther: sum('neighOther'), recoveryMs: rec.length ? { min: Math.min(...rec), median: Math.round(median(rec)), max: Math.max(...rec) } : undefined };
  });
  const byCause: Record<string, number> = {};
  for (const b of run.backwards) byCause[b.cause] = (byCause[b.cause] ?? 0) + 1;
  const processes: ProcessGrowth[] = [...run.resources.series.values()].map((s) => {
    let warmupMs = warmupSec * 1000;
    let warmupWhy = `fixed: 20 % of the run, 30 s to 2 min`;
    if (s.role === 'mcrd' && run.gc !== undefined && run.mcrdStartMs !== undefined) {
      // GC times are mcrd's own (ms since its node started, about when the soak spawned it); the warm-up counts from its first sample.
      const w = gcWarmup(run.gc.fullGcs.map((g) => ({ atMs: g.atMs + run.mcrdStartMs! - s.firstMs, committedMb: g.committedMb })),
        { minMs: warmupMs, capMs: Math.max(warmupMs, (dur * 1000 - s.firstMs) / 2), stepMb: GC_STEP_MB });
      warmupMs = w.warmupMs;
      warmupWhy = `from mcrd's GC trace: ${w.why}`;
    }
    return { role: s.role, pid: s.pid, warmupSec: Math.round(warmupMs / 1000), warmupWhy,
      rss: checkGrowth(s.rssKb, { warmupMs, windowMs: windowSec * 1000, limit: LIMIT, startMs: s.firstMs }),
      fds: checkGrowth(s.fds, { warmupMs, windowMs: windowSec * 1000, limit: LIMIT, startMs: s.firstMs }) };
  });
  const checks: Check[] = [];
  const add = (name: string, detail: string[], ok = detail.length === 0): void => {
    checks.push({ name, ok, detail });
  };
  add('the run completed', run.fatal !== undefined ? [run.fatal.split('\n')[0] ?? run.fatal] : []);
  add('steady phases: every datagram received, counters agree exactly', steadyFailures);
  add('fault phases: pairs the fault does not touch lose nothing', faultPhaseFailures);
  add('every fault recovered by itself', faults.flatMap((f) => f.failures.map((x) => `#${f.index} ${x}`)));
  // mcrd keeps every total across restarts and resyncs (counter-ledger.ts): any step back is a bug.
  add('no counter went backwards, not even across a worker restart or a fault',
    run.backwards.slice(0, 20).map((b) => `${b.counter}: ${b.from} -> ${b.to} at ${b.atMs} ms (${b.cause}${b.fault !== undefined ? `: ${b.fault}` : ''})`));
  const mcrdGrowth = processes.filter((p) => p.role === 'mcrd');
  const growthFail: string[] = [];
  for (const p of processes) {
    for (const [what, v] of [['RSS', p.rss], ['fds', p.fds]] as const) {
      if (v.assessed && !v.ok) growthFail.push(`${p.role} (pid ${p.pid}) ${what} ${v.first} -> ${v.last} (+${(v.growth * 100).toFixed(1)} %)`);
    }
  }
  if (!mcrdGrowth.some((p) => p.rss.assessed)) growthFail.push('mcrd\'s RSS could not be assessed (run too short)');
  add('RSS and fd count flat after warm-up (<= 5 %)', growthFail);
  add('mcrd log: no unhandled rejection, uncaught exception or fatal line; no worker ended by itself',
    [...(run.logs?.bad ?? []), ...(run.logs?.unexpectedExits ?? [])].slice(0, 20));
  add('mcrd stopped cleanly at the end', run.mcrdExit === 'exit 0 on SIGTERM' ? [] : [run.mcrdExit]);
  add('nothing left behind (namespaces, processes, socket file, scratch directory)', run.leftovers);
  const summary: SoakSummary = {
    ok: checks.every((c) => c.ok), seed: run.options.seed, startedAt: run.startedAt, durationSec: dur, options: run.options, totals, byKind, faults,
    backwards: { total: run.backwards.length, byCause, events: run.backwards.slice(0, 200) },
    growth: { warmupSec, windowSec, limitPct: LIMIT * 100, processes }, logs: run.logs, mcrdExit: run.mcrdExit, leftovers: run.leftovers,
    samples: run.samples, samplerErrors: run.samplerErrors, checks,
  };
  if (run.fatal !== undefined) summary.fatal = run.fatal;
  return summary;
}
