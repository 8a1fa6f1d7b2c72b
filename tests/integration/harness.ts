/**
 * Shared steps of the relay integration tests: start mcr-relay, mcrsink and
 * mcrgen inside a relay lab's namespaces, wait on their ready lines (never on
 * sleeps) and parse the JSON each prints when it ends.
 */
import { join } from 'node:path';
import { createRelayLab, type LabProcess, type RelayLab } from '../../bench/lab/index.js';
import { packageRoot } from '../../native/package-root.js';
import type { SinkLatency } from '../../bench/latency.js';

export type { SinkLatency };

export const ROOT = packageRoot();
const RELAY_CLI = join(ROOT, 'dist', 'worker', 'relay-cli.js');
export const TOOL = (name: string): string => join(ROOT, 'build', 'Release', name);


export interface SinkReport {
  received: number;
  unique: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  bytes: number;
  minSize: number;
  maxSize: number;
  /** mcrsink --latency only (null without it): docs/tools.md "mcrsink". */
  latency?: SinkLatency | null;
}


export interface GenReport {
  sent: number;
  errors: number;
  retries: number;
}

export type Counters = Record<string, number>;
/** The loop counters tests read by name (docs/relay.md lists them all). */
type LoopCounterName = 'frames' | 'matched' | 'sent' | 'sends_queued' | 'kernel_packets' | 'kernel_drops' |
  'backpressure_pauses' | 'recv_buffer_exhausted' | 'inflight_sends' | 'inflight_buffers' | 'send_errors' |
  'drop_oversize' | 'drop_not_ipv4' | 'gso_batches' | 'gso_datagrams' | 'gso_fallbacks' | 'gso_pool_empty' | 'busy_poll_turns';
export interface RelayReport {
  loop: Counters & Record<LoopCounterName, number>;
  rules: Array<{ id: number; packets: number; bytes: number; outputs: Array<Record<string, number | string | boolean>> }>;
}

/** mcr-relay in the relay namespace, once forwarding; `wrap` runs it under another program ([program, ...its args]). */
export async function startRelay(rl: RelayLab, args: string[], opts: { stdin?: boolean; wrap?: string[] } = {}): Promise<LabProcess> {
  const full = [RELAY_CLI, '--input-interface', rl.relay.input.ifname, ...args];
  if (opts.stdin === true) full.push('--stdin-commands');
  const [cmd = process.execPath, ...cmdArgs] = [...(opts.wrap ?? []), process.execPath, ...full];
  const proc = rl.lab.spawn(rl.relay.ns, cmd, cmdArgs, opts.stdin === true ? { stdin: 'pipe' } : {});
  await proc.waitForLine('stderr', /"msg":"relay forwarding"/, 15_000);
  return proc;
}

export async function stopRelay(proc: LabProcess): Promise<RelayReport> {
  const result = await proc.stop('SIGINT', 10_000);
  const last = proc.stdoutLines.filter((l) => l.startsWith('{')).pop();
  if (result.exitCode !== 0 || last === undefined) {
    throw new Error(`mcr-relay ended with ${result.exitCode ?? result.signal}: ${proc.stderrLines.slice(-5).join('\n')}`);
  }
  return JSON.parse(last) as RelayReport;
}

export interface SinkOptions {
  port: number;
  group?: string;
  bind?: string;
  count: number;
  /** Upper bound on the run in seconds. */
  duration?: number;
  /** Seconds without packets (after the first) that end the run. */
  idle?: number;
  /** Report one-way latency of timestamped payloads (mcrsink --latency). */
  latency?: boolean;
}

export async function startSink(rl: RelayLab, index: number, o: SinkOptions): Promise<LabProcess> {
  const sink = rl.sinks[index];
  if (sink === undefined) throw new Error(`no sink ${index}`);
  const args = ['--port', String(o.port), '--count', String(o.count), '--duration', String(o.duration ?? 30)];
  if (o.group !== undefined) args.push('--group', o.group, '--interface', sink.ifname);
  if (o.bind !== undefined) args.push('--bind', o.bind);
  if (o.idle !== undefined) args.push('--idle', String(o.idle));
  if (o.latency === true) args.push('--latency');
  const proc = rl.lab.spawn(sink.ns, TOOL('mcrsink'), args);
  await proc.waitForLine('stderr', /"event":"ready"/, 10_000);
  return proc;
}

