/**
 * The supervisor's rule table: the source of truth for what every worker
 * forwards. Assigns rule ids, keeps names unique, refuses two rules with the
 * same match or an overlap the precedence cannot order (overlapKeys), holds each input interface
 * to its limits (common/rule-limits.ts: ENOSPC past them, in rules, outputs
 * and the bytes of a full sync to its worker), and versions
 * the table with a generation number and, per input interface, a hash of
 * its rules, which workers echo in their acks so drift is detectable.
 *
 * Every lookup a rule change needs is an index (by id, name, match and
 * interface), and an interface's hash is kept up to date as rules come and
 * go, so a change costs about the same at 10 000 rules as at 10 (an add
 * used to sort and scan the whole table several times and hash all of it).
 */
import { createHash, hash as cryptoHash } from 'node:crypto';
import { asValid, checkInterfaceName, hostPort, overlapKeys, validateRule, type ValidRule } from '../common/rule-spec.js';
import { byteLimitAdvice, limitAdvice, ruleBytesLimit, ruleLimits, ruleWireBytes, type RuleLimits } from '../common/rule-limits.js';
import type { Rule, RuleInput } from '../proto/index.js';
import { WantedGroups, type GroupWant } from './net/membership-plan.js';
import { membershipUses } from '../common/rule-groups.js';

export class RuleTableError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export function matchKey(r: Pick<Rule, 'inputInterface' | 'inputGroup' | 'inputPort' | 'source'>): string {
  return `${r.inputInterface}|${r.inputGroup}|${r.inputPort}|${r.source ?? ''}`;
}

/** What an overlap key says, for an error: `source S, group G, port P`. */
function describeKey(key: string): string {
  const [, source, group, port] = key.split('|');
  return `source ${source === '*' ? 'any' : source}, group ${group}, port ${port === '0' ? 'any' : port}`;
}

/** Validates a rule from a control request (the edge where it enters); the result has no id. */
export function checkRule(input: RuleInput): ValidRule {
  const { id: _id, inputInterface, ...rest } = input;
  // Unset optional fields decode as absent; '' is how a client that cannot
  // leave a string field out says "unset". A ttl of 0 is given, and refused.
  const clean: Record<string, unknown> = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== ''));
  clean.outputs = (rest.outputs ?? []).map((o) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')));
  try {
    checkInterfaceName(inputInterface, 'inputInterface');
    return asValid({ inputInterface, ...validateRule(clean, 'rule', [], true) });
  } catch (err) {
    throw new RuleTableError('ERR_MCR_BAD_RULE', (err as Error).message);
  }
}

/** One input interface's rules and what is kept up to date about them. */
interface InterfaceRules {
  /** By id; ids only grow, so insertion order is id order. */
  rules: Map<number, Rule>;
  outputs: number;
  /** Sum of the rules' ruleWireBytes: what a full sync of them may take on a worker's command stream. */
  bytes: number;
  /** Sum mod 2^256 of the rules' digests: order-independent, and a removal subtracts exactly what the add added. */
  digestSum: Digest;
  /** The interface's hash, until the next change. */
  hash: Uint8Array | undefined;
  /**
   * The memberships its multicast rules want, (*,G) or INCLUDE sources per
   * group, counted per rule and versioned (GroupMemberships skips an
   * interface whose wants did not change: 10 000 groups are otherwise
   * walked on every change).
   */
  groups: WantedGroups;
}

/** A SHA-256 digest as a 256-bit number: 8 unsigned 32-bit lanes, most significant first. */
type Digest = Uint32Array;
const LANES = 8;
/** Names the hash's construction, so a hash of another scheme never compares equal by accident. */
const HASH_DOMAIN = Buffer.from('mcr-rule-table-v2\0');

/** SHA-256 of a short text; crypto.hash (Node 20.12) is several times cheaper than a Hash object for it. */
const sha256 = (text: string): Buffer =>
  typeof cryptoHash === 'function' ? cryptoHash('sha256', text, 'buffer') : createHash('sha256').update(text).digest();

