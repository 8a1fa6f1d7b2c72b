/**
 * The plain C userspace relay (native/tools/c_relay.c, build/Release/c_relay):
 * the "best simple program" anchor, the textbook design written for the
 * bench. Two receive designs, measured as two methods:
 *   c-ring  AF_PACKET TPACKET_V3 ring on the input with a classic BPF filter
 *           for the group's UDP port (blocks of 256 KiB, retired after 1 ms),
 *   c-mmsg  a UDP socket joined to the group on the input, recvmmsg batches
 *           of 64;
 * both send each batch with one sendmmsg per output on a UDP socket bound
 * to the output's address and connected to the output group:port. One
 * process, pinned to the relay core like every method. IPv6 (`family` 6):
 * the same designs over IPv6 (c_relay takes an IPv6 --group and outputs).
 *
 * Readiness is its {"event":"ready"} line. SIGUSR1 makes it print its
 * counters (received, sent, send_errors, ring_drops) as one numbered JSON
 * line, which the trial reads before and after the traffic, so a loss in the
 * ring is attributed to it (limits.ts); on SIGTERM it prints them once more,
 * the stop result.
 */
import { join } from 'node:path';
import { packageRoot } from '../../tools/native-tool.js';
import type { BenchLab } from '../bench-lab.js';
import { groupOf, PORT, RELAY_CPU } from '../config.js';
import { BenchError } from '../errors.js';
import type { MethodStart, RunningMethod } from './types.js';

const READY_MS = 5000;
const STOP_MS = 5000;
const REPORT_MS = 5000;
/** The counters a trial keeps (the rest are text or totals already in the trial). */
const COUNTERS = ['received', 'sent', 'send_errors', 'ring_drops'] as const;

export const C_RELAY = join(packageRoot(), 'build', 'Release', 'c_relay');

export function startCRing(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  return startCRelay(bl, o, 'ring');
}

export function startCMmsg(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  return startCRelay(bl, o, 'mmsg');
}

async function startCRelay(bl: BenchLab, o: MethodStart, mode: 'ring' | 'mmsg'): Promise<RunningMethod> {
  const { rl } = bl;
  const family = o.family ?? 4;
  const dest = o.output ?? { group: groupOf(family), port: PORT };
  const args = ['-c', String(RELAY_CPU), C_RELAY, '--mode', mode, '--in', rl.relay.input.ifname, '--group', groupOf(family), '--port', String(PORT)];
  rl.relay.outputs.slice(0, o.fanout).forEach((out, n) => {
    const addr = family === 6 ? bl.ipv6?.outputs[n] : out.addr;
    if (addr === undefined) throw new BenchError('ERR_BENCH_ARG', `c_relay over IPv6 needs an IPv6 address on ${out.ifname} (enableIpv6)`);
    args.push('--out', `${out.ifname},${addr},${dest.group},${dest.port}`);
  });
  const proc = rl.lab.spawn(rl.relay.ns, 'taskset', args, { maxLines: 200 });
  try {
    await proc.waitForLine('stderr', /"event":"ready"/, READY_MS);
  } catch (err) {
    await proc.stop('SIGKILL', 2000).catch(() => undefined);
    throw new BenchError('ERR_BENCH_START', `c_relay --mode ${mode} did not start: ${proc.stderrLines.slice(-2).join(' | ')}`, { cause: err });
  }
  let reports = 0;
  return {
    name: mode === 'ring' ? 'c-ring' : 'c-mmsg',
    pids: [proc.pid],
    commands: [`taskset ${args.join(' ')}`],
    async counters() {
      reports += 1;
      // taskset and `ip netns exec` exec in place: the child's PID is c_relay's.
      proc.process.kill('SIGUSR1');
      const line = await proc.waitForLine('stdout', new RegExp(`^\\{"report":${reports},`), REPORT_MS);
      const all = JSON.parse(line) as Record<string, unknown>;
      return Object.fromEntries(COUNTERS.map((k) => [k, Number(all[k])]));
    },
    async stop() {
      const result = await proc.stop('SIGTERM', STOP_MS);
      const last = proc.stdoutLines.filter((l) => l.startsWith('{')).pop();
      if (result.exitCode !== 0 || last === undefined) {
        throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `c_relay ended with ${result.exitCode ?? result.signal}: ${proc.stderrLines.slice(-2).join(' | ')}`);
      }
      return JSON.parse(last) as unknown;
    },
  };
}
