/**
 * The accounting of one phase, pure arithmetic: what the generators sent,
 * what the sinks received, and what MCR counted, per rule output (pair) and
 * per input interface.
 *
 * Ground truth is per pair: sent (mcrgen) minus received (mcrsink, unique
 * datagrams of the phase's stream) is what was lost. MCR's reasons are
 * counted per worker, not per rule (counters.ts says why), so they are
 * reconciled per input interface, whose rules all have one fan-out f:
 *
 *   lost pairs = send errors + f × (kernel ring drops + no rule)
 *              + f × (dropped on the input link + reached the input unread)
 *              + discarded by the kernel's neighbour table
 *              + sink socket drops (kernel of the sink namespace, not MCR)
 *              + not counted by anyone
 *
 * The two input terms come from the links' own counters (link-counters.ts):
 * dropped on the input link is what the sending veth dropped (its peer, the
 * relay's input, was down) plus what the relay's end dropped on receipt;
 * reached the input unread is the relay end's rx packets minus every
 * frame a worker of that interface saw (a worker's packet socket ignores
 * the interface's outgoing frames, mcrd's IGMP reports among them, since
 * the fan-out group flag of native/core/packet_socket.cc; before that its
 * tx packets were added here) (frames + kernel ring
 * drops): frames that
 * arrived while no worker's packet socket was open, or that sat in the
 * socket of a worker that died (its last counts are then missing too, so
 * the soak samples right before and after it acts on a worker or a link,
 * and takes a cleanly stopped worker's final counters from its last log
 * line: counters.ts, loopDelta).
 *
 * The neighbour table's term is its unresolved discards (neigh-counters.ts):
 * datagrams to a unicast next hop that the kernel accepted (MCR counts them
 * as sent) and then freed because the next hop's ARP entry was still
 * unresolved and its queue full. The counter is the whole machine's, so it
 * is given to an interface only in a phase whose fault touched unicast
 * outputs of that interface alone; in any other phase its growth is kept
 * as `neighOther` (other namespaces' discards, the error bound of the term).
 *
 * A phase without a fault must be exact for every pair (lost 0) and its
 * counters must agree with the traffic to the datagram (matched = sent,
 * loop sent = received + sink drops, no errors); in a fault phase the
 * pairs the fault does not touch must still lose nothing. Those are the
 * hard checks; the rest of a fault's loss is reported, split into what MCR
 * counted and what nothing counted.
 */
import type { LoopDelta, RuleDelta } from './counters.js';
import type { LinkCounters } from './link-counters.js';
import { malformedOf } from './counters.js';
import type { Pair } from './topology.js';

export interface PairTraffic {
  pair: Pair;
  sent: number;
  received: number;
  duplicated: number;
  /** Datagrams the sink's socket dropped (receive buffer full), from /proc/net/udp. */
  sinkDrops: number;
  touched: boolean;
}

export interface PairAccount extends PairTraffic {
  lost: number;
}

export interface InterfaceAccount {
  iface: string;
  fanout: number;
  sent: number;
  lostPairs: number;
  sendErrors: number;
  ringDrops: number;
  noRule: number;
  malformed: number;
  sinkDrops: number;
  /** Frames dropped by the input link itself (the sending veth's tx dropped while the relay end was down, the relay end's rx dropped). */
  linkDrops: number;
  /** Frames on the relay's input that no worker saw (rx + tx packets - frames - kernel ring drops); 0 without link counters. */
  unread: number;
  /** Growth of the input link's counters in the phase, when read. */
  link?: LinkCounters;
  /** Datagrams the kernel's neighbour table discarded while resolving this interface's touched unicast next hop (neigh-counters.ts); 0 if none was touched. */
  neighDiscards: number;
  /** lost pairs that no counter explains (negative: MCR counted more than was lost). */
  notCounted: number;
  /** Workers whose process changed in the phase: the old process's last counts are missing. */
  restarted: string[];
  loop: Record<string, number>;
}

