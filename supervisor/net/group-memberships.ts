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
 * Which sockets hold a group is indexed (membership-holders.ts), so an
 * apply costs about one lookup per wanted membership however many sockets
 * 10 000 groups need; and a wanted map that counts its changes (a `version`, as the rule table's
 * WantedGroups does) is not walked at all when it has not changed since the
 * last apply that joined everything it held.
 * Each group's joins and leaves are logged at info with their sources,
 * except that an apply changing many groups of an interface (a start with
 * thousands of rules) logs one summary line for it instead, and each group
 * at debug (membership-log.ts). A failed join is logged and returned with
 * its errno code and what to do (membership-errors.ts).
 */
import type { Logger } from 'pino';
import type { NativeAddon } from '../../native/index.js';
import { codeOf, membershipError, type Family, type MembershipError } from './membership-errors.js';
import { familyOf, forget, heldEntry, holdSource, holding, lastWithout, remember, unhold, type Holder, type Joined } from './membership-holders.js';
import { MembershipChanges } from './membership-log.js';
import { planMemberships, type GroupWant, type MembershipOp } from './membership-plan.js';

export type { MembershipError } from './membership-errors.js';

type MembershipNative = Pick<NativeAddon, 'openMembershipSocket' | 'changeMembership' | 'changeSourceMembership' | 'closeFd'>;

export class GroupMemberships {
  private readonly joined = new Map<string, Joined>();
  /** Joins that failed at the last apply, with their code: a repeat of the same failure is logged at debug. */
  private failedBefore = new Map<string, string>();
  /** Joins failing in the apply() running now. */
  private failingNow = new Map<string, string>();

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
    this.failingNow = new Map();
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
      changes.log(this.logger, iface, j.ifindex, j.holders.size);
      j.settled = typeof version === 'number' && errors.length === failures ? { wants, version } : undefined;
      if (j.sockets.length === 0) this.joined.delete(iface);
    }
    // What works again (or is no longer wanted) is forgotten: its next failure is an error line again.
    this.failedBefore = this.failingNow;
    return errors;
  }

  /**
   * How many of our sockets hold `group` on `iface` now (0 when none): each
   * is one user of the group in /proc/net/igmp. A lookup, for a caller
   * asking per joined group at every poll (no copy of 10 000 groups).
   */
  holderCount(iface: string, group: string): number {
    return this.joined.get(iface)?.holders.get(group)?.length ?? 0;
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

  /** Runs the plan's operations in order; a transition's leave waits for every join of its group to succeed. */
  private run(j: Joined, iface: string, ops: MembershipOp[], errors: MembershipError[]): MembershipChanges {
    const changes = new MembershipChanges();
    const failed = new Set<string>();
    for (const op of ops) {
      switch (op.kind) {
        case 'join': {
          const failure = op.source === null ? this.joinAny(j, iface, op.group) : this.joinSource(j, iface, op.group, op.source);
          if (failure !== undefined) {
            errors.push(failure);
            failed.add(op.group);
          } else if (op.source === null) changes.of(op.group).joinedAny = true;
          else (changes.of(op.group).joined ??= []).push(op.source);
          break;
        }
        case 'leave':
          if (op.afterJoins && failed.has(op.group)) break;  // keep the old membership: the new one is not whole
          if (op.source === null) {
            for (const h of holding(j, op.group, (m) => m === 'any')) this.leave(j, iface, h, op.group);
            changes.of(op.group).leftAny = true;
          } else {
            const source = op.source;
            for (const h of holding(j, op.group, (m) => m !== 'any' && m.has(source))) this.leaveSource(j, iface, h, op.group, source);
            (changes.of(op.group).left ??= []).push(source);
          }
          break;
        case 'leaveSources':
          if (op.afterJoins && failed.has(op.group)) break;
          for (const h of holding(j, op.group, (m) => m !== 'any')) (changes.of(op.group).left ??= []).push(...this.leave(j, iface, h, op.group));
          break;
        case 'drop':
          for (const h of holding(j, op.group, () => true)) {
            const left = this.leave(j, iface, h, op.group);
            if (left.length === 0) changes.of(op.group).leftAny = true;
            else (changes.of(op.group).left ??= []).push(...left);
          }
          break;
      }
    }
    return changes;
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
    forget(j, h, group);
    if (m === undefined) return [];
    unhold(j, group, m);
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
    unhold(j, group, [source]);
    if (m.size === 0) forget(j, h, group);
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
    const e = membershipError(iface, group, source, familyOf(group), err);
    // Logged at error once per join and code: the retries (join-retry.ts) run the same join again
    // every few seconds to a minute, which would repeat the line; repeats go to debug.
    const key = `${iface} ${group} ${source ?? '*'}`;
    const repeat = this.failedBefore.get(key) === e.code;
    this.failingNow.set(key, e.code);
    this.logger[repeat ? 'debug' : 'error']({ code: e.code, interface: iface, group, source, err: (err as Error).message }, e.message);
    return e;
  }

  /** (*,G) on a socket without the group: the newest such socket, a new one when that one is full (socketFull). */
  private joinAny(j: Joined, iface: string, group: string): MembershipError | undefined {
    let h = lastWithout(j, group);
    for (;;) {
      let fresh = false;
      try {
        if (h === undefined) {
          h = this.openSocket(j, familyOf(group));
          fresh = true;
        }
        this.n.changeMembership(h.fd, j.ifindex, group, true);
        h.groups.set(group, 'any');
        remember(j, h, group);
        heldEntry(j, group).any = true;
        return undefined;
      } catch (err) {
        if (!fresh && h !== undefined && socketFull(err)) {
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
   * group's sources, then (full, socketFull: its igmp_max_msf) the newest
   * socket without the group, then (full: its igmp_max_memberships, or its
   * option memory for IPv6) a new one.
   * Never on a socket holding the group (*,G).
   */
  private joinSource(j: Joined, iface: string, group: string, source: string): MembershipError | undefined {
    const withSources = holding(j, group, (m) => m !== 'any');
    const candidates = [withSources[withSources.length - 1], lastWithout(j, group)];
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
        remember(j, h, group);
        holdSource(j, group, source);
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
        if (!fresh && socketFull(err)) continue;
        if (h !== undefined) this.closeIfEmpty(j, h);
        return this.fail(iface, group, source, err);
      }
    }
  }

}

/**
 * A join refused because this socket holds all it may: ENOBUFS past
 * `igmp_max_memberships` or a group's `igmp_max_msf` / `mld_max_msf`
 * sources, ENOMEM once its memberships fill its option memory
 * (`net.core.optmem_max`, 20 KiB before Linux 6.8: some 360 IPv6 groups,
 * where IPv6 has no group limit of its own). Another socket takes the join.
 * On a socket just opened, either is a real failure.
 */
function socketFull(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'ENOBUFS' || code === 'ENOMEM';
}
