/**
 * Watches one core for the moments its input backlog overflows
 * (`bench:recovery --watch-stalls MS`): every MS milliseconds it reads that
 * core's row of /proc/net/softnet_stat (frames processed and dropped), the
 * core's `ksoftirqd` scheduling statistics (/proc/PID/schedstat: time run
 * and time waited for the CPU while runnable) and its hypervisor steal
 * (/proc/stat), and keeps the windows in which frames were dropped.
 *
 * It tells a core that was busy with something else (ksoftirqd waiting
 * for the CPU while another task ran) from a core that did not run at all
 * (few frames processed, nothing waiting, no steal reported: the host did
 * not run the virtual CPU). docs/performance.md, "Stalls of the relay
 * core", is what it found.
 */
import { readFileSync } from 'node:fs';
import { readCpuTimes, readSoftnet, readTasks } from './host-counters.js';

export interface StallSample {
  atMs: number;
  processed: number;
  dropped: number;
  /** ksoftirqd's time on the CPU and waiting for it, ns (0 when it was not found). */
  softirqdRunNs: number;
  softirqdWaitNs: number;
  /** The core's steal so far, ms (/proc/stat counts it in 10 ms ticks). */
  stealMs: number;
}

export interface StallWindow {
  /** Start of the window, ms since the watch started. */
  atMs: number;
  windowMs: number;
  processed: number;
  dropped: number;
  softirqdRunMs: number;
  softirqdWaitMs: number;
  stealMs: number;
}

/** softnet_stat's counters are 32 bits wide and wrap (at 500 kpps, every 2.4 hours). */
export function delta32(a: number, b: number): number {
  return (b - a + 2 ** 32) % 2 ** 32;
}

/** The windows between consecutive samples in which the core's backlog dropped frames. */
export function stallWindows(samples: readonly StallSample[]): StallWindow[] {
  const out: StallWindow[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (a === undefined || b === undefined || delta32(a.dropped, b.dropped) === 0) continue;
    out.push({
      atMs: a.atMs, windowMs: b.atMs - a.atMs, processed: delta32(a.processed, b.processed), dropped: delta32(a.dropped, b.dropped),
      softirqdRunMs: (b.softirqdRunNs - a.softirqdRunNs) / 1e6, softirqdWaitMs: (b.softirqdWaitNs - a.softirqdWaitNs) / 1e6,
      stealMs: b.stealMs - a.stealMs,
    });
  }
  return out;
}

/** One line per window, for the tool's log. */
export function describeStall(w: StallWindow): string {
  return `+${(w.atMs / 1000).toFixed(2)} s: ${w.dropped} dropped, ${w.processed} processed in ${w.windowMs.toFixed(0)} ms; ` +
    `ksoftirqd ran ${w.softirqdRunMs.toFixed(2)} ms, waited ${w.softirqdWaitMs.toFixed(2)} ms; steal ${w.stealMs.toFixed(0)} ms`;
}

/** The PID of `cpu`'s ksoftirqd thread, undefined when it is not found. */
export function softirqdPid(cpu: number): number | undefined {
  const name = `ksoftirqd/${cpu}`;
  for (const [tid, task] of readTasks()) if (task.comm === name) return tid;
  return undefined;
}

/** A task's time on the CPU and time waiting for it, ns ([0, 0] when it cannot be read). */
export function readSchedstat(pid: number | undefined): [number, number] {
  if (pid === undefined) return [0, 0];
  try {
    const f = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return [f[0] ?? 0, f[1] ?? 0];
  } catch {
    return [0, 0];
  }
}

/** Samples `cpu` every `periodMs` until stop(), which returns the windows with drops. */
export function watchStalls(cpu: number, periodMs: number): { stop: () => StallWindow[] } {
  const pid = softirqdPid(cpu);
  const t0 = performance.now();
  const samples: StallSample[] = [];
  const sample = () => {
    const row = readSoftnet()[cpu];
    const [run, wait] = readSchedstat(pid);
    samples.push({ atMs: performance.now() - t0, processed: row?.processed ?? 0, dropped: row?.dropped ?? 0,
      softirqdRunNs: run, softirqdWaitNs: wait, stealMs: 1000 * (readCpuTimes()[cpu]?.stealSec ?? 0) });
  };
  sample();
  const timer = setInterval(sample, periodMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return stallWindows(samples);
    },
  };
}
