/**
 * GroupMemberships' record of one input interface: its membership sockets,
 * what each holds (per group (*,G) or INCLUDE sources), and two indexes kept
 * up to date by every join and leave so an apply costs about one lookup per
 * wanted membership however many sockets 10 000 groups need: the sockets
 * holding each group, and what all of them hold of it together (the `held`
 * map planMemberships compares with what the rules want). Bookkeeping only:
 * the socket calls are GroupMemberships'.
 */
import { isIPv6 } from 'node:net';
import type { GroupWant } from './membership-plan.js';
import type { Family } from './membership-errors.js';

export const familyOf = (group: string): Family => (isIPv6(group) ? 6 : 4);

/** One membership socket. */
export interface Holder {
  fd: number;
  family: Family;
  /** Per group: 'any' for (*,G), else the INCLUDE sources this socket holds. */
  groups: Map<string, 'any' | Set<string>>;
}

/** One interface's sockets and indexes. */
export interface Joined {
  ifindex: number;
  sockets: Holder[];
  /** The sockets holding each group, oldest first. */
  holders: Map<string, Holder[]>;
  /** Per group, what all its sockets hold together: kept up to date by every join and leave, so planning allocates nothing per group. */
  held: Map<string, { any: boolean; sources: ReadonlySet<string> }>;
  /** The wanted map and its version at the last apply that left nothing to retry; unset otherwise. */
  settled?: { wants: ReadonlyMap<string, GroupWant>; version: number };
}

/** The sources of a group held only (*,G): shared, replaced by a Set of its own at the first source. */
const NO_SOURCES: ReadonlySet<string> = new Set<string>();

/** The group's entry in `held`, created empty. */
export function heldEntry(j: Joined, group: string): { any: boolean; sources: ReadonlySet<string> } {
  let e = j.held.get(group);
  if (e === undefined) {
    e = { any: false, sources: NO_SOURCES };
    j.held.set(group, e);
  }
  return e;
}

export function holdSource(j: Joined, group: string, source: string): void {
  const e = heldEntry(j, group);
  if (e.sources === NO_SOURCES) e.sources = new Set([source]);
  else (e.sources as Set<string>).add(source);
}

/** Takes what one socket held of `group` (or one source of it) out of `held`. */
export function unhold(j: Joined, group: string, what: 'any' | Iterable<string>): void {
  const e = j.held.get(group);
  if (e === undefined) return;
  if (what === 'any') e.any = false;
  else if (e.sources !== NO_SOURCES) for (const s of what) (e.sources as Set<string>).delete(s);
  if (!e.any && e.sources.size === 0) j.held.delete(group);
}

/** The sockets holding `group` in a way `which` accepts (a copy: leaving changes the index). */
export function holding(j: Joined, group: string, which: (m: 'any' | Set<string>) => boolean): Holder[] {
  return (j.holders.get(group) ?? []).filter((h) => {
    const m = h.groups.get(group);
    return m !== undefined && which(m);
  });
}

/** `h` holds nothing of `group` any more. */
export function forget(j: Joined, h: Holder, group: string): void {
  h.groups.delete(group);
  const rest = (j.holders.get(group) ?? []).filter((x) => x !== h);
  if (rest.length > 0) j.holders.set(group, rest);
  else j.holders.delete(group);
}

/** `h` holds something of `group` (its `groups` entry is the caller's). */
export function remember(j: Joined, h: Holder, group: string): void {
  const hs = j.holders.get(group) ?? [];
  if (!hs.includes(h)) hs.push(h);
  j.holders.set(group, hs);
}

/** The newest socket of the group's family that holds nothing of `group` (any such socket qualifies for a new group). */
export function lastWithout(j: Joined, group: string): Holder | undefined {
  const family = familyOf(group);
  for (let k = j.sockets.length - 1; k >= 0; k--) {
    const h = j.sockets[k];
    if (h !== undefined && h.family === family && !h.groups.has(group)) return h;
  }
  return undefined;
}
