/**
 * socat under test: what a user reaches for first. socat relays one
 * address to one address, so fan-out N is N processes, each with its own
 * UDP socket joined to 239.1.1.1 on in0 (SO_REUSEADDR lets them share port
 * 5000, and the kernel hands every joined socket its own copy) and sending
 * from outK's address with IP_MULTICAST_IF on outK. All are pinned to core 1
 * like the relay. Options stay at socat's defaults (socket buffers included):
 * the comparison is with socat as people run it.
 *
 * Readiness is socat's own "starting data transfer loop" notice (-d -d),
 * printed once both addresses are open.
 */
import type { LabProcess } from '../lab/index.js';
import type { BenchLab } from '../bench-lab.js';
import { GROUP, PORT, RELAY_CPU } from '../config.js';
import { BenchError } from '../errors.js';
import type { MethodStart, RunningMethod } from './types.js';

const READY_MS = 5000;
const STOP_MS = 5000;

export async function startSocat(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  const { rl } = bl;
  const procs: LabProcess[] = [];
  const commands: string[] = [];
  try {
    for (const out of rl.relay.outputs.slice(0, o.fanout)) {
      const args = ['-c', String(RELAY_CPU), 'socat', '-d', '-d', '-u'];
      args.push(`UDP4-RECV:${PORT},ip-add-membership=${GROUP}:${rl.relay.input.ifname},reuseaddr`);
      args.push(`UDP4-SENDTO:${GROUP}:${PORT},ip-multicast-if=${out.addr},bind=${out.addr}`);
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
