/**
 * The consume filter's classic BPF program, run here by a small interpreter
 * of exactly the cBPF semantics the kernel applies (loads outside the frame
 * end the program with 0, jumps are relative to the next instruction), on
 * frames built byte by byte: it must drop what a rule relays and nothing
 * else. The kernel side (tc accepts it, drops happen) is proved by
 * tests/integration/mcrd-consume.test.ts.
 */
import t from 'tap';
import { buildConsumeProgram, formatBytecode, ipv4ToInt, MAX_PROGRAM_INSNS, normaliseMatches, TC_ACT_SHOT, TC_ACT_UNSPEC,
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
  t.equal(run(buildConsumeProgram([]), frame()), TC_ACT_UNSPEC, 'no rules: nothing is dropped');
  const text = formatBytecode(program);
  t.match(text, new RegExp(`^${program.length},40 0 0 12,`), 'tc bytecode: count first, then code jt jf k');
  t.equal(text.split(',').length, program.length + 1);
  const many = Array.from({ length: 900 }, (_, i) => ({ group: `239.9.${i >> 8}.${i & 255}`, port: 5000 }));
  t.ok(buildConsumeProgram(many).length > MAX_PROGRAM_INSNS, '900 rules exceed one program (input-filters refuses them)');
});
