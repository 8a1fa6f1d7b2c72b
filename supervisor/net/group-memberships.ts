/**
 * The input groups' memberships, held by mcrd rather than the workers so
 * IGMP-snooping switches (and the NIC's multicast filter) deliver every
 * group a rule listens to, whatever happens to the workers: per input
 * interface one AF_INET datagram socket with an IP_ADD_MEMBERSHIP for each
 * distinct group of its rules (ip_mreqn names the interface by index, so
 * the interface needs no address). The socket is never bound to a port, so
 * UDP never delivers a datagram to it.
 *
 * apply() brings the memberships in line with what the rules want and with
 * the interfaces that exist: a group no rule uses any more is dropped; an
 * interface that disappeared loses its sockets (closing them leaves its
 * groups) and is joined again, under its new index, when it returns. A
 * socket holds at most net.ipv4.igmp_max_memberships groups (default 20):
 * when the kernel answers ENOBUFS the next groups go on another socket.
 * Which socket holds a group is indexed, so an apply costs one lookup per
 * wanted group however many sockets 10 000 groups need (500 at the default);
 * and a wanted set that counts its changes (a `version`, as the rule
 * table's sets do) is not walked at all when it has not changed since the
 * last apply that joined everything it held.
 * Each join and leave is logged at info, except that an apply changing more
 * than LOGGED_ONE_BY_ONE groups of an interface (a start with thousands of
 * rules) logs one summary line for it instead, and each group at debug.
 */
import type { Logger } from 'pino';
import type { NativeAddon } from '../../native/index.js';
import { isMulticast } from '../../common/rule-spec.js';

type MembershipNative = Pick<NativeAddon, 'openMembershipSocket' | 'changeMembership' | 'closeFd'>;

export interface MembershipError {
  interface: string;
  group: string;
  code: string;
  message: string;
}

interface Holder {
  fd: number;
  groups: Set<string>;
}

interface Joined {
  ifindex: number;
  sockets: Holder[];
  /** The socket each held group is on. */
  holders: Map<string, Holder>;
  /** The wanted set and its version at the last apply that left nothing to retry; unset otherwise. */
  settled?: { groups: ReadonlySet<string>; version: number };
}

/** Changes of one interface in one apply logged one line each at info; more get one summary line. */
const LOGGED_ONE_BY_ONE = 16;
/** Groups a summary line names. */
const SUMMARY_GROUPS = 10;

/** What to do about a failed join, by errno name. */
function advice(code: string, iface: string, group: string): string {
  switch (code) {
    case 'ENODEV':
      return `interface ${iface} is gone: ${group} is joined again when it returns`;
    case 'ENOBUFS':
      return `the kernel refused another membership on ${iface}: raise net.ipv4.igmp_max_memberships or use fewer groups`;
    case 'EINVAL':
      return `${group} cannot be joined on ${iface}: check that it is a multicast group and the interface supports multicast`;
    case 'EMFILE':
    case 'ENFILE':
      return 'out of file descriptors: raise the open files limit (ulimit -n, LimitNOFILE=) of mcrd';
    default:
      return `joining ${group} on ${iface} failed: check the interface (ip link show ${iface}) and mcrd's log`;
  }
}

/** The distinct multicast input groups of `rules`, by input interface. */
export function groupsByInterface(rules: ReadonlyArray<{ inputInterface: string; inputGroup: string }>): Map<string, Set<string>> {
  const wanted = new Map<string, Set<string>>();
  for (const r of rules) {
    if (!isMulticast(r.inputGroup)) continue;  // a unicast input needs no membership
    const set = wanted.get(r.inputInterface) ?? new Set<string>();
    set.add(r.inputGroup);
    wanted.set(r.inputInterface, set);
  }
  return wanted;
}

export class GroupMemberships {
  private readonly joined = new Map<string, Joined>();

  constructor(
    private readonly n: MembershipNative,
    private readonly logger: Logger,
  ) {}

