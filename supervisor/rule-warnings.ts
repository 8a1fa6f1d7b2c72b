/**
 * What mcrd tells an operator about a rule it accepts but that may not do
 * what they expect: beside others of its group and port (a source-specific
 * rule takes that source's datagrams from an any-source one), on an SSM
 * group with no source address to join, or with a stream monitor over
 * several streams. `mcrctl add` prints them; at start and on reload mcrd
 * logs them.
 */
import type { Rule } from '../proto/index.js';
import type { RuleTable } from './rule-table.js';
import { hostPort } from '../common/rule-spec.js';
import { ssmSourceWarning } from './net/membership-plan.js';

/**
 * What an operator should know about a new rule beside others of the same
 * group and port on the same interface: a source-specific rule wins over an
 * any-source one (as (S,G) state wins over (*,G)), so adding one silently
 * takes that source's datagrams away from the older rule.
 */
export function overlapWarnings(rule: Rule, table: RuleTable): string[] {
  const same = table.forInterface(rule.inputInterface)
    .filter((r) => r.id !== rule.id && r.inputGroup === rule.inputGroup && r.inputPort === rule.inputPort);
  if (rule.source !== undefined) {
    return same.filter((r) => r.source === undefined).map((r) =>
      `datagrams from ${rule.source} to ${hostPort(rule.inputGroup, rule.inputPort)} now go to this rule only, no longer to rule ${r.id}${r.name !== undefined ? ` (${r.name})` : ''}, which matches any source`);
  }
  return same.filter((r) => r.source !== undefined).map((r) =>
    `datagrams from ${r.source} keep going to rule ${r.id}${r.name !== undefined ? ` (${r.name})` : ''} only: this any-source rule does not receive them`);
}

/**
 * A rule with `monitor` that can match more than one stream: the analysis
 * keeps one stream's state per rule (native/core/stream_monitor.h), so
 * several streams through it make its counts meaningless.
 */
export function monitorWarning(r: Pick<Rule, 'inputGroup' | 'inputPort' | 'source' | 'monitor'>): string | undefined {
  if (r.monitor === undefined || r.monitor === '') return undefined;
  const why = r.inputGroup.includes('/') ? `its group is a prefix (${r.inputGroup})`
    : r.inputPort === 0 ? 'its input port is "any"'
    : r.source !== undefined && (r.source.includes(',') || r.source.includes('/')) ? `it admits several sources (${r.source})`
    : undefined;
  return why === undefined ? undefined : `monitor ${r.monitor} follows one stream per rule, and this rule can match several: ${why}; ` +
    'datagrams of several streams mix its counts (SSRC changes, losses, CC errors): give each stream its own rule to watch it';
}

/** The warnings about one rule on its own (not beside others): SSM groups without sources, monitors over several streams. */
export function ruleWarnings(r: Rule): string[] {
  return [ssmSourceWarning(r), monitorWarning(r)].filter((w): w is string => w !== undefined);
}
