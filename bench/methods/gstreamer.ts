/**
 * GStreamer under test: what broadcast engineers reach for, as they run it.
 * One gst-launch-1.0 pipeline pinned to the relay core: udpsrc joined to
 * 239.1.1.1:5000 on in0, then at fan-out 1 straight into a udpsink, at
 * fan-out N a tee with one udpsink per output (no queues, so the one
 * streaming thread pushes each buffer to every output in turn, as socat's
 * loop does). Each udpsink sends from its output's address (bind-address,
 * which also picks the output interface: Linux routes a multicast send from
 * a bound local address out of that address's interface), with sync=false
 * so buffers leave as they arrive, not on the pipeline clock, and without
 * joining the group or looping it back. Buffer sizes stay at the defaults.
 *
 * IPv6 (`family` 6): see gstPipeline.
 *
 * Readiness is gst-launch's "Setting pipeline to PLAYING" line; the suite's
 * warm-up then proves datagrams get through.
 */
import type { BenchLab } from '../bench-lab.js';
import { groupOf, PORT, RELAY_CPU, type Family } from '../config.js';
import { BenchError } from '../errors.js';
import type { MethodStart, RunningMethod } from './types.js';

const READY_MS = 15_000;
const STOP_MS = 5000;

export interface GstOutput {
  addr: string;
  group: string;
  port: number;
  /** IPv6 only: the output interface, as udpsink's multicast-iface. */
  ifname?: string;
}

/**
 * gst-launch-1.0's pipeline description, as separate arguments. IPv6
 * (`family` 6): udpsrc joins GROUP6 on the input, each udpsink binds its
 * output's IPv6 address and names the output as multicast-iface; the lab's
 * local-table route for the group (bench-lab-ipv6.ts) also leads out0.
 */
export function gstPipeline(input: string, outputs: readonly GstOutput[], family: Family = 4): string[] {
  if (outputs.length === 0) throw new BenchError('ERR_BENCH_ARG', 'the GStreamer relay needs at least one output');
  const src = ['udpsrc', `address=${groupOf(family)}`, `port=${PORT}`, `multicast-iface=${input}`, 'auto-multicast=true'];
  const sink = (o: GstOutput): string[] =>
    ['udpsink', `host=${o.group}`, `port=${o.port}`, `bind-address=${o.addr}`, ...(family === 6 && o.ifname !== undefined ? [`multicast-iface=${o.ifname}`] : []),
      'auto-multicast=false', 'loop=false', 'sync=false', 'async=false'];
  const [only] = outputs;
  if (outputs.length === 1 && only !== undefined) return [...src, '!', ...sink(only)];
  return [...src, '!', 'tee', 'name=t', ...outputs.flatMap((o) => ['t.', '!', ...sink(o)])];
}

export async function startGstreamer(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  const { rl } = bl;
  const family = o.family ?? 4;
  const dest = o.output ?? { group: groupOf(family), port: PORT };
  const outputs = rl.relay.outputs.slice(0, o.fanout).map((out, n): GstOutput => {
    if (family === 4) return { addr: out.addr, group: dest.group, port: dest.port };
    const addr = bl.ipv6?.outputs[n];
    if (addr === undefined) throw new BenchError('ERR_BENCH_ARG', `GStreamer over IPv6 needs an IPv6 address on ${out.ifname} (enableIpv6)`);
    return { addr, group: dest.group, port: dest.port, ifname: out.ifname };
  });
  const args = ['-c', String(RELAY_CPU), 'gst-launch-1.0', ...gstPipeline(rl.relay.input.ifname, outputs, family)];
  const proc = rl.lab.spawn(rl.relay.ns, 'taskset', args, { maxLines: 500 });
  try {
    await proc.waitForLine('stdout', /Setting pipeline to PLAYING/, READY_MS);
  } catch (err) {
    await proc.stop('SIGKILL', 2000).catch(() => undefined);
    const why = [...proc.stdoutLines.slice(-2), ...proc.stderrLines.slice(-2)].join(' | ');
    throw new BenchError('ERR_BENCH_START', `gst-launch-1.0 did not start: ${why}`, { cause: err });
  }
  return {
    name: 'gstreamer',
    pids: [proc.pid],
    commands: [`taskset ${args.join(' ')}`],
    async stop() {
      // gst-launch-1.0 handles SIGINT (EOS, then exit 0); SIGTERM ends it at once, which is all the bench needs.
      await proc.stop('SIGTERM', STOP_MS);
      return undefined;
    },
  };
}