  /**
   * Joins and leaves so that exactly `wanted` (interface → groups) is held on
   * the interfaces `ifindexOf` knows. Errors are logged and returned; the
   * rest is applied regardless, and a failed join is tried again at the
   * next apply (every rule or interface change).
   */
  apply(wanted: ReadonlyMap<string, ReadonlySet<string>>, ifindexOf: (iface: string) => number | undefined): MembershipError[] {
    const errors: MembershipError[] = [];
    for (const [iface, j] of this.joined) {
      if (!wanted.has(iface) || ifindexOf(iface) !== j.ifindex) this.release(iface, j);
    }
    for (const [iface, groups] of wanted) {
      const ifindex = ifindexOf(iface);
      if (ifindex === undefined) continue;  // joined when it appears
      let j = this.joined.get(iface);
      const version = (groups as { version?: unknown }).version;
      if (j !== undefined && typeof version === 'number' && j.settled?.groups === groups && j.settled.version === version) continue;
      if (j === undefined) {
        j = { ifindex, sockets: [], holders: new Map() };
        this.joined.set(iface, j);
      }
      const failures = errors.length;
      const left: string[] = [];
      const joined: string[] = [];
      for (const h of j.sockets) {
        for (const group of h.groups) {
          if (groups.has(group)) continue;
          try {
            this.n.changeMembership(h.fd, ifindex, group, false);
          } catch (err) {
            // Leaving cannot be retried usefully; the membership ends with the socket.
            this.logger.warn({ code: (err as { code?: string }).code, interface: iface, group }, 'leaving a group failed');
          }
          h.groups.delete(group);
          j.holders.delete(group);
          left.push(group);
        }
      }
      j.sockets = j.sockets.filter((h) => {
        if (h.groups.size > 0) return true;
        this.n.closeFd(h.fd);
        return false;
      });
      for (const group of groups) {
        if (j.holders.has(group)) continue;
        const failure = this.join(j, iface, group);
        if (failure !== undefined) errors.push(failure);
        else joined.push(group);
      }
      this.logChanges(iface, j, joined, left);
      j.settled = typeof version === 'number' && errors.length === failures ? { groups, version } : undefined;
      if (j.sockets.length === 0) this.joined.delete(iface);
    }
    return errors;
  }

  private logChanges(iface: string, j: Joined, joined: string[], left: string[]): void {
    const level = joined.length + left.length > LOGGED_ONE_BY_ONE ? 'debug' : 'info';
    for (const group of left) this.logger[level]({ interface: iface, group }, 'left input group');
    for (const group of joined) this.logger[level]({ interface: iface, ifindex: j.ifindex, group }, 'joined input group');
    if (level === 'debug') {
      this.logger.info({ interface: iface, ifindex: j.ifindex, joined: joined.length, left: left.length, held: j.holders.size,
        groups: [...joined, ...left].slice(0, SUMMARY_GROUPS) }, 'input groups changed');
    }
  }

  /** Groups held on `iface` now. */
  groups(iface: string): string[] {
    return (this.joined.get(iface)?.sockets ?? []).flatMap((h) => [...h.groups]).sort();
  }

  close(): void {
    for (const [iface, j] of this.joined) this.release(iface, j);
  }

  private release(iface: string, j: Joined): void {
    for (const h of j.sockets) this.n.closeFd(h.fd);
    this.joined.delete(iface);
    this.logger.info({ interface: iface }, 'input groups released');
  }

  private join(j: Joined, iface: string, group: string): MembershipError | undefined {
    // The last socket first; on ENOBUFS (its membership limit) a fresh one.
    for (let attempt = 0; attempt < 2; attempt++) {
      let h = j.sockets[j.sockets.length - 1];
      try {
        if (h === undefined || attempt === 1) {
          h = { fd: this.n.openMembershipSocket(), groups: new Set() };
          j.sockets.push(h);
        }
        this.n.changeMembership(h.fd, j.ifindex, group, true);
        h.groups.add(group);
        j.holders.set(group, h);
        return undefined;
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'ERR_MCR_INTERNAL';
        if (code === 'EADDRINUSE' && h !== undefined) {
          h.groups.add(group);  // already a member on this socket
          j.holders.set(group, h);
          return undefined;
        }
        if (code === 'ENOBUFS' && attempt === 0 && h !== undefined && h.groups.size > 0) continue;
        if (h !== undefined && h.groups.size === 0) {
          this.n.closeFd(h.fd);
          j.sockets = j.sockets.filter((x) => x !== h);
        }
        const message = `${code}: ${advice(code, iface, group)}`;
        this.logger.error({ code, interface: iface, group, err: (err as Error).message }, message);
        return { interface: iface, group, code, message };
      }
    }
    return undefined;
  }
}
