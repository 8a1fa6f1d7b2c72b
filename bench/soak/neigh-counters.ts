/**
 * The kernel's ARP table statistics: how many packets its neighbour table
 * discarded while it resolved a next hop (`unresolved_discards` in
 * /proc/net/stat/arp_cache). A packet to a unicast next hop whose
 * neighbour entry is still INCOMPLETE waits in that entry's queue (at most
 * `unres_qlen_bytes`, about 100 of the soak's datagrams); when the queue is
 * full the oldest is freed and counted here, and nothing else counts it: a
 * UDP send of it has already returned success, so MCR counts it as sent.
 * That is what an output-down fault costs the unicast output (rule c)
 * after the link comes back, until the next hop answers ARP again
 * (docs/reliability.md, "The output-down residue").
 *
 * The statistics belong to the table, which the kernel shares between all
 * network namespaces: the file exists only in the initial namespace (where
 * the soak itself runs) and counts every namespace's discards. The soak
 * therefore attributes a phase's growth only to a fault that touched a
 * unicast output, and reports the growth in every other phase as what
 * other namespaces (other suites on the machine) added: the bound on the
 * error of the term (accounting.ts, summary.ts).
 *
 * One discard is one skb, and MCR batches its sends with UDP_SEGMENT (the
 * loop's gso_batches and gso_datagrams: about 3.4 datagrams per batch in
 * the 2026-12-04 run), so one discard can be several datagrams: the term
 * is a lower bound, and what is left of an output-down fault's loss in
 * "not counted" is most likely the rest of those batches.
 */
import { readFileSync } from 'node:fs';

export const ARP_CACHE_STAT = '/proc/net/stat/arp_cache';

/** Sum of the unresolved_discards column over the file's per-CPU lines (hexadecimal). */
export function parseUnresolvedDiscards(text: string): number {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').trim().split(/\s+/);
  const col = header.indexOf('unresolved_discards');
  if (col < 0) throw new Error(`ERR_MCR_SOAK_NEIGH: no unresolved_discards column in ${ARP_CACHE_STAT}`);
  let sum = 0;
  for (const line of lines.slice(1)) {
    const v = line.trim().split(/\s+/)[col];
    if (v === undefined || !/^[0-9a-f]+$/i.test(v)) throw new Error(`ERR_MCR_SOAK_NEIGH: unreadable line in ${ARP_CACHE_STAT}: ${line}`);
    sum += parseInt(v, 16);
  }
  return sum;
}

/** The table's unresolved discards now, or undefined when the file is missing (not the initial namespace, no /proc). */
export function readUnresolvedDiscards(file = ARP_CACHE_STAT): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseUnresolvedDiscards(text);
}
