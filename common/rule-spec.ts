/**
 * The user-facing shape of a relay rule and its validation: the one place
 * that decides what a valid rule is, for the CLI flags and rules files alike.
 * Errors are RuleError with code ERR_MCR_BAD_RULE and say what to fix.
 *
 * Addresses are IPv4 or IPv6 (any field, any mix: an IPv4 input may have
 * IPv6 outputs and the other way round, the UDP payload is relayed as it
 * is). IPv6 addresses are kept in their canonical text form (RFC 5952:
 * lower case, longest zero run compressed), so two spellings of one group
 * are one key everywhere after validation.
 *
 * Rules that match more than one exact stream (docs/config.md, "Rules that
 * match more"): `source` and `excludeSources` take an address, a prefix
 * (`10.1.0.0/16`) or a list of them; `inputGroup` may be a prefix;
 * `inputPort` may be "any" (0 in the model and on the wire); an output's
 * `group` may be "=" (the datagram's own group) or a prefix of the input
 * prefix's length (the group mapped into it), its `port` "=" (0: the
 * datagram's own port). Lists are kept as one comma-separated string of
 * canonical entries (duplicates dropped, order kept): `"10.0.0.1,10.2.0.0/16"`.
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';

import { addressBytes, bytesToAddress, maskBytes, prefixAddress, prefixContains, prefixCoveredBy, prefixLength, splitPrefix } from './address-prefix.js';

export interface OutputSpec {
  /** Destination: a multicast group or a unicast address; "=" the datagram's group; a prefix (same length as the input's) the datagram's group mapped into it. */
  group: string;
  /** 1..65535, or 0 ("=" where written): the datagram's own port. */
  port: number;
  interface: string;
  ttl?: number;
  /** Source address to send from (the family of `group`); defaults to the interface's first address of that family. */
  source?: string;
}

export interface RuleSpec {
  name?: string;
  /** Destination matched on input: a multicast group or a unicast address. */
  inputGroup: string;
  /** 1..65535, or 0 ("any" where written): any port. */
  inputPort: number;
  /** Only datagrams from these sources match: addresses or prefixes, comma-separated canonical text. */
  source?: string;
  /** Datagrams from these sources never match (same form as `source`). */
  excludeSources?: string;
  /** Groups of a prefix `inputGroup` that mcrd joins (comma-separated canonical text). */
  joinGroups?: string;
  outputs: OutputSpec[];
  /** Loss of signal: the rule's stream is `down` after this long without a datagram; 0 = not watched. Unset: DEFAULT_SIGNAL_TIMEOUT_MS. */
  signalTimeoutMs?: number;
  /** Payload analysis in the worker's loop (docs/config.md, "Stream health"). */
  monitor?: MonitorMode;
}

/** What a rule's `monitor` may name: RTP, MPEG-TS, or MPEG-TS carried in RTP. */
export const MONITOR_MODES = ['rtp', 'mpegts', 'rtp+mpegts'] as const;
export type MonitorMode = (typeof MONITOR_MODES)[number];
/** A rule without signalTimeoutMs is down after a second without a datagram. */
export const DEFAULT_SIGNAL_TIMEOUT_MS = 1000;
/** An hour: longer is no loss-of-signal alarm any more. */
export const MAX_SIGNAL_TIMEOUT_MS = 3_600_000;
/**
 * The shortest watch that works: a worker notes a rule's arrivals at its
 * 100 ms stats tick, and mcrd asks for them every timeout / 2, so a steady
 * stream could look silent for ~100 ms plus the question's round trip; at
 * 100 ms a continuous stream flapped, at 50 it read down most of the time.
 */
export const MIN_SIGNAL_TIMEOUT_MS = 300;

/** Where in a validated value a problem is: keys and array indexes. */
export type RulePath = ReadonlyArray<string | number>;

export class RuleError extends Error {
  readonly code = 'ERR_MCR_BAD_RULE';
  /**
   * Where the problem is, e.g. ['rules', 0, 'outputs', 1, 'ttl'] (prefixed by
   * the `path` the caller passed in), so a config loader can point at the
   * line; undefined for errors that are not about one field.
   */
  readonly path: RulePath | undefined;

