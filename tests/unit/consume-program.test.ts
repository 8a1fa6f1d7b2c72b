/**
 * The consume filter's classic BPF program, run here by a small interpreter
 * of exactly the cBPF semantics the kernel applies (loads outside the frame
 * end the program with 0, jumps are relative to the next instruction), on
 * frames built byte by byte: it must drop what a rule relays and nothing
 * else. The kernel side (tc accepts it, drops happen) is proved by
 * tests/integration/mcrd-consume.test.ts (IPv4) and mcrd-ipv6.test.ts
 * (IPv6). IPv6 frames: UDP right after the fixed header is matched, a
 * fragment or extension header first is left to the stack.
 */
import t from 'tap';
import { buildConsumeProgram, formatBytecode, ipv4ToInt, ipv6ToWords, MAX_PROGRAM_INSNS, normaliseMatches, TC_ACT_SHOT, TC_ACT_UNSPEC,
  type BpfInsn, type ConsumeMatch } from '../../supervisor/net/consume-program.js';

function run(program: readonly BpfInsn[], frame: Buffer): number {
  let a = 0;
  let x = 0;
  const mem = new Array<number>(16).fill(0);
  const load = (off: number, size: 1 | 2 | 4): number | undefined => {
    if (off < 0 || off + size > frame.length) return undefined;
    return size === 1 ? frame.readUInt8(off) : size === 2 ? frame.readUInt16BE(off) : frame.readUInt32BE(off);
  };
  for (let pc = 0, steps = 0; pc < program.length && steps < 10_000; steps++) {
    const [code, jt, jf, k] = program[pc]!;
    pc += 1;
    const cls = code & 0x07;
    if (cls === 0x00 || cls === 0x01) {  // LD / LDX
      const mode = code & 0xe0;
      const size = ({ 0x00: 4, 0x08: 2, 0x10: 1 } as Record<number, 1 | 2 | 4>)[code & 0x18]!;
      let v: number | undefined;
      if (cls === 0x01 && mode === 0xa0) {  // LDX MSH: 4 * (P[k] & 0xf)
        const b = load(k, 1);
        if (b === undefined) return 0;
        x = (b & 0xf) * 4;
        continue;
      }
      if (mode === 0x20) v = load(k, size);
      else if (mode === 0x40) v = load(x + k, size);
      else if (mode === 0x60) v = mem[k];
      else if (mode === 0x00) v = k;
      else throw new Error(`unhandled load mode ${code.toString(16)}`);
      if (v === undefined) return 0;
      if (cls === 0x00) a = v; else x = v;
    } else if (cls === 0x02) {
      mem[k] = a;
    } else if (cls === 0x05) {  // JMP
      const op = code & 0xf0;
      const cond = op === 0x10 ? a === k : op === 0x40 ? (a & k) !== 0 : op === 0x00 ? true : undefined;
      if (cond === undefined) throw new Error(`unhandled jump ${code.toString(16)}`);
      pc += op === 0x00 ? k : cond ? jt : jf;
    } else if (cls === 0x06) {
      return k >>> 0;
    } else {
      throw new Error(`unhandled class ${code.toString(16)}`);
    }
  }
  throw new Error('program ran off its end');
}

interface FrameOpts {
  ethertype?: number;
  proto?: number;
  src?: string;
  dst?: string;
  dport?: number;
  ihl?: number;
  frag?: number;
  truncateTo?: number;
}

function frame(o: FrameOpts = {}): Buffer {
  const ihl = o.ihl ?? 5;
  const b = Buffer.alloc(14 + ihl * 4 + 8 + 16);
  b.writeUInt16BE(o.ethertype ?? 0x0800, 12);
  b.writeUInt8(0x40 | ihl, 14);
  b.writeUInt16BE(b.length - 14, 16);
  b.writeUInt16BE(o.frag ?? 0x4000, 20);  // DF
  b.writeUInt8(8, 22);
  b.writeUInt8(o.proto ?? 17, 23);
  b.writeUInt32BE(ipv4ToInt(o.src ?? '10.0.0.1'), 26);
  b.writeUInt32BE(ipv4ToInt(o.dst ?? '239.1.1.1'), 30);
  const udp = 14 + ihl * 4;
  b.writeUInt16BE(4000, udp);
  b.writeUInt16BE(o.dport ?? 5000, udp + 2);
  return o.truncateTo !== undefined ? b.subarray(0, o.truncateTo) : b;
}

