/**
 * What the kernel dropped after MCR handed a datagram to an output
 * interface, per output interface of the rules, for the stats answer and
 * the metrics: the root qdisc's drops (`tc -s qdisc show`) and the
 * device's transmit drops (`ip -s link`: TX dropped). MCR's counters hold
 * the drops a send was told of (a full qdisc's ENOBUFS, as `errors`), but
 * not the others: a qdisc that drops for congestion (fq_codel, the default
 * of systemd hosts) answers NET_XMIT_CN, which UDP reports as success, and
 * a link without carrier drops everything in its device (counted in its TX
 * dropped on current kernels) while every send succeeds. Those count as
 * sent in the outputs' `packets`, and only these counters show them
 * (docs/relay.md, "Drops after the send").
 *
 * Both are kernel totals for the interface, of every sender on the host,
 * since the qdisc or the interface was made: read fresh at each request
 * (one qdisc dump and one link dump of mcrd's namespace, off the event
 * loop: native.interfaceDrops), matched by interface index, never kept or
 * reset by mcrd. A count that cannot be read leaves its field unset and
 * names its errno in `error`. An output that transmits through other
 * devices (a VLAN or macvlan through its parent, a bond or bridge through
 * its ports) lists them after it, whose queues and devices drop its
 * packets too.
 */
import { errorCode } from '../../common/control-errors.js';
import { native, type LinkDrops, type RootQdisc } from '../../native/index.js';
import type { OutputInterfaceStats } from '../../proto/index.js';

/** What readOutputDrops needs of the host; tests pass fakes. */
export interface OutputDropsHost {
  /** The interface's index in mcrd's namespace (the interface watcher's), or undefined when it does not exist. */
  ifindex(name: string): number | undefined;
  /** Every root qdisc and link of mcrd's namespace (native.interfaceDrops). */
  interfaceDrops(): Promise<{ roots: RootQdisc[]; links: LinkDrops[] }>;
}

/**
 * `read` shared while it runs: callers that come meanwhile get the same
 * promise, so stats requests and scrapes that outrun a slow read (one held
 * behind the rtnl lock) never pile reads up on libuv's few worker threads,
 * which mcrd's file writes need too.
 */
export function singleFlight<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= read().finally(() => { running = undefined; }));
}

export const SYSTEM_HOST: Omit<OutputDropsHost, 'ifindex'> = { interfaceDrops: singleFlight(() => native.interfaceDrops()) };

/**
 * How long a stats answer waits for the counters. The read itself gives up
 * after a second without a reply; this bounds a wait for the kernel's rtnl
 * lock too, which no socket timeout covers. The read goes on in the
 * background and its result is dropped.
 */
export const READ_BOUND_MS = 2000;

/**
 * Kinds of link whose packets leave through the device IFLA_LINK names,
 * queued and dropped there as well: a VLAN's (802.1Q and 802.1ad), a
 * macvlan's and a MACsec device's parent, an ipvlan's master. All of them
 * say when that device is in another namespace (IFLA_LINK_NETNSID). Not
 * followed: a veth, which names its peer in IFLA_LINK but is not stacked
 * on it; tunnels (vxlan, gre), which reach their lower devices by routing;
 * macvtap and ipvtap, which queue in a qdisc of their own, and ipvtap never
 * says its parent is in another namespace, so its IFLA_LINK could name a
 * device of ours (docs/relay.md, "Drops after the send").
 */
export const STACKED_KINDS: ReadonlySet<string> = new Set(['vlan', 'macvlan', 'ipvlan', 'macsec']);

/**
 * Kinds of link whose packets leave through their ports, the links whose
 * IFLA_MASTER is theirs: a bond or team sends each packet on one port, a
 * bridge floods a multicast one to several. (A VRF is a master too, but
 * routes instead: not followed.)
 */
export const PORTED_KINDS: ReadonlySet<string> = new Set(['bond', 'team', 'bridge']);

/** A stack deeper than this is not followed further (the kernel nests VLANs up to 8 deep). */
const MAX_STACK = 8;

/** The devices `link` transmits through, in mcrd's namespace. */
function lowerLinks(link: LinkDrops, links: Map<number, LinkDrops>): LinkDrops[] {
  if (STACKED_KINDS.has(link.kind)) {
    const parent = links.get(link.linkIfindex ?? 0);
    return parent === undefined ? [] : [parent];
  }
  if (PORTED_KINDS.has(link.kind)) return [...links.values()].filter((l) => l.masterIfindex === link.ifindex);
  return [];
}

/**
 * One entry per name, in the order given (each once), each followed by the
 * devices it transmits through (`lower`: a stacked device's parent, a
 * bond's or bridge's ports) and theirs, depth first, when they are not
 * listed yet: their queues and devices drop what it hands them.
 */
export async function readOutputDrops(names: Iterable<string>, host: OutputDropsHost,
  boundMs: number = READ_BOUND_MS): Promise<OutputInterfaceStats[]> {
  const unique = [...new Set(names)];
  if (unique.length === 0) return [];
  // The counts by interface index, or the errno of a read that failed.
  let read: { roots: Map<number, RootQdisc>; links: Map<number, LinkDrops> } | string;
  let timer: NodeJS.Timeout | undefined;
  try {
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })), boundMs);
    });
    const got = await Promise.race([host.interfaceDrops(), bound]);
    read = { roots: new Map(got.roots.map((q) => [q.ifindex, q])), links: new Map(got.links.map((l) => [l.ifindex, l])) };
  } catch (err) {
    read = errorCode(err) ?? 'EIO';
  } finally {
    clearTimeout(timer);
  }
  const blank = (name: string): OutputInterfaceStats => ({ interface: name, qdisc: '', lower: [], upper: [] });
  if (typeof read === 'string') {
    const errno = read;
    return unique.map((name) => ({ ...blank(name), error: host.ifindex(name) === undefined ? 'ENODEV' : errno }));
  }
  const { roots, links } = read;
  const listed = new Map<string, OutputInterfaceStats>();
  const result: OutputInterfaceStats[] = [];
  // Lists `name` (at the end) and then, depth first, what it transmits through.
  const list = (name: string, ifindex: number | undefined, depth: number): OutputInterfaceStats => {
    const out = blank(name);
    listed.set(name, out);
    result.push(out);
    if (ifindex === undefined) {
      out.error = 'ENODEV';
      return out;
    }
    const q = roots.get(ifindex);
    if (q !== undefined) {
      out.qdisc = q.kind;
      if (q.drops !== undefined) out.qdiscDrops = q.drops;
    }
    const link = links.get(ifindex);
    if (link !== undefined) out.deviceDrops = link.txDropped;
    // Gone between the watcher's view and the dump: as if it did not exist.
    if (q === undefined && link === undefined) out.error = 'ENODEV';
    if (link === undefined || depth >= MAX_STACK) return out;
    for (const lower of lowerLinks(link, links)) {
      if (lower.name === '') continue;
      out.lower.push(lower.name);
      (listed.get(lower.name) ?? list(lower.name, lower.ifindex, depth + 1)).upper.push(name);
    }
    return out;
  };
  for (const name of unique) if (!listed.has(name)) list(name, host.ifindex(name), 0);
  return result;
}
