/**
 * MCR under test, as users run it: mcrd (dist/supervisor/mcrd.js) in the
 * relay namespace under `taskset -c 0,1` with `--worker-cpus 1`, so its one
 * worker forwards on core 1 and mcrd's own threads (the control plane) run
 * on core 0, as on a host that gives its workers cores of their own
 * (docs/mcrd.md, "CPUs"); `mcrdSharesCore` puts all of mcrd on core 1
 * (`taskset -c 1 … --workers 1`, the placement of runs before 2026-12-04T17:00Z); one
 * rule 239.1.1.1:5000 → 239.1.1.1:5000 on out0..out{N-1}, added over the
 * control socket: the same group and port the kernel and socat forward, so
 * all three do identical work. IPv6 (`family` 6): the same rule with
 * GROUP6 as input and output group.
 *
 * The cell's commands end with how the kernel schedules the worker's loop
 * thread (policy, scheduler slice: lab/threads.ts), read once it runs.
 *
 * The suite reads the worker's loop counters (kernel_drops, submit_calls,
 * gso_batches, …) between trials from a stats request, without restarting
 * anything. The CPU figure counts mcrd and the worker.
 *
 * Tuning (the design experiments' --batch / --ring-depth) has no mcrd
 * option, so those runs start the standalone relay (dist/worker/relay-cli.js,
 * the same loop the worker runs) instead: `startMcrRelay`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '../../common/control-client.js';
import { describeLoopThread, type LabProcess } from '../lab/index.js';
import { pollUntil } from '../lab/time.js';
import { packageRoot } from '../../tools/native-tool.js';
import type { BenchLab } from '../bench-lab.js';
import { groupOf, OTHER_CPU, PORT, RELAY_CPU } from '../config.js';
import { BenchError } from '../errors.js';
import type { MethodStart, RunningMethod } from './types.js';

const READY_MS = 20_000;
const COMMAND_MS = 10_000;
const STOP_MS = 20_000;

interface WorkerRow { pid: number; state: string }
interface StatsReply { workers: Array<{ loop?: Record<string, number> }> }

/**
 * mcrd's config for a cell: one rule from the input to each output interface, the same group and port
 * (each output a different interface). signalTimeoutMs, when given, is the rule's loss-of-signal
 * timeout (0 turns the watch off, and with it mcrd's polling of the worker for arrivals).
 */
export function benchMcrdConfig(inputInterface: string, group: string, outputInterfaces: readonly string[], signalTimeoutMs?: number) {
  const outputs = outputInterfaces.map((ifname) => ({ group, port: PORT, interface: ifname }));
  return {
    rules: [{ name: 'bench', inputInterface, inputGroup: group, inputPort: PORT, outputs,
      ...(signalTimeoutMs !== undefined ? { signalTimeoutMs } : {}) }],
  };
}

