/**
 * Which output of a rule is "the same" as which output of another version
 * of it: the one with the same destination group, port and interface (the
 * n-th output with a key to the n-th with the same key, since TTL or source
 * may tell two apart), not the one at the same index. Counters follow this
 * match when a rule is rebuilt (worker/counter-carry.ts) or changed by a
 * reload (supervisor/stats/counter-ledger.ts), and the metrics label an
 * output by the same key (supervisor/metrics/rule-metrics.ts).
 */
import { outputHostPort } from './rule-text.js';

/**
 * group:port:interface as the tables print an output: an IPv6 group in
 * brackets ([ff3e::1]:5000:eth1), a kept group or port as "=" (=:=:eth1).
 */
export function outputKey(o: { group: string; port: number; interface: string }): string {
  return `${outputHostPort(o.group, o.port)}:${o.interface}`;
}

/** For each key of `next`, the index of the output with the same key (n-th with n-th) in `prev`, or -1. */
export function matchOutputs(prev: readonly string[], next: readonly string[]): number[] {
  const free = new Map<string, number[]>();
  prev.forEach((k, i) => {
    const list = free.get(k);
    if (list === undefined) free.set(k, [i]);
    else list.push(i);
  });
  return next.map((k) => free.get(k)?.shift() ?? -1);
}
