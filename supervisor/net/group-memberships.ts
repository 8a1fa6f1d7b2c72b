/**
 * The input groups' memberships, held by mcrd rather than the workers so
 * IGMP-snooping switches (and the NIC's multicast filter) deliver every
 * group a rule listens to, whatever happens to the workers: per input
 * interface plain datagram sockets (AF_INET for IPv4 groups, IGMP; AF_INET6
 * for IPv6 groups, MLD: a socket holds groups of its own family only)
 * holding, per group, either an any-source (*,G) membership
 * (IP_ADD_MEMBERSHIP, MCAST_JOIN_GROUP) or IGMPv3 / MLDv2 INCLUDE source
 * memberships (MCAST_JOIN_SOURCE_GROUP), as membership-plan.ts decides
 * from the rules: (*,G) if any rule on the group has no `source`, else
 * INCLUDE of its rules' sources, so SSM networks (232.0.0.0/8, ff3x::/32)
 * deliver them. Interfaces are named by index, so they need no address.
 * The sockets are never bound to a port, so UDP never delivers a datagram
 * to them.
 *
 * apply() brings the memberships in line with what the rules want and with
 * the interfaces that exist, running planMemberships' operations in their
 * order: a group no rule uses any more is dropped; a move between (*,G)
 * and INCLUDE joins the new membership on another socket before the old
 * one leaves, and the old one stays if a join failed; an interface that
 * disappeared loses its sockets (closing them leaves its groups) and is
 * joined again, under its new index, when it returns.
 * The kernel caps each IPv4 socket at net.ipv4.igmp_max_memberships groups
 * (default 20) and at net.ipv4.igmp_max_msf sources per group (default 10),
 * each IPv6 socket at net.ipv6.mld_max_msf sources per group (default 64):
 * when a join answers ENOBUFS it goes on another socket (for a source: one
 * already holding the group's sources, else one without the group, else a
 * new one). A socket that holds a group (*,G) never gets a source join for
 * it: the kernel would silently turn the (*,G) into INCLUDE {source}.
 * Which sockets hold a group is indexed, so an apply costs about one lookup
 * per wanted membership however many sockets 10 000 groups need; and a
 * wanted map that counts its changes (a `version`, as the rule table's
 * WantedGroups does) is not walked at all when it has not changed since the
 * last apply that joined everything it held.
 * Each group's joins and leaves are logged at info with their sources,
 * except that an apply changing more than LOGGED_ONE_BY_ONE groups of an
 * interface (a start with thousands of rules) logs one summary line for it
 * instead, and each group at debug.
 */
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { NativeAddon } from '../../native/index.js';
import { planMemberships, type GroupWant, type MembershipOp } from './membership-plan.js';

type MembershipNative = Pick<NativeAddon, 'openMembershipSocket' | 'changeMembership' | 'changeSourceMembership' | 'closeFd'>;

export interface MembershipError {
  interface: string;
  group: string;
  /** The source of a failed source join; absent for (*,G). */
  source?: string;
  code: string;
  message: string;
}

/** The address family of a group, and so of the sockets that can hold it. */
type Family = 4 | 6;
const familyOf = (group: string): Family => (isIPv6(group) ? 6 : 4);

interface Holder {
  fd: number;
  family: Family;
  /** Per group: 'any' for (*,G), else the INCLUDE sources this socket holds. */
  groups: Map<string, 'any' | Set<string>>;
}

interface Joined {
  ifindex: number;
  sockets: Holder[];
  /** The sockets holding each group, oldest first. */
  holders: Map<string, Holder[]>;
  /** Per group, what all its sockets hold together: kept up to date by every join and leave, so planning allocates nothing per group. */
  held: Map<string, { any: boolean; sources: ReadonlySet<string> }>;
  /** The wanted map and its version at the last apply that left nothing to retry; unset otherwise. */
  settled?: { wants: ReadonlyMap<string, GroupWant>; version: number };
}

