/**
 * The supervisor's rule table: the source of truth for what every worker
 * forwards. Assigns rule ids, keeps names unique, refuses two rules with the
 * same match (interface, group, port, source), and versions the table with a
 * generation number and a hash of its canonical form, which workers echo in
 * their acks so drift is detectable.
 */
import { createHash } from 'node:crypto';
import { validateRule } from '../worker/rule-spec.js';
import type { Rule, RuleInput } from './wire/index.js';

export class RuleTableError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

const INTERFACE_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

export function matchKey(r: Pick<Rule, 'inputInterface' | 'inputGroup' | 'inputPort' | 'source'>): string {
  return `${r.inputInterface}|${r.inputGroup}|${r.inputPort}|${r.source ?? ''}`;
}

/** Validates a rule from a client or a config file; the result has no id. */
export function checkRule(input: RuleInput): Omit<Rule, 'id'> {
  if (typeof input.inputInterface !== 'string' || !INTERFACE_NAME.test(input.inputInterface)) {
    throw new RuleTableError('ERR_MCR_BAD_RULE', `inputInterface: expected an interface name, got ${JSON.stringify(input.inputInterface)}`);
  }
  const { id: _id, inputInterface, ...rest } = input;
  // Protobuf gives '' and 0 for unset optional fields: drop them.
  const clean: Record<string, unknown> = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== ''));
  clean.outputs = (rest.outputs ?? []).map((o) =>
    Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && v !== '' && !(k === 'ttl' && v === 0))));
  try {
    return { inputInterface, ...validateRule(clean) };
  } catch (err) {
    throw new RuleTableError('ERR_MCR_BAD_RULE', (err as Error).message);
  }
}

export class RuleTable {
  private readonly rules = new Map<number, Rule>();
  private nextId = 1;
  generation = 0;

  list(): Rule[] {
    return [...this.rules.values()].sort((a, b) => a.id - b.id);
  }

  forInterface(iface: string): Rule[] {
    return this.list().filter((r) => r.inputInterface === iface);
  }

  interfaces(): string[] {
    return [...new Set(this.list().map((r) => r.inputInterface))].sort();
  }

  get(id: number): Rule | undefined {
    return this.rules.get(id);
  }

  byName(name: string): Rule | undefined {
    return this.list().find((r) => r.name === name);
  }

  add(input: RuleInput): Rule {
    const checked = checkRule(input);
    if (checked.name !== undefined && this.byName(checked.name) !== undefined) {
      throw new RuleTableError('EEXIST', `a rule named "${checked.name}" exists: choose another name or remove it first`);
    }
    const key = matchKey(checked);
    const clash = this.list().find((r) => matchKey(r) === key);
    if (clash !== undefined) {
      throw new RuleTableError('EEXIST', `rule ${clash.id} already matches ${checked.inputGroup}:${checked.inputPort} on ${checked.inputInterface}${checked.source ? ' from ' + checked.source : ''}: remove it first`);
    }
    const rule: Rule = { id: this.nextId++, ...checked };
    this.rules.set(rule.id, rule);
    this.generation++;
    return rule;
  }

  remove(id: number): Rule {
    const rule = this.rules.get(id);
    if (rule === undefined) throw new RuleTableError('ENOENT', `no rule with id ${id}: see \`mcrctl list\``);
    this.rules.delete(id);
    this.generation++;
    return rule;
  }

  /** Hash of the rules of one interface (what its workers must hold). */
  hashFor(iface: string): Uint8Array {
    return createHash('sha256').update(JSON.stringify(this.forInterface(iface))).digest();
  }
}
