/**
 * A worker's loop thread (named "mcr-loop" by the addon) as the kernel sees
 * it, read from /proc/<pid>/task/<tid>/stat.
 *
 * Its scheduler state is what the watchdog asks before it kills a worker
 * whose heartbeat stood still. 'R' (runnable) means the loop wants a CPU
 * and does not get one, the machine being overloaded: it is starved, not
 * hung, and killing it would only lose more. 'T' (stopped), 'S' or 'D'
 * (blocked in a call that the loop's own 100 ms timer should have ended)
 * mean it is hung.
 *
 * Its scheduling policy is what `mcrctl workers` shows beside the policy
 * the loop started with: a real-time loop that its saturation guard
 * stepped down (native/core/realtime_guard.h) runs under the normal policy
 * until it is calm, and only the kernel knows that at the moment of asking
 * without a round trip to the worker.
 *
 * Both are undefined when the thread cannot be found (process gone, no
 * /proc): the watchdog then judges by the heartbeat alone, and the workers
 * table shows the start's policy.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const LOOP_THREAD_NAME = 'mcr-loop';

/** sched(7)'s SCHED_FIFO, the policy of a real-time loop. */
export const SCHED_FIFO = 1;

/**
 * The fields of a /proc/.../stat line after "(comm)", which may hold spaces
 * or parentheses: [0] is field 3 (state) of proc_pid_stat(5), so field N
 * is [N - 3].
 */
export function statFieldsAfterComm(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
}

function loopThreadStat(pid: number): string[] | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() !== LOOP_THREAD_NAME) continue;
      return statFieldsAfterComm(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
    }
  } catch {
    // Gone between the reads, or no /proc: no verdict from here.
  }
  return undefined;
}

/** The loop thread's scheduler state letter ('R', 'S', 'D', 'T', ...). */
export function loopThreadState(pid: number): string | undefined {
  const state = loopThreadStat(pid)?.[0];
  return state === undefined || state === '' ? undefined : state;
}

/** The loop thread's scheduling policy (field 41: 0 SCHED_OTHER, 1 SCHED_FIFO, ...). */
export function loopThreadPolicy(pid: number): number | undefined {
  const policy = loopThreadStat(pid)?.[41 - 3];
  return policy !== undefined && /^\d+$/.test(policy) ? Number(policy) : undefined;
}