/** What changed for one group in one apply, for its log lines (arrays only when used: a start joins thousands of groups). */
interface GroupChange {
  joinedAny: boolean;
  joined?: string[];
  leftAny: boolean;
  left?: string[];
}

/** The sources of a group held only (*,G): shared, replaced by a Set of its own at the first source. */
const NO_SOURCES: ReadonlySet<string> = new Set<string>();

/** Groups of one interface changed in one apply that are logged one line each at info; more get one summary line. */
const LOGGED_ONE_BY_ONE = 16;
/** Groups a summary line names. */
const SUMMARY_GROUPS = 10;

/** What to do about a failed join, by errno name. */
function advice(code: string, iface: string, what: string, source: boolean, family: Family): string {
  switch (code) {
    case 'ENODEV':
      return `interface ${iface} is gone: ${what} is joined again when it returns`;
    case 'ENOBUFS':
      if (family === 6) return `the kernel refused ${what} on ${iface} even on a new socket: raise net.ipv6.mld_max_msf or net.core.optmem_max`;
      return source
        ? `the kernel refused ${what} on ${iface} even on a new socket: raise net.ipv4.igmp_max_msf, net.ipv4.igmp_max_memberships or net.core.optmem_max`
        : `the kernel refused another membership on ${iface}: raise net.ipv4.igmp_max_memberships or use fewer groups`;
    case 'ENOMEM':
      return `the kernel has no socket option memory left for ${what} on ${iface}: raise net.core.optmem_max`;
    case 'EINVAL':
      return `${what} cannot be joined on ${iface}: check that it is a multicast group and the interface supports multicast`;
    case 'EAFNOSUPPORT':
      return `${what} cannot be joined on ${iface}: this kernel has no IPv6 (booted with ipv6.disable=1?)`;
    case 'EMFILE':
    case 'ENFILE':
      return 'out of file descriptors: raise the open files limit (ulimit -n, LimitNOFILE=) of mcrd';
    default:
      return `joining ${what} on ${iface} failed: check the interface (ip link show ${iface}) and mcrd's log`;
  }
}

const codeOf = (err: unknown): string => (err as { code?: string }).code ?? 'ERR_MCR_INTERNAL';

export class GroupMemberships {
  private readonly joined = new Map<string, Joined>();

  constructor(
    private readonly n: MembershipNative,
    private readonly logger: Logger,
  ) {}

  /**
   * Joins and leaves so that exactly `wanted` (interface → group → 'any' or
   * INCLUDE sources) is held on the interfaces `ifindexOf` knows. Errors
   * are logged and returned; the rest is applied regardless, and a failed
   * join is tried again at the next apply (every rule or interface change).
   */
  apply(wanted: ReadonlyMap<string, ReadonlyMap<string, GroupWant>>, ifindexOf: (iface: string) => number | undefined): MembershipError[] {
    const errors: MembershipError[] = [];
    for (const [iface, j] of this.joined) {
      if (!wanted.has(iface) || ifindexOf(iface) !== j.ifindex) this.release(iface, j);
    }
    for (const [iface, wants] of wanted) {
      const ifindex = ifindexOf(iface);
      if (ifindex === undefined) continue;  // joined when it appears
      let j = this.joined.get(iface);
      const version = (wants as { version?: unknown }).version;
      if (j !== undefined && typeof version === 'number' && j.settled?.wants === wants && j.settled.version === version) continue;
      if (j === undefined) {
        j = { ifindex, sockets: [], holders: new Map(), held: new Map() };
        this.joined.set(iface, j);
      }
      const failures = errors.length;
      const changes = this.run(j, iface, planMemberships(j.held, wants), errors);
      j.sockets = j.sockets.filter((h) => {
        if (h.groups.size > 0) return true;
        this.n.closeFd(h.fd);
        return false;
      });
      this.logChanges(iface, j, changes);
      j.settled = typeof version === 'number' && errors.length === failures ? { wants, version } : undefined;
      if (j.sockets.length === 0) this.joined.delete(iface);
    }
    return errors;
  }

