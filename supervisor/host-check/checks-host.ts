/**
 * Host-wide checks: the socket buffer limits against what MCR asks for,
 * the input backlog, io_uring (enabled, with what the loop submits), the
 * locked-memory limit the workers' rings count against, the loop
 * thread's scheduler slice, and whether DAMON's memory monitoring runs.
 *
 * Who asks for what (native/core): each egress socket asks for a 4 MiB
 * send buffer (SO_SNDBUFFORCE, falling back to SO_SNDBUF, which the kernel
 * caps at net.core.wmem_max) and is opened by a worker, which has no
 * capabilities by then: wmem_max always applies. The input packet socket
 * asks for 32 MiB of receive buffer and is opened by mcrd: with
 * CAP_NET_ADMIN the limit does not apply. Workers create their io_uring
 * before they drop privileges, with mcrd's credentials: CAP_IPC_LOCK lifts
 * RLIMIT_MEMLOCK for them.
 */
import { fail, info, pass, type Finding } from './finding.js';
import type { HostFacts } from './host-facts.js';
import { damonOn, describeDamon } from './damon.js';
import { withoutCodePrefix } from '../../common/control-errors.js';
import { AUTO_LOOP_SLICE_US, realtimeRefusedText, realtimeText, resolveRealtime, sliceRefusedText, type LoopSettings, type RealtimeReason, type RealtimeSettings } from '../../common/loop-settings.js';

export const EGRESS_SEND_BUFFER = 4 * 1024 * 1024;
export const PACKET_RECEIVE_BUFFER = 32 * 1024 * 1024;
/** The kernel default, which docs/performance.md measured with; the input backlog was the limit there near 400 kpps. */
export const MIN_NETDEV_BACKLOG = 1000;
/** Locked memory one worker's ring needs (native memlock_advice). */
export const MEMLOCK_PER_WORKER = 400 * 1024;
const CAP_NET_ADMIN = 12n;
const CAP_IPC_LOCK = 14n;

const hasCap = (caps: bigint, cap: bigint): boolean => ((caps >> cap) & 1n) === 1n;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
const persist = (key: string, value: number): string =>
  `sysctl -w ${key}=${value}, and keep it in a file under /etc/sysctl.d (the package's /usr/lib/sysctl.d/60-mcr.conf sets the ` +
  'buffer limits: sysctl --system applies it; a file of your own sorting after it, /etc/sysctl.d/70-local.conf, keeps higher values)';

function sysctlNumber(facts: HostFacts, key: string): number | undefined {
  const v = facts.sysctl(key);
  return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
}

export function checkBuffers(facts: HostFacts): Finding[] {
  const out: Finding[] = [];
  const wmem = sysctlNumber(facts, 'net.core.wmem_max');
  if (wmem === undefined) out.push(info('net.core.wmem_max', 'host', 'not readable: the egress sockets\' send buffer cannot be checked'));
  else if (wmem < EGRESS_SEND_BUFFER) {
    out.push(fail('net.core.wmem_max', 'host', `${wmem} bytes: each output socket asks for ${mib(EGRESS_SEND_BUFFER)} of send buffer and gets ${mib(wmem)} ` +
      '(workers have no capabilities to pass the limit); bursts then block sends sooner', persist('net.core.wmem_max', EGRESS_SEND_BUFFER)));
  } else out.push(pass('net.core.wmem_max', 'host', `${wmem} bytes: each output socket gets the ${mib(EGRESS_SEND_BUFFER)} send buffer it asks for`));

  const rmem = sysctlNumber(facts, 'net.core.rmem_max');
  const netAdmin = hasCap(facts.capabilities(), CAP_NET_ADMIN);
  if (rmem === undefined) out.push(info('net.core.rmem_max', 'host', 'not readable'));
  else if (rmem >= PACKET_RECEIVE_BUFFER) out.push(pass('net.core.rmem_max', 'host', `${rmem} bytes: the input packet sockets get the ${mib(PACKET_RECEIVE_BUFFER)} they ask for`));
  else if (netAdmin) {
    out.push(pass('net.core.rmem_max', 'host', `${rmem} bytes, below the ${mib(PACKET_RECEIVE_BUFFER)} the input packet sockets ask for, ` +
      'but this process has CAP_NET_ADMIN, with which mcrd sets them past the limit'));
  } else {
    out.push(fail('net.core.rmem_max', 'host', `${rmem} bytes: the input packet sockets ask for ${mib(PACKET_RECEIVE_BUFFER)} and, ` +
      'without CAP_NET_ADMIN, get this much', `${persist('net.core.rmem_max', PACKET_RECEIVE_BUFFER)}, or give mcrd CAP_NET_ADMIN`));
  }

  const backlog = sysctlNumber(facts, 'net.core.netdev_max_backlog');
  if (backlog === undefined) {
    out.push(info('net.core.netdev_max_backlog', 'host', 'not visible here (a host-wide setting, absent from /proc/sys inside a network namespace)',
      'check it in the host namespace: sysctl net.core.netdev_max_backlog (at least ' + MIN_NETDEV_BACKLOG + ')'));
  }
  else if (backlog < MIN_NETDEV_BACKLOG) {
    out.push(fail('net.core.netdev_max_backlog', 'host', `${backlog}: each core's input backlog (RPS, veths) holds this many frames before the kernel drops them`,
      persist('net.core.netdev_max_backlog', MIN_NETDEV_BACKLOG)));
  } else out.push(pass('net.core.netdev_max_backlog', 'host', `${backlog} frames per core`));
  return out;
}

