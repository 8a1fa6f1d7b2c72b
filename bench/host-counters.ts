/**
 * Host-wide counters the suite reads from the root namespace: per-core CPU
 * time (/proc/stat), per-process CPU time (/proc/PID/stat), per-core
 * receive-backlog drops (/proc/net/softnet_stat) and per-core timer
 * interrupts and IPIs (/proc/interrupts). All are plain file reads,
 * cheap enough to take around every trial.
 *
 * The busy fields of /proc/stat (user, system, softirq...) are sampled at
 * the timer tick (this kernel: CONFIG_TICK_CPU_ACCOUNTING, no IRQ time
 * accounting), so a process that wakes on a timer of its own and sleeps
 * again before the next tick is mostly or wholly missed, or counted several
 * times over: the C TPACKET_V3 relay's block timer does exactly that. The
 * idle field is exact on a tickless kernel (NO_HZ idle keeps it from
 * clock reads at each idle entry and exit, interrupts in idle excluded), so
 * a core's busy time is measured as the window minus its idle time there
 * (idleIsExact), and other tasks' time on that core from each task's own
 * exact run time (/proc/PID/task/TID/schedstat).
 *
 * /proc/interrupts' per-core rows (readInterrupts) count the timer
 * interrupts and IPIs each core took, for bench:profile and bench:cpu.
 *
 * softnet_stat is per CPU, not per network namespace, so a backlog overflow
 * in any of the lab's namespaces shows here; that is exactly what tells a
 * loss on the relay core's receive path (its backlog, fed by RPS) apart
 * from one inside the relay.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describeDamon, readDamonState } from '../supervisor/host-check/damon.js';

/** USER_HZ: /proc/stat and /proc/PID/stat count in 1/100 s on every Linux architecture we run on. */
const TICKS_PER_SEC = 100;

export interface CpuTimes {
  /** user + nice + system + irq + softirq + steal, seconds. */
  busySec: number;
  /** idle + iowait, seconds. */
  idleSec: number;
  /** user + nice + system: processes (whichever they are). */
  taskSec: number;
  /** irq + softirq: interrupt work, wherever it interrupted (tick-sampled unless the kernel has IRQ time accounting). */
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

/**
 * Whether core `cpu`'s idle time in /proc/stat is exact: the kernel runs
 * tickless idle there (/proc/timer_list ".nohz : 1" in that CPU's section;
 * readable by root, as the bench runs). False when it cannot tell.
 */
export function idleIsExact(cpu: number): boolean {
  try {
    return tickless(readFileSync('/proc/timer_list', 'utf8'), cpu);
  } catch {
    return false;
  }
}

/**
 * Seconds a core was busy between two readCpuTimes() samples `windowSec`
 * apart: the window less its idle time where idle is exact (`exactIdle`,
 * idleIsExact), else the tick-sampled busy fields.
 */
export function busySecBetween(before: CpuTimes | undefined, after: CpuTimes | undefined, windowSec: number, exactIdle: boolean): number {
  return exactIdle
    ? Math.max(0, windowSec - ((after?.idleSec ?? 0) - (before?.idleSec ?? 0)))
    : (after?.busySec ?? 0) - (before?.busySec ?? 0);
}

/**
 * Share (0..1) of the cores in `cpus` that was busy between two
 * readCpuTimes() samples `windowSec` apart, each core by busySecBetween
 * (exact idle where the core is tickless; `exactIdle` says where, tests
 * pass their own). What bench:scaling reports per core, control-abuse for
 * the host, and the quiet-host wait and the suite's background reading use.
 */
export function busyShareBetween(before: CpuTimes[], after: CpuTimes[], windowSec: number, cpus: number[],
  exactIdle: (cpu: number) => boolean = idleIsExact): number {
  if (windowSec <= 0 || cpus.length === 0) return NaN;
  const busy = cpus.reduce((sum, cpu) => sum + busySecBetween(before[cpu], after[cpu], windowSec, exactIdle(cpu)), 0);
  return Math.min(1, busy / (windowSec * cpus.length));
}

/** Does /proc/timer_list's text say core `cpu` runs tickless idle? */
export function tickless(timerList: string, cpu: number): boolean {
  // A CPU's section runs from "cpu: N" to the next CPU's or to the first
  // "Tick Device:" (those sections repeat ".nohz" per device).
  const lines = timerList.split('\n');
  const start = lines.indexOf(`cpu: ${cpu}`);
  if (start < 0) return false;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('cpu: ') || line.startsWith('Tick Device')) return false;
    const m = /^\s*\.nohz\s*:\s*(\d+)\s*$/.exec(line);
    if (m) return m[1] === '1';
  }
  return false;
}