  /** Whether `group` is held on `iface` now: a lookup, for a caller asking at every rule change (no copy of 10 000 groups). */
  holds(iface: string, group: string): boolean {
    return this.joined.get(iface)?.holders.has(group) ?? false;
  }

  /** Groups held on `iface` now, sorted. */
  groups(iface: string): string[] {
    return [...(this.joined.get(iface)?.holders.keys() ?? [])].sort();
  }

  /** What is held on `iface` now: per group 'any' and/or its INCLUDE sources (sorted), over all its sockets. */
  memberships(iface: string): Record<string, { any: boolean; sources: string[] }> {
    const j = this.joined.get(iface);
    const out: Record<string, { any: boolean; sources: string[] }> = {};
    if (j === undefined) return out;
    for (const [group, h] of j.held) out[group] = { any: h.any, sources: [...h.sources].sort() };
    return out;
  }

  /** Sockets held for `iface` now. */
  socketCount(iface: string): number {
    return this.joined.get(iface)?.sockets.length ?? 0;
  }

  close(): void {
    for (const [iface, j] of this.joined) this.release(iface, j);
  }

  private release(iface: string, j: Joined): void {
    for (const h of j.sockets) this.n.closeFd(h.fd);
    this.joined.delete(iface);
    this.logger.info({ interface: iface }, 'input groups released');
  }

  /** The group's entry in `held`, created empty. */
  private heldEntry(j: Joined, group: string): { any: boolean; sources: ReadonlySet<string> } {
    let e = j.held.get(group);
    if (e === undefined) {
      e = { any: false, sources: NO_SOURCES };
      j.held.set(group, e);
    }
    return e;
  }

  private holdSource(j: Joined, group: string, source: string): void {
    const e = this.heldEntry(j, group);
    if (e.sources === NO_SOURCES) e.sources = new Set([source]);
    else (e.sources as Set<string>).add(source);
  }

  /** Takes what one socket held of `group` (or one source of it) out of `held`. */
  private unhold(j: Joined, group: string, what: 'any' | Iterable<string>): void {
    const e = j.held.get(group);
    if (e === undefined) return;
    if (what === 'any') e.any = false;
    else if (e.sources !== NO_SOURCES) for (const s of what) (e.sources as Set<string>).delete(s);
    if (!e.any && e.sources.size === 0) j.held.delete(group);
  }

  /** Runs the plan's operations in order; a transition's leave waits for every join of its group to succeed. */
  private run(j: Joined, iface: string, ops: MembershipOp[], errors: MembershipError[]): Map<string, GroupChange> {
    const changes = new Map<string, GroupChange>();
    const change = (group: string): GroupChange => {
      let c = changes.get(group);
      if (c === undefined) {
        c = { joinedAny: false, leftAny: false };
        changes.set(group, c);
      }
      return c;
    };
    const failed = new Set<string>();
    for (const op of ops) {
      switch (op.kind) {
        case 'join': {
          const failure = op.source === null ? this.joinAny(j, iface, op.group) : this.joinSource(j, iface, op.group, op.source);
          if (failure !== undefined) {
            errors.push(failure);
            failed.add(op.group);
          } else if (op.source === null) change(op.group).joinedAny = true;
          else (change(op.group).joined ??= []).push(op.source);
          break;
        }
        case 'leave':
          if (op.afterJoins && failed.has(op.group)) break;  // keep the old membership: the new one is not whole
          if (op.source === null) {
            for (const h of this.holding(j, op.group, (m) => m === 'any')) this.leave(j, iface, h, op.group);
            change(op.group).leftAny = true;
          } else {
            const source = op.source;
            for (const h of this.holding(j, op.group, (m) => m !== 'any' && m.has(source))) this.leaveSource(j, iface, h, op.group, source);
            (change(op.group).left ??= []).push(source);
          }
          break;
        case 'leaveSources':
          if (op.afterJoins && failed.has(op.group)) break;
          for (const h of this.holding(j, op.group, (m) => m !== 'any')) (change(op.group).left ??= []).push(...this.leave(j, iface, h, op.group));
          break;
        case 'drop':
          for (const h of this.holding(j, op.group, () => true)) {
            const left = this.leave(j, iface, h, op.group);
            if (left.length === 0) change(op.group).leftAny = true;
            else (change(op.group).left ??= []).push(...left);
          }
          break;
      }
    }
    return changes;
  }

