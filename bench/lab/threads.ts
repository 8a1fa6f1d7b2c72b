/**
 * The threads of a process the lab started, as the kernel schedules them
 * (/proc/PID/task/TID): name, policy, real-time priority and, where the
 * kernel shows it (`se.slice` in `sched`: CONFIG_SCHED_DEBUG, Linux 6.6),
 * the scheduler slice. The bench records the relay loop thread's
 * (`mcr-loop`) with each MCR cell, since its slice moves the latency tail
 * (docs/mcrd.md, "Throughput settings"); the tests that check how mcrd
 * schedules its workers read the same fields.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SCHED_FIFO, statFieldsAfterComm } from '../../supervisor/fleet/loop-thread.js';

export const SCHED_OTHER = 0;
export { SCHED_FIFO };

export interface ThreadView {
  tid: number;
  name: string;
  /** sched_setscheduler policy: SCHED_OTHER 0, SCHED_FIFO 1, … (stat field 41). */
  policy: number;
  /** Real-time priority, 0 for normal threads (stat field 40). */
  rtPriority: number;
  /** Scheduler slice in ns; undefined where the kernel does not show it. */
  sliceNs: number | undefined;
}

/** Every thread of `pid`; throws (ENOENT) when the process is gone. */
export function threadsOf(pid: number): ThreadView[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const dir = `/proc/${pid}/task/${tid}`;
    const stat = readFileSync(`${dir}/stat`, 'utf8');
    const rest = statFieldsAfterComm(stat);
    const sched = existsSync(`${dir}/sched`) ? readFileSync(`${dir}/sched`, 'utf8') : '';
    const slice = /^se\.slice\s*:\s*(\d+)/m.exec(sched)?.[1];
    return {
      tid: Number(tid), name: readFileSync(`${dir}/comm`, 'utf8').trim(), rtPriority: Number(rest[37]), policy: Number(rest[38]),
      sliceNs: slice === undefined ? undefined : Number(slice),
    };
  });
}

/** One line on how the kernel schedules `pid`'s relay loop thread, for a bench cell's record. */
export function describeLoopThread(pid: number): string {
  let loop: ThreadView | undefined;
  try {
    loop = threadsOf(pid).find((th) => th.name === 'mcr-loop');
  } catch (err) {
    return `(loop) not read: ${(err as Error).message}`;
  }
  if (loop === undefined) return `(loop) process ${pid} has no mcr-loop thread`;
  const policy = loop.policy === SCHED_FIFO ? `SCHED_FIFO ${loop.rtPriority}` : loop.policy === SCHED_OTHER ? 'SCHED_OTHER' : `policy ${loop.policy}`;
  const slice = loop.sliceNs === undefined ? 'slice not shown by this kernel' : `slice ${loop.sliceNs / 1000} µs`;
  return `(loop) mcr-loop: ${policy}, ${slice}`;
}
