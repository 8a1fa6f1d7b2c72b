/**
 * Worker faults: SIGKILL, and SIGSTOP (a hung worker). A worker fault
 * touches every pair of the victim's input interface, not only the rules
 * whose flows the victim carried: the workers of an interface share one
 * PACKET_FANOUT_HASH group, and when the victim leaves it and its
 * replacement joins, flows move between members.
 *
 * SIGSTOP: mcrd's watchdog (supervisor/fleet, heartbeat stalled > 1.5 s)
 * should kill and replace the worker; the soak sees it as the slot's PID
 * changing. If that has not happened after the hold (5 s), the soak resumes
 * the worker itself with SIGCONT and records the watchdog as not present.
 */
import { pickOne, type PlannedFault } from './schedule.js';
import { outcome, sleep, type FaultContext, type FaultOutcome } from './fault-context.js';

const RECOVERY_TIMEOUT_MS = 20_000;

async function pickVictim(ctx: FaultContext, plan: PlannedFault): Promise<{ id: string; iface: string; pid: number }> {
  const running = (await ctx.control.workers()).filter((w) => w.state === 'running' && w.pid > 0).sort((a, b) => a.id.localeCompare(b.id));
  const victim = pickOne(running, plan.pick);
  if (victim === undefined) throw new Error('no running worker to hit');
  return { id: victim.id, iface: victim.interface, pid: victim.pid };
}

function touchedBy(ctx: FaultContext, iface: string): string[] {
  return ctx.pairs.filter((p) => p.inputInterface === iface).map((p) => p.id);
}

export async function workerKill(ctx: FaultContext, plan: PlannedFault): Promise<FaultOutcome> {
  const v = await pickVictim(ctx, plan);
  const out = outcome('worker-kill', `${v.id} (pid ${v.pid})`, touchedBy(ctx, v.iface));
  // The victim's last counts, as late as the soak can read them (accounting.ts).
  await ctx.sample();
  const t0 = Date.now();
  if (!ctx.control.signalWorker(v.pid, 'SIGKILL')) {
    out.failures.push(`worker ${v.id} pid ${v.pid} was gone before the soak could kill it`);
    return out;
  }
  const took = await ctx.control.settled({ iface: v.iface, oldPids: new Set([v.pid]), timeoutMs: RECOVERY_TIMEOUT_MS });
  if (took === undefined) out.failures.push(`worker-kill: ${v.iface}'s workers not running and synced ${RECOVERY_TIMEOUT_MS / 1000} s after killing ${v.id}`);
  else out.recoveryMs = Date.now() - t0;
  return out;
}

export async function workerStop(ctx: FaultContext, plan: PlannedFault): Promise<FaultOutcome> {
  const v = await pickVictim(ctx, plan);
  const out = outcome('worker-stop', `${v.id} (pid ${v.pid})`, touchedBy(ctx, v.iface));
  await ctx.sample();
  const t0 = Date.now();
  if (!ctx.control.signalWorker(v.pid, 'SIGSTOP')) {
    out.failures.push(`worker ${v.id} pid ${v.pid} was gone before the soak could stop it`);
    return out;
  }
  ctx.stopped.add(v.pid);
  // A stopped loop's counters stand still (mcrd reads them from shared memory): its final counts.
  await ctx.sample();
  let replacedAfterMs: number | undefined;
  try {
    while (Date.now() - t0 < plan.holdMs) {
      await sleep(100);
      const slot = (await ctx.control.workers().catch(() => [])).find((w) => w.id === v.id);
      if (slot !== undefined && slot.pid !== v.pid) {
        replacedAfterMs = Date.now() - t0;
        break;
      }
    }
  } finally {
    // Whatever happened: a process we stopped is never left stopped (the watchdog's SIGKILL ends it anyway).
    if (ctx.control.isWorker(v.pid)) {
      process.kill(v.pid, 'SIGCONT');
      if (replacedAfterMs !== undefined) out.notes.push(`the replaced worker (pid ${v.pid}) was still alive when its slot had a new PID; resumed`);
    }
    ctx.stopped.delete(v.pid);
  }
  out.watchdog = replacedAfterMs === undefined ? { present: false } : { present: true, replacedAfterMs };
  if (replacedAfterMs === undefined) out.notes.push(`watchdog not present: ${v.id} still had pid ${v.pid} after ${plan.holdMs} ms stopped; the soak resumed it (SIGCONT)`);
  else out.notes.push(`watchdog replaced ${v.id} ${replacedAfterMs} ms after SIGSTOP`);
  const oldPids = replacedAfterMs === undefined ? new Set<number>() : new Set([v.pid]);
  const took = await ctx.control.settled({ iface: v.iface, oldPids, timeoutMs: RECOVERY_TIMEOUT_MS });
  if (took === undefined) out.failures.push(`worker-stop: ${v.iface}'s workers not running and synced ${RECOVERY_TIMEOUT_MS / 1000} s after the stop ended`);
  else out.recoveryMs = Date.now() - t0;
  return out;
}
