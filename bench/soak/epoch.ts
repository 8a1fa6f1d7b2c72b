/**
 * One epoch of the soak: fresh sinks for every base pair, then three
 * phases, each with its own generator stream: a steady lead, the fault
 * phase (traffic starts, 1 s later the fault, 1 s after its recovery the
 * traffic stops) and a steady tail. Between phases the generators stop and
 * the relay drains (quiesce), so each phase's counters and each stream's
 * sink counts describe exactly the same datagrams. That pause, under a
 * second, is the only time the traffic stops.
 */
import type { RelayLab } from '../lab/index.js';
import { accountPhase, type PairTraffic, type PhaseAccount } from './accounting.js';
import { errnoGrowth, finalCounters, loopDelta, ruleDelta, type FaultWindow } from './counters.js';
import type { CounterSampler } from './sampler.js';
import { FAULTS } from './faults.js';
import { sleep, type FaultContext, type FaultOutcome } from './fault-context.js';
import { MIN_STEADY_SEC, type PlannedFault } from './schedule.js';
import { BASE_RULES, fanoutOf, INPUTS, type Pair } from './topology.js';
import { linkDelta, outputLinkDelta, readInputLinks, readOutputLinks, type LinkCounters, type OutputLinkCounters } from './link-counters.js';
import { readUnresolvedDiscards } from './neigh-counters.js';
import { drainSinks, startGen, startSink, stopGen, stopSink, type RunningSink } from './traffic.js';

export interface EpochResult {
  index: number;
  kind: PlannedFault['kind'];
  plannedSec: number;
  startMs: number;
  endMs: number;
  outcome: FaultOutcome;
  phases: PhaseAccount[];
  /** Failures of this epoch: hard checks of every phase and the fault's own. */
  failures: string[];
  window: FaultWindow;
}

interface PhaseRun {
  name: 'lead' | 'fault' | 'tail';
  stream: number;
  sent: Map<string, number>;
  startIdx: number;
  endIdx: number;
  dropsStart: Map<string, number>;
  dropsEnd: Map<string, number>;
  linksStart: Map<string, LinkCounters>;
  linksEnd: Map<string, LinkCounters>;
  /** The kernel's neighbour table unresolved discards at the phase's ends (machine-wide; neigh-counters.ts). */
  neighStart: number | undefined;
  neighEnd: number | undefined;
  outStart: Map<string, OutputLinkCounters>;
  outEnd: Map<string, OutputLinkCounters>;
  startMs: number;
  endMs: number;
}

export interface EpochDeps {
  ctx: FaultContext;
  sampler: CounterSampler;
  clock(): number;
  /** Called at each phase end, when everything is quiet (resource samples). */
  onQuiet(): void;
}

/** Margin after a fault phase in which a counter reset still counts as that fault's resync, ms. */
const RESET_MARGIN_MS = 2000;