  constructor(message: string, path?: RulePath) {
    super(message);
    this.path = path;
  }
}

/**
 * Bounds of a rule, the same on every path (mcrctl, raw control requests,
 * config files, mcr-relay); docs/config.md lists them. Outputs per rule are
 * bounded because each is a socket and a send per datagram: 64 is past any
 * fan-out seen in practice and keeps one rule's send burst within a batch.
 */
export const RULE_LIMITS = {
  outputsPerRule: 64,
  nameLength: 64,
  /** IFNAMSIZ less the terminating NUL (include/uapi/linux/if.h). */
  interfaceNameLength: 15,
} as const;

const INTERFACE_NAME = new RegExp(`^[A-Za-z0-9_.@-]{1,${RULE_LIMITS.interfaceNameLength}}$`);

/** 4 or 6: the family of a validated address (IPv6 text always has a colon, IPv4 never). */
export function addressFamily(addr: string): 4 | 6 {
  return addr.includes(':') ? 6 : 4;
}

/** A multicast group (or a prefix starting in it): 224.0.0.0/4 or ff00::/8. */
export function isMulticast(addr: string): boolean {
  if (addressFamily(addr) === 6) return /^ff[0-9a-f]{2}:/i.test(addr);
  const first = Number(addr.split('.')[0]);
  return first >= 224 && first <= 239;
}

/** `ADDR:PORT`, with the IPv6 address in brackets (`[ff3e::1]:5000`); an input's port 0 is `any`. */
export function hostPort(addr: string, port: number): string {
  const p = port === 0 ? 'any' : String(port);
  return addressFamily(addr) === 6 ? `[${addr}]:${p}` : `${addr}:${p}`;
}

function checkAddress(value: unknown, field: string, path: RulePath): string {
  if (typeof value === 'string' && isIPv4(value)) return value;
  if (typeof value === 'string' && isIPv6(value)) {
    if (value.includes('%')) {
      throw new RuleError(`${field}: ${JSON.stringify(value)} carries a zone (%...): give the address without it; the rule's interface is its scope`, path);
    }
    const canonical = new SocketAddress({ address: value, family: 'ipv6' }).address;
    // ::ffff:a.b.c.d and ::a.b.c.d (RFC 4291 2.5.5) are IPv4 in IPv6 clothes: the IPv4 form says what is meant.
    if (/^::(ffff:)?\d+\.\d+\.\d+\.\d+$/i.test(canonical)) {
      throw new RuleError(`${field}: ${value} is an IPv4-mapped IPv6 address: write the IPv4 address (${canonical.replace(/^::(ffff:)?/i, '')}) instead`, path);
    }
    return canonical;
  }
  throw new RuleError(`${field}: expected an IPv4 or IPv6 address such as 239.1.1.1 or ff3e::1234, got ${JSON.stringify(value)}`, path);
}

function familyName(addr: string): string {
  return addressFamily(addr) === 6 ? 'IPv6' : 'IPv4';
}

/** A source and the destination it goes with are of one family (a datagram has one IP header). */
function checkSameFamily(source: string, sourceField: string, dest: string, destField: string, path: RulePath): void {
  if (addressFamily(source) !== addressFamily(dest)) {
    throw new RuleError(`${sourceField}: ${source} is ${familyName(source)} but ${destField} ${dest} is ${familyName(dest)}: ` +
      `give an ${familyName(dest)} source (a datagram's source and destination are of one family)`, path);
  }
}

/** `or` names the word a field takes besides the integers (a port's "any" or "="), so the error offers it too. */
function checkInteger(value: unknown, field: string, path: RulePath, min: number, max: number, or?: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new RuleError(`${field}: expected an integer ${min}..${max}${or !== undefined ? ` or ${or}` : ''}, got ${JSON.stringify(value)}`, path);
  }
  return n;
}

/**
 * Refuses what Linux refuses as an interface name (dev_valid_name in
 * net/core/dev.c: empty, longer than 15 bytes, '.', '..', any '/', ':' or
 * blank) and, stricter than the kernel, any character but A-Z a-z 0-9 _ . @ -.
 * A name with ':' is most often ifconfig's alias (eth0:1): the label of an
 * IPv4 address, which no socket can bind to, so the error names the device.
 */
