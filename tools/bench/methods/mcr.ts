/**
 * MCR under test: the standalone relay (dist/worker/relay-cli.js, the worker
 * mcrd will fork) in the relay namespace, pinned to core 1, with one rule
 * 239.1.1.1:5000 → 239.1.1.1:5000 on out0..out{N-1}: the same group and port
 * the kernel and socat forward, so all three do identical work.
 *
 * It runs with --stdin-commands so the suite can ask for the loop counters
 * ({"op":"stats"}) between trials: kernel_drops and submit_calls per trial,
 * without restarting the relay (restarts would put Node's start-up into
 * every trial).
 */
import { join } from 'node:path';
import type { LabProcess } from '../../lab/index.js';
import { packageRoot } from '../../native-tool.js';
import type { BenchLab } from '../bench-lab.js';
import { GROUP, PORT, RELAY_CPU } from '../config.js';
import { BenchError } from '../errors.js';
import type { MethodStart, RunningMethod } from './types.js';

const READY_MS = 15_000;
const COMMAND_MS = 10_000;
const STOP_MS = 10_000;

export async function startMcr(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  const { rl } = bl;
  const outputs = rl.relay.outputs.slice(0, o.fanout).map((out) => `${GROUP}:${PORT}:${out.ifname}`);
  const args = ['-c', String(RELAY_CPU), process.execPath, join(packageRoot(), 'dist', 'worker', 'relay-cli.js')];
  args.push('--input-interface', rl.relay.input.ifname, '--input-group', GROUP, '--input-port', String(PORT));
  args.push('--outputs', outputs.join(','), '--stdin-commands');
  if (o.tuning?.batch !== undefined) args.push('--batch', String(o.tuning.batch));
  if (o.tuning?.ringDepth !== undefined) args.push('--ring-depth', String(o.tuning.ringDepth));
  const proc = rl.lab.spawn(rl.relay.ns, 'taskset', args, { stdin: 'pipe', maxLines: 2000 });
  try {
    await proc.waitForLine('stderr', /"msg":"relay forwarding"/, READY_MS);
  } catch (err) {
    await proc.stop('SIGKILL', 2000).catch(() => undefined);
    throw new BenchError('ERR_BENCH_START', `mcr-relay did not start: ${lastLines(proc)}`, { cause: err });
  }
  let seq = 0;
  return {
    name: 'mcr',
    pids: [proc.pid],
    commands: [`taskset ${args.join(' ')}`],
    async counters() {
      // The relay numbers command lines from 1 and echoes the number as "seq".
      seq += 1;
      proc.write('{"op":"stats"}\n');
      const line = await proc.waitForLine('stderr', new RegExp(`"seq":${seq},.*"msg":"command (done|failed)"`), COMMAND_MS);
      const reply = JSON.parse(line) as { stats?: { loop?: Record<string, number> } };
      const loop = reply.stats?.loop;
      if (loop === undefined) throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `mcr-relay stats reply without loop counters: ${line}`);
      return loop;
    },
    async stop() {
      const result = await proc.stop('SIGINT', STOP_MS);
      const last = proc.stdoutLines.filter((l) => l.startsWith('{')).pop();
      if (result.exitCode !== 0 || last === undefined) {
        throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `mcr-relay ended with ${result.exitCode ?? result.signal}: ${lastLines(proc)}`);
      }
      return JSON.parse(last) as unknown;
    },
  };
}

function lastLines(proc: LabProcess): string {
  return proc.stderrLines.slice(-3).join(' | ');
}
