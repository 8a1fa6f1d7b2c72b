/**
 * What the kernel dropped after MCR handed a datagram to an output
 * interface, per output interface of the rules, for the stats answer and
 * the metrics: the root qdisc's drops (`tc -s qdisc show`) and the
 * device's transmit drops (`ip -s link`: TX dropped). A sender is mostly
 * never told of these: a qdisc that drops for congestion (fq_codel, the
 * default of systemd hosts) answers NET_XMIT_CN, which UDP reports as
 * success, and a link without carrier drops everything in its device
 * while every send succeeds. So the outputs' `packets` count them as sent
 * and only these counters show them (docs/relay.md, "Drops after the
 * send").
 *
 * Both are kernel totals for the interface, of every sender on the host,
 * since the qdisc or the interface was made: read fresh at each request
 * (one RTM_GETQDISC dump for all interfaces, one sysfs read each), never
 * kept or reset by mcrd. A count that cannot be read leaves its field
 * unset and names its errno in `error`; the other is still given.
 */
import { readFileSync } from 'node:fs';
import { errorCode } from '../../common/control-errors.js';
import { native, type RootQdisc } from '../../native/index.js';
import type { OutputInterfaceStats } from '../../proto/index.js';

/** What readOutputDrops needs of the host; tests pass fakes. */
export interface OutputDropsHost {
  /** The interface's index in mcrd's namespace (the interface watcher's), or undefined when it does not exist. */
  ifindex(name: string): number | undefined;
  /** Every root qdisc in mcrd's namespace (native.rootQdiscs). */
  rootQdiscs(): RootQdisc[];
  /** The device's transmit drops (/sys/class/net/NAME/statistics/tx_dropped). */
  txDropped(name: string): number;
}

export const SYSTEM_HOST: Omit<OutputDropsHost, 'ifindex'> = {
  rootQdiscs: () => native.rootQdiscs(),
  txDropped: (name) => Number(readFileSync(`/sys/class/net/${name}/statistics/tx_dropped`, 'utf8').trim()),
};

/** One entry per name, in the order given (each once). */
export function readOutputDrops(names: Iterable<string>, host: OutputDropsHost): OutputInterfaceStats[] {
  const unique = [...new Set(names)];
  if (unique.length === 0) return [];
  let roots: Map<number, RootQdisc> | undefined;
  let rootsError: string | undefined;
  try {
    roots = new Map(host.rootQdiscs().map((q) => [q.ifindex, q]));
  } catch (err) {
    rootsError = errorCode(err) ?? 'EIO';
  }
  return unique.map((name): OutputInterfaceStats => {
    const ifindex = host.ifindex(name);
    if (ifindex === undefined) return { interface: name, qdisc: '', error: 'ENODEV' };
    const out: OutputInterfaceStats = { interface: name, qdisc: '' };
    const errors: string[] = [];
    if (roots === undefined) {
      errors.push(rootsError ?? 'EIO');
    } else {
      const q = roots.get(ifindex);
      if (q !== undefined) {
        out.qdisc = q.kind;
        if (q.drops !== undefined) out.qdiscDrops = q.drops;
      }
    }
    try {
      const dropped = host.txDropped(name);
      if (Number.isSafeInteger(dropped) && dropped >= 0) out.deviceDrops = dropped;
      else errors.push('EBADMSG');
    } catch (err) {
      errors.push(errorCode(err) ?? 'EIO');
    }
    if (errors.length > 0) out.error = errors.join(',');
    return out;
  });
}