const validInterfaceName = (name: string): boolean => INTERFACE_NAME.test(name) && name !== '.' && name !== '..';

export function checkInterfaceName(value: unknown, field: string, path: RulePath = []): string {
  if (typeof value === 'string' && value.includes(':')) {
    const device = value.slice(0, value.indexOf(':'));
    const named = validInterfaceName(device) ? `, ${device}` : '';
    throw new RuleError(`${field}: ${JSON.stringify(value)} is not an interface name: Linux refuses ':' in one ` +
      `(eth0:1 is how ifconfig labels an IPv4 address, not a device); give the device name without the label${named}`, path);
  }
  if (typeof value !== 'string' || !validInterfaceName(value)) {
    throw new RuleError(`${field}: expected an interface name (1-${RULE_LIMITS.interfaceNameLength} characters of A-Z a-z 0-9 _ . @ -), got ${JSON.stringify(value)}`, path);
  }
  return value;
}

/**
 * Where a datagram must never be sent: 0.0.0.0/8 ("this network", not a
 * destination) and 127.0.0.0/8 (loopback: it would never leave the host,
 * and a relay looping into its own input is a storm); for IPv6 the
 * unspecified ::, loopback ::1, and multicast of reserved (0) or
 * interface-local (1) scope, which never leaves the host either.
 */
function checkDestination(value: string, field: string, path: RulePath): string {
  if (addressFamily(value) === 6) {
    const scope = isMulticast(value) ? parseInt(value.slice(3, 4), 16) : -1;
    if (value === '::' || value === '::1' || scope === 0 || scope === 1) {
      throw new RuleError(`${field}: ${value} is not a destination a relay can send to (::, ::1 and multicast of scope 0 or 1, ff00::/16 and ff01::/16, are refused): ` +
        'give a multicast group of link-local or wider scope (ff02::/16, ff05::/16, ff0e::/16, ff3e::/16...) or a unicast host address', path);
    }
    return value;
  }
  const first = Number(value.split('.')[0]);
  if (first === 0 || first === 127) {
    throw new RuleError(`${field}: ${value} is not a destination a relay can send to (0.0.0.0/8 and 127.0.0.0/8 are refused): give a multicast group or a unicast host address`, path);
  }
  return value;
}

function checkSourceAddress(value: unknown, field: string, path: RulePath): string {
  const addr = checkAddress(value, field, path);
  if (addr === '0.0.0.0' || addr === '::') {
    throw new RuleError(`${field}: ${addr} is not a source address: leave the field out to mean "any" / "the interface's address"`, path);
  }
  if (isMulticast(addr)) throw new RuleError(`${field}: ${addr} is a multicast group, not a source address: give the sender's unicast address`, path);
  return addr;
}

/** `ADDR/LEN` of either family into its canonical text (a full length gives the bare address); host bits are refused. */
function checkPrefix(value: string, field: string, path: RulePath, minLen = 1): string {
  const parts = splitPrefix(value)!;
  const addr = checkAddress(parts.addr, field, path);
  const full = addressFamily(addr) === 6 ? 128 : 32;
  if (!/^\d{1,3}$/.test(parts.len) || Number(parts.len) < minLen || Number(parts.len) > full) {
    throw new RuleError(`${field}: ${JSON.stringify(value)} has a bad prefix length: expected ${minLen}..${full}`, path);
  }
  const len = Number(parts.len);
  if (len === full) return addr;
  const masked = bytesToAddress(maskBytes(addressBytes(addr), len));
  if (masked !== addr) {
    throw new RuleError(`${field}: ${value} has bits set past its /${len}: write ${masked}/${len} (or a longer prefix)`, path);
  }
  return `${addr}/${len}`;
}

/** An address or `ADDR/LEN`, canonical. */
function checkAddressOrPrefix(value: unknown, field: string, path: RulePath): string {
  if (typeof value === 'string' && value.includes('/')) return checkPrefix(value, field, path);
  return checkAddress(value, field, path);
}

/**
 * `source` / `excludeSources`: one address or prefix, a comma-separated
 * string of them, or an array; each a unicast source of the input's family.
 */