export interface PhaseInput {
  label: string;
  /** True for steady phases: everything must be exact. */
  steady: boolean;
  traffic: PairTraffic[];
  /** Loop counter growth per input interface. */
  loops: Map<string, LoopDelta>;
  fanouts: Map<string, number>;
  /** Per-rule counter growth from mcrd (undefined where a counter reset). */
  rules: Map<string, RuleDelta | undefined>;
  /** Growth of each input link's counters (link-counters.ts); an interface without them has linkDrops and unread 0. */
  links?: Map<string, LinkCounters | undefined>;
  /** Growth of the kernel's (machine-wide) neighbour table unresolved discards over the phase, when read. */
  neighDiscards?: number;
}

export interface PhaseAccount {
  label: string;
  steady: boolean;
  pairs: PairAccount[];
  interfaces: InterfaceAccount[];
  /** Hard-check failures, each one line. */
  failures: string[];
  /** Growth of each output link's counters over the phase (both ends), for diagnosis; not part of the accounting. */
  outputLinks?: Record<string, { txPackets: number; txDropped: number; peerRxPackets: number; peerRxDropped: number }>;
  /** Neighbour table discards of the phase given to no interface: no unicast output touched (or touched on two inputs), so other namespaces' or unattributable. */
  neighOther: number;
}

export function accountPhase(p: PhaseInput): PhaseAccount {
  const failures: string[] = [];
  const pairs: PairAccount[] = p.traffic.map((t) => ({ ...t, lost: t.sent - t.received }));
  for (const a of pairs) {
    const what = `${p.label}: ${a.pair.id} (${a.pair.inputInterface} -> ${a.pair.outputInterface})`;
    if (a.received > a.sent) failures.push(`${what}: received ${a.received} of ${a.sent} sent: more than were sent`);
    if (a.duplicated > 0) failures.push(`${what}: ${a.duplicated} duplicated datagrams`);
    if (!a.touched && a.lost !== 0) failures.push(`${what}: lost ${a.lost} of ${a.sent}, and ${p.steady ? 'no fault was active' : 'the fault does not touch it'}`);
  }
  const interfaces: InterfaceAccount[] = [];
  const neighIface = neighbourInterface(pairs);
  const neighAttributed = neighIface !== undefined && p.loops.has(neighIface) ? (p.neighDiscards ?? 0) : 0;
  for (const [iface, delta] of p.loops) {
    const mine = pairs.filter((a) => a.pair.inputInterface === iface);
    const fanout = p.fanouts.get(iface) ?? 1;
    const v = delta.values;
    const sentByRule = new Map<string, number>();
    for (const a of mine) sentByRule.set(a.pair.rule, a.sent);
    const sent = [...sentByRule.values()].reduce((n, x) => n + x, 0);
    const acc: InterfaceAccount = {
      iface, fanout, sent,
      lostPairs: mine.reduce((n, a) => n + a.lost, 0),
      sendErrors: v.send_errors ?? 0,
      ringDrops: v.kernel_drops ?? 0,
      noRule: v.no_rule ?? 0,
      malformed: malformedOf(v),
      sinkDrops: mine.reduce((n, a) => n + a.sinkDrops, 0),
      linkDrops: 0,
      unread: 0,
      neighDiscards: iface === neighIface ? neighAttributed : 0,
      notCounted: 0,
      restarted: delta.restarted,
      loop: v,
    };
    // Malformed frames are never the generators' (mcrgen sends well-formed UDP): they are the lab's
    // stray frames and explain no loss, so they are reported but not subtracted.
    const link = p.links?.get(iface);
    if (link !== undefined) {
      acc.link = link;
      acc.linkDrops = link.upTxDropped + link.inRxDropped;
      acc.unread = link.inRxPackets - (v.frames ?? 0) - acc.ringDrops;
    }
    // One discard is one datagram of one pair, not of a frame: no fan-out factor.
    acc.notCounted = acc.lostPairs - acc.sendErrors - fanout * (acc.ringDrops + acc.noRule + acc.linkDrops + acc.unread) - acc.neighDiscards - acc.sinkDrops;
    interfaces.push(acc);
    if (p.steady) {
      const where = `${p.label}: ${iface}`;
      if (delta.restarted.length > 0) failures.push(`${where}: worker(s) ${delta.restarted.join(', ')} restarted with no fault active`);
      const matched = v.matched ?? 0;
      if (matched !== sent) failures.push(`${where}: workers matched ${matched} datagrams, the generators sent ${sent}`);
      const delivered = mine.reduce((n, a) => n + a.received + a.sinkDrops, 0);
      if ((v.sent ?? 0) !== delivered) failures.push(`${where}: workers sent ${v.sent ?? 0} datagrams, the sinks got ${delivered} (with socket drops)`);
      // no_rule and drop_* are left out: a stray frame of the lab (an ARP, an IGMP report) lands there and loses nothing of ours.
      for (const [name, n] of [['send errors', acc.sendErrors], ['kernel ring drops', acc.ringDrops]] as const) {
        if (n !== 0) failures.push(`${where}: ${n} ${name} with no fault active`);
      }
    }
  }
  if (p.steady) {
    for (const [rule, d] of p.rules) {
      if (d === undefined) continue;
      const mine = pairs.filter((a) => a.pair.rule === rule);
      const sent = mine[0]?.sent;
      if (d.packets !== undefined && sent !== undefined && d.packets !== sent) failures.push(`${p.label}: mcrd counts ${d.packets} datagrams for rule ${rule}, its generator sent ${sent}`);
      for (const a of mine) {
        const o = d.outputs[a.pair.output];
        if (o?.packets !== undefined && o.packets !== a.received + a.sinkDrops) {
          failures.push(`${p.label}: mcrd counts ${o.packets} sent on ${a.pair.id}, its sink got ${a.received + a.sinkDrops}`);
        }
        if (o?.errors !== undefined && o.errors !== 0) failures.push(`${p.label}: mcrd counts ${o.errors} errors on ${a.pair.id} with no fault active`);
      }
    }
  }
  return { label: p.label, steady: p.steady, pairs, interfaces, failures, neighOther: (p.neighDiscards ?? 0) - neighAttributed };
}

