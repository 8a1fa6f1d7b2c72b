/**
 * What a fault gets from the soak (the lab, mcrd, traffic settings, a way
 * to wait until the relay has drained) and what it hands back: the pairs it
 * touches (allowed to lose datagrams, all others must not), extra traffic
 * it ran itself (churn rules), how long recovery took, and notes for the
 * report. Faults restore whatever they changed in `finally` blocks, so a
 * failure in the middle leaves the lab as it was.
 */
import type { LabProcess, RelayLab } from '../lab/index.js';
import type { PairTraffic } from './accounting.js';
import type { McrdControl } from './mcrd-control.js';
import type { FaultKind, PlannedFault } from './schedule.js';
import type { Pair } from './topology.js';
import type { TrafficTools } from './traffic.js';

export interface FaultContext {
  rl: RelayLab;
  mcrd: LabProcess;
  control: McrdControl;
  socket: string;
  configPath: string;
  /** mcrgen and mcrsink of the soak's snapshot. */
  tools: TrafficTools;
  /** Datagrams per second of each rule's generator, and their payload size. */
  ratePerRule: number;
  size: number;
  /** Base pairs (rules a..e). */
  pairs: readonly Pair[];
  /** A fresh stream id for a generator the fault starts itself. */
  nextStream(): number;
  /**
   * Takes a counter sample now. Faults call it right before and after they
   * kill, stop or cut off a worker, so that process's last counts are as
   * close to final as the soak can read them (accounting.ts: frames a
   * worker saw after its last sample would otherwise look unread).
   */
  sample(): Promise<void>;
  /** Waits until the workers' counters stand still (nothing in flight). */
  quiesce(): Promise<void>;
  /** Worker PIDs the soak stopped and has not resumed: resumed on abort. */
  stopped: Set<number>;
  /** The config reload's state: is rule z in the file, and rule e's first TTL. */
  reload: { withZ: boolean; eTtl: number; count: number };
  log(line: string): void;
}

export interface FaultOutcome {
  kind: FaultKind | 'none';
  /** What was hit: "out1", "in0/1 (pid 1234)", ... */
  target: string;
  /** Pair ids the fault may cost datagrams. */
  touched: Set<string>;
  /** From the fault's start until MCR forwarded normally again (as far as the soak can see), ms. */
  recoveryMs?: number;
  /** worker-stop only: whether mcrd's hung-worker watchdog replaced the worker, and when. */
  watchdog?: { present: boolean; replacedAfterMs?: number };
  /** Traffic the fault ran on rules of its own (churn); hard-checked like untouched pairs. */
  extra: PairTraffic[];
  /** Send errors by errno that mcrd's per-output counters showed growing in the fault phase (a lower bound: resyncs reset them). */
  errnos?: Record<string, number>;
  failures: string[];
  notes: string[];
  details: Record<string, unknown>;
}

export type FaultRunner = (ctx: FaultContext, plan: PlannedFault) => Promise<FaultOutcome>;

export function outcome(kind: FaultKind | 'none', target: string, touched: Iterable<string> = []): FaultOutcome {
  return { kind, target, touched: new Set(touched), extra: [], failures: [], notes: [], details: {} };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
