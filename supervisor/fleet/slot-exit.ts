/**
 * What follows a worker's exit that mcrd did not ask for, decided for its
 * slot: nothing when it was stopped on purpose (parked, no rules left, mcrd
 * stopping: the stop records it); a wait when its input interface went away
 * under it (no restart loop); else a restart after the slot's backoff,
 * which starts again from the minimum after a stable run, jumps to the
 * longest for a worker the host refused to start (a limit or permission a
 * quick retry would meet again), and is logged louder once starts keep
 * failing. Each outcome is logged and recorded as a worker.exited event,
 * with why the worker ended (its exit, the watchdog's verdict, its last
 * words). The fleet (fleet.ts) calls it in its chain and schedules the
 * restart it asks for.
 */
import type { Logger } from 'pino';
import type { FleetWorker, WorkerExit } from './worker-process.js';
import type { RestartBackoff } from './backoff.js';
import type { EventSink } from '../events/event-kinds.js';
import { WORKER_EXIT_START_REFUSED } from '../../common/worker-exit.js';
import { describeExit, FAILED_STARTS_REPORTED, lastWords, type Slot } from './slot.js';

export interface ExitContext {
  /** mcrd is stopping: nothing restarts. */
  closing: boolean;
  /** Why the slot's input interface cannot have workers now (fleet.ts, unusable), or undefined. */
  unusable: string | undefined;
  backoff: RestartBackoff;
  /** A run this long resets the backoff to its minimum. */
  stableMs: number;
  logger: Logger;
  events: EventSink;
}

/**
 * Updates the slot after its worker exited (the fleet has already taken the
 * worker off it) and says what follows: 'none', 'wait' (the slot is
 * waiting for its interface) or 'restart' (the caller schedules it, after
 * slot.backoffMs). `verdict`: why the watchdog killed it, if it did.
 */
export function afterExit(slot: Slot, worker: FleetWorker, how: WorkerExit, verdict: string | undefined, ctx: ExitContext): 'none' | 'wait' | 'restart' {
  const exited = { worker: slot.id, interface: slot.iface, pid: worker.pid ?? 0, code: how.code, signal: how.signal, reason: describeExit(how, verdict) };
  // A stop on purpose: the fleet's stop records it.
  if (ctx.closing || slot.state === 'stopping' || slot.state === 'waiting') return 'none';
  const reason = ctx.unusable;
  if (reason !== undefined) {
    // The interface went away under the worker: wait for it, do not restart in a loop.
    ctx.events.record('worker.exited', { ...exited, next: 'wait' });
    slot.state = 'waiting';
    slot.reason = reason;
    ctx.logger.info({ worker: slot.id, code: how.code, signal: how.signal, reason }, 'worker exited: waiting for its interface');
    return 'wait';
  }
  if (Date.now() - slot.startedAtMs > ctx.stableMs) slot.backoffMs = ctx.backoff.minMs;
  slot.restarts++;
  // Still 'starting': it never answered and held its rules (the start threw).
  const beforeReady = slot.state === 'starting';
  if (beforeReady) slot.failedStarts++;
  const words = lastWords(slot);
  if (how.code === WORKER_EXIT_START_REFUSED) {
    // The host refused what the loop needs (locked memory, a permission):
    // a quick restart fails the same way, so retry at the longest backoff
    // only, and say what the worker said it needs.
    slot.backoffMs = ctx.backoff.maxMs;
    slot.lastExit = { atMs: Date.now(), why: `start refused by the host, retried every ${ctx.backoff.maxMs / 1000} s: ${slot.lastFatal ?? 'see the worker log'}` };
    ctx.logger.error({ worker: slot.id, pid: worker.pid, code: how.code, error: slot.lastFatal, restartInMs: slot.backoffMs },
      'worker could not start its relay loop (a host limit or permission; the error says what to raise): retrying at the longest backoff');
    ctx.events.record('worker.exited', { ...exited, reason: slot.lastExit.why, next: 'restart', restartInMs: slot.backoffMs });
    return 'restart';
  }
  slot.lastExit = { atMs: Date.now(), why: `${describeExit(how, verdict)}${verdict === undefined && words !== undefined ? `: ${words}` : ''}` };
  const fields = { worker: slot.id, pid: worker.pid, code: how.code, signal: how.signal, ...(verdict !== undefined ? { hung: true } : {}),
    ...(slot.lastFatal !== undefined ? { error: slot.lastFatal } : {}), ...(slot.stderrTail.length > 0 ? { stderr: slot.stderrTail } : {}),
    restartInMs: slot.backoffMs };
  if (beforeReady && slot.failedStarts >= FAILED_STARTS_REPORTED) {
    ctx.logger.error({ ...fields, failedStarts: slot.failedStarts },
      `worker keeps failing to start (${slot.failedStarts} in a row): ${slot.lastExit.why}; restarting with backoff`);
  } else {
    ctx.logger.warn({ ...fields, ...(beforeReady ? { beforeReady: true } : {}) }, 'worker exited: restarting');
  }
  ctx.events.record('worker.exited', { ...exited, reason: slot.lastExit.why, next: 'restart', restartInMs: slot.backoffMs });
  return 'restart';
}
