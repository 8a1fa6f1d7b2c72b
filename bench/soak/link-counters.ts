/**
 * The kernel's own counters of the soak's input links, read at every phase
 * boundary: how many frames the generators' side of each veth sent
 * (`upN` in the src namespace, tx packets and tx dropped) and how many the
 * relay's end received (`inN`, rx packets and rx dropped), from
 * `ip -s -j link show` (the same numbers as /sys/class/net/IF/statistics).
 *
 * They account for what MCR cannot see: a veth whose peer is down drops
 * what is sent into it and counts it as tx dropped on the sending end
 * (measured: 932 of 2 709 datagrams, all of the ones sent while the relay
 * end was down, appeared there and nowhere else); and a frame that reaches
 * inN while no worker's packet socket is open (after the link came back,
 * before mcrd's new workers read) is in inN's rx packets but in no
 * worker's frame count (accounting.ts subtracts them).
 */
import type { RelayLab } from '../lab/index.js';
import { INPUTS, SOURCE_IF } from './topology.js';

export interface LinkCounters {
  /** Sending end (src namespace): frames the veth passed on, and frames it dropped (peer down). */
  upTxPackets: number;
  upTxDropped: number;
  /** Relay end: frames received, and frames the relay's kernel dropped on receipt. */
  inRxPackets: number;
  inRxDropped: number;
  /**
   * Relay end: frames sent (IGMP reports when mcrd joins or leaves a group).
   * A worker's packet socket sees outgoing frames too, so they are in its
   * frame count and are added to what arrived.
   */
  inTxPackets: number;
}

interface IpLinkStats { ifname: string; stats64?: { rx?: { packets?: number; dropped?: number }; tx?: { packets?: number; dropped?: number } } }

async function linkStats(rl: RelayLab, ns: string): Promise<Map<string, IpLinkStats>> {
  const r = await rl.lab.exec(ns, 'ip', ['-s', '-j', 'link', 'show'], { timeoutMs: 10_000 });
  const list = JSON.parse(r.stdout) as IpLinkStats[];
  return new Map(list.map((l) => [l.ifname, l]));
}

/** Counters of every input link (in0, in1) and its sending end, now. */
export async function readInputLinks(rl: RelayLab): Promise<Map<string, LinkCounters>> {
  const [src, relay] = await Promise.all([linkStats(rl, rl.src.ns), linkStats(rl, rl.relay.ns)]);
  const out = new Map<string, LinkCounters>();
  for (const iface of INPUTS) {
    const up = src.get(SOURCE_IF[iface] ?? '')?.stats64;
    const inn = relay.get(iface)?.stats64;
    out.set(iface, {
      upTxPackets: up?.tx?.packets ?? 0, upTxDropped: up?.tx?.dropped ?? 0,
      inRxPackets: inn?.rx?.packets ?? 0, inRxDropped: inn?.rx?.dropped ?? 0, inTxPackets: inn?.tx?.packets ?? 0,
    });
  }
  return out;
}

/** Growth of each counter between two readings (a missing reading: undefined). */
export function linkDelta(a: LinkCounters | undefined, b: LinkCounters | undefined): LinkCounters | undefined {
  if (a === undefined || b === undefined) return undefined;
  return { upTxPackets: b.upTxPackets - a.upTxPackets, upTxDropped: b.upTxDropped - a.upTxDropped,
    inRxPackets: b.inRxPackets - a.inRxPackets, inRxDropped: b.inRxDropped - a.inRxDropped, inTxPackets: b.inTxPackets - a.inTxPackets };
}

/**
 * Both ends of each output link (relay outN, sink dnN): what the relay's end
 * sent and dropped on transmit (a qdisc that drops, the noop qdisc of a link
 * not yet activated, counts tx dropped) and what the sink's end received
 * and dropped. Recorded per phase for diagnosis (the report's JSON), not
 * part of the accounting: an output link's counters mix the pairs of both
 * inputs that leave through it.
 */
export interface OutputLinkCounters { txPackets: number; txDropped: number; peerRxPackets: number; peerRxDropped: number }

export async function readOutputLinks(rl: RelayLab): Promise<Map<string, OutputLinkCounters>> {
  const [relay, ...sinks] = await Promise.all([linkStats(rl, rl.relay.ns), ...rl.sinks.map((s) => linkStats(rl, s.ns))]);
  const out = new Map<string, OutputLinkCounters>();
  rl.sinks.forEach((sink, n) => {
    const o = relay.get(`out${n}`)?.stats64;
    const d = sinks[n]?.get(sink.ifname)?.stats64;
    out.set(`out${n}`, { txPackets: o?.tx?.packets ?? 0, txDropped: o?.tx?.dropped ?? 0, peerRxPackets: d?.rx?.packets ?? 0, peerRxDropped: d?.rx?.dropped ?? 0 });
  });
  return out;
}

export function outputLinkDelta(a: OutputLinkCounters | undefined, b: OutputLinkCounters | undefined): OutputLinkCounters | undefined {
  if (a === undefined || b === undefined) return undefined;
  return { txPackets: b.txPackets - a.txPackets, txDropped: b.txDropped - a.txDropped, peerRxPackets: b.peerRxPackets - a.peerRxPackets, peerRxDropped: b.peerRxDropped - a.peerRxDropped };
}
