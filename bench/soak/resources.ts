/**
 * Samples the resident memory (/proc/PID/status VmRSS) and open file
 * descriptors (/proc/PID/fd) of mcrd and each worker process, keyed by
 * process (role and pid), so a replaced worker starts a new series rather
 * than continuing its predecessor's. growth.ts judges the series.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { ResourceSample } from './growth.js';

export interface ProcessSeries {
  /** "mcrd" or the worker slot id ("in0/1"). */
  role: string;
  pid: number;
  firstMs: number;
  rssKb: ResourceSample[];
  fds: ResourceSample[];
}

/** RSS in kB and fd count of a live process, or undefined once it is gone. */
export function readProcess(pid: number): { rssKb: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    if (m?.[1] === undefined) return undefined; // a zombie has no VmRSS line
    return { rssKb: Number(m[1]), fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

export class ResourceSampler {
  readonly series = new Map<string, ProcessSeries>();

  /** One sample of each named process. */
  sample(atMs: number, processes: ReadonlyArray<{ role: string; pid: number }>): void {
    for (const p of processes) {
      if (p.pid <= 0) continue;
      const r = readProcess(p.pid);
      if (r === undefined) continue;
      const key = `${p.role}@${p.pid}`;
      let s = this.series.get(key);
      if (s === undefined) {
        s = { role: p.role, pid: p.pid, firstMs: atMs, rssKb: [], fds: [] };
        this.series.set(key, s);
      }
      s.rssKb.push({ atMs, value: r.rssKb });
      s.fds.push({ atMs, value: r.fds });
    }
  }
}
