/**
 * The events of rule changes, made from what the control handler and the
 * config reload already have in hand (a Rule, a ReloadResult, an error), so
 * that daemon-handler.ts records each with one call and the event's shape
 * stays here, beside event-kinds.ts.
 */
import type { ReloadResult, Rule } from '../../proto/index.js';
import { errorCode } from '../../common/control-errors.js';
import { hostPort } from '../../common/rule-spec.js';
import { outputHostPort } from '../../common/rule-text.js';
import { MAX_RELOAD_CHANGES, type EventSink, type RuleChangeSource } from './event-kinds.js';

/** "in1 239.1.1.1:5000 from 10.0.0.1", as the reload's RuleChange.match. */
export function ruleMatch(r: Pick<Rule, 'inputInterface' | 'inputGroup' | 'inputPort' | 'source'>): string {
  return `${r.inputInterface} ${hostPort(r.inputGroup, r.inputPort)}${r.source !== undefined ? ` from ${r.source}` : ''}`;
}

function outputText(o: Rule['outputs'][number]): string {
  return `${outputHostPort(o.group, o.port)}:${o.interface}${o.ttl !== undefined && o.ttl !== 0 ? `:${o.ttl}` : ''}${o.source !== undefined && o.source !== '' ? ` from ${o.source}` : ''}`;
}

function named(r: Pick<Rule, 'name'>): { name?: string } {
  return r.name !== undefined && r.name !== '' ? { name: r.name } : {};
}

export function ruleAdded(events: EventSink, rule: Rule, by: RuleChangeSource): void {
  events.record('rule.added', { rule: rule.id, ...named(rule), match: ruleMatch(rule), outputs: rule.outputs.map(outputText), by });
}

export function ruleRemoved(events: EventSink, rule: Rule, by: RuleChangeSource): void {
  events.record('rule.removed', { rule: rule.id, ...named(rule), match: ruleMatch(rule), by });
}

/** One event per rule the reload touched, then the reload's own with its diff (the first MAX_RELOAD_CHANGES changes). */
export function reloadApplied(events: EventSink, result: Omit<ReloadResult, 'problems'>, rules: (id: number) => Rule | undefined): void {
  for (const c of result.changes) {
    const rule = rules(c.ruleId);
    const name = c.name !== undefined ? { name: c.name } : {};
    if (c.kind === 'removed') events.record('rule.removed', { rule: c.ruleId, ...name, match: c.match, by: 'reload' });
    else if (c.kind === 'added') events.record('rule.added', { rule: c.ruleId, ...name, match: c.match, outputs: rule?.outputs.map(outputText) ?? [], by: 'reload' });
    else events.record('rule.changed', { rule: c.ruleId, previous: c.previousId, ...name, match: c.match, fields: c.fields, by: 'reload' });
  }
  const changes = result.changes.slice(0, MAX_RELOAD_CHANGES).map((c) => ({
    kind: c.kind, rule: c.ruleId, ...(c.previousId !== 0 ? { previous: c.previousId } : {}), match: c.match,
    ...(c.name !== undefined ? { name: c.name } : {}), ...(c.fields.length > 0 ? { fields: c.fields } : {}),
  }));
  const more = result.changes.length - changes.length;
  events.record('reload.applied', { file: result.file, added: result.added, removed: result.removed, changed: result.changed,
    unchanged: result.unchanged, changes, ...(more > 0 ? { more } : {}),
    ...(result.daemonNotApplied.length > 0 ? { daemonNotApplied: result.daemonNotApplied } : {}) });
}

export function reloadRefused(events: EventSink, file: string, err: unknown): void {
  events.record('reload.refused', { file, code: errorCode(err) ?? 'ERR_MCR_CONFIG', message: err instanceof Error ? err.message : String(err) });
}