export async function startMcr(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  if (o.tuning !== undefined) return startMcrRelay(bl, o);
  const { rl } = bl;
  const dir = mkdtempSync(join(tmpdir(), 'mcr-bench-mcrd-'));
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'bench.json5');
  // IPv6 (issue 16) is the same rule with IPv6 groups: mcrd joins it with MLD, sends with IPV6_MULTICAST_IF.
  const group = groupOf(o.family);
  const cfg = benchMcrdConfig(rl.relay.input.ifname, group, rl.relay.outputs.slice(0, o.fanout).map((out) => out.ifname), o.mcrdSignalTimeoutMs);
  writeFileSync(config, JSON.stringify(cfg, null, 2));
  const placement = o.mcrdSharesCore === true
    ? ['-c', String(RELAY_CPU)]
    : ['-c', `${OTHER_CPU},${RELAY_CPU}`];
  const args = [...placement, process.execPath, join(o.mcrdRoot ?? packageRoot(), 'dist', 'supervisor', 'mcrd.js'),
    '--config', config, '--control-socket', socket, '--workers', '1', ...(o.mcrdSharesCore === true ? [] : ['--worker-cpus', String(RELAY_CPU)]),
    '--log-level', 'warn', ...(o.mcrdArgs ?? [])];
  const proc = rl.lab.spawn(rl.relay.ns, 'taskset', args, { maxLines: 2000 });
  const client = new ControlClient({ requestTimeoutMs: COMMAND_MS });
  const fail = async (why: string, err?: unknown): Promise<never> => {
    client.close();
    await proc.stop('SIGKILL', 2000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw new BenchError('ERR_BENCH_START', `mcrd did not start forwarding: ${why}: ${lastLines(proc)}`, { cause: err });
  };
  let worker: WorkerRow | undefined;
  try {
    await waitFor(async () => {
      if (!client.connected) await client.connect(socket).catch(() => undefined);
      if (!client.connected) return false;
      const rows = (await client.request({ kind: 'workers' }) as { workers: WorkerRow[] }).workers;
      worker = rows.find((w) => w.state === 'running' && w.pid > 0);
      return worker !== undefined;
    }, READY_MS);
  } catch (err) {
    return fail('no running worker', err);
  }
  const pids = [proc.pid, worker?.pid ?? 0];
  return {
    name: 'mcr',
    pids,
    ...(o.mcrdSharesCore === true ? {} : { offCorePids: [proc.pid] }),
    loopPid: worker?.pid ?? 0,
    // How the kernel schedules the loop (its slice moves the latency tail), as it is, not as asked for.
    commands: [`taskset ${args.join(' ')}`, `(config) ${JSON.stringify(cfg)}`, describeLoopThread(worker?.pid ?? 0)],
    async counters() {
      const reply = await client.request({ kind: 'stats' }) as StatsReply;
      const loop = reply.workers[0]?.loop;
      if (loop === undefined || Object.keys(loop).length === 0) {
        throw new BenchError('ERR_BENCH_TOOL_OUTPUT', 'mcrd stats without the worker\'s loop counters (worker not running?)');
      }
      return loop;
    },
    async stop() {
      let last: unknown;
      try {
        last = await client.request({ kind: 'stats' });
      } catch {
        // Reported below through the exit status.
      }
      client.close();
      const result = await proc.stop('SIGTERM', STOP_MS);
      rmSync(dir, { recursive: true, force: true });
      if (result.exitCode !== 0) throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `mcrd ended with ${result.exitCode ?? result.signal}: ${lastLines(proc)}`);
      return last;
    },
  };
}

/** The standalone relay with tuning flags, for the design experiments. */
async function startMcrRelay(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  const { rl } = bl;
  const group = groupOf(o.family);
  const outputs = rl.relay.outputs.slice(0, o.fanout).map((out) => `${o.family === 6 ? `[${group}]` : group}:${PORT}:${out.ifname}`);
  const args = ['-c', String(RELAY_CPU), process.execPath, join(packageRoot(), 'dist', 'worker', 'relay-cli.js')];
  args.push('--input-interface', rl.relay.input.ifname, '--input-group', group, '--input-port', String(PORT));
  args.push('--outputs', outputs.join(','), '--stdin-commands');
  if (o.tuning?.batch !== undefined) args.push('--batch', String(o.tuning.batch));
  if (o.tuning?.ringDepth !== undefined) args.push('--ring-depth', String(o.tuning.ringDepth));
  if (o.tuning?.udpGso === false) args.push('--no-udp-gso');
  if (o.tuning?.extraArgs !== undefined) args.push(...o.tuning.extraArgs);
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
    loopPid: proc.pid,
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

async function waitFor(check: () => Promise<boolean>, limitMs: number): Promise<void> {
  if (!(await pollUntil(() => check().catch(() => false), limitMs))) throw new Error(`not ready within ${limitMs / 1000} s`);
}

/** The last lines of both streams: mcrd logs on stdout, mcr-relay on stderr, start-up errors on stderr. */
function lastLines(proc: LabProcess): string {
  return [...proc.stdoutLines.slice(-2), ...proc.stderrLines.slice(-2)].join(' | ');
}
