/**
 * Text layout for mcrctl's human-readable output: a tiny column-aligned table
 * and the few value formats shared by several commands (rule inputs and
 * outputs, rates, uptimes). Nothing here knows about commands or the socket,
 * so every layout decision is testable on plain values.
 */
import stringWidth from 'string-width';
import { hostPort } from '../../common/rule-spec.js';
import { outputHostPort } from '../../common/rule-text.js';
import type { Output, Rule } from '../../proto/index.js';

export interface Column {
  header: string;
  /** Numbers read best right-aligned, so their digits line up. */
  align?: 'left' | 'right';
}

/** Spaces between columns: two keep adjacent values apart even when one is empty. */
const GAP = '  ';

/**
 * Lays out rows under their headers, each column as wide as its widest cell.
 * Widths are the terminal's columns, not string lengths (string-width): a
 * rule named in CJK or with an emoji takes two columns a character and must
 * not shift the columns after it. Trailing spaces are trimmed so output
 * compares and pipes cleanly. Missing cells print as empty; extra cells are
 * ignored.
 */
export function table(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string[] {
  const cells = [columns.map((c) => c.header), ...rows.map((r) => columns.map((_, i) => r[i] ?? ''))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => stringWidth(r[i] ?? ''))));
  return cells.map((row) =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - stringWidth(cell)));
        return columns[i]?.align === 'right' ? pad + cell : cell + pad;
      })
      .join(GAP)
      .trimEnd(),
  );
}

/**
 * `line` cut to at most `width` terminal columns, ending in '>' where it
 * was cut (grapheme by grapheme, so a wide character is never split).
 */
export function fitWidth(line: string, width: number): string {
  if (stringWidth(line) <= width) return line;
  let out = '';
  let used = 0;
  for (const { segment } of new Intl.Segmenter().segment(line)) {
    const w = stringWidth(segment);
    if (used + w > width - 1) break;
    out += segment;
    used += w;
  }
  return out + '>';
}

/**
 * Protobuf has no "unset" for scalars in some decoders: '' and 0 arrive for
 * optional fields left out, so both count as absent.
 */
export function present<T extends string | number>(value: T | undefined | null): value is T {
  return value !== undefined && value !== null && value !== '' && value !== 0;
}

/** An output in the same GROUP:PORT:IF[:TTL] form `mcrctl add --outputs` takes ([GROUP] for IPv6, = for a kept group or port). */
export function formatOutput(o: Output): string {
  const base = `${outputHostPort(o.group, o.port)}:${o.interface}${present(o.ttl) ? `:${o.ttl}` : ''}`;
  return present(o.source) ? `${base} from ${o.source}` : base;
}

/** Where a rule listens: "eth0 239.1.1.1:5000", "eth0 [ff3e::1]:5000". */
export function formatInput(rule: Pick<Rule, 'inputInterface' | 'inputGroup' | 'inputPort'>): string {
  return `${rule.inputInterface} ${hostPort(rule.inputGroup, rule.inputPort)}`;
}

/**
 * A rate with one decimal: low-rate streams (a few pps) still show a value.
 * No rate (mcrd had no earlier sample) prints '-', never a made-up 0.
 */
export function formatRate(pps: number | undefined): string {
  return pps !== undefined && Number.isFinite(pps) ? pps.toFixed(1) : '-';
}

/** A duration as the two largest units, e.g. "3d04h", "2h05m", "4m09s", "12s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${pad(h)}h`;
  if (h > 0) return `${h}h${pad(m)}m`;
  if (m > 0) return `${m}m${pad(s % 60)}s`;
  return `${s}s`;
}

/** A cell for an optional value: '-' reads as "none" where a blank looks like a bug. */
export function orDash(value: string | number | undefined | null): string {
  return present(value) ? String(value) : '-';
}

/** Keeps a log message on one output line whatever it contains. */
export function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n');
}
