/**
 * What the fleet (fleet.ts) is given: the interfaces it can see, how many
 * workers and where, the rule table, logging, the loop settings and slot
 * sizes its workers get, how worker processes are started; and the time
 * limits it keeps with them (FleetTiming: the defaults below, shortened by
 * the unit tests).
 */
import type { Logger } from 'pino';
import type { RestartBackoff } from './backoff.js';
import type { Slot } from './slot.js';
import type { RuleTable } from '../rule-table.js';
import type { WorkerLogs } from '../worker-logs.js';
import type { LoopSettings } from '../../common/loop-settings.js';
import type { WorkerSlots } from '../../common/rule-limits.js';
import type { FleetWorker, WorkerSpec } from './worker-process.js';
import type { EventSink } from '../events/event-kinds.js';

export const READY_TIMEOUT_MS = 10_000;
export const STABLE_MS = 60_000;
/** From a stop's start to SIGKILL, whatever the worker does meanwhile (docs/mcrd.md). */
export const STOP_TIMEOUT_MS = 10_000;
/**
 * How long one rule change (add, remove) may wait for a worker's answer. A
 * worker that does not answer in time is reported as "not confirmed" and is
 * given a full sync with its next command, rather than holding up the
 * answer to mcrctl (and every change queued behind it).
 */
export const RULE_COMMAND_TIMEOUT_MS = 3_000;
/** A full sync opens every output socket of the interface afresh: allow for 10 000 rules. */
export const SYNC_TIMEOUT_MS = 10_000;
/**
 * The hung-worker watchdog: every HEARTBEAT_CHECK_MS one timer reads each
 * running worker's heartbeat; a worker whose heartbeat was non-zero and has
 * not changed for HUNG_AFTER_MS is killed and restarted. The loop beats at
 * least every 100 ms even when idle (its stats timer), so 1.5 s is 15
 * missed turns; 1500 is a multiple of 250, so a stall is detected at most
 * 1.5 s after the check that last saw the heartbeat move (at most 1.75 s
 * after the stall began, plus timer lateness).
 */
export const HEARTBEAT_CHECK_MS = 250;
export const HUNG_AFTER_MS = 1_500;

export interface FleetTiming {
  readyTimeoutMs: number;
  /** A worker that ran this long before exiting restarts after the minimum backoff again. */
  stableMs: number;
  stopTimeoutMs: number;
  ruleCommandTimeoutMs: number;
  syncTimeoutMs: number;
  heartbeatCheckMs: number;
  hungAfterMs: number;
}

export const DEFAULT_FLEET_TIMING: Readonly<FleetTiming> = {
  readyTimeoutMs: READY_TIMEOUT_MS, stableMs: STABLE_MS, stopTimeoutMs: STOP_TIMEOUT_MS,
  ruleCommandTimeoutMs: RULE_COMMAND_TIMEOUT_MS, syncTimeoutMs: SYNC_TIMEOUT_MS,
  heartbeatCheckMs: HEARTBEAT_CHECK_MS, hungAfterMs: HUNG_AFTER_MS,
};

/** Starts one worker process; `onLine` gets its stdout and stderr lines. */
export type StartWorker = (spec: WorkerSpec, onLine: (line: string, stream: 'stdout' | 'stderr') => void) => FleetWorker;

/** What the fleet needs to know about an interface, by name; undefined: it does not exist. */
export interface InterfaceView {
  get(name: string): { ifindex: number; up: boolean } | undefined;
}

export interface InputInterface {
  slots: Slot[];
  /** Index the running workers' AF_PACKET sockets are bound to. */
  ifindex: number | undefined;
}

export interface FleetOptions {
  interfaces: InterfaceView;
  workersPerInterface: number;
  /** CPUs workers are pinned to: worker i of an interface gets cpus[i mod length]. */
  cpus: number[];
  /**
   * CPUs for the workers' threads other than their loops (mcrd's own, left
   * over by --worker-cpus; WorkerSpec.auxCpus): each loop thread then has
   * its core to itself. Empty or unset: a worker's every thread on its core.
   */
  auxCpus?: number[];
  user: string | undefined;
  logLevel: string;
  table: RuleTable;
  logs: WorkerLogs;
  logger: Logger;
  /** Workers' loop settings (coalescing, busy polling; WorkerSpec.loop). */
  loop?: LoopSettings;
  /** Counter slots each worker's loop gets, sized from the rule limits (WorkerSpec.slots); default the loop's own. */
  slots?: WorkerSlots;
  /** Restart delay bounds; default 100 ms doubling to 10 s. */
  restartBackoff?: RestartBackoff;
  /** Time limits; default DEFAULT_FLEET_TIMING. */
  timing?: Partial<FleetTiming>;
  /** How worker processes are started; default a WorkerProcess with the addon and child_process.spawn. */
  startWorker?: StartWorker;
  /** Where worker started, exited and restarted events go (mcrd's event log); default nowhere. */
  events?: EventSink;
  /** The scheduler state of a worker's loop thread ('R', 'S', 'T', ...; loop-thread.ts); default read from /proc. */
  loopState?: (pid: number) => string | undefined;
  /** The scheduling policy of a worker's loop thread (1 SCHED_FIFO; loop-thread.ts), for `mcrctl workers`; default read from /proc. */
  loopPolicy?: (pid: number) => number | undefined;
}