function checkSourceList(value: unknown, field: string, path: RulePath, inputGroup: string, groupField: string): string {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',').map((v) => v.trim()) : undefined;
  if (items === undefined || items.length === 0) {
    throw new RuleError(`${field}: expected an address, a prefix (10.1.0.0/16) or a list of them, got ${JSON.stringify(value)}`, path);
  }
  const out: string[] = [];
  items.forEach((item, i) => {
    const where = Array.isArray(value) ? `${field}[${i}]` : field;
    const at = Array.isArray(value) ? [...path, i] : path;
    let entry: string;
    if (typeof item === 'string' && item.includes('/')) {
      entry = checkPrefix(item, where, at);
      if (isMulticast(prefixAddress(entry))) throw new RuleError(`${where}: ${entry} is multicast, not a range of source addresses: give the senders' unicast prefix`, at);
    } else {
      entry = checkSourceAddress(item, where, at);
    }
    checkSameFamily(prefixAddress(entry), where, inputGroup, groupField, at);
    if (!out.includes(entry)) out.push(entry);
  });
  return out.join(',');
}

/**
 * A rule whose excludeSources, together, cover every source its `source`
 * admits (every address of its family, without `source`) would match
 * nothing: refused, since it is always a mistake (the two lists swapped, a
 * prefix too wide).
 */
function checkSomethingLeft(source: string | undefined, exclude: string, family: 4 | 6, field: string, path: RulePath): void {
  const excluded = exclude.split(',');
  const admitted = source?.split(',') ?? [family === 6 ? '::/0' : '0.0.0.0/0'];
  if (admitted.every((s) => prefixCoveredBy(s, excluded))) {
    throw new RuleError(`${field}: ${exclude} excludes every source the rule admits (${source ?? 'any'}): it would match nothing; ` +
      'remove the exclusion or widen source', path);
  }
}

/** Whether rule text is a prefix (`ADDR/LEN`) rather than one address. */
export function isPrefix(text: string): boolean {
  return text.includes('/');
}

const OUTPUT_KEYS = new Set(['group', 'port', 'interface', 'ttl', 'source']);
const RULE_KEYS = new Set(['name', 'inputGroup', 'inputPort', 'source', 'excludeSources', 'joinGroups', 'outputs', 'signalTimeoutMs', 'monitor']);

function checkKeys(obj: Record<string, unknown>, allowed: Set<string>, where: string, path: RulePath): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      throw new RuleError(`${where}: unknown field "${key}" (allowed: ${[...allowed].join(', ')})`, [...path, key]);
    }
  }
}

export function checkMonitor(value: unknown, field: string, path: RulePath = []): MonitorMode {
  if (typeof value !== 'string' || !(MONITOR_MODES as readonly string[]).includes(value)) {
    throw new RuleError(`${field}: expected one of ${MONITOR_MODES.map((m) => JSON.stringify(m)).join(', ')}, got ${JSON.stringify(value)}`, path);
  }
  return value as MonitorMode;
}

/**
 * `path` locates `value` in a larger document; errors carry it extended to
 * the field. `wire`: the value came off the control socket, where a port of
 * 0 is how "=" (an output) and "any" (the input) travel; people write the words.
 */
export function validateOutput(value: unknown, where: string, path: RulePath = [], wire = false): OutputSpec {
  if (typeof value !== 'object' || value === null) throw new RuleError(`${where}: expected an object`, path);
  const o = value as Record<string, unknown>;
  checkKeys(o, OUTPUT_KEYS, where, path);
  let group: string;
  if (o.group === '=') {
    group = '=';
  } else {
    group = checkAddressOrPrefix(o.group, `${where}.group`, [...path, 'group']);
    checkDestination(prefixAddress(group), `${where}.group`, [...path, 'group']);
  }
  const out: OutputSpec = {
    group,
    port: o.port === '=' ? 0 : checkInteger(o.port, `${where}.port`, [...path, 'port'], wire ? 0 : 1, 65535, '"=" (the datagram\'s own port)'),
    interface: checkInterfaceName(o.interface, `${where}.interface`, [...path, 'interface']),
  };
  if (o.ttl !== undefined) out.ttl = checkInteger(o.ttl, `${where}.ttl`, [...path, 'ttl'], 1, 255);
  if (o.source !== undefined) {
    out.source = checkSourceAddress(o.source, `${where}.source`, [...path, 'source']);
    // For "=" the input's family decides; validateRule checks it.
    if (out.group !== '=') checkSameFamily(out.source, `${where}.source`, prefixAddress(out.group), `${where}.group`, [...path, 'source']);
  }
  return out;
}

