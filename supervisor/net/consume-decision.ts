/**
 * Whether mcrd consumes a rule's input datagrams (drops them with the tc
 * filter of supervisor/net/input-filters.ts after the workers captured
 * them), decided per rule from `consumeInputs` and, in "auto", from who else
 * on this host listens to the rule's group and port. Pure functions over
 * what supervisor/net/proc-net.ts parsed; supervisor/net/consume-policy.ts
 * reads the files, finds the sockets' owners and acts on the result.
 *
 * In "auto" a rule's datagrams are a local listener's too, and so must reach
 * the host's IP stack, when, in mcrd's network namespace:
 * - a UDP socket other than mcrd's or its workers' is bound to the rule's
 *   port at the wildcard address or at the rule's input address (its group,
 *   or for a unicast input the address itself). Such a socket receives the
 *   group whoever joined it (mcrd's own membership is enough: the kernel's
 *   multicast delivery, __udp4_lib_mcast_deliver, matches sockets by port
 *   and bound address only). A socket bound to another address does not
 *   (__udp_is_mcast_sock skips a socket whose bound address is not the
 *   destination), so one bound to the interface's unicast address is no
 *   listener of a group. For an IPv4 rule the wildcard is 0.0.0.0 and also
 *   :: (/proc/net/udp6): an IPv6 socket receives IPv4 unless it set
 *   IPV6_V6ONLY, which /proc does not show, so "auto" errs towards not
 *   consuming; its address may also read ::ffff:a.b.c.d. An IPv6 rule is
 *   received by sockets bound to :: or to its address (an IPv4 socket
 *   never receives IPv6);
 * - or a socket other than mcrd's joined the rule's group on the rule's
 *   input interface (/proc/net/igmp, /proc/net/igmp6 for an IPv6 group,
 *   counts more users than mcrd's own membership sockets holding it, one,
 *   or more where its SSM sources outgrew one socket's filter, counted
 *   when the file was read): whatever it is bound to, or a raw socket, it
 *   asked for the group.
 * Otherwise nothing on the host would receive the datagrams, and mcrd
 * consumes them.
 */
import { isIPv6 } from 'node:net';
import { hostPort, isMulticast } from '../../common/rule-spec.js';
import { canonicalIpv6, type IgmpInterface, type UdpSocket } from './proc-net.js';

/** daemon.consumeInputs / --consume-inputs: decide per rule, or force. */
export type ConsumeMode = 'auto' | boolean;

export interface ConsumeRule {
  id: number;
  inputInterface: string;
  inputGroup: string;
  inputPort: number;
  source?: string;
  excludeSources?: string;
}

/**
 * Whether the tc filter can express the rule: one group, one port, at most
 * one source address. A prefix, any port, a source list or prefix, or
 * excluded sources are not consumed (the filter matches exact tuples).
 */
export function consumable(rule: ConsumeRule): boolean {
  return !rule.inputGroup.includes('/') && rule.inputPort !== 0 && (rule.excludeSources ?? '') === '' &&
    !(rule.source ?? '').includes(',') && !(rule.source ?? '').includes('/');
}

/** Who holds a socket: its process when known, and whether it is mcrd or one of its workers. */
export interface SocketOwner {
  pid?: number;
  own: boolean;
}

export interface ConsumeDecision {
  consumed: boolean;
  /** Why, for the log and `mcrctl list`. */
  reason: string;
  /** The local listener that kept the rule from being consumed, as far as it is known. */
  listener?: { pid?: number; inode?: number };
}

/**
 * How many of mcrd's own membership sockets hold `group` on `iface` now
 * (supervisor/net/group-memberships.ts): more than one where a group's
 * INCLUDE sources outgrew one socket's filter (igmp_max_msf). The kernel
 * counts each as one user of the group.
 */
export type OwnGroupSockets = (iface: string, group: string) => number;

/** What the host looks like now, from mcrd's network namespace, indexed so a decision costs lookups, not walks. */
export interface ListenerSnapshot {
  /** Bound UDP sockets by local port. */
  udpByPort: ReadonlyMap<number, readonly UdpSocket[]>;
  /**
   * Users of a group on an interface other than mcrd's own membership
   * sockets, as both stood when the tables were read (0 when no other
   * socket joined it there).
   */
  groupUsers: (iface: string, group: string) => number;
  /** The owner of a socket inode, undefined when it could not be found. */
  owner: (inode: number) => SocketOwner | undefined;
}

