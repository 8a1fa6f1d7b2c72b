/**
 * The log lines of one GroupMemberships apply on one interface: what each
 * group joined and left (with its sources) is collected while the plan's
 * operations run and logged once they are done, a line per group and
 * direction at info; an apply that changes more than LOGGED_ONE_BY_ONE
 * groups (a start with thousands of rules) logs those lines at debug and
 * one summary line at info, so a start does not flood the journal.
 */
import type { Logger } from 'pino';

/** What changed for one group in one apply, for its log lines (arrays only when used: a start joins thousands of groups). */
export interface GroupChange {
  joinedAny: boolean;
  joined?: string[];
  leftAny: boolean;
  left?: string[];
}

/** Groups of one interface changed in one apply that are logged one line each at info; more get one summary line. */
const LOGGED_ONE_BY_ONE = 16;
/** Groups a summary line names. */
const SUMMARY_GROUPS = 10;

export class MembershipChanges {
  private readonly changes = new Map<string, GroupChange>();

  /** The group's record, created empty at its first change. */
  of(group: string): GroupChange {
    let c = this.changes.get(group);
    if (c === undefined) {
      c = { joinedAny: false, leftAny: false };
      this.changes.set(group, c);
    }
    return c;
  }

  /** Logs the apply's changes on `iface`; `held`: the groups held there now. */
  log(logger: Logger, iface: string, ifindex: number, held: number): void {
    const changes = this.changes;
    const level = changes.size > LOGGED_ONE_BY_ONE ? 'debug' : 'info';
    let joined = 0;
    let left = 0;
    for (const [group, c] of changes) {
      if (c.left !== undefined && c.left.length > 0) {
        left++;
        logger[level]({ interface: iface, group, mode: 'include', sources: c.left }, 'left input group sources');
      }
      if (c.leftAny) {
        left++;
        logger[level]({ interface: iface, group, mode: 'any' }, 'left input group');
      }
      if (c.joinedAny) {
        joined++;
        logger[level]({ interface: iface, ifindex, group, mode: 'any' }, 'joined input group');
      }
      if (c.joined !== undefined && c.joined.length > 0) {
        joined++;
        logger[level]({ interface: iface, ifindex, group, mode: 'include', sources: c.joined }, 'joined input group sources');
      }
    }
    if (level === 'debug') {
      logger.info({ interface: iface, ifindex, joined, left, held,
        groups: [...changes.keys()].slice(0, SUMMARY_GROUPS) }, 'input groups changed');
    }
  }
}