/** `path` locates `value` in a larger document; errors carry it extended to the field. `wire` as for validateOutput. */
export function validateRule(value: unknown, where = 'rule', path: RulePath = [], wire = false): RuleSpec {
  if (typeof value !== 'object' || value === null) throw new RuleError(`${where}: expected an object`, path);
  const r = value as Record<string, unknown>;
  checkKeys(r, RULE_KEYS, where, path);
  if (!Array.isArray(r.outputs) || r.outputs.length === 0) {
    throw new RuleError(`${where}.outputs: expected at least one output`, [...path, 'outputs']);
  }
  if (r.outputs.length > RULE_LIMITS.outputsPerRule) {
    throw new RuleError(`${where}.outputs: ${r.outputs.length} outputs, at most ${RULE_LIMITS.outputsPerRule} per rule: split them over rules of other groups or ports`, [...path, 'outputs']);
  }
  const rule: RuleSpec = {
    inputGroup: checkInputGroup(r.inputGroup, `${where}.inputGroup`, [...path, 'inputGroup']),
    inputPort: r.inputPort === 'any' ? 0 : checkInteger(r.inputPort, `${where}.inputPort`, [...path, 'inputPort'], wire ? 0 : 1, 65535, '"any" (every port)'),
    outputs: r.outputs.map((o, i) => validateOutput(o, `${where}.outputs[${i}]`, [...path, 'outputs', i], wire)),
  };
  rule.outputs.forEach((o, i) => checkOutputAgainstInput(o, rule.inputGroup, `${where}.outputs[${i}]`, [...path, 'outputs', i]));
  if (r.name !== undefined) {
    // Printable (no control characters: names end up in log lines and tables).
    if (typeof r.name !== 'string' || r.name.length === 0 || r.name.length > RULE_LIMITS.nameLength || /\p{Cc}/u.test(r.name)) {
      throw new RuleError(`${where}.name: expected 1-${RULE_LIMITS.nameLength} printable characters, got ${JSON.stringify(typeof r.name === 'string' && r.name.length > 80 ? r.name.slice(0, 80) + '...' : r.name)}`, [...path, 'name']);
    }
    rule.name = r.name;
  }
  if (r.source !== undefined) rule.source = checkSourceList(r.source, `${where}.source`, [...path, 'source'], rule.inputGroup, `${where}.inputGroup`);
  if (r.excludeSources !== undefined) {
    rule.excludeSources = checkSourceList(r.excludeSources, `${where}.excludeSources`, [...path, 'excludeSources'], rule.inputGroup, `${where}.inputGroup`);
    checkSomethingLeft(rule.source, rule.excludeSources, addressFamily(rule.inputGroup), `${where}.excludeSources`, [...path, 'excludeSources']);
  }
  if (r.joinGroups !== undefined) rule.joinGroups = checkJoinGroups(r.joinGroups, `${where}.joinGroups`, [...path, 'joinGroups'], rule.inputGroup);
  if (r.signalTimeoutMs !== undefined) {
    rule.signalTimeoutMs = checkInteger(r.signalTimeoutMs, `${where}.signalTimeoutMs`, [...path, 'signalTimeoutMs'], 0, MAX_SIGNAL_TIMEOUT_MS);
    if (rule.signalTimeoutMs > 0 && rule.signalTimeoutMs < MIN_SIGNAL_TIMEOUT_MS) {
      throw new RuleError(`${where}.signalTimeoutMs: ${rule.signalTimeoutMs} ms is shorter than a working watch: give 0 (not watched) or ${MIN_SIGNAL_TIMEOUT_MS}..${MAX_SIGNAL_TIMEOUT_MS} ` +
        '(the workers note arrivals every 100 ms, so a shorter timeout reports a steady stream down)', [...path, 'signalTimeoutMs']);
    }
  }
  if (r.monitor !== undefined) rule.monitor = checkMonitor(r.monitor, `${where}.monitor`, [...path, 'monitor']);
  return rule;
}

