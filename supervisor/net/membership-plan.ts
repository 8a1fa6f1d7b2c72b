/**
 * What memberships the rules want on each input interface, and the ordered
 * operations that take the held memberships there: pure functions, with no
 * socket in sight (GroupMemberships carries the operations out).
 *
 * Per (interface, group) the membership is any-source (*,G) when at least
 * one rule on it has no `source`, else IGMPv3 INCLUDE of the set of its
 * rules' sources. In an SSM range (232.0.0.0/8, ff3x::/32: isSsmGroup) a
 * group with any source-specific rule is INCLUDE of their sources even
 * beside rules without one: an SSM network ignores (*,G) (RFC 4604), so
 * joining it would end the source rules' streams and give the others
 * nothing (mcrd warns about such rules). Elsewhere the (*,G) join covers
 * the source rules too: the kernel
 * cannot hold both modes for one group on one socket (a source join on a
 * socket holding (*,G) silently turns it into INCLUDE {S}: net/ipv4/igmp.c
 * ip_mc_source), and the interface's filter would be EXCLUDE {} anyway as
 * long as one socket holds (*,G).
 *
 * Order: groups no rule wants any more are dropped first (nothing wanted is
 * lost, and their slots on the sockets are free for the joins). A group
 * that stays joins what it gains before it leaves what it lost, so a change
 * between (*,G) and INCLUDE, in either direction, never leaves a moment in
 * which the interface receives less than the rules want: the new membership
 * is held (on another socket) alongside the old one, and the old one goes
 * only after every join of the group succeeded (`afterJoins`).
 */
import { membershipUses, type MembershipRule } from '../../common/rule-groups.js';
import { isSsmGroup } from '../../common/address-prefix.js';

/** What one (interface, group) wants: every source, or only these (INCLUDE). */
export type GroupWant = 'any' | ReadonlySet<string>;

/** What is held for one group on one interface, over all its sockets. */
export interface GroupHeld {
  any: boolean;
  sources: ReadonlySet<string>;
}

export type MembershipOp =
  /** Join (*,G) (source null) or add one source in INCLUDE mode. */
  | { kind: 'join'; group: string; source: string | null }
  /** Leave the (*,G) membership (source null) or one source. */
  | { kind: 'leave'; group: string; source: string | null; afterJoins: boolean }
  /** Leave every source membership of the group (it moved to (*,G)). */
  | { kind: 'leaveSources'; group: string; afterJoins: boolean }
  /** Leave everything held for the group: no rule wants it. */
  | { kind: 'drop'; group: string };

/** A group's want from its rules: any-source unless it is an SSM group with sources (see the file's header). */
function wantOf(group: string, anySource: boolean, sources: ReadonlySet<string> | undefined): GroupWant | undefined {
  if (sources !== undefined && sources.size > 0 && (!anySource || isSsmGroup(group))) return sources;
  return anySource ? 'any' : undefined;
}

/**
 * What an operator must hear about a rule on an SSM group (232.0.0.0/8,
 * ff3x::/32) that names no source address to join (none, or a prefix):
 * an SSM network delivers the group only to joins naming sources, so the
 * rule receives nothing there, and mcrd joins the group INCLUDE for the
 * group's source-specific rules (wantOf). Undefined for any other rule.
 */
export function ssmSourceWarning(r: MembershipRule): string | undefined {
  const uses = membershipUses(r);
  const groups = [...new Set(uses.filter(([g, s]) => s === undefined && isSsmGroup(g)).map(([g]) => g))];
  if (groups.length === 0) return undefined;
  const what = r.source === undefined || r.source === '' ? 'names no source' : 'names a source prefix, which cannot be joined';
  return `${groups.join(', ')} ${groups.length === 1 ? 'is a source-specific multicast group' : 'are source-specific multicast groups'} ` +
    `(232.0.0.0/8, ff3x::/32): an SSM network delivers ${groups.length === 1 ? 'it' : 'them'} only to joins that name sources, and this rule ${what}, ` +
    'so it receives nothing from one (mcrd joins any-source only where no rule of the group names sources); give its senders\' addresses in `source`';
}

/**
 * The wanted memberships of `rules`, by input interface: unicast inputs need
 * none. The rule table keeps the same answer up to date incrementally
 * (WantedGroups); this is the reference it is tested against.
 */
