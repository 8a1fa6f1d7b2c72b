/**
 * What `mcrctl top` shows, computed from two successive samples of mcrd
 * (stats, the rule list and the workers): per rule and per output the
 * packet rate and Mbit/s over the interval between the samples, counters,
 * errors, the stream state; per input interface its workers, frame rate
 * and kernel drops (the kernel counts drops per packet socket, so they
 * belong to the input interface, not to one rule); and the totals of the
 * header. Pure: no clock, no socket; top-render.ts lays it out.
 *
 * The packet rate is mcrd's own (stats' pps): mcrd times it at the moment
 * it read the workers' counters, where top only knows when the answer
 * arrived (at a 0.5 s interval, 100 ms of delay on a busy host would be a
 * 20 % error). Mbit/s is that rate times the mean datagram size of the
 * interval (bytes over packets between the two samples). Only when mcrd
 * gives no rate (its first sample) does top use the difference of its own
 * two samples over the time between them. A counter that went backwards
 * (`mcrctl clear`) or a rule not in the earlier sample has no difference:
 * then '-'.
 *
 * Fields that only a newer mcrd sends (stream state and its time, RTP and
 * MPEG-TS counts, per-input counters) are read when present and shown as
 * '-' when not, so top works against either.
 */
import type { Rule, RuleStats, StatsResult, WorkerInfo } from '../../proto/index.js';
import { formatOutput, formatInput } from './format.js';

export interface TopSample {
  /** Monotonic milliseconds when the answers arrived. */
  atMs: number;
  /** Milliseconds since the epoch at the same moment (for "down for 12s"). */
  wallMs: number;
  stats: StatsResult;
  rules: Rule[];
  workers: WorkerInfo[];
}

export interface TopRow {
  kind: 'rule' | 'output';
  ruleId: number;
  name: string;
  /** "in1 239.1.1.1:5000" for a rule, "239.2.2.2:6000:out1" for an output. */
  what: string;
  pps: number | undefined;
  mbps: number | undefined;
  packets: number;
  errors: number;
  /** The errnos behind `errors`, most frequent first ("ENOBUFS 3, ENODEV 1"); '' when none. */
  errnos: string;
  /** "up", "down", "off", or '-' when mcrd does not say (a rule row); '' for outputs. */
  state: string;
  /** Since when (ms since the epoch) the stream has its state, when mcrd says. */
  stateSinceMs: number | undefined;
  /** RTP counts ("lost 3 dup 0 reord 1"), '-' when absent. */
  rtp: string;
  /** MPEG-TS counts ("cc 2 sync 0"), '-' when absent. */
  ts: string;
}

export interface TopBlock {
  rule: TopRow;
  outputs: TopRow[];
}

export interface TopInput {
  interface: string;
  workersRunning: number;
  workers: number;
  framesPps: number | undefined;
  kernelDrops: number;
  dropsPerSec: number | undefined;
}

export interface TopView {
  workersRunning: number;
  workers: number;
  restarts: number;
  rules: number;
  /** Sum over the rules' rates; undefined when no rule has one. */
  totalPps: number | undefined;
  totalMbps: number | undefined;
  kernelDrops: number;
  inputs: TopInput[];
  blocks: TopBlock[];
}

export type SortKey = 'pps' | 'errors' | 'name';
export const SORT_KEYS: readonly SortKey[] = ['pps', 'errors', 'name'];

/** (b - a) per second over dtMs; undefined when there is no earlier value, it went backwards, or no time passed. */
export function perSecond(before: number | undefined, now: number, dtMs: number | undefined): number | undefined {
  if (before === undefined || dtMs === undefined || dtMs <= 0 || now < before) return undefined;
  return ((now - before) * 1000) / dtMs;
}

/** Packets per second: mcrd's when it has one, else from the samples; and Mbit/s at that rate with the interval's mean size. */
function rateOf(before: { packets: number; bytes: number } | undefined, now: { packets: number; bytes: number; pps?: number } | undefined,
  dtMs: number | undefined): { pps: number | undefined; mbps: number | undefined } {
  const own = perSecond(before?.packets, now?.packets ?? 0, dtMs);
  const pps = now?.pps ?? own;
  const dPackets = before === undefined || now === undefined ? undefined : now.packets - before.packets;
  const dBytes = before === undefined || now === undefined ? undefined : now.bytes - before.bytes;
  if (pps === undefined || dPackets === undefined || dBytes === undefined || dPackets < 0 || dBytes < 0) return { pps, mbps: undefined };
  // No datagram since the last poll gives no mean size: 0 Mbit/s only at a
  // rate of 0 (mcrd's rate, over at least 0.5 s, can be more than 0 while a
  // poll shorter than that saw none).
  if (dPackets === 0) return { pps, mbps: pps === 0 ? 0 : undefined };
  return { pps, mbps: (pps * (dBytes / dPackets) * 8) / 1e6 };
}

/** A field of a message that this build's types may not have yet. */
function extra(message: object, key: string): unknown {
  return (message as Record<string, unknown>)[key];
}

function numberField(message: object, key: string): number | undefined {
  const v = extra(message, key);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * The stream monitor's counts for the protocols the rule monitors (its
 * `monitor`: rtp, mpegts or rtp+mpegts), read field by field; '-' for a
 * protocol it does not monitor, or when mcrd sends no counts.
 */
function monitorCells(rule: Rule, stats: RuleStats | undefined): { rtp: string; ts: string } {
  const m = stats?.monitor;
  const modes = (rule.monitor ?? '').split('+');
  if (m === undefined || m === null) return { rtp: '-', ts: '-' };
  return {
    rtp: modes.includes('rtp') ? `lost ${m.rtpLost} dup ${m.rtpDuplicates} reord ${m.rtpReordered} ssrc ${m.rtpSsrcChanges}` : '-',
    ts: modes.includes('mpegts') ? `cc ${m.tsCcErrors} sync ${m.tsSyncLosses}` : '-',
  };
}

