/**
 * Whether the kernel's DAMON memory monitoring runs on this host. DAMON
 * samples which pages are in use by clearing their accessed bits, from
 * `kdamond` kernel threads; on this project's VM a worker's loop waited
 * behind them for up to milliseconds at a time (docs/mcrd.md, "Memory
 * monitoring on the host (DAMON)"), so the host check says when it runs
 * and the bench's reports say it beside every latency figure. Reads the
 * sysfs admin interface (one `state` file per kdamond) and the built-in
 * reclaim module's switch; `sys` is the sysfs root (tests point it at a
 * folder of their own).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DamonState {
  /** kdamonds whose state is `on`. */
  running: number;
  /** The built-in DAMON_RECLAIM module is enabled. */
  reclaim: boolean;
  /** This kernel has DAMON at all (the admin interface or the reclaim module). */
  present: boolean;
}

export function readDamonState(sys = '/sys'): DamonState {
  const admin = join(sys, 'kernel/mm/damon/admin/kdamonds');
  let present = false;
  let running = 0;
  try {
    for (const name of readdirSync(admin)) {
      if (!/^\d+$/.test(name)) continue;
      present = true;
      try {
        if (readFileSync(join(admin, name, 'state'), 'utf8').trim() === 'on') running += 1;
      } catch {
        // A kdamond removed between the listing and the read is not running.
      }
    }
  } catch {
    // No admin interface: a kernel without DAMON_SYSFS, or no DAMON at all.
  }
  let reclaim = false;
  try {
    const enabled = readFileSync(join(sys, 'module/damon_reclaim/parameters/enabled'), 'utf8').trim();
    present = true;
    reclaim = enabled === 'Y' || enabled === '1';
  } catch {
    // No built-in reclaim module.
  }
  return { running, reclaim, present };
}

/** "on (1 kdamond running)", "on (DAMON_RECLAIM enabled)", "off" or "not in this kernel". */
export function describeDamon(s: DamonState): string {
  const on = [...(s.running > 0 ? [`${s.running} kdamond${s.running === 1 ? '' : 's'} running`] : []), ...(s.reclaim ? ['DAMON_RECLAIM enabled'] : [])];
  if (on.length > 0) return `on (${on.join(', ')})`;
  return s.present ? 'off' : 'not in this kernel';
}

export const damonOn = (s: DamonState): boolean => s.running > 0 || s.reclaim;
