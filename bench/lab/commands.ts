/**
 * The command lines of the lab's building steps (veths, addresses, links
 * up, routes, sysctls), checked and built in one place: Lab (lab.ts) runs
 * each one at once, LabBatch (batch.ts) runs many in one shell. Each
 * builder validates its arguments and throws ERR_LAB_ARG, so a bad step
 * fails before anything of it runs either way.
 *
 * A step is the full argv, `ip` included; a step inside a namespace is
 * `ip -n NS ...` for iproute2 (no mount namespace to set up) and `ip netns
 * exec NS ...` for anything else. Which namespaces are the lab's own is the
 * Lab's to check, not this file's.
 */

import { LabError } from './errors.js';
import { checkIfname } from './names.js';

export type Argv = readonly string[];

/** A veth pair with one end in each namespace, and the MTU of both ends when given. */
export function vethSteps(nsA: string, ifA: string, nsB: string, ifB: string, opts: { mtu?: number } = {}): Argv[] {
  checkIfname(ifA);
  checkIfname(ifB);
  // 68 is IPv4's minimum (RFC 791); 65535 is veth's maximum.
  if (opts.mtu !== undefined && (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535)) {
    throw new LabError('ERR_LAB_ARG', `MTU ${opts.mtu} must be an integer in 68..65535`);
  }
  const steps: Argv[] = [['ip', 'link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]];
  if (opts.mtu !== undefined) {
    steps.push(['ip', '-n', nsA, 'link', 'set', 'dev', ifA, 'mtu', String(opts.mtu)]);
    steps.push(['ip', '-n', nsB, 'link', 'set', 'dev', ifB, 'mtu', String(opts.mtu)]);
  }
  return steps;
}

/** `ip addr add CIDR dev IFNAME` inside `ns`. */
export function addressStep(ns: string, ifname: string, cidr: string): Argv {
  checkIfname(ifname);
  if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(cidr)) throw new LabError('ERR_LAB_ARG', `${cidr} is not ADDRESS/PREFIX`);
  return ['ip', '-n', ns, 'addr', 'add', cidr, 'dev', ifname];
}

/** `lo` and `ifname` up inside `ns` (a namespace starts with lo down). */
export function upSteps(ns: string, ifname: string): Argv[] {
  checkIfname(ifname);
  return [
    ['ip', '-n', ns, 'link', 'set', 'dev', 'lo', 'up'],
    ['ip', '-n', ns, 'link', 'set', 'dev', ifname, 'up'],
  ];
}

/** `ip route add ...args` inside `ns`. */
export function routeStep(ns: string, args: readonly string[]): Argv {
  if (args.length === 0) throw new LabError('ERR_LAB_ARG', 'a route needs its arguments');
  return ['ip', '-n', ns, 'route', 'add', ...args];
}

/**
 * `sysctl -q -w KEY=VALUE ...` inside `ns`, several keys in one call. Use
 * '/' as the separator when a key holds an interface name with a dot
 * (VLANs): net/ipv4/conf/in0.100/rp_filter.
 */
export function sysctlStep(ns: string, settings: Readonly<Record<string, string | number>>): Argv {
  return ['ip', 'netns', 'exec', ns, 'sysctl', ...sysctlArgs(settings)];
}

/** The arguments of `sysctl -q -w KEY=VALUE ...` (sysctlStep, Lab.sysctl). */
export function sysctlArgs(settings: Readonly<Record<string, string | number>>): Argv {
  const pairs = Object.entries(settings).map(([key, value]) => {
    if (!/^[A-Za-z0-9_./-]+$/.test(key) || !/^[A-Za-z0-9_.-]+$/.test(String(value))) {
      throw new LabError('ERR_LAB_ARG', `sysctl ${key}=${value}: a key of [A-Za-z0-9_./-], a value of [A-Za-z0-9_.-]`);
    }
    return `${key}=${value}`;
  });
  if (pairs.length === 0) throw new LabError('ERR_LAB_ARG', 'sysctl needs at least one setting');
  return ['-q', '-w', ...pairs];
}

/** Whether a step is iproute2's own work (ERR_LAB_IP when it fails) rather than a command run in a namespace (ERR_LAB_EXEC). */
export function isIpStep(argv: Argv): boolean {
  return argv[0] === 'ip' && argv[1] !== 'netns';
}

/** One shell word: single-quoted, with each ' written as '\''. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
