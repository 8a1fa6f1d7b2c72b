/**
 * The CPUs mcrd may run on (its affinity mask, as `taskset` or a cgroup
 * cpuset leaves it), in ascending order. Workers are pinned to these, worker
 * i to the (i mod n)-th, so `taskset -c 2,3 mcrd` keeps the whole fleet on
 * cores 2 and 3 and the default spreads it over every allowed core.
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
