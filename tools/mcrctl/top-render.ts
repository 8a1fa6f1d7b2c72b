/**
 * The screen of `mcrctl top` as plain lines: a header (workers, restarts,
 * rules, total rate, kernel drops; one line per input interface), then a
 * table with one line per rule and, under it, one per output, sorted by
 * the chosen key. The same lines serve the full-screen view (cut to the
 * terminal's width and height, with a last line saying how many rules did
 * not fit) and the plain snapshots printed when stdout is not a terminal
 * (nothing cut). No escape codes here: top-terminal.ts owns the screen.
 */
import { fitWidth, formatDuration, table, type Column } from './format.js';
import { sortBlocks, type SortKey, type TopRow, type TopView } from './top-model.js';

export interface RenderOptions {
  sort: SortKey;
  intervalMs: number;
  /** Milliseconds since the epoch: the time shown, and "down 12s". */
  nowMs: number;
  /** Terminal size to fit; undefined: print everything (not a terminal). */
  width?: number;
  height?: number;
  /** mcrd did not answer the last poll: shown instead of data (and the last data kept below it, if any). */
  error?: string;
  /** Keys the full-screen view takes, shown in its title. */
  keys?: boolean;
}

const COLUMNS: Column[] = [
  { header: 'ID', align: 'right' }, { header: 'NAME' }, { header: 'INPUT / OUTPUT' }, { header: 'PPS', align: 'right' },
  { header: 'MBIT/S', align: 'right' }, { header: 'PACKETS', align: 'right' }, { header: 'ERRORS', align: 'right' },
  { header: 'STREAM' }, { header: 'RTP' }, { header: 'TS' },
];

const rate = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
const mbit = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(2));

function stream(row: TopRow, nowMs: number): string {
  if (row.kind === 'output') return '';
  if (row.stateSinceMs === undefined || row.state === '-') return row.state;
  return `${row.state} ${formatDuration(nowMs - row.stateSinceMs)}`;
}

function cells(row: TopRow, nowMs: number): string[] {
  const errors = row.errnos !== '' ? `${row.errors} (${row.errnos})` : String(row.errors);
  return [
    row.kind === 'rule' ? String(row.ruleId) : '', row.kind === 'rule' ? (row.name || '-') : '',
    row.kind === 'rule' ? row.what : `  > ${row.what}`, rate(row.pps), mbit(row.mbps), String(row.packets), errors,
    stream(row, nowMs), row.rtp, row.ts,
  ];
}

function clock(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** The whole screen as lines, without newlines. */
export function renderTop(view: TopView | undefined, o: RenderOptions): string[] {
  const title = `mcrctl top  ${clock(o.nowMs)}  every ${(o.intervalMs / 1000).toFixed(1)} s  sort ${o.sort}` +
    (o.keys === true ? '  (q quit, s sort)' : '');
  const lines: string[] = [title];
  if (o.error !== undefined) lines.push(`mcrd not answering: ${o.error}`);
  if (view === undefined) {
    if (o.error === undefined) lines.push('waiting for mcrd...');
    return fit(lines, o);
  }
  lines.push(`workers ${view.workersRunning}/${view.workers} running  restarts ${view.restarts}  rules ${view.rules}  ` +
    `total ${rate(view.totalPps)} pps ${mbit(view.totalMbps)} Mbit/s  kernel drops ${view.kernelDrops}`);
  for (const i of view.inputs) {
    lines.push(`  ${i.interface}: workers ${i.workersRunning}/${i.workers}  frames ${rate(i.framesPps)}/s  kernel drops ${i.kernelDrops}` +
      (i.dropsPerSec !== undefined ? ` (${rate(i.dropsPerSec)}/s)` : ''));
  }
  lines.push('');
  if (view.blocks.length === 0) {
    lines.push('no rules: add one with `mcrctl add`');
    return fit(lines, o);
  }
  const blocks = sortBlocks(view.blocks, o.sort);
  const rows = blocks.flatMap((b) => [cells(b.rule, o.nowMs), ...b.outputs.map((out) => cells(out, o.nowMs))]);
  const laid = table(COLUMNS, rows);
  if (o.height === undefined) return fit([...lines, ...laid], o);
  // Whole rules only: a rule's outputs stay with it; the last line says what is left out.
  const room = o.height - lines.length - 1;
  const shown: string[] = [laid[0] ?? ''];
  let row = 1;
  let rulesShown = 0;
  for (const b of blocks) {
    const size = 1 + b.outputs.length;
    const isLast = rulesShown === blocks.length - 1;
    if (shown.length + size > room - (isLast ? 0 : 1)) break;
    shown.push(...laid.slice(row, row + size));
    row += size;
    rulesShown++;
  }
  if (rulesShown < blocks.length) shown.push(`... ${blocks.length - rulesShown} more rule${blocks.length - rulesShown === 1 ? '' : 's'} (a taller terminal, or --sort, shows others)`);
  return fit([...lines, ...shown], o);
}

function fit(lines: string[], o: RenderOptions): string[] {
  const cut = o.height !== undefined ? lines.slice(0, Math.max(1, o.height)) : lines;
  return o.width !== undefined ? cut.map((l) => fitWidth(l, o.width!)) : cut;
}
