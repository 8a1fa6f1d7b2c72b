/**
 * The groups a rule's input joins, (*,G) or per source: its group, and its
 * `joinGroups`. A group prefix cannot be joined (no socket joins a range),
 * so a prefix rule joins its `joinGroups` only; a unicast input joins
 * nothing. mcrd's membership plan (supervisor/net/membership-plan.ts) and
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