const WILDCARD = '0.0.0.0';
const WILDCARD6 = '::';

/** How /proc/net/igmp6 and udp6 write an IPv6 rule's address (canonical text); an IPv4 one as it is. */
function procForm(addr: string): string {
  return isIPv6(addr) ? canonicalIpv6(addr) ?? addr : addr;
}

/** Whether a socket bound to `s` receives the rule's datagrams (address and port; see the file's header). */
export function receivesRule(s: UdpSocket, r: ConsumeRule): boolean {
  if (s.localPort !== r.inputPort) return false;
  if (s.localAddress === WILDCARD6) return true;
  if (isIPv6(r.inputGroup)) return s.localAddress === procForm(r.inputGroup);
  // udp6 prints an IPv4-mapped address canonically, in hex (::ffff:ef01:101 for 239.1.1.1).
  return s.localAddress === WILDCARD || s.localAddress === r.inputGroup || s.localAddress === procForm(`::ffff:${r.inputGroup}`);
}

/** The inodes of the sockets bound where some rule's datagrams arrive: the only ones whose owners matter. */
export function candidateInodes(rules: readonly ConsumeRule[], udpByPort: ReadonlyMap<number, readonly UdpSocket[]>): Set<number> {
  const out = new Set<number>();
  for (const r of rules) {
    for (const s of udpByPort.get(r.inputPort) ?? []) if (receivesRule(s, r)) out.add(s.inode);
  }
  return out;
}

/** Users of `group` on `iface` in /proc/net/igmp or igmp6 (0 when not joined there). */
export function groupUsers(igmp: readonly IgmpInterface[], iface: string, group: string): number {
  const g = procForm(group);
  for (const i of igmp) {
    const found = i.device === iface ? i.groups.find((x) => x.group === g) : undefined;
    if (found !== undefined) return found.users;
  }
  return 0;
}

/**
 * The parsed tables indexed by port and by interface and group (one pass
 * each). `ownSockets` is asked here, when the
 * tables were just read, so that a decision made later from them (a rule
 * added between polls) does not subtract a membership mcrd took since.
 */
export function indexTables(igmp: readonly IgmpInterface[], udp: readonly UdpSocket[],
  ownSockets: OwnGroupSockets = () => 0): Pick<ListenerSnapshot, 'udpByPort' | 'groupUsers'> {
  const udpByPort = new Map<number, UdpSocket[]>();
  for (const s of udp) {
    const list = udpByPort.get(s.localPort);
    if (list === undefined) udpByPort.set(s.localPort, [s]);
    else list.push(s);
  }
  const users = new Map<string, Map<string, number>>();
  // One device appears twice when both igmp and igmp6 list it.
  for (const i of igmp) {
    const groups = users.get(i.device) ?? new Map<string, number>();
    users.set(i.device, groups);
    for (const g of i.groups) groups.set(g.group, Math.max(0, g.users - ownSockets(i.device, g.group)));
  }
  return { udpByPort, groupUsers: (iface, group) => users.get(iface)?.get(procForm(group)) ?? 0 };
}

/** One rule's decision. */
export function decideConsume(rule: ConsumeRule, mode: ConsumeMode, snap: ListenerSnapshot): ConsumeDecision {
  if (!consumable(rule)) {
    return { consumed: false, reason: 'the rule matches a range (prefix, any port, source list or excludeSources): the input filter covers exact rules only' };
  }
  if (mode === true) return { consumed: true, reason: 'consumeInputs is true' };
  if (mode === false) return { consumed: false, reason: 'consumeInputs is false' };
  for (const s of snap.udpByPort.get(rule.inputPort) ?? []) {
    if (!receivesRule(s, rule)) continue;
    const owner = snap.owner(s.inode);
    if (owner?.own === true) continue;
    const who = owner?.pid !== undefined ? `pid ${owner.pid} (inode ${s.inode})` : `inode ${s.inode} (uid ${s.uid})`;
    return {
      consumed: false,
      reason: `local listener ${who} bound to ${hostPort(s.localAddress, s.localPort)}`,
      listener: { ...(owner?.pid !== undefined ? { pid: owner.pid } : {}), inode: s.inode },
    };
  }
  if (isMulticast(rule.inputGroup)) {
    if (snap.groupUsers(rule.inputInterface, rule.inputGroup) > 0) {
      return { consumed: false, reason: `a local socket joined ${rule.inputGroup} on ${rule.inputInterface}` };
    }
  }
  return { consumed: true, reason: 'no local listener' };
}
