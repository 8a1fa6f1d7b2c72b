/**
 * Says what limited a cell's figure, from the counters of its lowest-rate
 * failing trial: where the lost packets were dropped (MCR's packet socket, a
 * UDP receive buffer, the sinks' backlog on core 0, ...), how busy the two
 * cores were, and whether the relay core's input backlog pushed back on the
 * generator (those drops are resent, so they are not losses). Losses are compared in
 * egress packets, so an input datagram dropped before forwarding counts N.
 * The backlog counters are per core, not per namespace: anything else on
 * the host that overflows a backlog shows up in them too.
 */
import type { SearchResult } from './search.js';
import type { TrialResult } from './trial.js';
import { OTHER_CPU, RELAY_CPU } from './config.js';

export interface LossShare {
  where: string;
  /** Egress packets attributed. */
  packets: number;
}

/** Attributes a failing trial's lost egress packets to the counters that saw them dropped. */
export function lossBreakdown(t: TrialResult, sinkRps = true): LossShare[] {
  const n = t.fanout;
  // Without sink RPS the sinks' receive work, and its backlog, is on the relay
  // core, where the input's drops also land: one figure for both.
  const sinkBacklogDrops = sinkRps ? (t.backlogDrops[OTHER_CPU] ?? 0) : 0;
  const shares: LossShare[] = [
    {
      // The input veth's datagrams wait in the relay core's backlog (RPS) before
      // anything else sees them; mcrgen's UDP_SEGMENT batches do not resend what
      // it refused, so each drop is an input datagram lost to every output.
      where: sinkRps ? "relay core's input backlog full" : 'backlog on the relay core full (input or sinks)',
      packets: (t.backlogDrops[RELAY_CPU] ?? 0) * (sinkRps ? n : 1),
    },
    {
      // A full backlog on the sinks' core makes veth's netif_rx() fail; a UDP sender
      // without IP_RECVERR (MCR, socat) sees ENOBUFS swallowed into SndbufErrors
      // and OutDiscards (udp_send_skb, net/ipv4/udp.c), so these counters all
      // see the same drops: take the largest, never their sum.
      where: `sinks' backlog on core ${sinkRps ? OTHER_CPU : RELAY_CPU} full (senders see SndbufErrors)`,
      packets: Math.max(sinkBacklogDrops, t.snmp['Udp.SndbufErrors'] ?? 0, t.snmp['Ip.OutDiscards'] ?? 0),
    },
    { where: "MCR's packet socket full (kernel_drops)", packets: (t.mcr?.kernel_drops ?? 0) * n },
    { where: 'MCR send errors', packets: t.mcr?.send_errors ?? 0 },
    {
      // PACKET_STATISTICS tp_packets counts every frame queued (and dropped) on the
      // socket; what MCR had not read when the sinks went quiet was late, i.e. lost.
      where: "MCR behind: frames still queued in its packet socket",
      packets: Math.max(0, (t.mcr?.kernel_packets ?? 0) - (t.mcr?.kernel_drops ?? 0) - (t.mcr?.frames ?? 0)) * n,
    },
    {
      // socat has a socket per output, so a drop there is one egress packet; the C
      // relay's recvmmsg socket and GStreamer's udpsrc feed every output from one.
      where: 'UDP receive buffers full (RcvbufErrors)',
      packets: (t.snmp['Udp.RcvbufErrors'] ?? 0) * (t.method === 'socat' ? 1 : n),
    },
    // The C relay's TPACKET_V3 ring (bench/methods/c-relay.ts): frames the kernel found no room for.
    { where: "the C relay's ring full (tp_drops)", packets: (t.mcr?.ring_drops ?? 0) * n },
  ];
  const lost = Math.max(0, t.expected - t.received);
  const known = shares.reduce((a, s) => a + s.packets, 0);
  if (lost > known) shares.push({ where: 'not attributed by any counter', packets: lost - known });
  return shares.filter((s) => s.packets > 0).sort((a, b) => b.packets - a.packets);
}

export function describeLimit(r: SearchResult, sinkRps = true): string {
  if (r.generatorLimited) return 'the generator (mcrgen on core 0 at full speed): the method was not saturated';
  const t = r.limiting;
  if (t === undefined) return 'unknown (no failing trial)';
  const parts = [`at ${kpps(t.gen.pps)} offered: relay core ${pct(t.relayCoreUtil)} busy, core 0 ${pct(t.otherCoreUtil)}`];
  const lost = Math.max(0, t.expected - t.received);
  if (lost > 0) {
    // Counters are host-wide or overlap, so they are shown as counts, not shares that must add up.
    const where = lossBreakdown(t, sinkRps)
      .filter((s) => s.packets >= 0.01 * lost)
      .slice(0, 3)
      .map((s) => `${s.where} ${count(s.packets)}`);
    parts.push(`lost ${(t.loss * 100).toFixed(2)} % = ${count(lost)} egress packets; counted at: ${where.join(', ') || 'nothing'}`);
  }
  // Its own socket buffer full (EAGAIN): resent, not a loss, but a sign core 0 was short.
  if (t.gen.retries > 0) parts.push(`generator resent ${count(t.gen.retries)} (its socket buffer was full)`);
  if (t.generatorShort) parts.push('generator fell short of the offered rate');
  if (t.interferenceSec > 0.05 * t.windowSec) parts.push(`other load took ${pct(t.interferenceSec / t.windowSec)} of core 1`);
  return parts.join('; ');
}

function count(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : String(Math.round(n));
}

export function kpps(pps: number): string {
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)} Mpps`;
  return `${(pps / 1e3).toFixed(pps >= 1e5 ? 0 : 1)} kpps`;
}

function pct(f: number): string {
  return `${Math.round(f * 100)} %`;
}
