/**
 * socat under test: what a user reaches for first. socat relays one
 * address to one address, so fan-out N is N processes, each with its own
 * UDP socket joined to 239.1.1.1 on in0 (SO_REUSEADDR lets them share port
 * 5000, and the kernel hands every joined socket its own copy) and sending
 * from outK's address with IP_MULTICAST_IF on outK. All are pinned to core 1
 * like the relay. Options stay at socat's defaults (socket buffers included):
 * the comparison is with socat as people run it.
 *
 * IPv6 (`family` 6): the same over UDP6 addresses (socatAddresses).
 *
 * Readiness is socat's own "starting data transfer loop" notice (-d -d),
 * printed once both addresses are open.
 */
import type { LabProcess } from '../lab/index.js';
import type { BenchLab } from '../bench-lab.js';
import { GROUP, GROUP6, PORT, RELAY_CPU, type Family } from '../config.js';
import { BenchError } from '../errors.js';
import type { MethodStart, RunningMethod } from './types.js';

const READY_MS = 5000;
const STOP_MS = 5000;

/**
 * socat's two addresses for one output. IPv4: joined with
 * ip-add-membership, sent with IP_MULTICAST_IF. IPv6: joined with
 * ipv6-join-group (IPV6_JOIN_GROUP on in0); socat 1.7 has no IPv6 form of
 * ip-multicast-if, so the send socket is bound to the output's address and
 * to the output device (SO_BINDTODEVICE), which is what picks the interface
 * of an IPv6 multicast send when IPV6_MULTICAST_IF is not set.
 */
export function socatAddresses(input: string, out: { ifname: string; addr: string; addr6?: string | undefined }, family: Family = 4): string[] {
  if (family === 4) {
    return [`UDP4-RECV:${PORT},ip-add-membership=${GROUP}:${input},reuseaddr`, `UDP4-SENDTO:${GROUP}:${PORT},ip-multicast-if=${out.addr},bind=${out.addr}`];
  }
  if (out.addr6 === undefined) throw new BenchError('ERR_BENCH_ARG', `socat over IPv6 needs an IPv6 address on ${out.ifname} (enableIpv6)`);
  return [`UDP6-RECV:${PORT},ipv6-join-group=[${GROUP6}]:${input},reuseaddr`, `UDP6-SENDTO:[${GROUP6}]:${PORT},bind=[${out.addr6}],so-bindtodevice=${out.ifname}`];
}

export async function startSocat(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  const { rl } = bl;
  const procs: LabProcess[] = [];
  const commands: string[] = [];
  try {
    let n = 0;
    for (const out of rl.relay.outputs.slice(0, o.fanout)) {
      const args = ['-c', String(RELAY_CPU), 'socat', '-d', '-d', '-u'];
      args.push(...socatAddresses(rl.relay.input.ifname, { ifname: out.ifname, addr: out.addr, addr6: bl.ipv6?.outputs[n] }, o.family));
      n += 1;
      commands.push(`taskset ${args.join(' ')}`);
      procs.push(rl.lab.spawn(rl.relay.ns, 'taskset', args, { maxLines: 500 }));
    }
    await Promise.all(procs.map((p) => p.waitForLine('stderr', /starting data transfer loop/, READY_MS)));
  } catch (err) {
    const why = procs.find((p) => p.exited)?.stderrLines.slice(-2).join(' | ') ?? String(err);
    await stopAll(procs).catch(() => undefined);
    throw new BenchError('ERR_BENCH_START', `socat did not start: ${why}`, { cause: err });
  }
  return {
    name: 'socat',
    pids: procs.map((p) => p.pid),
    commands,
    async stop() {
      await stopAll(procs);
      return undefined;
    },
  };
}

async function stopAll(procs: readonly LabProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop('SIGTERM', STOP_MS)));
}