/** `inputGroup`: an address, or a prefix (`239.1.0.0/16`, `ff3e::/96`) that stays inside multicast when it starts there. */
function checkInputGroup(value: unknown, field: string, path: RulePath): string {
  const group = checkAddressOrPrefix(value, field, path);
  if (isPrefix(group) && isMulticast(prefixAddress(group))) {
    const min = addressFamily(group) === 6 ? 8 : 4;
    if (prefixLength(group) < min) {
      throw new RuleError(`${field}: ${group} reaches past multicast (${addressFamily(group) === 6 ? 'ff00::/8' : '224.0.0.0/4'}): give a /${min} or longer prefix`, path);
    }
  }
  return group;
}

/** An output's "=" group or its prefix must fit the input: same family, and a prefix the input prefix's length. */
function checkOutputAgainstInput(o: OutputSpec, inputGroup: string, where: string, path: RulePath): void {
  if (o.group === '=') {
    if (o.source !== undefined) checkSameFamily(o.source, `${where}.source`, inputGroup, 'inputGroup', [...path, 'source']);
    return;
  }
  if (!isPrefix(o.group)) return;
  if (!isPrefix(inputGroup) || addressFamily(inputGroup) !== addressFamily(o.group) || prefixLength(inputGroup) !== prefixLength(o.group)) {
    throw new RuleError(`${where}.group: ${o.group} maps the datagram's group into a prefix, which needs an inputGroup prefix of the same family and length ` +
      `(inputGroup is ${inputGroup}): write the output prefix with /${isPrefix(inputGroup) ? prefixLength(inputGroup) : '<the input length>'}, or "=" to keep the group`, [...path, 'group']);
  }
}

/** `joinGroups`: multicast groups inside the inputGroup prefix (mcrd cannot join a whole range). */
function checkJoinGroups(value: unknown, field: string, path: RulePath, inputGroup: string): string {
  if (!isMulticast(prefixAddress(inputGroup))) {
    throw new RuleError(`${field}: inputGroup ${inputGroup} is not multicast: there is nothing to join`, path);
  }
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',').map((v) => v.trim()) : undefined;
  if (items === undefined || items.length === 0) throw new RuleError(`${field}: expected a list of groups inside ${inputGroup}, got ${JSON.stringify(value)}`, path);
  const out: string[] = [];
  items.forEach((item, i) => {
    const where = Array.isArray(value) ? `${field}[${i}]` : field;
    const at = Array.isArray(value) ? [...path, i] : path;
    const group = checkAddress(item, where, at);
    if (!prefixContains(inputGroup, group)) throw new RuleError(`${where}: ${group} is not inside inputGroup ${inputGroup}: give groups of the rule's range`, at);
    if (!out.includes(group)) out.push(group);
  });
  return out.join(',');
}

/**
 * A rule's keys at its precedence (docs/config.md, "Rules that match
 * more"): one per source entry (or `*`), with the group (prefix) and port.
 * Two rules sharing a key match the same datagrams at the same precedence,
 * which the relay cannot order: an overlap, refused like a duplicate
 * (canonical text makes equal prefixes equal strings; prefixes of equal
 * length that overlap are equal).
 */
export function overlapKeys(r: { inputInterface: string; inputGroup: string; inputPort: number; source?: string | undefined }): string[] {
  const sources = r.source !== undefined && r.source !== '' ? r.source.split(',') : ['*'];
  return sources.map((s) => `${r.inputInterface}|${s}|${r.inputGroup}|${r.inputPort}`);
}

declare const validated: unique symbol;

/**
 * A rule of mcrd's table, with its input interface, that passed this
 * module's checks where it entered (a config file, a control request). The
 * type can only come from a validator (checkRule in supervisor/rule-table.ts
 * for control requests, the config schema for files), so the rule table and
 * everything after it take it as it is instead of checking it again.
 */
export type ValidRule = RuleSpec & { inputInterface: string } & { readonly [validated]: true };

/** Marks a rule that a validator of this module has just checked. Only validators call this. */
export function asValid(rule: RuleSpec & { inputInterface: string }): ValidRule {
  return rule as ValidRule;
}
