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
 * names its errno in `error`. A stacked output (a VLAN, a macvlan) lists
 * the device it is stacked on after it, whose queue and device drop its
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
 * queued and dropped there as well: a VLAN's and a macvlan's parent, an
 * ipvlan's master, and their tap twins. A veth also names its peer in
 * IFLA_LINK, but is not stacked on it; tunnels, bonds and bridges reach
 * their lower devices by routing or by their ports, which IFLA_LINK does
 * not say, so they have no `lower` (docs/relay.md, "Drops after the send").
 */
export const STACKED_KINDS: ReadonlySet<string> = new Set(['vlan', 'macvlan', 'macvtap', 'ipvlan', 'ipvtap']);

/** A stack deeper than this is not followed further (the kernel nests VLANs up to 8 deep). */
const MAX_STACK = 8;

/**
 * One entry per name, in the order given (each once), each followed by the
 * devices it is stacked on (`lower`) when they are not listed yet: the
 * parent's queue and device drop what the stacked one hands them.
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
  const blank = (name: string): OutputInterfaceStats => ({ interface: name, qdisc: '', lower: '', upper: [] });
  if (typeof read === 'string') {
    const errno = read;
    return unique.map((name) => ({ ...blank(name), error: host.ifindex(name) === undefined ? 'ENODEV' : errno }));
  }
  const { roots, links } = read;
  const counts = (name: string, ifindex: number | undefined): OutputInterfaceStats => {
    const out = blank(name);
    if (ifindex === undefined) return { ...out, error: 'ENODEV' };
    const q = roots.get(ifindex);
    if (q !== undefined) {
      out.qdisc = q.kind;
      if (q.drops !== undefined) out.qdiscDrops = q.drops;
    }
    const link = links.get(ifindex);
    if (link !== undefined) out.deviceDrops = link.txDropped;
    // Gone between the watcher's view and the dump: as if it did not exist.
    if (q === undefined && link === undefined) out.error = 'ENODEV';
    return out;
  };
  const listed = new Map<string, OutputInterfaceStats>();
  const result: OutputInterfaceStats[] = [];
  const add = (entry: OutputInterfaceStats, at: number): void => {
    listed.set(entry.interface, entry);
    result.splice(at, 0, entry);
  };
  for (const name of unique) {
    const given = listed.get(name);
    if (given === undefined) add(counts(name, host.ifindex(name)), result.length);
    // Down the stack from it; each lower device right after the entries above it.
    let upper = listed.get(name) as OutputInterfaceStats;
    let link = links.get(host.ifindex(name) ?? 0);
    for (let depth = 0; depth < MAX_STACK && link !== undefined && STACKED_KINDS.has(link.kind); depth++) {
      const parent = links.get(link.linkIfindex ?? 0);
      if (parent === undefined || parent.name === '' || upper.lower !== '') break;
      upper.lower = parent.name;
      const known = listed.get(parent.name);
      const lower = known ?? counts(parent.name, parent.ifindex);
      lower.upper.push(upper.interface);
      if (known !== undefined) break;  // listed already, with its own stack below it
      add(lower, result.indexOf(upper) + 1);
      upper = lower;
      link = parent;
    }
  }
  return result;
}
