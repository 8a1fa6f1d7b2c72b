/**
 * Writes the soak's report: bench/results/<stamp>-soak.json (the summary,
 * every epoch's accounting per phase and pair, mcrd's RSS/fd series) and
 * <stamp>-soak.md (the same for people: checks, totals, loss per fault kind
 * and per fault, resource growth, what is not covered).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileStamp } from '../results.js';
import type { SoakRun } from './soak.js';
import type { SoakSummary } from './summary.js';

const LOOP_KEYS_KEPT = ['frames', 'matched', 'no_rule', 'kernel_drops', 'sent', 'send_errors', 'gso_fallbacks', 'gso_batches', 'gso_datagrams'];

export function reportJson(summary: SoakSummary, run: SoakRun): unknown {
  const epochs = run.epochs.map((e) => ({
    index: e.index, kind: e.kind, target: e.outcome.target, plannedSec: e.plannedSec, startMs: e.startMs, endMs: e.endMs, failures: e.failures,
    phases: e.phases.map((p) => ({
      label: p.label, steady: p.steady, neighOther: p.neighOther, ...(p.outputLinks !== undefined ? { outputLinks: p.outputLinks } : {}),
      pairs: p.pairs.map((a) => ({ id: a.pair.id, sent: a.sent, received: a.received, lost: a.lost, duplicated: a.duplicated, sinkDrops: a.sinkDrops, touched: a.touched })),
      interfaces: p.interfaces.map((i) => ({ ...i, loop: Object.fromEntries(LOOP_KEYS_KEPT.filter((k) => i.loop[k] !== undefined).map((k) => [k, i.loop[k]])) })),
    })),
  }));
  const mcrdSeries = [...run.resources.series.values()].filter((s) => s.role === 'mcrd').map((s) => ({ pid: s.pid, rssKb: s.rssKb, fds: s.fds }));
  return { ...summary, epochs, mcrdSeries, mcrdGc: run.gc };
}

const n = (x: number): string => x.toLocaleString('en-US');
const pct = (a: number, b: number): string => (b === 0 ? '0' : ((100 * a) / b).toFixed(3));

export function reportMarkdown(s: SoakSummary, files: { json: string }): string {
  const L: string[] = [];
  const t = s.totals;
  L.push(`# Soak ${s.startedAt}: ${s.ok ? 'passed' : 'FAILED'}`, '');
  L.push(`\`npm run soak -- --minutes ${s.options.minutes} --seed ${s.seed}${s.options.kinds.length === 9 ? '' : ` --faults ${s.options.kinds.join(',')}`} --rate ${s.options.rate} --size ${s.options.size}\``,
    `ran ${Math.round(s.durationSec / 60 * 10) / 10} min; ${s.faults.length} faults; ${s.samples} counter samples (${s.samplerErrors} failed requests). Full data: \`${files.json}\`.`, '');
  L.push('## Checks', '', '| check | result |', '| --- | --- |');
  for (const c of s.checks) L.push(`| ${c.name} | ${c.ok ? 'pass' : `**FAIL**: ${c.detail.slice(0, 5).join('; ').replace(/\|/g, '/')}${c.detail.length > 5 ? ` (+${c.detail.length - 5} more)` : ''}`} |`);
  L.push('', '## Accounting', '',
    `Datagrams sent by the generators: ${n(t.datagramsSent)} (${n(t.outputDatagrams)} output datagrams with fan-out); received by the sinks: ${n(t.received)}.`,
    `Steady phases (no fault active): ${n(t.steadyOutputDatagrams)} output datagrams, ${n(t.steadyLost)} lost.`,
    `Lost in fault phases: ${n(t.lost)} (${pct(t.lost, t.outputDatagrams)} % of all); counted by MCR under a reason: ${n(t.countedByMcr)}; counted at the input by its link's counters (dropped by the link while it was down, or reached it while no worker read it): ${n(t.countedAtInput)}; discarded by the kernel's neighbour table while resolving the next hop (unicast outputs): ${n(t.countedByNeigh)}; dropped by a sink's socket (kernel): ${n(t.sinkDrops)}; **not counted by anyone: ${n(t.notCounted)}**.`,
    `The neighbour table's counter is the machine's, not the lab's: in phases that touched no unicast output it grew by ${n(t.neighOther)} (other namespaces' discards), the bound on that term's error.`, '');
  L.push('| fault kind | count | output datagrams in its phases | lost | counted by MCR | counted at the input | neighbour table | not counted | recovery ms (min / median / max) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const k of s.byKind) {
    L.push(`| ${k.kind} | ${k.count} | ${n(k.sent)} | ${n(k.lostPairs)} | ${n(k.countedByMcr)} | ${n(k.countedAtInput)} | ${n(k.countedByNeigh)} | ${n(k.notCounted)} | ${k.recoveryMs ? `${k.recoveryMs.min} / ${k.recoveryMs.median} / ${k.recoveryMs.max}` : '-'} |`);
  }
  L.push('', '## Faults', '', '| # | kind | target | recovery ms | lost (by pair) | counted by MCR | counted at the input | neighbour table | not counted | notes |', '| ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |');
  for (const f of s.faults) {
    const pairs = Object.entries(f.lostByPair).map(([p, v]) => `${p}: ${v}`).join(', ') || '0';
    const notes = [...(f.errnos ? [`errors by errno (mcrd, lower bound): ${Object.entries(f.errnos).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []), ...f.notes, ...f.failures.map((x) => `**${x}**`), ...(Object.keys(f.details).length ? [JSON.stringify(f.details)] : [])].join('; ').replace(/\|/g, '/');
    L.push(`| ${f.index} | ${f.kind} | ${f.target} | ${f.recoveryMs ?? '-'} | ${pairs} | ${n(f.countedByMcr)} | ${n(f.countedAtInput)} | ${n(f.countedByNeigh)} | ${n(f.notCounted)} | ${notes} |`);
  }
  L.push('', '## Counters that went backwards', '');
  if (s.backwards.total === 0) L.push('None.');
  else {
    L.push(`${s.backwards.total} times: ${Object.entries(s.backwards.byCause).map(([c, v]) => `${v} × ${c}`).join(', ')}. Each is a failure: mcrd keeps every total across worker restarts and resyncs. The first of each cause:`, '');
    for (const cause of Object.keys(s.backwards.byCause)) {
      const e = s.backwards.events.find((x) => x.cause === cause);
      if (e) L.push(`- ${cause}: ${e.counter} ${n(e.from)} → ${n(e.to)} at ${(e.atMs / 1000).toFixed(1)} s${e.fault ? ` (${e.fault})` : ''}`);
    }
  }
  L.push('', `## Resources (warm-up ${s.growth.warmupSec} s, medians of ${s.growth.windowSec} s windows, limit ${s.growth.limitPct} %)`, '',
    '| process | RSS kB first → last | RSS growth | fds first → last | fd growth |', '| --- | --- | ---: | --- | ---: |');
  const assessed = s.growth.processes.filter((p) => p.rss.assessed);
  for (const p of assessed) {
    const g = (v: typeof p.rss): [string, string] => (v.assessed ? [`${n(v.first)} → ${n(v.last)}`, `${(v.growth * 100).toFixed(1)} %${v.ok ? '' : ' **FAIL**'}`] : ['-', v.reason]);
    const [r1, r2] = g(p.rss);
    const [f1, f2] = g(p.fds);
    L.push(`| ${p.role} (pid ${p.pid}) | ${r1} | ${r2} | ${f1} | ${f2} |`);
  }
  for (const p of s.growth.processes.filter((x) => x.role === 'mcrd')) L.push('', `mcrd's warm-up: ${p.warmupSec} s, ${p.warmupWhy}.`);
  const short = s.growth.processes.length - assessed.length;
  if (short > 0) L.push('', `${short} processes lived too short to assess (started or replaced less than warm-up plus two windows before the end).`);
  L.push('', '## mcrd log', '', `${n(s.logs?.lines ?? 0)} lines. Worker exits logged: ${Object.entries(s.logs?.workerExits ?? {}).map(([k, v]) => `${v} × ${k}`).join(', ') || 'none'}.`,
    `Warnings and errors by message: ${Object.entries(s.logs?.warnings ?? {}).map(([k, v]) => `${v} × "${k}"`).join('; ') || 'none'}.`, `mcrd: ${s.mcrdExit}. Leftovers: ${s.leftovers.length === 0 ? 'none' : s.leftovers.join('; ')}.`);
  L.push('', '## Not covered', '', ...NOT_COVERED.map((x) => `- ${x}`), '');
  return L.join('\n');
}

export const NOT_COVERED = [
  'Per-rule attribution of MCR\'s reasons inside a fault: send errors and kernel ring drops are reconciled per input interface from the workers\' loop counters, because the kernel counts ring drops per input socket, not per rule; per-output errors by errno are shown per fault as a lower bound.',
  'Datagrams in a SIGKILLed worker\'s ring and the last counts of a process before it died are nobody\'s count: they appear as "not counted".',
  'The traffic pauses for under a second between phases so that counters and sink streams describe the same datagrams; a fault never falls into such a pause.',
  'Steady, paced traffic of one payload size; no bursts beyond the generator\'s batches, no malformed frames (tests/integration/malformed covers those), no VLANs, one host.',
  'mcrd killed with SIGKILL, interfaces deleted (not only set down), RLIMIT faults and slow (1 byte/s) control clients are tested by the fault tests, not by the soak.',
  'Staleness of datagrams a stopped worker forwards after it resumes (only without the watchdog) is not measured.',
];

export function writeReport(dir: string, summary: SoakSummary, run: SoakRun, rel: (p: string) => string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = fileStamp(new Date(run.startedAt));
  const json = join(dir, `${stamp}-soak.json`);
  const md = join(dir, `${stamp}-soak.md`);
  writeFileSync(json, JSON.stringify(reportJson(summary, run), null, 1) + '\n');
  writeFileSync(md, reportMarkdown(summary, { json: rel(json) }));
  return { json, md };
}
