/**
 * The kernel's own multicast forwarding, driven by smcrouted (Debian's
 * smcroute): one of the anchors every MCR figure is a ratio to, on kernels
 * built with CONFIG_IP_MROUTE (elsewhere its cells say so and are skipped). All forwarding
 * happens in the relay core's receive softirq (ip_mr_input → ipmr_queue_xmit,
 * net/ipv4/ipmr.c); the daemon only holds the mroute socket and installs one
 * static (S,G) route, so no cache-miss upcall is ever in the measurement.
 *
 * Each start gets its own config file, control socket and PID file in the
 * run's temp dir (-f/-u/-P), so nothing clashes with a system smcroute or a
 * parallel run; -N plus `phyint ... enable` maps only the lab's interfaces
 * to VIFs. Readiness is the route itself appearing in `ip mroute`. On stop
 * the daemon closes its mroute socket, which turns mc_forwarding off and
 * flushes the routes (ipmr's mrtsock_destruct), and the suite checks that,
 * since MCR and socat must not be measured with the kernel also forwarding.
 *
 * IPv6 (`family` 6) is the same through ip6mr (net/ipv6/ip6mr.c), on
 * kernels built with CONFIG_IPV6_MROUTE: smcroute takes IPv6 groups in the
 * same config lines, readiness is the route in `ip -6 mroute`, and stop
 * checks net.ipv6.conf.all.mc_forwarding. Where the option is missing
 * (this project's machines) the suite skips those cells with the reason.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { multicastRouting6UnavailableReason, multicastRoutingUnavailableReason, type LabProcess } from '../lab/index.js';
import { relaySysctl, type BenchLab } from '../bench-lab.js';
import { GROUP, GROUP6, RELAY_CPU, type Family } from '../config.js';
import { BenchError } from '../errors.js';
import type { MethodStart, RunningMethod } from './types.js';
import { startAwakeCore } from '../awake-core.js';

const READY_MS = 10_000;
const POLL_MS = 100;
const STOP_MS = 5000;

let starts = 0;

/** What differs between the kernel's IPv4 and IPv6 multicast forwarding. */
interface FamilyFacts {
  unavailable(): string | undefined;
  group: string;
  /** The source of the (S,G) route: up0's address. */
  source(bl: BenchLab): string;
  forwardingSysctl: string;
  mcForwardingSysctl: string;
  /** `ip` arguments before `mroute show`. */
  ipArgs: string[];
}

const FAMILY: Record<Family, FamilyFacts> = {
  4: {
    unavailable: () => multicastRoutingUnavailableReason(),
    group: GROUP,
    source: (bl) => bl.rl.src.addr,
    forwardingSysctl: 'net.ipv4.ip_forward',
    mcForwardingSysctl: 'net.ipv4.conf.all.mc_forwarding',
    ipArgs: [],
  },
  // ip6mr (net/ipv6/ip6mr.c): the same design, its own kernel option, sysctls and route table.
  6: {
    unavailable: () => multicastRouting6UnavailableReason(),
    group: GROUP6,
    source: (bl) => {
      if (bl.ipv6 === undefined) throw new BenchError('ERR_BENCH_ARG', "the kernel's IPv6 forwarding needs IPv6 on in the lab (enableIpv6)");
      return bl.ipv6.src;
    },
    forwardingSysctl: 'net.ipv6.conf.all.forwarding',
    mcForwardingSysctl: 'net.ipv6.conf.all.mc_forwarding',
    ipArgs: ['-6'],
  },
};

export async function startKernel(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  const f = FAMILY[o.family ?? 4];
  // The suite skips the cells up front (deps.ts); this covers direct callers (bench:profile).
  const unavailable = f.unavailable();
  if (unavailable !== undefined) throw new BenchError('ERR_BENCH_UNAVAILABLE', unavailable);
  const { rl } = bl;
  const n = ++starts;
  const inIf = rl.relay.input.ifname;
  const source = f.source(bl);
  const outIfs = rl.relay.outputs.slice(0, o.fanout).map((out) => out.ifname);
  const conf = join(bl.tmpDir, `smcroute-${n}.conf`);
  writeFileSync(
    conf,
    [
      '# written by bench for one benchmark cell',
      `phyint ${inIf} enable`,
      ...outIfs.map((ifname) => `phyint ${ifname} enable`),
      // The join makes the input link deliver the group, as on a real switch port.
      `mgroup from ${inIf} group ${f.group}`,
      `mroute from ${inIf} source ${source} group ${f.group} to ${outIfs.join(' ')}`,
      '',
    ].join('\n'),
  );
  // Unicast forwarding is not needed for multicast, but a router is what smcroute expects to run on.
  await rl.lab.sysctl(rl.relay.ns, f.forwardingSysctl, 1);
  const args = ['-c', String(RELAY_CPU), 'smcrouted', '-n', '-N', '-f', conf];
  args.push('-u', join(bl.tmpDir, `smcroute-${n}.sock`), '-P', join(bl.tmpDir, `smcroute-${n}.pid`));
  args.push('-i', `mcr-bench-${n}`, '-l', 'notice');
  const proc = rl.lab.spawn(rl.relay.ns, 'taskset', args, { maxLines: 500 });
  try {
    await waitForRoute(bl, proc, outIfs, f, `(${source},${f.group})`);
  } catch (err) {
    await proc.stop('SIGTERM', STOP_MS).catch(() => undefined);
    await rl.lab.sysctl(rl.relay.ns, f.forwardingSysctl, 0).catch(() => undefined);
    throw err;
  }
  const awake = o.awakeCore === true ? startAwakeCore(bl) : undefined;
  return {
    name: 'kernel',
    pids: awake !== undefined ? [proc.pid, awake.pid] : [proc.pid],
    commands: [`taskset ${args.join(' ')}`, ...(awake !== undefined ? [`(--awake-core) chrt --idle 0 taskset -c ${RELAY_CPU} node -e <busy loop>`] : [])],
    ...(awake !== undefined ? { trialStarting: () => awake.resume(), trialEnded: () => awake.pause() } : {}),
    async stop() {
      await awake?.stop();
      await proc.stop('SIGTERM', STOP_MS);
      await rl.lab.sysctl(rl.relay.ns, f.forwardingSysctl, 0);
      const mc = await relaySysctl(bl, f.mcForwardingSysctl);
      if (mc !== '0') {
        throw new BenchError('ERR_BENCH_START', `mc_forwarding is still ${mc} after smcrouted stopped: the kernel would keep forwarding`);
      }
      return undefined;
    },
  };
}

/** Polls `ip [-6] mroute show` until the (S,G) route lists every output (bounded). */
async function waitForRoute(bl: BenchLab, proc: LabProcess, outIfs: readonly string[], f: FamilyFacts, sg: string): Promise<void> {
  const deadline = Date.now() + READY_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.exited) break;
    const r = await bl.rl.lab.exec(bl.rl.relay.ns, 'ip', [...f.ipArgs, 'mroute', 'show'], { timeoutMs: 5000, reject: false });
    last = r.stdout.trim();
    const line = last.split('\n').find((l) => l.includes(sg));
    if (line !== undefined && outIfs.every((ifname) => new RegExp(`\\b${ifname}\\b`).test(line.split('Oifs:')[1] ?? ''))) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const why = proc.exited ? `smcrouted exited: ${proc.stderrLines.slice(-3).join(' | ')}` : `route not installed within ${READY_MS} ms`;
  throw new BenchError('ERR_BENCH_START', `kernel forwarding not ready: ${why}; ip mroute: ${last || '(empty)'}`);
}
