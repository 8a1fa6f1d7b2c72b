/**
 * One worker slot of the fleet (an input interface × a core): its state,
 * and what its worker's answers say about the rules it holds. The fleet
 * (fleet.ts) drives the slots' life cycle; this file keeps what a slot
 * knows and how it is reported: which rules the worker refused, which
 * changes it did not confirm, why its last worker was replaced, the reason
 * `mcrctl workers` shows (slotInfo), what the slots of an interface did with one rule
 * (RuleApplication), and how a slot's worker is stopped within its deadline.
 */
import type { Logger } from 'pino';
import type { FleetWorker } from './worker-process.js';
import type { RuleTable } from '../rule-table.js';
import type { ErrorInfo, LoopState, Reply, RuleApplication, WorkerCounters, WorkerInfo } from '../../proto/index.js';
import { SCHED_FIFO } from './loop-thread.js';
import { withoutCodePrefix } from '../../common/control-errors.js';

export interface Slot {
  id: string;
  iface: string;
  core: number;
  worker: FleetWorker | undefined;
  state: 'waiting' | 'starting' | 'running' | 'restarting' | 'stopping';
  /** Why the slot waits, or why its worker holds no rules; shown by `mcrctl workers`. */
  reason: string | undefined;
  restarts: number;
  backoffMs: number;
  startedAtMs: number;
  generation: number;
  /** The hash of the rule table the worker says it holds (every reply echoes it; undefined before its first). */
  hash: Uint8Array | undefined;
  logLevel: string;
  timer: NodeJS.Timeout | undefined;
  counters: WorkerCounters | undefined;
  /** When `counters` arrived (performance.now()): a reading's answers far apart make no rate reference (stats-report.ts). */
  countersAtMs: number | undefined;
  /** Rules the running worker holds but could not apply, from its last reply. */
  refused: Map<number, ErrorInfo>;
  /** The worker did not answer a rule command: it gets a full sync with its next command. */
  needsSync: boolean;
  /** Rules whose change (or whole table, after a sync) the worker did not confirm, until a sync succeeds. */
  unconfirmed: Set<number>;
  /** The watchdog's last reading of the worker's heartbeat, and since when it has had that value. */
  beat: { worker: FleetWorker; value: bigint; sinceMs: number } | undefined;
  /** The watchdog logged this stall as CPU starvation already (once per stall). */
  starvedLogged: boolean;
  /** Set by the watchdog when it kills a hung worker, so the exit is told as what it was. */
  verdict: { worker: FleetWorker; why: string } | undefined;
  /** Why the last worker that was restarted exited (a crash, or killed as hung), and when; shown by `mcrctl workers`. */
  lastExit: { atMs: number; why: string } | undefined;
  /** The current worker's last fatal log line ("CODE: message"): its own word on why it is ending. */
  lastFatal: string | undefined;
  /** The current worker's last STDERR_TAIL_LINES stderr lines (Node's own errors land there, not in the JSON log). */
  stderrTail: string[];
  /** Workers of this slot that exited before they were running, in a row (0 once one runs). */
  failedStarts: number;
  /** How a worker's loop runs, from its ready ping; shown by `mcrctl workers` while that worker is the slot's. */
  loop: { worker: FleetWorker; state: LoopState } | undefined;
}

/** Stderr lines kept per worker, for the log line and the reason of an exit. */
export const STDERR_TAIL_LINES = 5;
/** After this many failed starts in a row the slot's reason says that it keeps failing, and why. */
export const FAILED_STARTS_REPORTED = 3;

/** Keeps the last STDERR_TAIL_LINES stderr lines of the slot's worker. */
export function noteStderr(slot: Slot, line: string): void {
  if (line.trim() === '') return;
  slot.stderrTail.push(line.length > 300 ? `${line.slice(0, 300)}...` : line);
  if (slot.stderrTail.length > STDERR_TAIL_LINES) slot.stderrTail.shift();
}

/**
 * Why the worker ended, in its own words when it left any: its fatal log
 * line, else the last line it wrote to stderr (an uncaught exception's
 * message, a module that could not be loaded), else nothing.
 */
