/**
 * The soak's traffic: one mcrgen per rule and phase (its own stream id, so
 * a sink's per-stream counts split an epoch into phases exactly), one
 * mcrsink per rule output and epoch, and the kernel's view of the sink
 * sockets (/proc/net/udp: queue and drops) so a sink is only stopped once
 * it has read everything that reached it.
 */
import type { LabProcess, RelayLab } from '../lab/index.js';
import { pollUntil } from '../lab/time.js';
import { SOURCE_IF, type Pair } from './topology.js';

export interface GenResult {
  sent: number;
  retries: number;
  errors: number;
  errorsByErrno: Record<string, number>;
}

export interface StreamCounts {
  received: number;
  unique: number;
  duplicated: number;
  reordered: number;
}

export interface SinkResult {
  received: number;
  corrupted: number;
  streams: Record<string, StreamCounts>;
  ttls: Record<string, number>;
}

export interface RunningGen {
  rule: string;
  proc: LabProcess;
}

export interface RunningSink {
  pair: Pair;
  ns: string;
  proc: LabProcess;
}

/** Where a rule's datagrams are sent from: its input's group and port, out of the matching src interface. */
/** Paths of the native traffic tools (the soak runs its snapshot's, snapshot.ts). */
export interface TrafficTools {
  mcrgen: string;
  mcrsink: string;
}

export function startGen(rl: RelayLab, tools: TrafficTools, o: { rule: string; inputInterface: string; group: string; port: number; rate: number; size: number; stream: number }): RunningGen {
  const args = ['--dest', o.group, '--port', String(o.port), '--interface', SOURCE_IF[o.inputInterface] ?? 'up0', '--rate', String(o.rate),
    '--size', String(o.size), '--stream', String(o.stream), '--duration', '3600'];
  return { rule: o.rule, proc: rl.lab.spawn(rl.src.ns, tools.mcrgen, args) };
}

/** SIGINT (mcrgen stops cleanly and prints its totals), then the totals. */
export async function stopGen(g: RunningGen): Promise<GenResult> {
  await g.proc.stop('SIGINT', 5000);
  const line = g.proc.stdoutLines.find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`mcrgen for rule ${g.rule} printed no totals: ${g.proc.stderrLines.slice(-3).join(' | ')}`);
  const j = JSON.parse(line) as GenResult;
  return { sent: j.sent, retries: j.retries, errors: j.errors, errorsByErrno: j.errorsByErrno };
}

/** A sink for one pair in its output's sink namespace (outN ↔ sinkN), ready once bound and joined. */
export async function startSink(rl: RelayLab, tools: TrafficTools, pair: Pair): Promise<RunningSink> {
  const n = Number(pair.outputInterface.replace(/^out/, ''));
  const sink = rl.sinks[n];
  if (sink === undefined) throw new Error(`no sink namespace for ${pair.outputInterface}`);
  const multicast = Number(pair.group.split('.')[0]) >= 224;
  const args = ['--port', String(pair.port), '--duration', '3600'];
  if (multicast) args.push('--group', pair.group, '--interface', sink.ifname);
  const proc = rl.lab.spawn(sink.ns, tools.mcrsink, args);
  await proc.waitForLine('stderr', /"event":"ready"/, 10_000);
  return { pair, ns: sink.ns, proc };
}

/** SIGTERM, then the totals (per stream). */
export async function stopSink(s: RunningSink): Promise<SinkResult> {
  await s.proc.stop('SIGTERM', 5000);
  const line = s.proc.stdoutLines.find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`mcrsink for ${s.pair.id} printed no totals: ${s.proc.stderrLines.slice(-3).join(' | ')}`);
  const j = JSON.parse(line) as SinkResult;
  return { received: j.received, corrupted: j.corrupted, streams: j.streams, ttls: j.ttls };
}

export interface UdpSocketState {
  port: number;
  rxQueue: number;
  drops: number;
}

/** /proc/net/udp rows: "sl local_address rem_address st tx_queue:rx_queue ... drops". */
export function parseProcNetUdp(text: string): UdpSocketState[] {
  const out: UdpSocketState[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
    const rxQueue = parseInt((f[4] ?? '').split(':')[1] ?? '', 16);
    const drops = Number(f[f.length - 1]);
    if (Number.isFinite(port) && Number.isFinite(rxQueue)) out.push({ port, rxQueue, drops: Number.isFinite(drops) ? drops : 0 });
  }
  return out;
}

/** The UDP sockets of a namespace as the kernel sees them. */
export async function udpSockets(rl: RelayLab, ns: string): Promise<UdpSocketState[]> {
  const r = await rl.lab.exec(ns, 'cat', ['/proc/net/udp'], { timeoutMs: 5000 });
  return parseProcNetUdp(r.stdout);
}

/**
 * Waits (bounded) until no sink socket holds unread datagrams, then returns
 * each pair's socket drops (datagrams the kernel threw away because the
 * sink's receive buffer was full): loss after MCR sent, counted by the
 * kernel of the sink namespace.
 */
export async function drainSinks(rl: RelayLab, sinks: readonly RunningSink[], timeoutMs = 3000): Promise<Map<string, number>> {
  const namespaces = [...new Set(sinks.map((s) => s.ns))];
  let last = new Map<string, UdpSocketState[]>();
  await pollUntil(async () => {
    last = new Map(await Promise.all(namespaces.map(async (ns) => [ns, await udpSockets(rl, ns)] as const)));
    return sinks.every((s) => (last.get(s.ns) ?? []).filter((u) => u.port === s.pair.port).every((u) => u.rxQueue === 0));
  }, timeoutMs, 50);
  const drops = new Map<string, number>();
  for (const s of sinks) drops.set(s.pair.id, (last.get(s.ns) ?? []).filter((u) => u.port === s.pair.port).reduce((n, u) => n + u.drops, 0));
  return drops;
}