const isMulticast = (addr: string): boolean => {
  const first = Number(addr.split('.')[0]);
  return first >= 224 && first <= 239;
};

/** The one input interface whose touched pairs include unicast outputs, or undefined (none, or more than one). */
export function neighbourInterface(pairs: readonly PairTraffic[]): string | undefined {
  const ifaces = new Set(pairs.filter((a) => a.touched && !isMulticast(a.pair.group)).map((a) => a.pair.inputInterface));
  return ifaces.size === 1 ? [...ifaces][0] : undefined;
}

/** One fault's loss in a few numbers (summed over interfaces), for the report's table. */
export interface FaultLoss {
  sent: number;
  lostPairs: number;
  countedByMcr: number;
  /** Output datagrams of frames the input link dropped or that reached it unread (the links' counters × fan-out). */
  countedAtInput: number;
  /** Datagrams the kernel's neighbour table discarded while resolving a touched unicast next hop. */
  countedByNeigh: number;
  sinkDrops: number;
  notCounted: number;
  /** The neighbour table's discards in the phase given to no interface (other namespaces'). */
  neighOther: number;
}

export function faultLoss(a: PhaseAccount): FaultLoss {
  const out: FaultLoss = { sent: 0, lostPairs: 0, countedByMcr: 0, countedAtInput: 0, countedByNeigh: 0, sinkDrops: 0, notCounted: 0, neighOther: a.neighOther };
  for (const i of a.interfaces) {
    out.sent += i.sent * i.fanout;
    out.lostPairs += i.lostPairs;
    out.countedByMcr += i.sendErrors + i.fanout * (i.ringDrops + i.noRule);
    out.countedAtInput += i.fanout * (i.linkDrops + i.unread);
    out.countedByNeigh += i.neighDiscards;
    out.sinkDrops += i.sinkDrops;
    out.notCounted += i.notCounted;
  }
  return out;
}