export interface TaskRuntime {
  /** Thread group (process) id. */
  tgid: number;
  /** The CPU it last ran on. */
  cpu: number;
  comm: string;
  /** Time on a CPU since the task started, ns (schedstat's first field: exact, not tick-sampled). */
  runNs: number;
}

/**
 * Every task (thread) of the host, keyed by thread id, with its last CPU
 * and exact run time. Two of these around a window give the time other
 * programs took on a core (a task that moved cores in the window is counted
 * where it ended up: the lab pins what it starts, so that is rare).
 */
export function readTasks(): Map<number, TaskRuntime> {
  const out = new Map<number, TaskRuntime>();
  let procs: string[];
  try {
    procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of procs) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        // Fields after the command: rest[0] is field 3 (state), so processor (39) is rest[36].
        const rest = stat.slice(close + 2).split(' ');
        const runNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        out.set(Number(tid), { tgid: Number(pid), cpu: Number(rest[36]), comm: stat.slice(stat.indexOf('(') + 1, close), runNs });
      } catch {
        // The task exited between the listing and the read.
      }
    }
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

/**
 * The per-CPU rows of /proc/interrupts that are not device IRQs, by their
 * short name (LOC: local timer, CAL: function-call IPIs, which is how RPS
 * and remote wake-ups reach a core, RES: rescheduling IPIs...), each a count
 * per core number. On a paravirtualized guest each such interrupt and each
 * timer programming is a trip through the hypervisor, so their counts per
 * datagram explain CPU that perf cannot place there (bench:profile).
 * `text` is the file's content (tests pass their own).
 */
export function readInterrupts(text = readFileSync('/proc/interrupts', 'utf8')): Map<string, number[]> {
  const lines = text.split('\n');
  const cpus = (lines[0] ?? '').trim().split(/\s+/).filter((c) => /^CPU\d+$/.test(c)).length;
  const out = new Map<string, number[]>();
  for (const line of lines.slice(1)) {
    const m = /^\s*([A-Z]{3}):((?:\s+\d+)+)/.exec(line);
    if (m === null || m[1] === undefined || m[2] === undefined) continue;
    const counts = m[2].trim().split(/\s+/).slice(0, cpus).map(Number);
    if (counts.length === cpus) out.set(m[1], counts);
  }
  return out;
}

/** Interrupts of row `name` that core `cpu` took between two readInterrupts() samples, per `per` (datagrams). */
export function interruptsPer(before: Map<string, number[]>, after: Map<string, number[]>, name: string, cpu: number, per: number): number {
  return ((after.get(name)?.[cpu] ?? 0) - (before.get(name)?.[cpu] ?? 0)) / Math.max(1, per);
}

/**
 * Whether the kernel's DAMON memory monitoring runs on this host, for the
 * report header: on this project's VM its samples stall MCR's loop for
 * half a millisecond or more twice a second and make most of MCR's p99 at
 * light paced load (docs/performance.md, "The host's DAMON"), so a latency
 * figure needs it said. The same reading as `mcrd --check-host`'s.
 */
export function damonState(sys = '/sys'): string {
  return describeDamon(readDamonState(sys));
}

/** "DAMON <state>" for a report, with where the docs say what it costs when it runs. */
export function damonNote(state: string): string {
  return `DAMON ${state}${state.startsWith('on') ? ' (its samples stall MCR\'s loop on this kind of VM: docs/performance.md, "The host\'s DAMON")' : ''}`;
}

/** The host's CPU model, kernel and DAMON state, for the report header. */
export function hostDescription(): { cpuModel: string; kernel: string; cores: number; damon: string } {
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
  return { cpuModel, kernel, cores, damon: damonState() };
}
