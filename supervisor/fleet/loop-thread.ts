/**
 * The scheduler state of a worker's loop thread (named "mcr-loop" by the
 * addon), read from /proc: what the watchdog asks before it kills a worker
 * whose heartbeat stood still. 'R' (runnable) means the loop wants a CPU
 * and does not get one, the machine being overloaded: it is starved, not
 * hung, and killing it would only lose more. 'T' (stopped), 'S' or 'D'
 * (blocked in a call that the loop's own 100 ms timer should have ended)
 * mean it is hung. Undefined when the thread cannot be found (process gone,
 * no /proc): the watchdog then judges by the heartbeat alone.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const LOOP_THREAD_NAME = 'mcr-loop';

export function loopThreadState(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() !== LOOP_THREAD_NAME) continue;
      // "tid (comm) S ...": the state follows the last ')' (comm may hold spaces or parentheses).
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || undefined;
    }
  } catch {
    // Gone between the reads, or no /proc: no verdict from here.
  }
  return undefined;
}