export function lastWords(slot: Slot): string | undefined {
  if (slot.lastFatal !== undefined) return slot.lastFatal;
  // An uncaught error's stack ends with "Node.js v20..."; its message is the line that names the error.
  const tail = slot.stderrTail.filter((l) => !/^Node\.js v\d/.test(l) && !/^\s+at /.test(l));
  return tail.find((l) => /^[A-Za-z]*Error\b|^Error:|\bE[A-Z]{2,}\b/.test(l)) ?? tail.at(-1);
}

export function newSlot(iface: string, index: number, core: number, backoffMs: number, logLevel: string): Slot {
  return { id: `${iface}/${index}`, iface, core, worker: undefined, state: 'waiting', reason: undefined, restarts: 0,
    backoffMs, startedAtMs: 0, generation: 0, hash: undefined, logLevel, timer: undefined, counters: undefined, countersAtMs: undefined,
    refused: new Map(), needsSync: false, unconfirmed: new Set(), beat: undefined, verdict: undefined, lastExit: undefined,
    lastFatal: undefined, starvedLogged: false, stderrTail: [], failedStarts: 0, loop: undefined };
}

/** What the slots of a rule's input interface did with it: applied, refused (with the error), not confirmed, or pending (no worker now). */
export function slotsApplication(slots: readonly Slot[], ruleId: number): RuleApplication {
  const result: RuleApplication = { ruleId, applied: [], refused: [], unconfirmed: [], pending: [] };
  for (const slot of slots) {
    // A worker that died and whose exit the fleet has not handled yet holds nothing: its restart gets the rule.
    if (slot.state !== 'running' || slot.worker === undefined || !slot.worker.connected) result.pending.push(slot.id);
    else if (slot.unconfirmed.has(ruleId)) result.unconfirmed.push(slot.id);
    else {
      const error = slot.refused.get(ruleId);
      if (error !== undefined) result.refused.push({ worker: slot.id, error });
      else result.applied.push(slot.id);
    }
  }
  return result;
}

/** Keeps the worker's refused rules from its reply and logs each change, naming rules by the ids mcrctl shows. */
export function noteRefusals(slot: Slot, reply: Reply, table: RuleTable, logger: Logger): void {
  const now = new Map(reply.refused.map((r) => [r.ruleId, r.error]));
  for (const [id, error] of now) {
    if (slot.refused.get(id)?.code === error.code) continue;
    const rule = table.get(id);
    logger.error({ worker: slot.id, rule: id, name: rule?.name, code: error.code, err: error.message },
      'worker refused a rule: it is not forwarded, the other rules are; it is tried again on reload, on an interface change or a worker restart');
  }
  for (const id of slot.refused.keys()) {
    if (!now.has(id) && table.get(id) !== undefined) logger.info({ worker: slot.id, rule: id }, 'worker applied a rule it had refused');
  }
  slot.refused = now;
}

/**
 * Why `mcrctl workers` should look at a slot: its own reason, a change it
 * did not confirm, the rules its worker refused, why its last worker was
 * restarted.
 */