  /** The sockets holding `group` in a way `which` accepts (a copy: leaving changes the index). */
  private holding(j: Joined, group: string, which: (m: 'any' | Set<string>) => boolean): Holder[] {
    return (j.holders.get(group) ?? []).filter((h) => {
      const m = h.groups.get(group);
      return m !== undefined && which(m);
    });
  }

  /** Leaves `group` on one socket, whatever it holds of it (IP_DROP_MEMBERSHIP, MCAST_LEAVE_GROUP); returns the sources it held. */
  private leave(j: Joined, iface: string, h: Holder, group: string): string[] {
    const m = h.groups.get(group);
    try {
      this.n.changeMembership(h.fd, j.ifindex, group, false);
    } catch (err) {
      // Leaving cannot be retried usefully; the membership ends with the socket.
      this.logger.warn({ code: codeOf(err), interface: iface, group }, 'leaving a group failed');
    }
    this.forget(j, h, group);
    if (m === undefined) return [];
    this.unhold(j, group, m);
    return m === 'any' ? [] : [...m];
  }

  /** Leaves one INCLUDE source; the kernel leaves the group on the socket with its last source. */
  private leaveSource(j: Joined, iface: string, h: Holder, group: string, source: string): void {
    try {
      this.n.changeSourceMembership(h.fd, j.ifindex, group, source, false);
    } catch (err) {
      this.logger.warn({ code: codeOf(err), interface: iface, group, source }, 'leaving a source failed');
    }
    const m = h.groups.get(group);
    if (m === undefined || m === 'any') return;
    m.delete(source);
    this.unhold(j, group, [source]);
    if (m.size === 0) this.forget(j, h, group);
  }

  private forget(j: Joined, h: Holder, group: string): void {
    h.groups.delete(group);
    const rest = (j.holders.get(group) ?? []).filter((x) => x !== h);
    if (rest.length > 0) j.holders.set(group, rest);
    else j.holders.delete(group);
  }

  private remember(j: Joined, h: Holder, group: string): void {
    const hs = j.holders.get(group) ?? [];
    if (!hs.includes(h)) hs.push(h);
    j.holders.set(group, hs);
  }

  /** The newest socket of the group's family that holds nothing of `group` (any such socket qualifies for a new group). */
  private lastWithout(j: Joined, group: string): Holder | undefined {
    const family = familyOf(group);
    for (let k = j.sockets.length - 1; k >= 0; k--) {
      const h = j.sockets[k];
      if (h !== undefined && h.family === family && !h.groups.has(group)) return h;
    }
    return undefined;
  }

  private openSocket(j: Joined, family: Family): Holder {
    const h: Holder = { fd: this.n.openMembershipSocket(family), family, groups: new Map() };
    j.sockets.push(h);
    return h;
  }

  /** A socket with nothing left on it after a failed join is closed at once. */
  private closeIfEmpty(j: Joined, h: Holder): void {
    if (h.groups.size > 0) return;
    this.n.closeFd(h.fd);
    j.sockets = j.sockets.filter((x) => x !== h);
  }

  private fail(iface: string, group: string, source: string | undefined, err: unknown): MembershipError {
    const code = codeOf(err);
    const what = source === undefined ? group : `${group} from ${source}`;
    const message = `${code}: ${advice(code, iface, what, source !== undefined, familyOf(group))}`;
    this.logger.error({ code, interface: iface, group, source, err: (err as Error).message }, message);
    return source === undefined ? { interface: iface, group, code, message } : { interface: iface, group, source, code, message };
  }

