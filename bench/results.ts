/**
 * The shape of a benchmark run's results file (bench/results/<stamp>.json),
 * and writing it with its markdown table and SVG chart beside it. The JSON
 * keeps every raw trial, so any figure in the table can be re-derived or
 * questioned later.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig, Family, MethodName } from './config.js';
import type { ExperimentsResult } from './experiments.js';
import type { GenReport } from './generator.js';
import type { CellLatency } from './latency.js';
import type { SearchResult } from './search.js';

export interface GeneratorMax {
  payload: number;
  /** 6 for the IPv6 stream; absent = IPv4. */
  family?: Family;
  /** mcrgen --rate 0 into the lab with no method running. */
  pps: number;
  report: GenReport;
}

export interface CellResult {
  method: MethodName;
  payload: number;
  fanout: number;
  /** 6 for an IPv6 cell (issue 16); absent = IPv4. */
  family?: Family;
  search?: SearchResult;
  /** What limited the figure, in words (limits.ts). */
  limit?: string;
  commands?: readonly string[];
  error?: { code: string; message: string };
  /** Why the method was not run on this host (deps.ts), e.g. a kernel without CONFIG_IP_MROUTE. */
  skipped?: string;
  /** One-way latency at fractions of the zero-loss rate (fan-out 1 cells; latency.ts). */
  latency?: CellLatency;
}

export interface BenchResults {
  schema: 'mcr-bench/1';
  startedAt: string;
  finishedAt?: string;
  /** Set when a signal ended the run early: the file holds what was measured until then. */
  interrupted?: string;
  config: BenchConfig;
  lossThreshold: number;
  host: {
    cpuModel: string;
    kernel: string;
    cores: number;
    loadavgAtStart: string;
    /** Busy fraction of each core over a second of quiet before the run: load from others that every figure carries. */
    backgroundUtil: number[];
    /** The kernel's DAMON memory monitoring (host-counters.ts damonState); absent in files before 2026-12-05. */
    damon?: string;
  };
  versions: { node: string; mcrCommit: string; smcroute?: string; socat?: string; nft?: string; gstreamer?: string };
  generatorMax: GeneratorMax[];
  cells: CellResult[];
  experiments?: ExperimentsResult;
  experimentsError?: { code: string; message: string };
  errors: Array<{ where: string; code: string; message: string }>;
}

/** 2025-01-31T12-34-56Z: ISO 8601 with the colons a file name should not carry. */
export function fileStamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/**
 * Writes one tool's record as DIR/PREFIX-<stamp>.json, making DIR first (a
 * run of many minutes must not lose its figures to a missing --out
 * directory), and returns the path.
 */
export function writeJsonRecord(dir: string, prefix: string, record: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${prefix}-${fileStamp(new Date())}.json`);
  writeFileSync(file, JSON.stringify(record, null, 1));
  return file;
}

export function writeResults(dir: string, stamp: string, results: BenchResults, markdown: string, svg: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, `${stamp}.json`), join(dir, `${stamp}.md`), join(dir, `${stamp}.svg`)];
  writeFileSync(files[0] ?? '', JSON.stringify(results, null, 1) + '\n');
  writeFileSync(files[1] ?? '', markdown);
  writeFileSync(files[2] ?? '', svg);
  return files;
}
