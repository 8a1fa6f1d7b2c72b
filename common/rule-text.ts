/**
 * The compact text forms of a rule's outputs, for the command lines and
 * the tables: `G:P:IF[:TTL]` lists as `mcrctl add --outputs` and
 * `mcr-relay --outputs` take them (IPv6 in brackets), an output as a person
 * writes it, a destination as tables print it, and what a rule matches as
 * log lines give it. Validation itself is
 * common/rule-spec.ts's: every parsed item goes through validateOutput.
 */
import { isIPv6 } from 'node:net';
import { addressFamily, hostPort, RuleError, validateOutput, type OutputSpec, type RuleSpec } from './rule-spec.js';

/** An output's destination as tables print it: `=` for a kept group or port. */
export function outputHostPort(group: string, port: number): string {
  const g = group === '=' ? '=' : addressFamily(group) === 6 ? `[${group}]` : group;
  return `${g}:${port === 0 ? '=' : port}`;
}

/** An output as a person writes it (port 0 as "="), to validate again inside a whole rule. */
export function asWritten(o: OutputSpec): Record<string, unknown> {
  return o.port === 0 ? { ...o, port: '=' } : { ...o };
}

/**
 * Parses the compact output list of the CLI: `G:P:IF[:TTL][,G:P:IF[:TTL]...]`,
 * an IPv6 G in brackets (`[ff3e::1234]:5000:eth1:8`) since its colons
 * would run into the port's.
 */
export function parseOutputList(text: string): OutputSpec[] {
  const items = text.split(',').filter((s) => s.length > 0);
  if (items.length === 0) throw new RuleError('--outputs: expected G:P:IF[:TTL][,G:P:IF[:TTL]...] (an IPv6 G in brackets: [ff3e::1]:5000:eth1; G or P may be = to keep the datagram\'s)');
  return items.map((item, i) => {
    let parts: string[];
    if (item.startsWith('[')) {
      const close = item.indexOf(']');
      if (close < 0 || item[close + 1] !== ':') {
        throw new RuleError(`--outputs item ${i + 1} "${item}": expected [IPV6]:PORT:INTERFACE[:TTL], the closing bracket followed by ':' and the port`);
      }
      parts = [item.slice(1, close), ...item.slice(close + 2).split(':')];
    } else {
      parts = item.split(':');
      // More colons than the IPv4 form has and no brackets: an IPv6 address written bare.
      if (parts.length > 4 && isIPv6(parts.slice(0, parts.length - 2).join(':'))) {
        throw new RuleError(`--outputs item ${i + 1} "${item}": put an IPv6 address in brackets, as in [ff3e::1234]:5000:eth1[:TTL]`);
      }
    }
    if (parts.length < 3 || parts.length > 4) {
      throw new RuleError(`--outputs item ${i + 1} "${item}": expected GROUP:PORT:INTERFACE[:TTL] (an IPv6 GROUP in brackets: [ff3e::1]:5000:eth1)`);
    }
    const [group, port, iface, ttl] = parts;
    return validateOutput(
      ttl === undefined ? { group, port, interface: iface } : { group, port, interface: iface, ttl },
      `--outputs item ${i + 1}`,
    );
  });
}

/** What a rule matches, for log lines: `[SOURCE -> ]GROUP:PORT[ except EXCLUDED]`. */
export function describeMatch(spec: RuleSpec): string {
  const except = spec.excludeSources !== undefined ? ` except ${spec.excludeSources}` : '';
  return `${spec.source !== undefined ? spec.source + ' -> ' : ''}${hostPort(spec.inputGroup, spec.inputPort)}${except}`;
}
