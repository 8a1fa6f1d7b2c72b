/**
 * Host-wide counters the suite reads from the root namespace: per-core CPU
 * time (/proc/stat), per-process CPU time (/proc/PID/stat) and per-core
 * receive-backlog drops (/proc/net/softnet_stat). All are plain file reads,
 * cheap enough to take around every trial.
 *
 * softnet_stat is per CPU, not per network namespace, so a backlog overflow
 * in any of the lab's namespaces shows here; that is exactly what tells a
 * loss on the relay core's receive path (its backlog, fed by RPS) apart
 * from one inside the relay.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc/stat and /proc/PID/stat count in 1/100 s on every Linux architecture we run on. */
const TICKS_PER_SEC = 100;

export interface CpuTimes {
  /** user + nice + system + irq + softirq + steal, seconds. */
  busySec: number;
  /** idle + iowait, seconds. */
  idleSec: number;
  /** user + nice + system: processes (whichever they are). */
  taskSec: number;
  /** irq + softirq: interrupt work, wherever it interrupted (needs IRQ time accounting, on in Debian kernels). */
  irqSec: number;
  /** Time the hypervisor ran something else. */
  stealSec: number;
}

/** Busy and idle seconds of every core, indexed by core number. */
export function readCpuTimes(): CpuTimes[] {
  const out: CpuTimes[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice
    // (proc(5)); guest time is already inside user, so it is not added again.
    const f = (m[2] ?? '').trim().split(/\s+/).map(Number);
    const at = (i: number): number => f[i] ?? 0;
    const busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    out[Number(m[1])] = {
      busySec: busy / TICKS_PER_SEC,
      idleSec: (at(3) + at(4)) / TICKS_PER_SEC,
      taskSec: (at(0) + at(1) + at(2)) / TICKS_PER_SEC,
      irqSec: (at(5) + at(6)) / TICKS_PER_SEC,
      stealSec: at(7) / TICKS_PER_SEC,
    };
  }
  return out;
}

/** utime + stime of a process (all its threads), seconds; 0 once it is gone. */
export function readProcessCpuSec(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so utime (14) and stime (15) are rest[11], rest[12].
  return (Number(rest[11] ?? 0) + Number(rest[12] ?? 0)) / TICKS_PER_SEC;
}

export interface SoftnetRow {
  processed: number;
  /** Frames dropped because this core's input backlog (netdev_max_backlog) was full. */
  dropped: number;
  timeSqueeze: number;
}

/**
 * /proc/net/softnet_stat by core number. Column 13 (index 12) is the CPU id
 * since Linux 5.10 (softnet_seq_show, net/core/net-procfs.c); offline CPUs
 * have no row, so older kernels' row order is only a fallback.
 */
export function readSoftnet(): SoftnetRow[] {
  const rows: SoftnetRow[] = [];
  const lines = readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n');
  lines.forEach((line, i) => {
    const f = line.trim().split(/\s+/).map((h) => parseInt(h, 16));
    const cpu = f.length >= 13 && Number.isFinite(f[12]) ? (f[12] ?? i) : i;
    rows[cpu] = { processed: f[0] ?? 0, dropped: f[1] ?? 0, timeSqueeze: f[2] ?? 0 };
  });
  return rows;
}

/** The host's CPU model and kernel, for the report header. */
export function hostDescription(): { cpuModel: string; kernel: string; cores: number } {
  let cpuModel = 'unknown';
  let cores = 0;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpuModel = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? cpuModel;
    cores = (info.match(/^processor\s*:/gm) ?? []).length;
  } catch {
    // Report header only: an unreadable cpuinfo costs nothing but a label.
  }
  let kernel = 'unknown';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // Same.
  }
  return { cpuModel, kernel, cores };
}