export function checkIoUring(facts: HostFacts): Finding[] {
  const out: Finding[] = [];
  const disabled = facts.sysctl('kernel.io_uring_disabled');
  const fixSysctl = 'sysctl -w kernel.io_uring_disabled=0';
  if (disabled === '2') {
    out.push(fail('kernel.io_uring_disabled', 'host', '2: io_uring is disabled for every process; the relay loop cannot start', fixSysctl));
  } else if (disabled === '1') {
    out.push(info('kernel.io_uring_disabled', 'host', `1: only CAP_SYS_ADMIN or members of kernel.io_uring_group (${facts.sysctl('kernel.io_uring_group') ?? '?'}) may create rings; the probe below says whether this process may`, fixSysctl));
  } else out.push(pass('kernel.io_uring_disabled', 'host', disabled === undefined ? 'not present (a kernel before 6.6): io_uring is enabled' : `${disabled}: io_uring is enabled`));
  const probe = facts.ioUring();
  if (!probe.ok) {
    const fix = probe.code === 'EPERM' ? fixSysctl + ', or run mcrd in kernel.io_uring_group'
      : probe.code === 'ENOMEM' ? 'raise the locked-memory limit (LimitMEMLOCK=infinity in the unit, ulimit -l unlimited) or give mcrd CAP_IPC_LOCK'
        : probe.code === 'ENOSYS' ? 'a kernel built with CONFIG_IO_URING (Linux 6.1 or later)' : 'Linux 6.1 or later';
    out.push(fail('io_uring ring', 'host', `${probe.code}: ${withoutCodePrefix(probe.code, probe.message)}`, fix));
  } else if (probe.missingOps.length > 0) {
    out.push(fail('io_uring operations', 'host', `the kernel lacks ${probe.missingOps.join(', ')}, which the relay loop submits`, 'Linux 6.1 or later'));
  } else {
    const taskrun = probe.deferTaskrun ? ', with DEFER_TASKRUN' : '; DEFER_TASKRUN refused (Linux 6.1): the loop runs without it';
    // Only what top shows, not work: said here so that an operator who sees a worker's core in iowait knows why.
    const iowait = probe.noIowait ? '; the loops\' sleeps are not counted as iowait'
      : '; the loops\' sleeps show as iowait in top and /proc/stat (waiting for frames, not disk: Linux 6.15 lets them opt out)';
    out.push(pass('io_uring ring', 'host', `a ring with the loop's flags and operations works${taskrun}${iowait}`));
  }
  return out;
}