export async function runEpoch(d: EpochDeps, plan: PlannedFault): Promise<EpochResult> {
  const { ctx, sampler } = d;
  const rl: RelayLab = ctx.rl;
  const startMs = d.clock();
  const sinks: RunningSink[] = await Promise.all(ctx.pairs.map((p) => startSink(rl, ctx.tools, p)));
  let outcome: FaultOutcome | undefined;
  const phases: PhaseRun[] = [];
  let faultStart = 0;
  let faultEnd = 0;
  try {
    let idx = await sampler.sample();
    let links = await readInputLinks(rl);
    let neigh = readUnresolvedDiscards();
    let outs = await readOutputLinks(rl);
    let drops = new Map<string, number>();
    const phase = async (name: PhaseRun['name'], body: () => Promise<void>): Promise<void> => {
      const stream = ctx.nextStream();
      const t0 = d.clock();
      const gens = BASE_RULES.map((r) => startGen(rl, ctx.tools, { rule: r.name, inputInterface: r.inputInterface, group: r.inputGroup, port: r.inputPort,
        rate: ctx.ratePerRule, size: ctx.size, stream }));
      try {
        await body();
      } finally {
        const sent = new Map<string, number>();
        for (const g of gens) sent.set(g.rule, (await stopGen(g)).sent);
        await ctx.quiesce();
        const dropsEnd = await drainSinks(rl, sinks);
        const endIdx = await sampler.sample();
        // Read when everything is quiet, right after the counters: both describe the same frames.
        const linksEnd = await readInputLinks(rl);
        const neighEnd = readUnresolvedDiscards();
        const outEnd = await readOutputLinks(rl);
        d.onQuiet();
        phases.push({ name, stream, sent, startIdx: idx, endIdx, dropsStart: drops, dropsEnd, linksStart: links, linksEnd, neighStart: neigh, neighEnd, outStart: outs, outEnd, startMs: t0, endMs: d.clock() });
        idx = endIdx;
        links = linksEnd;
        neigh = neighEnd;
        outs = outEnd;
        drops = dropsEnd;
      }
    };
    await phase('lead', () => sleep(plan.leadSec * 1000));
    await phase('fault', async () => {
      await sleep(1000);
      faultStart = d.clock();
      try {
        outcome = await FAULTS[plan.kind](ctx, plan);
      } finally {
        faultEnd = d.clock();
      }
      await sleep(1000);
    });
    const left = plan.epochSec * 1000 - (d.clock() - startMs);
    await phase('tail', () => sleep(Math.max(MIN_STEADY_SEC * 1000, left)));
  } finally {
    for (const s of sinks) if (!s.proc.exited && phases.length < 3) await s.proc.stop('SIGKILL', 2000).catch(() => undefined);
  }
  const got = new Map<string, Awaited<ReturnType<typeof stopSink>>>();
  for (const s of sinks) got.set(s.pair.id, await stopSink(s));
  const out = outcome as FaultOutcome;
  const window: FaultWindow = { label: `#${plan.index} ${plan.kind} ${out.target}`, startMs: faultStart, endMs: faultEnd + 1000 + RESET_MARGIN_MS };
  const fanouts = new Map(INPUTS.map((i) => [i, fanoutOf(BASE_RULES, i)]));
  // Workers stopped cleanly within the epoch (parked) logged their final counters.
  const finals = finalCounters(ctx.mcrd.stdoutLines.slice(-20_000));
  const accounts = phases.map((p) => {
    const traffic: PairTraffic[] = ctx.pairs.map((pair: Pair) => {
      const st = got.get(pair.id)?.streams[String(p.stream)];
      return { pair, sent: p.sent.get(pair.rule) ?? 0, received: st?.unique ?? 0, duplicated: st?.duplicated ?? 0,
        sinkDrops: (p.dropsEnd.get(pair.id) ?? 0) - (p.dropsStart.get(pair.id) ?? 0),
        touched: p.name === 'fault' && out.touched.has(pair.id) };
    });
    if (p.name === 'fault') traffic.push(...out.extra);
    const account = accountPhase({
      label: `#${plan.index} ${plan.kind} ${p.name}`,
      steady: p.name !== 'fault' || plan.kind === 'none',
      traffic,
      loops: new Map(INPUTS.map((i) => [i, loopDelta(sampler.samples, p.startIdx, p.endIdx, i, finals)])),
      fanouts,
      rules: new Map(BASE_RULES.map((r) => [r.name, ruleDelta(sampler.samples, p.startIdx, p.endIdx, r.name)])),
      links: new Map(INPUTS.map((i) => [i, linkDelta(p.linksStart.get(i), p.linksEnd.get(i))])),
      ...(p.neighStart !== undefined && p.neighEnd !== undefined ? { neighDiscards: p.neighEnd - p.neighStart } : {}),
    });
    // Diagnosis only (link-counters.ts, readOutputLinks): the output links' own counters over the phase.
    account.outputLinks = Object.fromEntries([...p.outEnd.keys()].flatMap((k) => {
      const d = outputLinkDelta(p.outStart.get(k), p.outEnd.get(k));
      return d === undefined ? [] : [[k, d]];
    }));
    return account;
  });
  const faultPhase = phases.find((p) => p.name === 'fault');
  if (faultPhase !== undefined) out.errnos = errnoGrowth(sampler.samples, faultPhase.startMs, faultPhase.endMs);
  for (const [id, r] of got) if (r.corrupted > 0) out.failures.push(`${id}: ${r.corrupted} corrupted datagrams`);
  return {
    index: plan.index, kind: plan.kind, plannedSec: plan.epochSec, startMs, endMs: d.clock(), outcome: out, phases: accounts,
    failures: [...accounts.flatMap((a) => a.failures), ...out.failures], window,
  };
}
