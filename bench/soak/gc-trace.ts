/**
 * mcrd's garbage collections, from node's `--trace-gc` lines in its stdout
 * (the soak starts mcrd with that flag; the lines sit beside pino's JSON
 * and the log check skips them). The report lists every full GC
 * (Mark-Compact) with its time, the live heap after it and the heap V8
 * keeps committed, so an RSS rise can be told apart: a heap growing to its
 * working size (committed steps up between full GCs, live stays flat)
 * from retention (live grows). Scavenges are only counted.
 */
export interface FullGc {
  /** ms since mcrd's node started (the trace's own clock). */
  atMs: number;
  liveMb: number;
  committedMb: number;
}

export interface GcTrace {
  scavenges: number;
  fullGcs: FullGc[];
}

const LINE = /\]\s+(\d+) ms: ([A-Za-z -]+?)(?: \([a-z ]+\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/;

export function parseGcTrace(lines: readonly string[]): GcTrace {
  const out: GcTrace = { scavenges: 0, fullGcs: [] };
  for (const line of lines) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const kind = m[2] ?? '';
    if (/Scavenge/.test(kind)) out.scavenges++;
    else if (/Mark-Compact/.test(kind)) out.fullGcs.push({ atMs: Number(m[1]), liveMb: Number(m[3]), committedMb: Number(m[4]) });
  }
  return out;
}