function errnoText(byErrno: Record<string, number> | undefined): string {
  return Object.entries(byErrno ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([errno, n]) => `${errno} ${n}`).join(', ');
}

function ruleRow(rule: Rule, stats: RuleStats | undefined, before: RuleStats | undefined, dtMs: number | undefined): TopRow {
  const packets = stats?.packets ?? 0;
  const bytes = stats?.bytes ?? 0;
  const state = stats !== undefined ? extra(stats, 'streamState') : undefined;
  const errnos: Record<string, number> = {};
  for (const o of stats?.outputs ?? []) for (const [k, n] of Object.entries(o.errorsByErrno)) errnos[k] = (errnos[k] ?? 0) + n;
  return {
    kind: 'rule', ruleId: rule.id, name: rule.name ?? '', what: `${formatInput(rule)}${rule.source !== undefined ? ` from ${rule.source}` : ''}`,
    ...rateOf(before, stats, dtMs),
    packets, errors: stats?.errors ?? 0, errnos: errnoText(errnos),
    state: typeof state === 'string' && state !== '' ? state : '-',
    stateSinceMs: stats !== undefined ? numberField(stats, 'streamChangedAtMs') || undefined : undefined,
    ...monitorCells(rule, stats),
  };
}

export function buildView(prev: TopSample | undefined, cur: TopSample): TopView {
  const dtMs = prev === undefined ? undefined : cur.atMs - prev.atMs;
  const now = new Map(cur.stats.rules.map((r) => [r.ruleId, r]));
  const before = new Map((prev?.stats.rules ?? []).map((r) => [r.ruleId, r]));
  const blocks: TopBlock[] = cur.rules.map((rule) => {
    const s = now.get(rule.id);
    const b = before.get(rule.id);
    return {
      rule: ruleRow(rule, s, b, dtMs),
      outputs: rule.outputs.map((out, i) => {
        const o = s?.outputs[i];
        const ob = b?.outputs[i];
        return {
          kind: 'output' as const, ruleId: rule.id, name: '', what: formatOutput(out),
          ...rateOf(ob, o, dtMs),
          packets: o?.packets ?? 0, errors: o?.errors ?? 0, errnos: errnoText(o?.errorsByErrno),
          state: '', stateSinceMs: undefined, rtp: '', ts: '',
        };
      }),
    };
  });
  const rates = blocks.map((b) => b.rule.pps).filter((p): p is number => p !== undefined);
  const mbps = blocks.map((b) => b.rule.mbps).filter((p): p is number => p !== undefined);
  // Per input interface: mcrd's input counters when it sends them, else the workers' own.
  const names = [...new Set([...cur.workers.map((w) => w.interface), ...cur.rules.map((r) => r.inputInterface)])].sort();
  const inputOf = (sample: TopSample | undefined, name: string): { frames: number; drops: number } | undefined => {
    if (sample === undefined) return undefined;
    const inputs = extra(sample.stats, 'inputs');
    if (Array.isArray(inputs)) {
      const found = (inputs as Array<Record<string, unknown>>).find((i) => i.interface === name);
      if (found !== undefined) return { frames: Number(found.frames ?? 0), drops: Number(found.kernelDrops ?? 0) };
    }
    const ws = sample.stats.workers.filter((w) => w.interface === name);
    return { frames: ws.reduce((n, w) => n + w.received, 0), drops: ws.reduce((n, w) => n + w.kernelDrops, 0) };
  };
  const inputs: TopInput[] = names.map((name) => {
    const c = inputOf(cur, name) ?? { frames: 0, drops: 0 };
    const p = inputOf(prev, name);
    const ws = cur.workers.filter((w) => w.interface === name);
    return { interface: name, workersRunning: ws.filter((w) => w.state === 'running').length, workers: ws.length,
      framesPps: perSecond(p?.frames, c.frames, dtMs), kernelDrops: c.drops, dropsPerSec: perSecond(p?.drops, c.drops, dtMs) };
  });
  return {
    workersRunning: cur.workers.filter((w) => w.state === 'running').length,
    workers: cur.workers.length,
    restarts: cur.workers.reduce((n, w) => n + w.restarts, 0),
    rules: cur.rules.length,
    totalPps: rates.length > 0 ? rates.reduce((a, b) => a + b, 0) : undefined,
    totalMbps: mbps.length > 0 ? mbps.reduce((a, b) => a + b, 0) : undefined,
    kernelDrops: inputs.reduce((n, i) => n + i.kernelDrops, 0),
    inputs,
    blocks,
  };
}

/** Rules by rate (highest first), errors (most first) or name (then id); ties by id, so the order holds still between frames. */
export function sortBlocks(blocks: readonly TopBlock[], key: SortKey): TopBlock[] {
  // Named rules first, by name (code point order: the same on every host), then the unnamed by id.
  const byName = (a: TopBlock, b: TopBlock): number => {
    if ((a.rule.name === '') !== (b.rule.name === '')) return a.rule.name === '' ? 1 : -1;
    return a.rule.name < b.rule.name ? -1 : a.rule.name > b.rule.name ? 1 : 0;
  };
  return [...blocks].sort((a, b) => {
    let d = 0;
    if (key === 'pps') d = (b.rule.pps ?? -1) - (a.rule.pps ?? -1);
    else if (key === 'errors') d = b.rule.errors - a.rule.errors;
    else d = byName(a, b);
    return d !== 0 ? d : a.rule.ruleId - b.rule.ruleId;
  });
}