const rules: ConsumeMatch[] = [
  { group: '239.1.1.1', port: 5000 },
  { group: '239.2.2.2', port: 6000, source: '10.9.9.9' },
  { group: '10.0.0.2', port: 7000 },
];
const program = buildConsumeProgram(rules);

t.test('drops exactly the datagrams a rule relays', async (t) => {
  t.equal(run(program, frame()), TC_ACT_SHOT, 'group and port of the first rule');
  t.equal(run(program, frame({ dst: '239.2.2.2', dport: 6000, src: '10.9.9.9' })), TC_ACT_SHOT, 'source-specific rule, right source');
  t.equal(run(program, frame({ dst: '10.0.0.2', dport: 7000 })), TC_ACT_SHOT, 'unicast destination rule');
  t.equal(run(program, frame({ ihl: 6 })), TC_ACT_SHOT, 'IP options: the UDP port is found after them');
  t.equal(run(program, frame({ frag: 0 })), TC_ACT_SHOT, 'no DF bit is still not a fragment');
});

t.test('leaves every other frame to the stack', async (t) => {
  const pass = (o: FrameOpts, what: string): void => { t.equal(run(program, frame(o)), TC_ACT_UNSPEC, what); };
  pass({ dport: 5001 }, 'other port');
  pass({ dst: '239.1.1.2' }, 'other group');
  pass({ dst: '239.2.2.2', dport: 6000, src: '10.9.9.8' }, 'source-specific rule, other source');
  pass({ dst: '239.1.1.1', dport: 6000 }, 'group of one rule with the port of another');
  pass({ proto: 6 }, 'TCP to the same address and port');
  pass({ ethertype: 0x86dd }, 'not IPv4');
  pass({ ethertype: 0x0806 }, 'ARP');
  pass({ frag: 0x2000 }, 'first fragment (more fragments set)');
  pass({ frag: 0x0010 }, 'later fragment');
  t.equal(run(program, frame({ truncateTo: 30 })), 0, 'a frame too short to hold the header ends the program (TC_ACT_OK: the stack gets it)');
});

t.test('program shape', async (t) => {
  for (const [i, [code, jt, jf]] of program.entries()) {
    if ((code & 0x07) === 0x05) {
      t.ok(i + 1 + jt < program.length && i + 1 + jf < program.length, `jump at ${i} stays inside the program`);
    }
  }
  t.same(program.at(-1), [0x06, 0, 0, TC_ACT_UNSPEC], 'ends with "not mine"');
  t.same(buildConsumeProgram([...rules].reverse()), program, 'rule order does not change the program');
  t.same(buildConsumeProgram([...rules, rules[0]!]), program, 'duplicates add nothing');
  t.equal(normaliseMatches([{ group: '239.1.1.1', port: 1 }, { group: '239.1.1.1', port: 1 }]).length, 1);
  t.equal(normaliseMatches([{ group: 'ff3e::1', port: 2, source: '2001:db8::1' }, { group: 'ff3e::1:2', port: 2001, source: 'db8::1' }]).length, 2,
    'two IPv6 matches whose parts would join to the same text with ":" stay two');
  t.equal(run(buildConsumeProgram([]), frame()), TC_ACT_UNSPEC, 'no rules: nothing is dropped');
  const text = formatBytecode(program);
  t.match(text, new RegExp(`^${program.length},40 0 0 12,`), 'tc bytecode: count first, then code jt jf k');
  t.equal(text.split(',').length, program.length + 1);
  const many = Array.from({ length: 900 }, (_, i) => ({ group: `239.9.${i >> 8}.${i & 255}`, port: 5000 }));
  t.ok(buildConsumeProgram(many).length > MAX_PROGRAM_INSNS, '900 rules exceed one program (input-filters refuses them)');
});

/** An Ethernet + IPv6 + UDP frame; `next` is the first next header (17 UDP, 0 hop-by-hop, 44 fragment). */
function frame6(o: { src?: string; dst?: string; dport?: number; next?: number; truncateTo?: number } = {}): Buffer {
  const b = Buffer.alloc(14 + 40 + 8 + 16);
  b.writeUInt16BE(0x86dd, 12);
  b.writeUInt32BE(0x60000000, 14);
  b.writeUInt16BE(8 + 16, 18);
  b.writeUInt8(o.next ?? 17, 20);
  b.writeUInt8(8, 21);
  ipv6ToWords(o.src ?? '2001:db8::1').forEach((w, i) => b.writeUInt32BE(w, 22 + 4 * i));
  ipv6ToWords(o.dst ?? 'ff3e::1:2').forEach((w, i) => b.writeUInt32BE(w, 38 + 4 * i));
  b.writeUInt16BE(4000, 54);
  b.writeUInt16BE(o.dport ?? 5000, 56);
  return o.truncateTo !== undefined ? b.subarray(0, o.truncateTo) : b;
}

