/**
 * The groups a rule's input joins, its group and its `joinGroups`, and the
 * (group, source) memberships it wants there. A group prefix cannot be
 * joined (no socket joins a range), so a prefix rule joins its
 * `joinGroups` only; a unicast input joins nothing. mcrd's membership plan (supervisor/net/membership-plan.ts) and
 * the standalone relay (worker/relay.ts) both take their groups from here.
 */
import { isMulticast, isPrefix } from './rule-spec.js';

export interface GroupsOfRule {
  inputGroup: string;
  joinGroups?: string | undefined;
}

export function groupsToJoin(r: GroupsOfRule): string[] {
  if (!isMulticast(r.inputGroup)) return [];
  const extra = r.joinGroups !== undefined && r.joinGroups !== '' ? r.joinGroups.split(',') : [];
  return isPrefix(r.inputGroup) ? extra : [...new Set([r.inputGroup, ...extra])];
}

/** What a rule's memberships are made of, as rule-spec.ts writes it. */
export interface MembershipRule extends GroupsOfRule {
  inputInterface: string;
  source?: string | undefined;
}

/**
 * The (group, source) joins one rule wants, source undefined for (*,G):
 * a group prefix cannot be joined, so it wants its `joinGroups` only; a
 * source list of addresses is joined source by source (IGMPv3 / MLDv2
 * INCLUDE), but a list with a prefix in it is (*,G), since a
 * source-specific join names addresses, not ranges. Unicast inputs want
 * nothing.
 */
export function membershipUses(r: GroupsOfRule & { source?: string | undefined }): Array<[string, string | undefined]> {
  const groups = groupsToJoin(r);
  const sources = r.source !== undefined && r.source !== '' ? r.source.split(',') : [];
  const specific = sources.length > 0 && sources.every((s) => !s.includes('/'));
  const out: Array<[string, string | undefined]> = [];
  for (const g of groups) {
    if (specific) for (const s of sources) out.push([g, s]);
    else out.push([g, undefined]);
  }
  return out;
}
