/**
 * Interface faults, all under traffic, each undone in a `finally`: an
 * output link down then up, an output's MTU lowered below the datagrams
 * then restored, an output's address removed then added back, an input
 * link down then up. An output fault touches the pairs that leave through
 * that output; an input fault touches every pair of that input.
 *
 * Taking out0 down also removes the lab's 224.0.0.0/4 route through it
 * (the kernel flushes a down link's routes); the fault puts it back so the
 * lab stays what bench/lab built. MCR itself does not need it: its
 * multicast sockets name their interface (IP_MULTICAST_IF).
 */
import type { LabProcess } from '../lab/index.js';
import { pickOne, type PlannedFault } from './schedule.js';
import { INPUTS, OUTPUT_ADDR, OUTPUT_IFS } from './topology.js';
import { outcome, sleep, type FaultContext, type FaultOutcome } from './fault-context.js';

const RECOVERY_TIMEOUT_MS = 20_000;
/** Below the soak's datagrams (payload + 28 bytes of headers) and above IPv4's 68. */
export const LOW_MTU = 256;

async function ip(ctx: FaultContext, args: string[]): Promise<void> {
  await ctx.rl.lab.exec(ctx.rl.relay.ns, 'ip', args, { timeoutMs: 10_000 });
}

/** Waits (bounded) for an mcrd log line matching `re` logged at or after `sinceMs` (epoch ms). */
export async function logLineSince(mcrd: LabProcess, re: RegExp, sinceMs: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (let i = mcrd.stdoutLines.length - 1; i >= 0; i--) {
      const line = mcrd.stdoutLines[i] ?? '';
      const time = Number(/"time":(\d+)/.exec(line)?.[1] ?? 0);
      if (time < sinceMs) break;
      if (re.test(line)) return true;
    }
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

function outputTouched(ctx: FaultContext, ifname: string): string[] {
  return ctx.pairs.filter((p) => p.outputInterface === ifname).map((p) => p.id);
}

async function restoreMulticastRoute(ctx: FaultContext, ifname: string): Promise<void> {
  if (ifname === 'out0') await ip(ctx, ['route', 'replace', '224.0.0.0/4', 'dev', 'out0']);
}

/** After an output change: mcrd's resync (if it makes one), then every worker running at the current table. */
async function afterOutputChange(ctx: FaultContext, out: FaultOutcome, t0: number, restoredAt: number, expectResync: boolean): Promise<void> {
  if (expectResync && !(await logLineSince(ctx.mcrd, /egress sockets rebuilt/, restoredAt, 5000))) {
    out.notes.push('no "egress sockets rebuilt" line from mcrd within 5 s of the restore');
  }
  const took = await ctx.control.settled({ timeoutMs: RECOVERY_TIMEOUT_MS });
  if (took === undefined) out.failures.push(`${out.kind}: workers not running and synced ${RECOVERY_TIMEOUT_MS / 1000} s after the restore`);
  else out.recoveryMs = Date.now() - t0;
}

export async function outputDown(ctx: FaultContext, plan: PlannedFault): Promise<FaultOutcome> {
  const ifname = pickOne(OUTPUT_IFS, plan.pick) ?? 'out0';
  const out = outcome('output-down', ifname, outputTouched(ctx, ifname));
  const t0 = Date.now();
  let restoredAt = t0;
  try {
    await ip(ctx, ['link', 'set', 'dev', ifname, 'down']);
    await sleep(plan.holdMs);
  } finally {
    await ip(ctx, ['link', 'set', 'dev', ifname, 'up']);
    restoredAt = Date.now();
    await restoreMulticastRoute(ctx, ifname);
  }
  out.details.holdMs = plan.holdMs;
  await afterOutputChange(ctx, out, t0, restoredAt, true);
  return out;
}

export async function outputMtu(ctx: FaultContext, plan: PlannedFault): Promise<FaultOutcome> {
  const ifname = pickOne(OUTPUT_IFS, plan.pick) ?? 'out0';
  const out = outcome('output-mtu', `${ifname} mtu ${LOW_MTU}`, outputTouched(ctx, ifname));
  const t0 = Date.now();
  let restoredAt = t0;
  try {
    await ip(ctx, ['link', 'set', 'dev', ifname, 'mtu', String(LOW_MTU)]);
    await sleep(plan.holdMs);
  } finally {
    await ip(ctx, ['link', 'set', 'dev', ifname, 'mtu', '1500']);
    restoredAt = Date.now();
  }
  out.details = { holdMs: plan.holdMs, mtu: LOW_MTU, datagramBytes: ctx.size + 28 };
  // mcrd follows links and addresses, not MTUs: no resync to wait for.
  await afterOutputChange(ctx, out, t0, restoredAt, false);
  return out;
}

export async function outputAddress(ctx: FaultContext, plan: PlannedFault): Promise<FaultOutcome> {
  const ifname = pickOne(OUTPUT_IFS, plan.pick) ?? 'out0';
  const addr = OUTPUT_ADDR[ifname] ?? '';
  const out = outcome('output-address', `${ifname} ${addr}`, outputTouched(ctx, ifname));
  const t0 = Date.now();
  let restoredAt = t0;
  let removed = false;
  try {
    await ip(ctx, ['addr', 'del', addr, 'dev', ifname]);
    removed = true;
    await sleep(plan.holdMs);
  } finally {
    if (removed) await ip(ctx, ['addr', 'add', addr, 'dev', ifname]);
    restoredAt = Date.now();
  }
  out.details.holdMs = plan.holdMs;
  await afterOutputChange(ctx, out, t0, restoredAt, true);
  return out;
}

export async function inputDown(ctx: FaultContext, plan: PlannedFault): Promise<FaultOutcome> {
  const ifname = pickOne(INPUTS, plan.pick) ?? 'in0';
  const out = outcome('input-down', ifname, ctx.pairs.filter((p) => p.inputInterface === ifname).map((p) => p.id));
  const before = new Set((await ctx.control.workers()).filter((w) => w.interface === ifname).map((w) => w.pid));
  // The old workers' counts right before and right after the link goes
  // down (they stop counting then; mcrd parks them a moment later): what
  // they saw is then known, and the rest of what reached the input was
  // read by nobody (accounting.ts).
  await ctx.sample();
  const t0 = Date.now();
  try {
    await ip(ctx, ['link', 'set', 'dev', ifname, 'down']);
    await ctx.sample();
    await sleep(plan.holdMs);
  } finally {
    await ip(ctx, ['link', 'set', 'dev', ifname, 'up']);
  }
  out.details.holdMs = plan.holdMs;
  // mcrd parks the interface's workers while it is down and starts new ones when it is up.
  const took = await ctx.control.settled({ iface: ifname, oldPids: before, timeoutMs: RECOVERY_TIMEOUT_MS });
  if (took === undefined) out.failures.push(`input-down: ${ifname}'s workers not running again ${RECOVERY_TIMEOUT_MS / 1000} s after the link came back`);
  else out.recoveryMs = Date.now() - t0;
  return out;
}
