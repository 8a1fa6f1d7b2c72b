/**
 * Reads the Prometheus text format back for the metrics tests: samples with
 * their labels and values, HELP/TYPE per metric, and every problem that
 * would make Prometheus refuse or misread a scrape (a sample without TYPE,
 * the same series twice, a value that is not a number). promtool lints
 * names and types but, in the version Debian 12 ships, not duplicates.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedMetrics {
  samples: Sample[];
  types: Map<string, string>;
  problems: string[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): ParsedMetrics {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      if (meta[1] === 'TYPE') types.set(meta[2] ?? '', meta[3] ?? '');
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null) {
      problems.push(`not a sample: ${line}`);
      continue;
    }
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const name = m[1] ?? '';
    const value = Number(m[3]);
    if (!types.has(name)) problems.push(`no TYPE before ${name}`);
    if (Number.isNaN(value)) problems.push(`not a number: ${line}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) problems.push(`series twice: ${line}`);
    seen.add(key);
    samples.push({ name, labels, value });
  }
  return { samples, types, problems };
}

/** The samples of `name` whose labels include `match`. */
export function select(p: ParsedMetrics, name: string, match: Record<string, string> = {}): Sample[] {
  return p.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of `name` matching `match`; throws naming what it found otherwise. */
export function value(p: ParsedMetrics, name: string, match: Record<string, string> = {}): number {
  const found = select(p, name, match);
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(match)}, expected one`);
  return (found[0] as Sample).value;
}