export function checkMemlock(facts: HostFacts, workers: number): Finding[] {
  const limit = facts.memlockLimit();
  const needed = Math.max(1, workers) * MEMLOCK_PER_WORKER;
  const shown = limit === Infinity ? 'unlimited' : `${Math.floor(limit / 1024)} KiB`;
  const fix = 'LimitMEMLOCK=infinity in the unit, ulimit -l unlimited (or /etc/security/limits.conf), or give mcrd CAP_IPC_LOCK';
  if (hasCap(facts.capabilities(), CAP_IPC_LOCK)) return [pass('RLIMIT_MEMLOCK', 'host', 'this process has CAP_IPC_LOCK: the rings are not limited')];
  if (limit >= needed) return [pass('RLIMIT_MEMLOCK', 'host', `${shown}: enough for ${workers} worker rings (about ${needed / 1024} KiB)`)];
  const probe = facts.ioUring();
  if (!probe.ok && probe.code === 'ENOMEM') {
    return [fail('RLIMIT_MEMLOCK', 'host', `${shown} of locked memory: not even one worker's ring fits (ENOMEM); ${workers} need about ${needed / 1024} KiB`, fix)];
  }
  if (probe.ok && limit < MEMLOCK_PER_WORKER) {
    // The probe's ring is a worker's size: made under a smaller limit, so this kernel does not charge rings to it (Linux 5.12 moved them to memcg).
    return [pass('RLIMIT_MEMLOCK', 'host', `${shown}, but a ring of a worker's size was created under it: this kernel does not count rings against the limit`)];
  }
  return [info('RLIMIT_MEMLOCK', 'host', `${shown}: below the ${needed / 1024} KiB ${workers} worker rings need where the kernel counts rings against it ` +
    '(before Linux 5.12); one ring fit. If workers exit with ENOMEM, raise it', fix)];
}

/**
 * The loop thread's scheduler slice (--loop-slice-us): whether the kernel
 * gives the one the settings ask for. "auto" falls back to the kernel's
 * slice, which only costs tail latency when another task shares the core
 * (docs/performance.md): info, logged at start; an explicit value the
 * kernel refuses fails every worker's start.
 */
export function checkLoopSlice(facts: HostFacts, settings: Pick<LoopSettings, 'loopSliceUs'>, rt: LoopRealtime): Finding {
  const check = 'loop scheduler slice';
  const setting = settings.loopSliceUs ?? 'auto';
  if (inForce(rt) > 0) return pass(check, 'host', `not asked for: the loop threads run SCHED_FIFO (${rtSource(rt)}), which preempts anyway`);
  if (setting === 0) return pass(check, 'host', 'the kernel\'s (--loop-slice-us 0): a woken loop may wait up to one scheduler tick behind another task on its core');
  const us = setting === 'auto' ? AUTO_LOOP_SLICE_US : setting;
  const probe = facts.threadSlice(us);
  if (probe.ok) return pass(check, 'host', `${us} µs${setting === 'auto' ? ' (--loop-slice-us auto)' : ''}: a woken loop preempts another task on its core at once`);
  const reason = `${probe.code}: ${withoutCodePrefix(probe.code, probe.message)}`;
  if (setting === 'auto') return { ...info(check, 'host', sliceRefusedText(reason), 'Linux 6.12 or later, or --loop-slice-us 0'), warnAtStart: true };
  return fail(check, 'host', `a slice of ${us} µs (--loop-slice-us ${us}) is refused (${reason}): every worker would fail to start`,
    '--loop-slice-us auto (the kernel\'s slice where it gives none) or 0, or Linux 6.12 or later');
}

/** The loops' scheduling policy as the settings, this process's RLIMIT_RTPRIO and the kernel give it (what a worker's start will do). */
export interface LoopRealtime {
  priority: number;
  reason: RealtimeReason;
  rtprioLimit: number;
  /** The kernel refused SCHED_FIFO at `priority` to a probe thread: why. */
  refused?: { code: string; message: string };
}

/**
 * Resolves the settings (resolveRealtime) and, where that asks for
 * SCHED_FIFO, puts a probe thread under it: mcrd holds the privileges a
 * worker's loop starts with (it sets its policy before switching user), so
 * the probe says what every worker will get, past a unit's
 * RestrictRealtime= filter or a cgroup without real-time time.
 */
export function loopRealtime(facts: HostFacts, settings: RealtimeSettings): LoopRealtime {
  const rtprioLimit = facts.rtprioLimit();
  const resolved = { ...resolveRealtime(settings, rtprioLimit), rtprioLimit };
  if (resolved.priority === 0) return resolved;
  const probe = facts.threadFifo(resolved.priority);
  return probe.ok ? resolved : { ...resolved, refused: { code: probe.code, message: withoutCodePrefix(probe.code, probe.message) } };
}

/** The SCHED_FIFO priority the loops will run at (0: the normal policy). */
const inForce = (rt: LoopRealtime): number => (rt.refused === undefined ? rt.priority : 0);

