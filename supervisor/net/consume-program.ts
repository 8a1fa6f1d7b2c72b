/**
 * The classic BPF program behind `--consume-inputs`: run by a tc ingress
 * filter (cls_bpf, direct action) on an input interface, it answers "drop"
 * (TC_ACT_SHOT) for the IPv4/UDP and IPv6/UDP datagrams that one of the
 * interface's rules relays and "not mine" (TC_ACT_UNSPEC: the next filter
 * or the stack decides) for every other frame. tc ingress runs after the
 * packet taps, so the workers' AF_PACKET sockets have their copy by then;
 * what the drop saves is
 * the host's own IP receive path (route lookup, a multicast route entry
 * allocated and freed through RCU per datagram, UDP demultiplexing), a fifth
 * of the relay core in docs/performance-history.md, "Profiles: what is in
 * the way at fan-out 1".
 *
 * The program sees the frame from its Ethernet header (cls_bpf pushes the
 * MAC header back at ingress). Fragments are left to the stack: the relay
 * does not forward them either. An IPv6 datagram is matched when UDP is its
 * first next header; one behind extension headers (hop-by-hop, routing,
 * destination options: rare on media and market-data streams) is left to
 * the stack, which then sees it as well as the relay. Pure functions:
 * supervisor/net/input-filters.ts installs the result with `tc`.
 *
 * Layout: with IPv6 matches, the program starts with a dispatch on the
 * ethertype whose IPv6 branch is an unconditional jump (32-bit offset) over
 * the IPv4 section to the IPv6 one, since the conditional jumps reach only
 * 255 instructions; with IPv4 matches only, the IPv4 program is all there
 * is (the same instructions as before IPv6 rules existed).
 */
import { isIPv6 } from 'node:net';

/** One classic BPF instruction: opcode, jump-if-true, jump-if-false, constant. */
export type BpfInsn = readonly [code: number, jt: number, jf: number, k: number];

/** What a rule matches on its input interface (the datagram's destination, optionally its source). */
export interface ConsumeMatch {
  group: string;
  port: number;
  source?: string;
}

export const TC_ACT_SHOT = 2;
/** -1 as an unsigned 32-bit return value: the filter has no opinion. */
export const TC_ACT_UNSPEC = 0xffffffff;

// Opcodes (linux/filter.h): class | size | mode, and the jump / return forms used here.
const LD_H_ABS = 0x28;
const LD_W_ABS = 0x20;
const LD_B_ABS = 0x30;
const LDX_B_MSH = 0xb1;
const LD_H_IND = 0x48;
const ST = 0x02;
const LD_MEM = 0x60;
const JEQ_K = 0x15;
const JSET_K = 0x45;
const RET_K = 0x06;
const JA = 0x05;

// Frame offsets: Ethernet header 14 bytes, then IPv4.
const ETHERTYPE = 12;
const IP_START = 14;
const IP_FRAG = IP_START + 6;
const IP_PROTO = IP_START + 9;
const IP_SRC = IP_START + 12;
const IP_DST = IP_START + 16;
/** From the IP header's start (X = header length): the UDP destination port. */
const UDP_DPORT_AFTER_IP = IP_START + 2;

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

// IPv6 offsets: the fixed 40-byte header right after Ethernet, UDP after it.
const IP6_NEXT = IP_START + 6;
const IP6_SRC = IP_START + 8;
const IP6_DST = IP_START + 24;
const UDP6_DPORT = IP_START + 40 + 2;
const IPPROTO_UDP = 17;
/** More-fragments flag and fragment offset. */
const FRAGMENT_BITS = 0x3fff;

// Scratch memory slots.
const M_DPORT = 0;
const M_SRC = 1;
const M_DST = 2;

/** cBPF's limit on a program's length (BPF_MAXINSNS). */
export const MAX_PROGRAM_INSNS = 4096;

