/**
 * The "Latency" section of the markdown report: one-way latency percentiles
 * of every method at 10 % and 50 % of its own zero-loss rate and at the
 * equal rates every method carries (latency.ts), each as the median over
 * the trials with the min..max spread, MCR's as a ratio to each userspace
 * anchor at the same fraction and at the same rate, and what each mcrd
 * setting adds at a fixed low rate (full runs). Empty for runs without
 * latency trials.
 */
import { METHOD_LABELS, METHODS, type LatencyConfig, type MethodName } from './config.js';
import type { CellLatency, LatencyPoint, PercentileKey, Spread } from './latency.js';
import { kpps } from './limits.js';
import type { BenchResults } from './results.js';

/** The anchors that, like MCR, forward in a user-space process: MCR's latency target compares with these. */
const USERSPACE: readonly MethodName[] = ['c-ring', 'c-mmsg', 'socat', 'gstreamer'];

const COLUMNS: ReadonlyArray<[PercentileKey, string]> = [['p50Us', 'p50'], ['p99Us', 'p99'], ['p999Us', 'p99.9'], ['maxUs', 'max']];

/** How much of its own stalls the generator made up with a burst in the latency trials (LatencyConfig.generatorCatchUpUs). */
export function catchUpText(l: LatencyConfig): string {
  const us = l.generatorCatchUpUs;
  if (us === undefined) return 'The generator made up to 2 ms of its own stalls with a burst (runs before 2026-12-06).';
  if (us === 0) return 'The generator made up none of its own stalls with a burst (`mcrgen --catch-up-us 0`): a stall on its core only thins the stream.';
  return `The generator made up to ${us} µs of its own stalls with a burst (\`mcrgen --catch-up-us ${us}\`).`;
}

/** When each method's trials ran (LatencyConfig.interleaved). */
export function interleavedText(l: LatencyConfig): string {
  return l.interleaved === true
    ? 'the methods\' trials interleaved: each round started every method in turn, in an order rotated per round'
    : 'each method\'s trials back to back after its own search, minutes from the other methods\' (runs before 2026-12-06T21-26-55Z)';
}

export function latencySection(r: BenchResults): string[] {
  const l = r.config.latency;
  const cells = r.cells.filter((c) => c.latency !== undefined);
  const settings = (r.experiments?.settings ?? []).filter((row) => row.latency !== undefined);
  if (l === undefined || (cells.length === 0 && settings.length === 0)) return [];
  const out: string[] = ['## Latency (one-way, µs)', ''];
  out.push(`mcrgen stamps each datagram with its send time (CLOCK_REALTIME, taken just before its sendmmsg call); mcrsink on ` +
    `the first output takes the kernel's receive time (SO_TIMESTAMPNS, as the datagram crosses into the sink's namespace, before any queue there). ` +
    `Each figure is the median of ${l.trials} trials of ${l.trialSec} s and, in brackets, their min–max ` +
    `(${interleavedText(l)}); loads are ` +
    `fractions of each method's own zero-loss rate at fan-out 1 in this run; "equal rate" rows offer every method that carries ` +
    `it without loss the same rate (docs/performance.md, "Latency"). ${catchUpText(l)}`, '');
  if (cells.length > 0) {
    const rows: string[][] = [];
    for (const method of METHODS) {
      for (const c of cells.filter((x) => x.method === method)) {
        const lat = c.latency as CellLatency;
        if (lat.skipped !== undefined) {
          rows.push([METHOD_LABELS[method], String(c.payload), '–', '–', `not measured: ${lat.skipped}`, '', '', '', '']);
          continue;
        }
        for (const p of lat.points) rows.push([METHOD_LABELS[method], String(c.payload), loadText(p), kpps(p.ratePps), ...pointCols(p)]);
      }
    }
    out.push(table(['Method', 'payload B', 'load', 'rate', ...COLUMNS.map(([, name]) => name), 'received/sent'], rows), '');
    const fractions = ratios(r);
    if (fractions.length > 0) out.push(...fractions, '');
    const equal = equalRateRatios(r);
    if (equal.length > 0) out.push(...equal, '');
  }
  if (settings.length > 0) {
    out.push(`mcrd settings at a fixed ${kpps(l.settingsPps)} (fan-out 1, ${r.experiments?.payload ?? '–'} B), ` +
      'each setting\'s trials back to back, with the p50 each adds to mcrd\'s defaults:', '');
    const base = settings.find((row) => row.variant === 'mcrd defaults')?.latency?.summary?.p50Us.median;
    const rows = settings.map((row) => {
      const p = row.latency as LatencyPoint;
      const p50 = p.summary?.p50Us.median;
      const added = base === undefined || p50 === undefined ? '–' : `${p50 - base >= 0 ? '+' : ''}${(p50 - base).toFixed(0)}`;
      return [row.variant, ...pointCols(p), added];
    });
    out.push(table(['mcrd flags', ...COLUMNS.map(([, name]) => name), 'received/sent', 'p50 vs defaults'], rows), '');
  }
  return out;
}