export function reasonOf(s: Slot): string | undefined {
  const parts: string[] = [];
  if (s.reason !== undefined) parts.push(s.reason);
  if (s.needsSync) parts.push(`did not answer a rule change in time${s.unconfirmed.size > 0 ? ` (rules ${[...s.unconfirmed].slice(0, 5).join(', ')} not confirmed)` : ''}: gets a full sync with the next change or stats request`);
  if (s.refused.size > 0) {
    const first = [...s.refused].slice(0, 3).map(([id, e]) => `rule ${id} (${e.code}: ${e.message})`);
    parts.push(`${s.refused.size} rule${s.refused.size === 1 ? '' : 's'} refused: ${first.join('; ')}${s.refused.size > 3 ? '; ...' : ''}`);
  }
  if (s.failedStarts >= FAILED_STARTS_REPORTED && s.lastExit !== undefined) {
    parts.push(`keeps failing to start (${s.failedStarts} failed starts in a row, still retried with backoff): ${s.lastExit.why}`);
  } else if (s.lastExit !== undefined) parts.push(`last exit ${new Date(s.lastExit.atMs).toISOString()}: ${s.lastExit.why}, restarted`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/**
 * A slot as `mcrctl workers` shows it. `loopPolicy` reads the scheduling
 * policy of a worker's loop thread (loop-thread.ts) for a loop that started
 * real-time, so the answer says whether its saturation guard has it under
 * the normal policy now: the kernel's view, read when asked.
 */
export function slotInfo(s: Slot, loopPolicy: (pid: number) => number | undefined): WorkerInfo {
  const reason = reasonOf(s);
  const loop = s.loop !== undefined && s.loop.worker === s.worker ? s.loop.state : undefined;
  const pid = s.worker?.pid;
  // Read only for a running loop that started real-time.
  const policy = loop !== undefined && loop.rtPriority > 0 && pid !== undefined && s.state === 'running' ? loopPolicy(pid) : undefined;
  const steppedDown = policy !== undefined && policy !== SCHED_FIFO;
  return {
    id: s.id, interface: s.iface, core: s.core, pid: pid ?? 0, state: s.state,
    restarts: s.restarts, generation: s.generation, logLevel: s.logLevel, startedAtMs: s.startedAtMs,
    ...(reason !== undefined ? { reason } : {}),
    ...(s.lastExit !== undefined ? { lastExit: s.lastExit.why, lastExitAtMs: s.lastExit.atMs } : {}),
    ...(s.failedStarts > 0 ? { failedStarts: s.failedStarts } : {}),
    ...(loop !== undefined ? { loop, ...(steppedDown ? { loopSteppedDown: true } : {}) } : {}),
  };
}

/** An exit as a reason: the watchdog's verdict ("hung: heartbeat stalled 1.6 s, killed"), "exited with code 1", "killed by SIGSEGV". */
export function describeExit(how: { code: number | null; signal: NodeJS.Signals | null }, verdict?: string): string {
  if (verdict !== undefined) return verdict;
  if (how.signal !== null) return `killed by ${how.signal}`;
  return how.code === null ? 'exited' : `exited with code ${how.code}`;
}

/**
 * Drain-and-stop of the slot's worker with one deadline for the stop
 * command and the exit together: SIGKILL `timeoutMs` after the stop began,
 * whatever the worker does meanwhile. The slot is left 'stopping' with no
 * worker and forgets what the worker held.
 */
export async function stopSlotWorker(s: Slot, timeoutMs: number, logger: Logger): Promise<void> {
  s.state = 'stopping';
  if (s.timer !== undefined) clearTimeout(s.timer);
  s.timer = undefined;
  const worker = s.worker;
  if (worker === undefined) return;
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { deadline = setTimeout(resolve, timeoutMs, 'timeout'); });
  void worker.send({ kind: 'stop' }, timeoutMs).catch(() => undefined);
  const done = await Promise.race([worker.exited, timedOut]);
  clearTimeout(deadline);
  if (done === 'timeout') {
    logger.warn({ worker: s.id, pid: worker.pid, timeoutMs }, 'worker did not stop in time: killed');
    worker.kill('SIGKILL');
  }
  await worker.exited;
  worker.close();
  if (s.worker === worker) s.worker = undefined;
  s.hash = undefined;
  s.refused.clear();
  s.needsSync = false;
  s.unconfirmed.clear();
}

/** "CODE: message" from a worker's fatal JSON log line (worker/fleet-worker.ts), or the raw line if it does not parse. */
export function fatalText(line: string): string {
  try {
    const entry = JSON.parse(line) as { code?: unknown; msg?: unknown };
    const code = typeof entry.code === 'string' ? entry.code : 'ERR_MCR_WORKER';
    const msg = typeof entry.msg === 'string' ? entry.msg : line;
    return `${code}: ${withoutCodePrefix(code, msg)}`;
  } catch {
    return line;
  }
}