/** A rule's own digest, id included: the same content under a new id is another rule to a worker. */
function ruleDigest(rule: Rule): Digest {
  const bytes = sha256(JSON.stringify(rule));
  const digest = new Uint32Array(LANES);
  for (let k = 0; k < LANES; k++) digest[k] = bytes.readUInt32BE(4 * k);
  return digest;
}

/** sum += d (sign 1) or sum -= d (sign -1), mod 2^256, lane by lane with carry or borrow. */
function accumulate(sum: Digest, d: Digest, sign: 1 | -1): void {
  let carry = 0;
  for (let k = LANES - 1; k >= 0; k--) {
    let v = (sum[k] ?? 0) + sign * (d[k] ?? 0) + carry;
    carry = 0;
    if (v > 0xffffffff) { v -= 0x100000000; carry = 1; } else if (v < 0) { v += 0x100000000; carry = -1; }
    sum[k] = v;
  }
}

export class RuleTable {
  /** By id; ids only grow, so insertion order is id order and list() needs no sort. */
  private readonly rules = new Map<number, Rule>();
  private readonly names = new Map<string, Rule>();
  private readonly matches = new Map<string, Rule>();
  private readonly digests = new Map<number, Digest>();
  private readonly inputs = new Map<string, InterfaceRules>();
  private nextId = 1;
  private readonly bytesLimit: number;
  generation = 0;

  /** `limits`: what one input interface may hold (default: 10 000 rules, 40 000 outputs, and what fits a worker's full sync). */
  constructor(readonly limits: RuleLimits = ruleLimits()) {
    this.bytesLimit = ruleBytesLimit(limits);
  }

  /** Every rule, by increasing id (a new array each call). */
  list(): Rule[] {
    return [...this.rules.values()];
  }

  /** The rules of one input interface, by increasing id. */
  forInterface(iface: string): Rule[] {
    const entry = this.inputs.get(iface);
    return entry === undefined ? [] : [...entry.rules.values()];
  }

  /** Number of rules on one input interface. */
  count(iface: string): number {
    return this.inputs.get(iface)?.rules.size ?? 0;
  }

  /** Number of outputs, over all its rules, of one input interface. */
  outputCount(iface: string): number {
    return this.inputs.get(iface)?.outputs ?? 0;
  }

  /** Input interfaces with at least one rule, sorted. */
  interfaces(): string[] {
    return [...this.inputs.keys()].sort();
  }

  /**
   * The memberships per input interface (interfaces with no multicast
   * input are left out): per group 'any' or the INCLUDE set of sources
   * (membership-plan.ts). The maps are live views (WantedGroups: their
   * `version` counts changes): read them, do not change them.
   */
  inputGroups(): Map<string, ReadonlyMap<string, GroupWant>> {
    const out = new Map<string, ReadonlyMap<string, GroupWant>>();
    for (const [iface, entry] of this.inputs) if (entry.groups.size > 0) out.set(iface, entry.groups);
    return out;
  }

  get(id: number): Rule | undefined {
    return this.rules.get(id);
  }

  byName(name: string): Rule | undefined {
    return this.names.get(name);
  }