/** MCR ÷ each userspace anchor at the same payload and load: p50 and p99 medians. */
function ratios(r: BenchResults): string[] {
  return ratioTable(r, 'load', 'MCR ÷ userspace anchor, p50 / p99 (medians; lower is better for MCR; each method at the same ' +
    'fraction of its own zero-loss rate, so the absolute rates differ):',
  (points) => points.filter((p) => p.load !== undefined).map((mp) => ({ label: loadText(mp), mp, same: (p) => p.load === mp.load })));
}

/**
 * MCR ÷ each userspace anchor at the same offered rate (the config's equal
 * rates): "–" where either was not measured there (its zero-loss rate is
 * below it, or the run predates equal rates).
 */
function equalRateRatios(r: BenchResults): string[] {
  const atRate = (rate: number) => (p: LatencyPoint) => p.load === undefined && p.ratePps === rate;
  return ratioTable(r, 'rate', 'MCR ÷ userspace anchor at the same offered rate, p50 / p99 (medians; "–": that method ' +
    'was not measured there, its zero-loss rate being lower):',
  (points) => (r.config.latency?.equalRatesPps ?? []).flatMap((rate) => {
    const mp = points.find(atRate(rate));
    return mp === undefined ? [] : [{ label: kpps(rate), mp, same: atRate(rate) }];
  }));
}

/** One MCR point to set against the anchors, and which anchor point is its counterpart. */
interface RatioRow { label: string; mp: LatencyPoint; same: (p: LatencyPoint) => boolean }

/**
 * A table of MCR ÷ each userspace anchor with latency in this run, a row per
 * point `pick` chooses from each MCR cell's points; nothing when there is no
 * anchor or no row.
 */
function ratioTable(r: BenchResults, labelHead: string, heading: string, pick: (points: LatencyPoint[]) => RatioRow[]): string[] {
  const anchors = USERSPACE.filter((m) => r.cells.some((c) => c.method === m && c.latency !== undefined));
  const rows = r.cells.filter((c) => c.method === 'mcr' && c.latency !== undefined).flatMap((mc) =>
    pick(mc.latency?.points ?? []).map((row) => [String(mc.payload), row.label, ...anchors.map((a) => {
      const ap = anchorPoints(r, a, mc.payload).find(row.same);
      return `${ratio(row.mp, ap, 'p50Us')} / ${ratio(row.mp, ap, 'p99Us')}`;
    })]));
  if (anchors.length === 0 || rows.length === 0) return [];
  return [heading, '', table(['payload B', labelHead, ...anchors.map((a) => METHOD_LABELS[a])], rows)];
}

function anchorPoints(r: BenchResults, method: MethodName, payload: number): LatencyPoint[] {
  return r.cells.find((c) => c.method === method && c.payload === payload && c.latency !== undefined)?.latency?.points ?? [];
}

function ratio(a: LatencyPoint, b: LatencyPoint | undefined, key: PercentileKey): string {
  const x = a.summary?.[key].median;
  const y = b?.summary?.[key].median;
  if (x === undefined || y === undefined || y <= 0) return '–';
  return `${(x / y).toFixed(2)}×`;
}

function loadText(p: LatencyPoint): string {
  return p.load === undefined ? 'equal rate' : `${Math.round(p.load * 100)} %`;
}

function pointCols(p: LatencyPoint): string[] {
  const sent = p.trials.reduce((a, t) => a + t.sent, 0);
  const received = p.trials.reduce((a, t) => a + t.received, 0);
  const tail = p.error !== undefined ? ` (error \`${p.error.code}\` after ${p.trials.length} trials)` : '';
  if (p.summary === undefined) return [...COLUMNS.map(() => '–'), `${received}/${sent}${tail}`];
  const s = p.summary;
  return [...COLUMNS.map(([key]) => spread(s[key])), `${received}/${sent}${tail}`];
}

/** "33 (31–40)": median and the trials' range, whole µs (1 µs is the histogram's resolution below 1 ms). */
export function spread(s: Spread): string {
  const f = (v: number): string => v.toFixed(0);
  return s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function table(cols: string[], rows: string[][]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [`| ${cols.map(esc).join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.map(esc).join(' | ')} |`)].join('\n');
}
