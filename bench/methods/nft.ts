/**
 * The nftables anchor: the strongest in-kernel relay a network engineer can
 * configure without multicast routing. One `netdev` table on the relay's
 * input with an ingress chain: a rule matches the group and UDP port,
 * rewrites destination address, port and MAC and the source MAC for each
 * output, `dup`s the datagram to every output but the last and `fwd`s it to
 * the last. It all runs in the input's receive softirq on the relay core
 * (RPS steers in0 there), before the IP stack: no socket, no copy to user
 * space, and `fwd` consumes the packet so the relay's own stack never sees
 * it. nft's payload statements fix the IPv4 header checksum and the UDP
 * checksum (pseudo-header included) incrementally; a zero UDP checksum is
 * kept zero by a second rule (see nftRuleset). The anchor test proves a
 * socket on the sink accepts both, with checksums verified in software.
 *
 * IPv6 (`family` 6): nftRuleset6, the same relay for IPv6 frames.
 *
 * No process runs: the CPU figure is core 1's irq + softirq time, as for
 * the kernel's multicast routing. Stop deletes the table.
 */
import type { BenchLab } from '../bench-lab.js';
import { groupOf, PORT } from '../config.js';
import { BenchError } from '../errors.js';
import type { MethodStart, RunningMethod } from './types.js';

let starts = 0;

export interface NftOutput {
  ifname: string;
  /** The output interface's own MAC, the rewritten source. */
  mac: string;
  group: string;
  port: number;
}

/** 01:00:5e + the low 23 bits of the group (RFC 1112 §6.4). */
export function multicastMac(group: string): string {
  const [, b, c, d] = group.split('.').map(Number);
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `01:00:5e:${hex((b ?? 0) & 0x7f)}:${hex(c ?? 0)}:${hex(d ?? 0)}`;
}

/** 33:33 + the low 32 bits of an IPv6 group (RFC 2464 §7). */
export function multicastMac6(group: string): string {
  const words = ipv6Words(group);
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  const [w6 = 0, w7 = 0] = words.slice(6);
  return `33:33:${hex(w6 >> 8)}:${hex(w6 & 0xff)}:${hex(w7 >> 8)}:${hex(w7 & 0xff)}`;
}

/** The eight 16-bit words of an IPv6 address in text form (`::` expanded). */
export function ipv6Words(addr: string): number[] {
  const halves = addr.split('::');
  if (halves.length > 2) throw new BenchError('ERR_BENCH_ARG', `not an IPv6 address: ${addr}`);
  const part = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((w) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw new BenchError('ERR_BENCH_ARG', `not an IPv6 address: ${addr}`);
    return parseInt(w, 16);
  }));
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw new BenchError('ERR_BENCH_ARG', `not an IPv6 address: ${addr}`);
  return [...head, ...Array<number>(halves.length === 1 ? 0 : fill).fill(0), ...tail];
}

/**
 * The IPv6 ruleset (issue 16): one rule, the same shape as nftRuleset's
 * first: match the group and UDP port, then per output rewrite the
 * destination address (`ip6 daddr set`, which fixes the UDP checksum for its
 * pseudo-header), port and MACs and `dup`, `fwd` for the last. IPv6 has no
 * header checksum and its UDP checksum is never zero (RFC 8200 §8.1), so
 * nftRuleset's second rule has no IPv6 counterpart.
 */
export function nftRuleset6(table: string, input: string, group: string, port: number, outputs: readonly NftOutput[]): string {
  if (outputs.length === 0) throw new BenchError('ERR_BENCH_ARG', 'the nft relay needs at least one output');
  const steps = outputs.map((o, i) =>
    `ip6 daddr set ${o.group} udp dport set ${o.port} ether saddr set ${o.mac} ether daddr set ${multicastMac6(o.group)} ` +
    `${i === outputs.length - 1 ? 'fwd' : 'dup'} to "${o.ifname}"`).join(' ');
  return [
    `table netdev ${table} {`,
    '  chain relay {',
    `    type filter hook ingress device "${input}" priority 0; policy accept;`,
    `    ip6 daddr ${group} udp dport ${port} ${steps}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The ruleset: two rules, each matching first, then per output the rewrite
 * and a `dup` (a clone leaves, the original goes on), and for the last
 * output the rewrite and `fwd` (the original leaves, the chain ends).
 *
 * Two rules because of the UDP checksum: `udp dport set` fixes a checksum
 * incrementally, which turns a zero ("none", RFC 768) into a wrong non-zero
 * one the receiver drops. Datagrams with a checksum take the first rule;
 * those without take the second, which writes the port as raw transport
 * bytes (`@th,16,16`, no checksum fix-up) so the zero stays zero (`ip daddr
 * set` leaves a zero UDP checksum alone). Each rule's statements run in
 * order, so the rewrites before a `dup` are what that output gets.
 */
export function nftRuleset(table: string, input: string, group: string, port: number, outputs: readonly NftOutput[]): string {
  if (outputs.length === 0) throw new BenchError('ERR_BENCH_ARG', 'the nft relay needs at least one output');
  const steps = (portSet: (p: number) => string): string => outputs.map((o, i) =>
    `ip daddr set ${o.group} ${portSet(o.port)} ether saddr set ${o.mac} ether daddr set ${multicastMac(o.group)} ` +
    `${i === outputs.length - 1 ? 'fwd' : 'dup'} to "${o.ifname}"`).join(' ');
  return [
    `table netdev ${table} {`,
    '  chain relay {',
    `    type filter hook ingress device "${input}" priority 0; policy accept;`,
    `    ip daddr ${group} udp dport ${port} udp checksum != 0 ${steps((p) => `udp dport set ${p}`)}`,
    `    ip daddr ${group} udp dport ${port} udp checksum 0 ${steps((p) => `@th,16,16 set ${p}`)}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function startNft(bl: BenchLab, o: MethodStart): Promise<RunningMethod> {
  const { rl } = bl;
  const ns = rl.relay.ns;
  const table = `mcr_bench_${++starts}`;
  const family = o.family ?? 4;
  const dest = o.output ?? { group: groupOf(family), port: PORT };
  const outputs: NftOutput[] = [];
  for (const out of rl.relay.outputs.slice(0, o.fanout)) {
    const r = await rl.lab.exec(ns, 'cat', [`/sys/class/net/${out.ifname}/address`], { timeoutMs: 5000 });
    outputs.push({ ifname: out.ifname, mac: r.stdout.trim(), group: dest.group, port: dest.port });
  }
  const ruleset = (family === 6 ? nftRuleset6 : nftRuleset)(table, rl.relay.input.ifname, groupOf(family), PORT, outputs);
  const r = await rl.lab.exec(ns, 'nft', ['-f', '-'], { input: ruleset, reject: false, timeoutMs: 10_000 });
  if (r.exitCode !== 0) {
    throw new BenchError('ERR_BENCH_START', `nft refused the relay ruleset (exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
  }
  return {
    name: 'nft',
    pids: [],
    commands: [`nft -f - <<EOF\n${ruleset}EOF`],
    async stop() {
      const d = await rl.lab.exec(ns, 'nft', ['delete', 'table', 'netdev', table], { reject: false, timeoutMs: 10_000 });
      if (d.exitCode !== 0) throw new BenchError('ERR_BENCH_TOOL_OUTPUT', `nft delete table netdev ${table} failed: ${d.stderr.trim()}`);
      return undefined;
    },
  };
}
