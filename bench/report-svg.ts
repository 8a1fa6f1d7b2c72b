/**
 * The run's chart as a hand-written SVG (no dependencies): zero-loss
 * throughput per method, grouped by payload, at fan-out 1. A bar whose
 * method passed at the generator's maximum is drawn hatched and labelled
 * "≥", and each group carries a dashed line at the generator's maximum, so
 * the chart never passes off a generator limit as the method's.
 */
import { METHOD_LABELS, METHODS, type MethodName } from './config.js';
import { kpps } from './limits.js';
import type { BenchResults } from './results.js';

const W = 760;
const H = 440;
const M = { left: 80, right: 20, top: 50, bottom: 90 };
const COLORS: Record<MethodName, string> = {
  mcr: '#1f77b4', kernel: '#7f7f7f', nft: '#2ca02c', 'c-ring': '#9467bd', 'c-mmsg': '#8c564b', socat: '#ff7f0e', gstreamer: '#e377c2',
};
/** Legend entries per row. */
const LEGEND_PER_ROW = 4;

export function renderSvg(r: BenchResults, fanout = 1): string {
  const methods = METHODS.filter((m) => r.config.methods.includes(m));
  const payloads = r.config.payloads;
  // The chart is the IPv4 matrix; IPv6 cells and the IPv6 generator maximum are in the markdown only.
  const genMax = new Map(r.generatorMax.filter((g) => g.family !== 6).map((g) => [g.payload, g.pps]));
  const value = (m: MethodName, p: number): { pps: number; atLeast: boolean; ok: boolean } => {
    const s = r.cells.find((c) => c.method === m && c.payload === p && c.fanout === fanout && c.family !== 6)?.search;
    return { pps: s?.zeroLossPps ?? 0, atLeast: s?.generatorLimited ?? false, ok: s !== undefined };
  };
  const top = niceCeil(Math.max(1, ...payloads.flatMap((p) => [genMax.get(p) ?? 0, ...methods.map((m) => value(m, p).pps)])));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const y = (v: number): number => round1(M.top + plotH - (v / top) * plotH);
  const groupW = plotW / Math.max(1, payloads.length);
  const barW = round1(Math.min(90, (groupW * 0.7) / Math.max(1, methods.length)));

  const s: string[] = [];
  s.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  s.push('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
    '<rect width="6" height="6" fill="white" fill-opacity="0.0"/><line x1="0" y1="0" x2="0" y2="6" stroke="white" stroke-width="2"/></pattern></defs>');
  s.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  s.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Zero-loss throughput, fan-out ${fanout} (input datagrams/s, loss ≤ 0.01 %)</text>`);
  s.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(`${r.startedAt} · ${r.host.cpuModel} · Linux ${r.host.kernel} · one relay core`)}</text>`);
  // Axis and grid.
  for (let i = 0; i <= 5; i++) {
    const v = (top / 5) * i;
    s.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    s.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(i === 0 ? '0' : kpps(v))}</text>`);
  }
  s.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}" stroke="#333"/>`);
  payloads.forEach((p, gi) => {
    const gx = M.left + groupW * gi;
    const x0 = round1(gx + (groupW - barW * methods.length) / 2);
    methods.forEach((m, mi) => {
      const v = value(m, p);
      const x = round1(x0 + barW * mi);
      const h = round1(M.top + plotH - y(v.pps));
      s.push(`<rect x="${x + 2}" y="${y(v.pps)}" width="${barW - 4}" height="${h}" fill="${COLORS[m]}"/>`);
      if (v.atLeast) s.push(`<rect x="${x + 2}" y="${y(v.pps)}" width="${barW - 4}" height="${h}" fill="url(#hatch)"/>`);
      // "n/a": not measured (an anchor this host cannot run, or a failed cell: the report says which).
      const label = v.ok ? `${v.atLeast ? '≥ ' : ''}${kpps(v.pps)}` : 'n/a';
      s.push(`<text x="${x + barW / 2}" y="${y(v.pps) - 5}" text-anchor="middle">${esc(label)}</text>`);
    });
    const g = genMax.get(p);
    if (g !== undefined) {
      s.push(`<line x1="${gx + 8}" x2="${gx + groupW - 8}" y1="${y(g)}" y2="${y(g)}" stroke="#c00" stroke-dasharray="6 4"/>`);
      s.push(`<text x="${gx + groupW - 8}" y="${y(g) - 4}" text-anchor="end" fill="#c00">${esc(`generator max ${kpps(g)}`)}</text>`);
    }
    s.push(`<text x="${gx + groupW / 2}" y="${M.top + plotH + 20}" text-anchor="middle" font-weight="bold">${p} B payload</text>`);
  });
  // Legend.
  methods.forEach((m, i) => {
    const lx = M.left + (i % LEGEND_PER_ROW) * 170;
    const ly = H - 52 + Math.floor(i / LEGEND_PER_ROW) * 18;
    s.push(`<rect x="${lx}" y="${ly}" width="14" height="14" fill="${COLORS[m]}"/>`);
    s.push(`<text x="${lx + 20}" y="${ly + 12}">${esc(METHOD_LABELS[m])}</text>`);
  });
  s.push(`<text x="${M.left}" y="${H - 10}" fill="#555">hatched, "≥": passed at the generator's maximum (generator-limited)</text>`);
  s.push('</svg>');
  return s.join('\n') + '\n';
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

/** The smallest 1/2/5 × 10^k at or above v, so the axis has round ticks. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function esc(t: string): string {
  return t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