export function ipv4ToInt(addr: string): number {
  const parts = addr.split('.').map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

/** An IPv6 address as its four 32-bit words, most significant first. */
export function ipv6ToWords(addr: string): [number, number, number, number] {
  // Expand "::" into the zero groups it stands for; an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  let text = addr;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const n = ipv4ToInt(v4[1]!);
    text = `${text.slice(0, v4.index)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const tl = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  const g = groups.map((x) => parseInt(x, 16));
  return [0, 1, 2, 3].map((i) => ((g[2 * i]! << 16) >>> 0) + g[2 * i + 1]!) as [number, number, number, number];
}

/**
 * One match as a key: '|' between the parts, since IPv6 addresses hold ':'
 * ("ff3e::1" port 2 from "2001:db8::1" and "ff3e::1:2" port 2001 from
 * "db8::1" would read the same with ':').
 */
export function consumeMatchKey(m: ConsumeMatch): string {
  return `${m.group}|${m.port}|${m.source ?? '*'}`;
}

/** Distinct matches in a stable order, so the same rules always give the same program. */
export function normaliseMatches(matches: readonly ConsumeMatch[]): ConsumeMatch[] {
  const byKey = new Map<string, ConsumeMatch>();
  for (const m of matches) {
    const key = consumeMatchKey(m);
    if (!byKey.has(key)) byKey.set(key, m.source !== undefined ? { group: m.group, port: m.port, source: m.source } : { group: m.group, port: m.port });
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
}

/**
 * The program for these matches. Every conditional jump is forward and
 * short (cBPF offsets are 8-bit): the header checks fall to a nearby "not
 * mine", and each match is a block that falls through to the next on a
 * mismatch.
 */
export function buildConsumeProgram(matches: readonly ConsumeMatch[]): BpfInsn[] {
  const all = normaliseMatches(matches);
  const v6 = all.filter((m) => isIPv6(m.group));
  const v4 = all.filter((m) => !isIPv6(m.group));
  if (v6.length === 0) return [...ipv4Section(v4), [RET_K, 0, 0, TC_ACT_UNSPEC]];
  const p: BpfInsn[] = [[LD_H_ABS, 0, 0, ETHERTYPE]];
  if (v4.length === 0) {
    p.push([JEQ_K, 1, 0, ETH_P_IPV6], [RET_K, 0, 0, TC_ACT_UNSPEC]);
  } else {
    // IPv6 jumps over the IPv4 section and its closing return; anything else
    // falls into the IPv4 section, which checks the ethertype again.
    const section4 = ipv4Section(v4);
    p.push([JEQ_K, 0, 1, ETH_P_IPV6], [JA, 0, 0, section4.length + 1], ...section4, [RET_K, 0, 0, TC_ACT_UNSPEC]);
  }
  p.push(...ipv6Section(v6), [RET_K, 0, 0, TC_ACT_UNSPEC]);
  return p;
}

/** IPv4 header checks and one block per match; falls off its end on "no match". */
function ipv4Section(matches: readonly ConsumeMatch[]): BpfInsn[] {
  const p: BpfInsn[] = [
    [LD_H_ABS, 0, 0, ETHERTYPE],
    [JEQ_K, 1, 0, ETH_P_IP],
    [RET_K, 0, 0, TC_ACT_UNSPEC],
    [LD_B_ABS, 0, 0, IP_PROTO],
    [JEQ_K, 1, 0, IPPROTO_UDP],
    [RET_K, 0, 0, TC_ACT_UNSPEC],
    [LD_H_ABS, 0, 0, IP_FRAG],
    [JSET_K, 0, 1, FRAGMENT_BITS],
    [RET_K, 0, 0, TC_ACT_UNSPEC],
    [LDX_B_MSH, 0, 0, IP_START],
    [LD_H_IND, 0, 0, UDP_DPORT_AFTER_IP],
    [ST, 0, 0, M_DPORT],
    [LD_W_ABS, 0, 0, IP_SRC],
    [ST, 0, 0, M_SRC],
    [LD_W_ABS, 0, 0, IP_DST],
    [ST, 0, 0, M_DST],
  ];
  for (const m of matches) {
    const checks: Array<[slot: number, value: number]> = [[M_DST, ipv4ToInt(m.group)], [M_DPORT, m.port]];
    if (m.source !== undefined) checks.push([M_SRC, ipv4ToInt(m.source)]);
    p.push(...block(checks.map(([slot, value]) => [[LD_MEM, 0, 0, slot], value])));
  }
  return p;
}

/**
 * IPv6 (the ethertype already checked): UDP as the first next header (a
 * fragment header, 44, or any extension header is another value: not
 * mine), then one block per match comparing the destination's four words,
 * the port and, for a source rule, the source's four words, each loaded
 * from the frame (an absolute load is one instruction, as a scratch load).
 */
function ipv6Section(matches: readonly ConsumeMatch[]): BpfInsn[] {
  const p: BpfInsn[] = [
    [LD_B_ABS, 0, 0, IP6_NEXT],
    [JEQ_K, 1, 0, IPPROTO_UDP],
    [RET_K, 0, 0, TC_ACT_UNSPEC],
  ];
  for (const m of matches) {
    const words = (addr: string, at: number): Array<[BpfInsn, number]> =>
      ipv6ToWords(addr).map((w, i): [BpfInsn, number] => [[LD_W_ABS, 0, 0, at + 4 * i], w]);
    const checks: Array<[BpfInsn, number]> = [...words(m.group, IP6_DST), [[LD_H_ABS, 0, 0, UDP6_DPORT], m.port]];
    if (m.source !== undefined) checks.push(...words(m.source, IP6_SRC));
    p.push(...block(checks));
  }
  return p;
}

/** (load, compare) per check, then the drop; a mismatch skips the rest of the block. */
function block(checks: ReadonlyArray<[load: BpfInsn, value: number]>): BpfInsn[] {
  const blockLen = checks.length * 2 + 1;
  const out: BpfInsn[] = [];
  checks.forEach(([load, value], i) => {
    const afterThisCompare = (i + 1) * 2;
    out.push(load, [JEQ_K, 0, blockLen - afterThisCompare, value]);
  });
  out.push([RET_K, 0, 0, TC_ACT_SHOT]);
  return out;
}

/** tc's `bytecode` argument: "N,code jt jf k,code jt jf k,...". */
export function formatBytecode(program: readonly BpfInsn[]): string {
  return `${program.length},${program.map((i) => i.join(' ')).join(',')}`;
}