export function wantedMemberships(
  rules: ReadonlyArray<MembershipRule>,
): Map<string, Map<string, GroupWant>> {
  const uses = new Map<string, Map<string, { any: boolean; sources: Set<string> }>>();
  for (const r of rules) {
    for (const [group, source] of membershipUses(r)) {
      const groups = uses.get(r.inputInterface) ?? new Map<string, { any: boolean; sources: Set<string> }>();
      uses.set(r.inputInterface, groups);
      const g = groups.get(group) ?? { any: false, sources: new Set<string>() };
      groups.set(group, g);
      if (source === undefined) g.any = true;
      else g.sources.add(source);
    }
  }
  const out = new Map<string, Map<string, GroupWant>>();
  for (const [iface, groups] of uses) {
    const wants = new Map<string, GroupWant>();
    for (const [group, g] of groups) {
      const want = wantOf(group, g.any, g.sources);
      if (want !== undefined) wants.set(group, want);
    }
    out.set(iface, wants);
  }
  return out;
}

/** The operations that take `held` to `wanted` for one interface, in the order to run them. */
export function planMemberships(
  held: ReadonlyMap<string, GroupHeld>,
  wanted: ReadonlyMap<string, GroupWant>,
): MembershipOp[] {
  const drops: MembershipOp[] = [];
  const changes: MembershipOp[] = [];
  for (const [group, h] of held) {
    if (!wanted.has(group) && (h.any || h.sources.size > 0)) drops.push({ kind: 'drop', group });
  }
  for (const [group, want] of wanted) {
    const h = held.get(group);
    if (want === 'any') {
      if (h?.any !== true) changes.push({ kind: 'join', group, source: null });
      if (h !== undefined && h.sources.size > 0) changes.push({ kind: 'leaveSources', group, afterJoins: true });
      continue;
    }
    for (const source of want) {
      if (h?.sources.has(source) !== true) changes.push({ kind: 'join', group, source });
    }
    if (h === undefined) continue;
    // A source no rule names any more: its traffic is not wanted, no need to wait for the joins.
    for (const source of h.sources) {
      if (!want.has(source)) changes.push({ kind: 'leave', group, source, afterJoins: false });
    }
    if (h.any) changes.push({ kind: 'leave', group, source: null, afterJoins: true });
  }
  return [...drops, ...changes];
}

/**
 * The rule table's live, incremental form of wantedMemberships for one
 * interface: counts the rules per group and per source, and counts its own
 * changes in `version` (a change of a group's want, not of a use count), so
 * GroupMemberships skips an interface whose wants did not change at all.
 * Read it as a ReadonlyMap; change it only with addUse and removeUse.
 */
export class WantedGroups extends Map<string, GroupWant> {
  version = 0;
  /** Rules without a source, by group. */
  private readonly anyUses = new Map<string, number>();
  /** Rules with a source, by group and source. */
  private readonly sourceUses = new Map<string, Map<string, number>>();
  /** The distinct sources of each group, kept in place: a group's want while no rule on it is any-source (in an SSM range: while it has any). */
  private readonly sources = new Map<string, Set<string>>();

  addUse(group: string, source: string | undefined): void {
    const before = this.get(group);
    if (source === undefined) {
      this.anyUses.set(group, (this.anyUses.get(group) ?? 0) + 1);
    } else {
      const uses = this.sourceUses.get(group) ?? new Map<string, number>();
      this.sourceUses.set(group, uses);
      const n = uses.get(source) ?? 0;
      uses.set(source, n + 1);
      if (n === 0) {
        const set = this.sources.get(group) ?? new Set<string>();
        this.sources.set(group, set);
        set.add(source);
        if (before !== undefined && before !== 'any') this.version++;  // the INCLUDE set grew
      }
    }
    this.refresh(group, before);
  }

  removeUse(group: string, source: string | undefined): void {
    const before = this.get(group);
    if (source === undefined) {
      const n = this.anyUses.get(group) ?? 0;
      if (n > 1) this.anyUses.set(group, n - 1);
      else this.anyUses.delete(group);
    } else {
      const uses = this.sourceUses.get(group);
      const n = uses?.get(source) ?? 0;
      if (n > 1) uses?.set(source, n - 1);
      else if (uses !== undefined && n === 1) {
        uses.delete(source);
        this.sources.get(group)?.delete(source);
        if (before !== undefined && before !== 'any') this.version++;  // the INCLUDE set shrank
        if (uses.size === 0) {
          this.sourceUses.delete(group);
          this.sources.delete(group);
        }
      }
    }
    this.refresh(group, before);
  }

  /** Sets the group's want from its counts when its mode changed (or it appeared or went). */
  private refresh(group: string, before: GroupWant | undefined): void {
    const after = wantOf(group, this.anyUses.has(group), this.sources.get(group));
    if (after === before) return;
    this.version++;
    if (after === undefined) this.delete(group);
    else this.set(group, after);
  }
}