  /** (*,G) on a socket without the group: the newest such socket, a new one on ENOBUFS (its membership limit). */
  private joinAny(j: Joined, iface: string, group: string): MembershipError | undefined {
    let h = this.lastWithout(j, group);
    for (;;) {
      let fresh = false;
      try {
        if (h === undefined) {
          h = this.openSocket(j, familyOf(group));
          fresh = true;
        }
        this.n.changeMembership(h.fd, j.ifindex, group, true);
        h.groups.set(group, 'any');
        this.remember(j, h, group);
        this.heldEntry(j, group).any = true;
        return undefined;
      } catch (err) {
        if (!fresh && h !== undefined && codeOf(err) === 'ENOBUFS') {
          h = undefined;
          continue;
        }
        if (h !== undefined) this.closeIfEmpty(j, h);
        return this.fail(iface, group, undefined, err);
      }
    }
  }

  /**
   * One INCLUDE source, tried on the newest socket already holding the
   * group's sources, then (ENOBUFS: its igmp_max_msf) the newest socket
   * without the group, then (ENOBUFS: its igmp_max_memberships) a new one.
   * Never on a socket holding the group (*,G).
   */
  private joinSource(j: Joined, iface: string, group: string, source: string): MembershipError | undefined {
    const withSources = this.holding(j, group, (m) => m !== 'any');
    const candidates = [withSources[withSources.length - 1], this.lastWithout(j, group)];
    for (let k = 0; ; k++) {
      let h = candidates[k];
      if (k < candidates.length && h === undefined) continue;
      let fresh = false;
      const had = h?.groups.has(group) === true;
      try {
        if (h === undefined) {
          h = this.openSocket(j, familyOf(group));
          fresh = true;
        }
        this.n.changeSourceMembership(h.fd, j.ifindex, group, source, true);
        const m = h.groups.get(group);
        if (m instanceof Set) m.add(source);
        else h.groups.set(group, new Set([source]));
        this.remember(j, h, group);
        this.holdSource(j, group, source);
        return undefined;
      } catch (err) {
        if (h !== undefined && !had) {
          // The kernel joins the group (INCLUDE, empty) before it adds the
          // source, and keeps that if adding the source fails: leave it.
          try {
            this.n.changeMembership(h.fd, j.ifindex, group, false);
          } catch {
            // EADDRNOTAVAIL: the join itself had failed; nothing to leave.
          }
        }
        if (!fresh && codeOf(err) === 'ENOBUFS') continue;
        if (h !== undefined) this.closeIfEmpty(j, h);
        return this.fail(iface, group, source, err);
      }
    }
  }

  private logChanges(iface: string, j: Joined, changes: Map<string, GroupChange>): void {
    const level = changes.size > LOGGED_ONE_BY_ONE ? 'debug' : 'info';
    let joined = 0;
    let left = 0;
    for (const [group, c] of changes) {
      if (c.left !== undefined && c.left.length > 0) {
        left++;
        this.logger[level]({ interface: iface, group, mode: 'include', sources: c.left }, 'left input group sources');
      }
      if (c.leftAny) {
        left++;
        this.logger[level]({ interface: iface, group, mode: 'any' }, 'left input group');
      }
      if (c.joinedAny) {
        joined++;
        this.logger[level]({ interface: iface, ifindex: j.ifindex, group, mode: 'any' }, 'joined input group');
      }
      if (c.joined !== undefined && c.joined.length > 0) {
        joined++;
        this.logger[level]({ interface: iface, ifindex: j.ifindex, group, mode: 'include', sources: c.joined }, 'joined input group sources');
      }
    }
    if (level === 'debug') {
      this.logger.info({ interface: iface, ifindex: j.ifindex, joined, left, held: j.holders.size,
        groups: [...changes.keys()].slice(0, SUMMARY_GROUPS) }, 'input groups changed');
    }
  }
}
