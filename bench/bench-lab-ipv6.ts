/**
 * IPv6 in the benchmark's lab, for the IPv6 cells (issue 16). The relay lab
 * turns IPv6 off everywhere (relay-lab.ts: no router solicitations or MLD
 * reports as noise); this turns it on for the lab's links, once the IPv4
 * cells are done, and gives each end a global address:
 *
 *   src up0 2001:db8:99::1/64 ── in0 2001:db8:99::2/64  relay
 *   relay outN 2001:db8:M::1/64 ── dnN 2001:db8:M::2/64  sinkN   (M = N+1, hex)
 *
 * Quiet, because the sinks' rx_packets are the arrival count: no router
 * advertisements accepted and no solicitations sent, and no duplicate
 * address detection (accept_dad 0, addresses added `nodad`), so every
 * address is usable at once and no DAD probe crosses a link. The group's
 * traffic leaves by a route: a `multicast GROUP6/16` route in each
 * namespace's local table (where the kernel puts ff00::/8 for every
 * interface; a main-table route is never reached) toward up0 in src, out0
 * in the relay and dnN in each sink, as relay-lab.ts routes 224.0.0.0/4.
 * Then it waits until the sinks' counters stop moving: the unsolicited MLD
 * reports an interface sends when IPv6 comes up (for its solicited-node
 * groups) must be over before a trial counts arrivals. Memberships of the
 * stream's group are MLD's business: the methods join it on in0 and the
 * kernel reports it.
 */
import type { BenchLab } from './bench-lab.js';
import { readSinkRx } from './bench-lab.js';
import { GROUP6 } from './config.js';
import { BenchError } from './errors.js';
import { pollUntil } from './lab/time.js';

export interface Ipv6Addresses {
  /** up0's address: the source of the IPv6 stream. */
  src: string;
  /** in0's. */
  input: string;
  /** outN's, index N. */
  outputs: string[];
  /** dnN's, index N. */
  sinks: string[];
}

/** The multicast route each namespace gets for the stream's group. */
export const GROUP6_ROUTE = `${GROUP6.replace(/::.*$/, '::')}/16`;

/** How long the sinks' rx_packets must stand still, and how long to wait for that. */
const QUIET_MS = 1500;
const QUIET_LIMIT_MS = 15_000;

export function ipv6Addresses(outputs: number): Ipv6Addresses {
  const net = (n: number): string => `2001:db8:${(n + 1).toString(16)}::`;
  return {
    src: '2001:db8:99::1',
    input: '2001:db8:99::2',
    outputs: Array.from({ length: outputs }, (_, n) => `${net(n)}1`),
    sinks: Array.from({ length: outputs }, (_, n) => `${net(n)}2`),
  };
}

/** Turns IPv6 on in the lab (idempotent: a second call returns the same addresses). */
export async function enableIpv6(bl: BenchLab): Promise<Ipv6Addresses> {
  if (bl.ipv6 !== undefined) return bl.ipv6;
  const { rl } = bl;
  const a = ipv6Addresses(rl.relay.outputs.length);
  const links: Array<[ns: string, ifname: string, addr: string]> = [
    [rl.src.ns, rl.src.ifname, a.src],
    [rl.relay.ns, rl.relay.input.ifname, a.input],
    ...rl.relay.outputs.map((o, n): [string, string, string] => [rl.relay.ns, o.ifname, a.outputs[n] ?? '']),
    ...rl.sinks.map((s, n): [string, string, string] => [s.ns, s.ifname, a.sinks[n] ?? '']),
  ];
  for (const [ns, ifname, addr] of links) {
    // Before IPv6 comes up on the interface, so none of it happens even once.
    for (const [key, value] of [['accept_ra', 0], ['router_solicitations', 0], ['accept_dad', 0], ['dad_transmits', 0]] as const) {
      await rl.lab.sysctl(ns, `net/ipv6/conf/${ifname}/${key}`, value);
    }
    await rl.lab.sysctl(ns, `net/ipv6/conf/${ifname}/disable_ipv6`, 0);
    await rl.lab.exec(ns, 'ip', ['-6', 'addr', 'add', `${addr}/64`, 'dev', ifname, 'nodad'], { timeoutMs: 5000 });
  }
  const route = (ns: string, ifname: string): Promise<unknown> =>
    rl.lab.exec(ns, 'ip', ['-6', 'route', 'add', 'multicast', GROUP6_ROUTE, 'dev', ifname, 'table', 'local'], { timeoutMs: 5000 });
  await route(rl.src.ns, rl.src.ifname);
  const out0 = rl.relay.outputs[0];
  if (out0 !== undefined) await route(rl.relay.ns, out0.ifname);
  await Promise.all(rl.sinks.map((s) => route(s.ns, s.ifname)));
  bl.ipv6 = a;
  await waitForQuietSinks(bl);
  return a;
}

/** Until no sink interface received anything for QUIET_MS (bounded). */
async function waitForQuietSinks(bl: BenchLab): Promise<void> {
  const fanout = bl.rl.sinks.length;
  let last = (await readSinkRx(bl, fanout)).join(',');
  let since = Date.now();
  const quiet = await pollUntil(async () => {
    const now = (await readSinkRx(bl, fanout)).join(',');
    if (now !== last) {
      last = now;
      since = Date.now();
    }
    return Date.now() - since >= QUIET_MS;
  }, QUIET_LIMIT_MS);
  if (!quiet) throw new BenchError('ERR_BENCH_ENV', `the sinks kept receiving for ${QUIET_LIMIT_MS / 1000} s after IPv6 came up (rx_packets ${last}): something in the lab is sending`);
}