  /** Adds a rule validated where it entered (checkRule, or the config loader): it is not checked again here. */
  add(checked: ValidRule): Rule {
    if (checked.name !== undefined && this.names.has(checked.name)) {
      throw new RuleTableError('EEXIST', `a rule named "${checked.name}" exists: choose another name or remove it first`);
    }
    const keys = overlapKeys(checked);
    for (const key of keys) {
      const clash = this.matches.get(key);
      if (clash === undefined) continue;
      if (clash.inputGroup === checked.inputGroup && clash.inputPort === checked.inputPort && (clash.source ?? '') === (checked.source ?? '')) {
        throw new RuleTableError('EEXIST', `rule ${clash.id}${clash.name !== undefined ? ` (${clash.name})` : ''} already matches ${hostPort(checked.inputGroup, checked.inputPort)} on ${checked.inputInterface}${checked.source ? ' from ' + checked.source : ''}: remove it first`);
      }
      throw new RuleTableError('EEXIST', `rule ${clash.id}${clash.name !== undefined ? ` (${clash.name})` : ''} overlaps this rule on ${checked.inputInterface} at the same precedence ` +
        `(${describeKey(key)}), so neither would be the more specific match: make one more specific (a longer source or group prefix, one port) or remove rule ${clash.id} first`);
    }
    const iface = checked.inputInterface;
    const entry = this.inputs.get(iface);
    const rules = entry?.rules.size ?? 0;
    const outputs = entry?.outputs ?? 0;
    if (rules >= this.limits.maxRules) {
      throw new RuleTableError('ENOSPC', `input interface ${iface} has ${rules} rules already: ${limitAdvice(this.limits)}`);
    }
    if (outputs + checked.outputs.length > this.limits.maxOutputs) {
      throw new RuleTableError('ENOSPC', `input interface ${iface} has ${outputs} outputs already and this rule has ${checked.outputs.length}: ${limitAdvice(this.limits)}`);
    }
    const bytes = ruleWireBytes(checked);
    const held = entry?.bytes ?? 0;
    if (held + bytes > this.bytesLimit) {
      throw new RuleTableError('ENOSPC', `input interface ${iface}'s rules take up to ${held} bytes on its workers' command stream and this rule ${bytes} more: ${byteLimitAdvice(this.limits)}`);
    }
    const rule: Rule = { id: this.nextId++, ...checked };
    this.rules.set(rule.id, rule);
    if (rule.name !== undefined) this.names.set(rule.name, rule);
    for (const key of keys) this.matches.set(key, rule);
    const digest = ruleDigest(rule);
    this.digests.set(rule.id, digest);
    const into = entry ?? this.newInterface(iface);
    into.rules.set(rule.id, rule);
    into.outputs += rule.outputs.length;
    into.bytes += bytes;
    accumulate(into.digestSum, digest, 1);
    into.hash = undefined;
    for (const [group, source] of membershipUses(rule)) into.groups.addUse(group, source);
    this.generation++;
    return rule;
  }

  remove(id: number): Rule {
    const rule = this.rules.get(id);
    if (rule === undefined) throw new RuleTableError('ENOENT', `no rule with id ${id}: see \`mcrctl list\``);
    this.rules.delete(id);
    if (rule.name !== undefined) this.names.delete(rule.name);
    for (const key of overlapKeys(rule)) this.matches.delete(key);
    const digest = this.digests.get(id);
    this.digests.delete(id);
    const entry = this.inputs.get(rule.inputInterface);
    if (entry !== undefined) {
      entry.rules.delete(id);
      entry.outputs -= rule.outputs.length;
      entry.bytes -= ruleWireBytes(rule);
      if (digest !== undefined) accumulate(entry.digestSum, digest, -1);
      entry.hash = undefined;
      for (const [group, source] of membershipUses(rule)) entry.groups.removeUse(group, source);
      if (entry.rules.size === 0) this.inputs.delete(rule.inputInterface);
    }
    this.generation++;
    return rule;
  }

  /**
   * Hash of the rules of one interface (what its workers must hold): the
   * sum of the rules' digests, ids included, and their number, hashed
   * again. Equal sets of rules give equal hashes whatever order they came
   * in; any added, removed or different rule gives another (as with a hash
   * of the whole list, short of a SHA-256 collision). Kept up to date by
   * add and remove, so it costs one small hash after a change and nothing
   * otherwise.
   */
  hashFor(iface: string): Uint8Array {
    const entry = this.inputs.get(iface);
    if (entry === undefined) return digestHash(0, new Uint32Array(LANES));
    entry.hash ??= digestHash(entry.rules.size, entry.digestSum);
    return entry.hash;
  }

  private newInterface(iface: string): InterfaceRules {
    const entry: InterfaceRules = { rules: new Map(), outputs: 0, bytes: 0, digestSum: new Uint32Array(LANES), hash: undefined, groups: new WantedGroups() };
    this.inputs.set(iface, entry);
    return entry;
  }
}

function digestHash(count: number, sum: Digest): Uint8Array {
  const bytes = Buffer.alloc(4 + 4 * LANES);
  bytes.writeUInt32BE(count, 0);
  for (let k = 0; k < LANES; k++) bytes.writeUInt32BE(sum[k] ?? 0, 4 + 4 * k);
  return createHash('sha256').update(HASH_DOMAIN).update(bytes).digest();
}
