/**
 * The CPUs mcrd may run on (its affinity mask, as `taskset` or a cgroup
 * cpuset leaves it), in ascending order. Workers are pinned to these, worker
 * i to the (i mod n)-th, so `taskset -c 2,3 mcrd` keeps the whole fleet on
 * cores 2 and 3 and the default spreads it over every allowed core.
 * `--worker-cpus` (daemon.workerCpus) narrows the workers to some of them;
 * mcrd itself then runs on the allowed CPUs its workers leave free, so its
 * own work (control answers, polls, the watchdog) never delays a datagram
 * waiting for a worker's core (docs/mcrd.md, "CPUs").
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Parses a kernel CPU list such as "0-3,8,10-11". Undefined when malformed. */
export function parseCpuList(text: string): number[] | undefined {
  const cpus = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) return undefined;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first || last - first > 4096) return undefined;
    for (let c = first; c <= last; c++) cpus.add(c);
  }
  return cpus.size === 0 ? undefined : [...cpus].sort((a, b) => a - b);
}

/** This process's allowed CPUs; 0..n-1 when /proc cannot tell. */
export function allowedCpus(): number[] {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    const cpus = line?.[1] === undefined ? undefined : parseCpuList(line[1]);
    if (cpus !== undefined) return cpus;
  } catch {
    // Not Linux procfs: fall through to the count.
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

/** Formats [0, 1, 2, 5] as "0-2,5", the kernel's CPU list form. */
export function formatCpuList(cpus: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; i++) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === (cpus[j] ?? 0) + 1) j++;
    parts.push(j === i ? String(cpus[i]) : `${cpus[i]}-${cpus[j]}`);
    i = j;
  }
  return parts.join(',');
}

/** Why a CPU list such as "1-3" is not one, or undefined. */
export function checkCpuList(text: unknown): string | undefined {
  if (typeof text !== 'string' || parseCpuList(text) === undefined) return 'expected a CPU list such as "1-3" or "2,3"';
  return undefined;
}

/** Where the workers and mcrd itself run. */
export interface CpuPlan {
  /** Worker i of an interface is pinned to workerCpus[i mod length]. */
  workerCpus: number[];
  /** The CPUs mcrd moves its own threads to; empty: it stays where it may run (sharing the workers' cores). */
  supervisorCpus: number[];
}

export class CpuPlanError extends Error {
  readonly code = 'ERR_MCR_CPUS';
}

/**
 * The plan for mcrd allowed on `allowed` with the workers asked on `asked`
 * (a CPU list; all of `allowed` when undefined). Throws CpuPlanError when
 * `asked` names a CPU mcrd may not run on: the kernel would refuse to pin a
 * worker there.
 */
export function planCpus(allowed: readonly number[], asked: string | undefined): CpuPlan {
  if (asked === undefined) return { workerCpus: [...allowed], supervisorCpus: [] };
  const workerCpus = parseCpuList(asked);
  if (workerCpus === undefined) throw new CpuPlanError(`worker CPUs "${asked}": ${checkCpuList(asked) ?? ''}`);
  const outside = workerCpus.filter((c) => !allowed.includes(c));
  if (outside.length > 0) {
    throw new CpuPlanError(`worker CPUs ${formatCpuList(outside)} are not among the CPUs mcrd may run on (${formatCpuList(allowed)}): ` +
      'choose worker CPUs from those, or widen mcrd\'s affinity (taskset, CPUAffinity= in the service, the cgroup\'s cpuset)');
  }
  return { workerCpus, supervisorCpus: allowed.filter((c) => !workerCpus.includes(c)) };
}