export async function sinkReport(proc: LabProcess, timeoutMs = 40_000): Promise<SinkReport> {
  const line = await proc.waitForLine('stdout', /^\{/, timeoutMs);
  return JSON.parse(line) as SinkReport;
}

export interface GenOptions {
  dest: string;
  port: number;
  count: number;
  rate: number;
  size?: number;
  stream?: number;
  /** Stamp each payload with its send time (mcrgen --timestamp). */
  timestamp?: boolean;
  /** Datagrams per paced sendmmsg (mcrgen --batch; its default 64 sends bursts, 1 evenly spaced datagrams). */
  batch?: number;
}

function genArgs(rl: RelayLab, o: GenOptions): string[] {
  return ['--dest', o.dest, '--port', String(o.port), '--interface', rl.src.ifname, '--count', String(o.count),
    '--rate', String(o.rate), '--size', String(o.size ?? 64), '--stream', String(o.stream ?? 1), '--duration', '60',
    ...(o.timestamp === true ? ['--timestamp'] : []), ...(o.batch !== undefined ? ['--batch', String(o.batch)] : [])];
}

export async function runGen(rl: RelayLab, o: GenOptions): Promise<GenReport> {
  const r = await rl.lab.exec(rl.src.ns, TOOL('mcrgen'), genArgs(rl, o), { timeoutMs: 70_000 });
  return JSON.parse(r.stdout) as GenReport;
}

export function startGen(rl: RelayLab, o: GenOptions): LabProcess {
  return rl.lab.spawn(rl.src.ns, TOOL('mcrgen'), genArgs(rl, o));
}

export async function genReport(proc: LabProcess, timeoutMs = 70_000): Promise<GenReport> {
  const line = await proc.waitForLine('stdout', /^\{/, timeoutMs);
  return JSON.parse(line) as GenReport;
}

/** Sends hex frames out of the src interface with mcrinject. */
export async function inject(rl: RelayLab, frames: string[], repeat = 1): Promise<number> {
  const r = await rl.lab.exec(rl.src.ns, TOOL('mcrinject'), ['--interface', rl.src.ifname, '--repeat', String(repeat)], {
    input: frames.join('\n') + '\n',
    timeoutMs: 20_000,
  });
  return (JSON.parse(r.stdout) as { sent: number }).sent;
}

const linesWritten = new WeakMap<LabProcess, number>();

/**
 * Writes one JSON command to a relay started with `stdin: true` and waits
 * for its reply line (the relay numbers commands by line, from 1).
 */
export async function relayCommand(proc: LabProcess, cmd: unknown): Promise<Record<string, unknown>> {
  const seq = (linesWritten.get(proc) ?? 0) + 1;
  linesWritten.set(proc, seq);
  proc.write(JSON.stringify(cmd) + '\n');
  const line = await proc.waitForLine('stderr', new RegExp(`"seq":${seq},.*"msg":"command (done|failed)"`), 10_000);
  return JSON.parse(line) as Record<string, unknown>;
}

export function output(report: RelayReport, rule: number, index: number): Record<string, number | string | boolean> {
  const o = report.rules[rule]?.outputs[index];
  if (o === undefined) throw new Error(`no output ${index} of rule ${rule} in ${JSON.stringify(report)}`);
  return o;
}

/**
 * A fresh lab, mcr-relay with `args` (239.1.1.1:5000 → 239.2.2.2:6000 on
 * out0 plus those), `count` 200-byte datagrams at a steady 20 kpps to one
 * sink; `afterStream` runs once the sink has them, before the relay stops.
 * The lab is gone when it resolves.
 */
export async function steadyStream<T>(tag: string, args: string[], o: { count: number; stdin?: boolean;
  afterStream?: (relay: LabProcess) => Promise<T> }): Promise<{ got: SinkReport; loop: RelayReport['loop']; after: T | undefined }> {
  const rl = await createRelayLab({ tag });
  try {
    const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0', ...args],
      { stdin: o.stdin === true });
    const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: o.count, idle: 3 });
    await runGen(rl, { dest: '239.1.1.1', port: 5000, count: o.count, rate: 20_000, size: 200 });
    const got = await sinkReport(sink);
    const after = o.afterStream ? await o.afterStream(relay) : undefined;
    const report = await stopRelay(relay);
    return { got, loop: report.loop, after };
  } finally {
    await rl.lab.destroy();
  }
}

/** An arrival-sink recording: [sequence number, epoch ms] per datagram, in arrival order. */
/**
 * A stream of COUNT 100-byte datagrams at RATE into 239.1.1.1:5000, received
 * by the arrival-sink fixture on sink 0 (239.2.2.2:6000: every arrival with
 * its time), started so that a fault can be timed against it: resolves once
 * the sink saw datagram MARK, with the time it did. The sink ends at the
 * stream's last datagram, or after 6 s of silence if that one is lost
 * (longer than any outage these tests cause), or at DURATION_MS.
 */
export async function startMarkedStream(rl: RelayLab, o: { rate: number; count: number; mark: number; durationMs: number }):
Promise<{ sink: LabProcess; gen: LabProcess; markedAt: number }> {
  const sink = rl.lab.spawn(rl.sinks[0]?.ns ?? '', process.execPath, [join(ROOT, 'dist', 'tests', 'fixtures', 'arrival-sink.js'),
    '--group', '239.2.2.2', '--port', '6000', '--address', rl.sinks[0]?.addr ?? '', '--mark', String(o.mark), '--idle', '6000',
    '--duration', String(o.durationMs), '--last', String(o.count - 1)]);
  await sink.waitForLine('stderr', /"event":"ready"/, 10_000);
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: o.count, rate: o.rate, size: 100 });
  await sink.waitForLine('stderr', /"event":"mark"/, 10_000);
  return { sink, gen, markedAt: Date.now() };
}

export type Arrivals = Array<[number, number]>;

/**
 * The outage in an arrival-sink recording: the longest silence between two
 * consecutive arrivals, as the last arrival before it and the first after.
 */
export function longestSilence(arrivals: Arrivals): { at: number; last: [number, number]; resume: [number, number] } {
  const silence = (i: number): number => (arrivals[i + 1]?.[1] ?? 0) - (arrivals[i]?.[1] ?? 0);
  let at = 0;
  for (let i = 1; i + 1 < arrivals.length; i++) if (silence(i) > silence(at)) at = i;
  return { at, last: arrivals[at] ?? [0, 0], resume: arrivals[at + 1] ?? [0, 0] };
}