t.test('IPv6 addresses as words', async (t) => {
  t.same(ipv6ToWords('ff3e::1:2'), [0xff3e0000, 0, 0, 0x00010002]);
  t.same(ipv6ToWords('2001:db8:1:2:3:4:5:6'), [0x20010db8, 0x00010002, 0x00030004, 0x00050006]);
  t.same(ipv6ToWords('::1'), [0, 0, 0, 1]);
  t.same(ipv6ToWords('fe80::'), [0xfe800000, 0, 0, 0]);
  t.same(ipv6ToWords('::ffff:10.1.2.3'), [0, 0, 0xffff, 0x0a010203]);
});

t.test('IPv6 rules: drops exactly their datagrams, beside IPv4 rules or alone', async (t) => {
  const six: ConsumeMatch[] = [
    { group: 'ff3e::1:2', port: 5000 },
    { group: 'ff3e::9', port: 6000, source: '2001:db8::77' },
  ];
  for (const [what, p] of [['mixed', buildConsumeProgram([...rules, ...six])], ['IPv6 only', buildConsumeProgram(six)]] as const) {
    t.equal(run(p, frame6()), TC_ACT_SHOT, `${what}: group and port of the IPv6 rule`);
    t.equal(run(p, frame6({ dst: 'ff3e::9', dport: 6000, src: '2001:db8::77' })), TC_ACT_SHOT, `${what}: IPv6 source rule, right source`);
    const pass = (f: Buffer, why: string): void => { t.equal(run(p, f), TC_ACT_UNSPEC, `${what}: ${why}`); };
    pass(frame6({ dport: 5001 }), 'other port');
    pass(frame6({ dst: 'ff3e::1:3' }), 'other group (last word)');
    pass(frame6({ dst: 'ff3f::1:2' }), 'other group (first word)');
    pass(frame6({ dst: 'ff3e::9', dport: 6000, src: '2001:db8::78' }), 'IPv6 source rule, other source');
    pass(frame6({ next: 44 }), 'a fragment');
    pass(frame6({ next: 0 }), 'behind a hop-by-hop header: left to the stack');
    pass(frame6({ next: 6 }), 'TCP');
    pass(frame({ ethertype: 0x0806 }), 'ARP');
    t.equal(run(p, frame6({ truncateTo: 50 })), 0, `${what}: a truncated frame ends the program`);
    for (const [i, [code, jt, jf, k]] of p.entries()) {
      if (code === 0x05) t.ok(i + 1 + k < p.length, `${what}: unconditional jump at ${i} stays inside`);
      else if ((code & 0x07) === 0x05) t.ok(i + 1 + jt < p.length && i + 1 + jf < p.length, `${what}: jump at ${i} stays inside`);
    }
  }
  const mixed = buildConsumeProgram([...rules, ...six]);
  t.equal(run(mixed, frame()), TC_ACT_SHOT, 'mixed: the IPv4 rules still drop theirs');
  t.equal(run(mixed, frame({ dst: '239.2.2.2', dport: 6000, src: '10.9.9.9' })), TC_ACT_SHOT, 'mixed: IPv4 source rule');
  t.equal(run(mixed, frame({ dport: 5001 })), TC_ACT_UNSPEC, 'mixed: other IPv4 port');
  t.equal(run(buildConsumeProgram(six), frame()), TC_ACT_UNSPEC, 'IPv6 only: an IPv4 datagram is not mine');
  t.same(buildConsumeProgram(rules), program, 'IPv4 only: the program is the IPv4 one, unchanged');
  const many = Array.from({ length: 300 }, (_, i) => ({ group: `ff3e::${i.toString(16)}`, port: 5000 }));
  const big = buildConsumeProgram([...rules, ...many]);
  t.equal(run(big, frame6({ dst: 'ff3e::12b' })), TC_ACT_SHOT, 'the 300th IPv6 rule, past the reach of a conditional jump');
});