/** How the loops came to SCHED_FIFO: the flag as given, or "auto" with the limit. */
function rtSource(rt: LoopRealtime): string {
  return rt.reason === 'given' ? `--loop-rt-priority ${rt.priority}` : `priority ${rt.priority}, --loop-rt-priority auto under RLIMIT_RTPRIO ${rt.rtprioLimit}`;
}

/**
 * The loop thread's scheduling policy (--loop-rt-priority). "auto" takes
 * SCHED_FIFO where RLIMIT_RTPRIO grants it (pass), the normal policy where
 * it is 0 (info: the packaged unit grants it) or where a fixed busy poll
 * or an explicit slice asks for it (pass); a kernel that refuses the
 * granted priority anyway leaves the normal policy (info, warned at
 * start). A priority given as a number that the kernel refuses fails
 * every worker's start; one it takes only through CAP_SYS_NICE cannot come
 * back from a step down after the workers switch user.
 */
export function checkLoopRealtime(rt: LoopRealtime, settings: RealtimeSettings): Finding {
  const check = 'loop real-time priority';
  const said = realtimeText(settings, rt.rtprioLimit);
  const refusal = rt.refused === undefined ? '' : `${rt.refused.code}: ${rt.refused.message}`;
  switch (rt.reason) {
    case 'given':
      if (rt.priority === 0) return pass(check, 'host', said);
      if (rt.refused !== undefined) {
        return fail(check, 'host', `SCHED_FIFO at ${rt.priority} (--loop-rt-priority ${rt.priority}) is refused (${refusal}): every worker would fail to start`,
          `LimitRTPRIO=${rt.priority} with RestrictRealtime=no in the unit, ulimit -r ${rt.priority}, or --loop-rt-priority auto`);
      }
      return pass(check, 'host', rt.rtprioLimit >= rt.priority ? said
        : `${said}; with RLIMIT_RTPRIO ${rt.rtprioLimit}, a saturated loop cannot step down and come back once its worker switched user, so it stays real-time (LimitRTPRIO=${rt.priority} lets it)`);
    case 'limit':
      if (rt.refused !== undefined) {
        return { ...info(check, 'host', realtimeRefusedText(rt.priority, refusal), 'RestrictRealtime=no in the unit, real-time time for mcrd\'s cgroup, or --loop-rt-priority 0'), warnAtStart: true };
      }
      return pass(check, 'host', said);
    case 'no-limit':
      return info(check, 'host', said, 'LimitRTPRIO=10 in the unit (the packaged mcrd.service sets it), ulimit -r 10 before starting mcrd, or rtprio in /etc/security/limits.conf');
    case 'busy-poll':
    case 'slice':
      return pass(check, 'host', said);
  }
}

/**
 * DAMON's memory monitoring (damon.ts): its kernel threads sample pages by
 * clearing their accessed bits, and on this project's VM a worker's loop
 * waited behind them for up to milliseconds, which made most of MCR's p99
 * and all of its p99.9 there (docs/performance.md, "The host's DAMON").
 * Never a failure (the host owner runs it for a reason): info with what
 * lessens it, or pass when the loops run real-time, which a kernel thread
 * of the normal policy seldom holds up (0-3 windows in 12 s against 42-65
 * under the normal policy: docs/performance.md).
 */
export function checkDamon(facts: HostFacts, rt: LoopRealtime): Finding {
  const check = 'memory monitoring (DAMON)';
  const state = facts.damon();
  const said = describeDamon(state);
  if (!damonOn(state)) return pass(check, 'host', `${said}: no kdamond competes with the loops for their cores`);
  if (inForce(rt) > 0) return pass(check, 'host', `${said}: the loop threads run SCHED_FIFO (${rtSource(rt)}), so they rarely wait behind kdamond`);
  return info(check, 'host', `${said}: a worker's loop can wait behind kdamond for milliseconds at its samples, which lengthens the latency tail ` +
    '(docs/mcrd.md, "Memory monitoring on the host (DAMON)")',
    'for latency-sensitive streams, real-time loops (LimitRTPRIO=10 in the unit, which the packaged one sets, or ulimit -r 10: --loop-rt-priority auto takes it), ' +
    'or stop DAMON (echo off > /sys/kernel/mm/damon/admin/kdamonds/N/state)');
}
