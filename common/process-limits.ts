/**
 * This process's resource limits as the kernel states them in
 * /proc/self/limits: Node has no getrlimit, and the file gives the soft
 * limit of every resource in one read, with no addon call. mcrd's host
 * check reads RLIMIT_MEMLOCK from it; mcrd, its workers and mcr-relay read
 * RLIMIT_RTPRIO, which decides `--loop-rt-priority auto` (loop-settings.ts).
 */
import { readFileSync } from 'node:fs';

/** The soft limit on the line that starts with `label` ("Max realtime priority"): a number, Infinity for "unlimited", undefined when the file or the line is missing. */
export function softLimitIn(text: string, label: string): number | undefined {
  // The kernel pads each label to 26 columns: at least two spaces follow a
  // whole one ("Max realtime" alone is not a label).
  const line = text.split('\n').find((l) => l.startsWith(label) && /^\s{2,}\S/.test(l.slice(label.length)));
  const value = line?.slice(label.length).trim().split(/\s+/)[0];
  if (value === undefined) return undefined;
  if (value === 'unlimited') return Infinity;
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

/** The soft limit of this process (softLimitIn over /proc/self/limits). */
export function processSoftLimit(label: string): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  return softLimitIn(text, label);
}

/** RLIMIT_RTPRIO's soft limit: the highest SCHED_FIFO priority this process may take without CAP_SYS_NICE (0 when unreadable). */
export function realtimePriorityLimit(): number {
  const limit = processSoftLimit('Max realtime priority') ?? 0;
  return limit === Infinity ? 99 : Math.min(limit, 99);
}
