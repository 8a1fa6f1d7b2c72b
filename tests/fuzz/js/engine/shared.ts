/**
 * What the JavaScript fuzzer's two threads share: the options, and the
 * layout of the SharedArrayBuffer through which the fuzz loop (loop.ts, a
 * worker thread) shows the supervisor (fuzz.ts, the main thread) the input
 * it is running, so that the supervisor can save that input when the loop
 * stops answering (a hang) or dies (out of memory).
 */

export interface EngineOptions {
  /** Harness name: tests/fuzz/js/<name>.ts, compiled to dist/tests/fuzz/js/<name>.js. */
  harness: string;
  /** Corpus directories; new inputs are written to the first. In replay mode, files to run once each. */
  inputs: string[];
  replay: boolean;
  maxTotalTime: number;
  /** Seconds one input may take. */
  timeout: number;
  rssLimitMb: number;
  maxLen: number;
  /** Stop after this many executions (0: no limit). */
  runs: number;
  seed: number;
  artifactPrefix: string;
  /** Where to write the coverage of the instrumented files (JSON), or '' for nowhere. */
  coverageOut: string;
}

/** Int32 slots at the start of the shared buffer; the input's bytes follow. */
export const SLOT_SEQ = 0;
export const SLOT_RUNNING = 1;
export const SLOT_LENGTH = 2;
export const HEADER_BYTES = 16;

/** Coverage of one instrumented source file after a run. */
export interface FileCoverage {
  file: string;
  lines: { covered: number; total: number };
  branches: { covered: number; total: number };
  functions: { covered: number; total: number };
  /** 1-based lines with a statement that never ran. */
  uncoveredLines: number[];
}

export interface CoverageReport {
  /** Counters (edges) reached / instrumented, over every instrumented file. */
  edges: number;
  edgesTotal: number;
  features: number;
  files: FileCoverage[];
}
