/**
 * The rules-per-interface limit (common/rule-limits.ts) end to end
 * without a network: its numbers and what a worker is given for them, a
 * config past it refused with ENOSPC at the rule that goes over (the
 * file's own daemon.maxRulesPerInterface, or the limit the caller gives,
 * which wins), mcrd refusing to start from such a file (exit 2, one line),
 * the command stream's frame bound holding an interface at its limits
 * with every field at its longest, and the bytes of a full sync held to
 * that bound where long source lists would pass it (ENOSPC in the rule
 * table and the config, checked against protobufjs's real encoding).
 */
import t from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatConfig, parseConfig, type ConfigRule } from '../../supervisor/config/index.js';
import {
  DEFAULT_MAX_RULES_PER_INTERFACE, MAX_MAX_RULES_PER_INTERFACE, checkMaxRules, openFilesLimit, ruleBytesLimit, ruleLimits, ruleWireBytes, workerFdsNeeded,
  workerFrameBytes, workerSlots,
} from '../../common/rule-limits.js';
import { asValid } from '../../common/rule-spec.js';
import { RuleTable, RuleTableError } from '../../supervisor/rule-table.js';
import { FrameDecoder, encodeCommand, encodeFrame, encodeReply, protoRoot, type Rule } from '../../proto/index.js';
import { native } from '../../native/index.js';
import { ROOT } from '../integration/harness.js';

const MCRD = join(ROOT, 'dist', 'supervisor', 'mcrd.js');

function rule(i: number, iface = 'in0'): ConfigRule {
  return { inputInterface: iface, inputGroup: `239.1.${i >> 8}.${i & 255}`, inputPort: 5000 + i,
    outputs: [{ group: '239.2.0.1', port: 6000, interface: 'out0' }] };
}

t.test('the numbers: limits, worker slots, open files', async (t) => {
  t.equal(DEFAULT_MAX_RULES_PER_INTERFACE, 10_000);
  t.same(ruleLimits(), { maxRules: 10_000, maxOutputs: 40_000 }, 'outputs: 4 per rule on average');
  t.same(workerSlots(ruleLimits()), { ruleSlots: 20_064, outputSlots: 81_024 }, 'twice the limits (a sync holds old and new) and a margin');
  const top = workerSlots(ruleLimits(MAX_MAX_RULES_PER_INTERFACE));
  t.ok(top.ruleSlots <= 1 << 20 && top.outputSlots <= 1 << 20, 'the highest limit stays within the loop\'s 1048576 slots');
  t.equal(workerFdsNeeded(ruleLimits()), 80_064);
  t.equal(checkMaxRules(1), undefined);
  t.equal(checkMaxRules(100_000), undefined);
  for (const bad of [0, 100_001, 1.5, '10', -1]) t.equal(checkMaxRules(bad), 'expected an integer 1..100000 (rules per input interface)', `${JSON.stringify(bad)} refused`);
  t.equal(openFilesLimit('Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n'), 20_000);
  t.equal(openFilesLimit('Max open files            unlimited            unlimited            files\n'), Number.POSITIVE_INFINITY);
  t.equal(openFilesLimit('nothing here'), undefined);
  t.type(openFilesLimit(), 'number', "this process's own limit is read from /proc");
});

t.test('a config past the limit: ENOSPC at the rule that goes over', async (t) => {
  const limit = 50;
  const rules = Array.from({ length: limit + 1 }, (_, i) => rule(i));
  const text = formatConfig({ daemon: { maxRulesPerInterface: limit }, rules });
  t.throws(() => parseConfig(text, 'big.json5'), {
    code: 'ENOSPC',
    file: 'big.json5',
    path: ['rules', limit],
    message: new RegExp(`^big\\.json5:\\d+:5: rules\\[${limit}\\]: input interface in0 has ${limit + 1} rules up to here, one too many: the limit per input interface is ${limit} rules and ${4 * limit} outputs .*daemon\\.maxRulesPerInterface`),
  }, "the file's own limit applies");
  t.equal(parseConfig(text, 'big.json5', { maxRulesPerInterface: limit + 1 }).rules.length, limit + 1, "a limit given by the caller (mcrd's command line, a running mcrd) wins");
  t.throws(() => parseConfig(formatConfig({ daemon: {}, rules }), 'x.json5', { maxRulesPerInterface: limit }), { code: 'ENOSPC' });
  const spread = [...rules.slice(0, limit), rule(limit, 'in1')];
  t.equal(parseConfig(formatConfig({ daemon: { maxRulesPerInterface: limit }, rules: spread }), 'x.json5').rules.length, limit + 1,
    'the limit is per input interface');
  const wide = Array.from({ length: 3 }, (_, i) => ({ ...rule(i), outputs: Array.from({ length: 5 }, (_, k) => ({ group: `239.3.0.${k + 1}`, port: 6000, interface: 'out0' })) }));
  t.throws(() => parseConfig(formatConfig({ daemon: { maxRulesPerInterface: 3 }, rules: wide }), 'w.json5'), {
    code: 'ENOSPC', path: ['rules', 2], message: /rules\[2\]: input interface in0 has 15 outputs up to here, over the limit: the limit per input interface is 3 rules and 12 outputs/,
  }, 'outputs past 4 per rule on average');
  t.throws(() => parseConfig('{ daemon: { maxRulesPerInterface: 0 } }', 'z.json5'), {
    code: 'ERR_MCR_CONFIG', message: 'z.json5:1:13: daemon.maxRulesPerInterface: expected an integer 1..100000 (rules per input interface), got 0',
  });
  t.same(parseConfig('{ daemon: { maxRulesPerInterface: 20000 } }', 'y.json5').daemon, { maxRulesPerInterface: 20_000 });
});

t.test('mcrd refuses to start from a file past the limit, and a bad --max-rules-per-interface', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-limits-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'over.json5');
  writeFileSync(file, formatConfig({ daemon: { maxRulesPerInterface: 2 }, rules: [rule(0), rule(1), rule(2)] }));
  const run = (args: string[]) => execa(process.execPath, [MCRD, ...args], { reject: false, timeout: 20_000 });
  const over = await run(['--config', file, '--control-socket', join(dir, 's')]);
  t.equal(over.exitCode, 2, 'exit 2');
  t.match(over.stderr.trim(), /^mcrd: ENOSPC: .*over\.json5:\d+:\d+: rules\[2\]: input interface in0 has 3 rules up to here, one too many: .*daemon\.maxRulesPerInterface/);
  t.equal(over.stderr.trim().split('\n').length, 1, 'one line');
  const bad = await run(['--max-rules-per-interface', '0']);
  t.equal(bad.exitCode, 2);
  t.match(bad.stderr, /--max-rules-per-interface.*expected an integer 1\.\.100000/);
});

t.test('the command stream carries an interface at its limits, every field at its longest', async (t) => {
  const limits = ruleLimits();
  const slots = workerSlots(limits);
  const max = workerFrameBytes(slots);
  const ip = (i: number, k: number): string => `239.${100 + k}.${(i >> 8) & 255}.${i & 255}`;
  const rules: Rule[] = Array.from({ length: limits.maxRules }, (_, i) => ({
    id: 4_000_000_000 - i, name: `${'n'.repeat(58)}${String(i).padStart(6, '0')}`, inputInterface: 'eeeeeeeeeeeeeee',
    inputGroup: ip(i, 0), inputPort: 65_535, source: '255.255.255.254',
    outputs: Array.from({ length: limits.maxOutputs / limits.maxRules }, (_, k) => ({ group: ip(i, k + 1), port: 65_535, interface: 'ooooooooooooooo', ttl: 255, source: '255.255.255.253' })),
  }));
  const sync = encodeFrame(encodeCommand({ seq: 1, body: { kind: 'syncRules', generation: 2 ** 40, hash: new Uint8Array(32), rules } }));
  t.ok(sync.length <= max, `SyncRules of ${limits.maxRules} rules and ${limits.maxOutputs} outputs: ${sync.length} bytes, within the ${max}-byte frame bound`);
  const big = 2 ** 50;
  // Every errno column an output has (native/core/counters.h), each non-zero: the most a stats reply carries.
  const everyErrno = Object.fromEntries(native.counterLayout().output.filter((n) => n.startsWith('err_'))
    .map((n) => [n === 'err_other' ? 'other' : n.slice(4).toUpperCase(), big]));
  const stats = encodeFrame(encodeReply({ seq: 1, generation: 2 ** 40, hash: new Uint8Array(32), refused: [],
    stats: { received: big, kernelDrops: big, malformed: big, unmatched: big, loop: {},
      rules: rules.map((r) => ({ ruleId: r.id, packets: big, bytes: big, errors: big,
        outputs: r.outputs.map(() => ({ packets: big, bytes: big, errors: big, errorsByErrno: everyErrno })) })) } }));
  t.ok(stats.length <= max, `the counters of all of them: ${stats.length} bytes, within the bound`);
  t.ok(sync.length > 1024 * 1024, 'both are over the 1 MiB default frame that applied before');
});

/** `n` distinct IPv6 source addresses, comma-separated, for rule number `i`. */
const v6Sources = (i: number, n: number): string =>
  Array.from({ length: n }, (_, k) => `2001:db8:${(i & 0xffff).toString(16)}:${k.toString(16)}:1111:2222:3333:${(k + 1).toString(16)}`).join(',');

/** A SyncRules command's bytes for these rules (no frame prefix). */
const syncBytes = (rules: Rule[]): number =>
  encodeCommand({ seq: 4_000_000_000, body: { kind: 'syncRules', generation: 2 ** 40, hash: new Uint8Array(32), rules } }).length;

t.test('ruleWireBytes bounds what a rule adds to a SyncRules, as protobufjs encodes it', async (t) => {
  const out = (k: number, v6: boolean, source?: string) => ({ group: v6 ? `ff3e::9:${k + 1}` : `239.9.0.${k + 1}`, port: 65_535,
    interface: 'ooooooooooooooo', ttl: 255, ...(source !== undefined ? { source } : {}) });
  const cases: Array<[string, Rule]> = [
    ['a bare IPv4 rule', { id: 1, inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [out(0, false)] }],
    ['every field at its longest, IPv4', { id: 4_294_967_295, name: 'n'.repeat(64), inputInterface: 'eeeeeeeeeeeeeee', inputGroup: '239.255.255.255',
      inputPort: 65_535, source: '10.0.0.0/8', excludeSources: '10.1.0.0/16', joinGroups: '239.255.255.1,239.255.255.2', signalTimeoutMs: 3_600_000,
      monitor: 'rtp+mpegts', outputs: Array.from({ length: 64 }, (_, k) => out(k, false, '192.168.100.200')) }],
    ['40 IPv6 sources and IPv6 outputs with a source', { id: 70_000, name: 'ssm', inputInterface: 'in0', inputGroup: 'ff3e::1:1', inputPort: 5000,
      source: v6Sources(1, 40), excludeSources: v6Sources(2, 3), outputs: Array.from({ length: 8 }, (_, k) => out(k, true, 'fd00:1111:2222:3333:4444:5555:6666:7777')) }],
    ['a name of two-byte characters', { id: 2, name: 'é'.repeat(32), inputInterface: 'in0', inputGroup: '239.1.1.2', inputPort: 0, outputs: [] }],
  ];
  const empty = syncBytes([]);
  const RuleType = protoRoot().lookupType('mcr.Rule');
  for (const [what, rule] of cases) {
    // As an element of SyncRules.rules: its tag, its length's varint, its bytes.
    const own = RuleType.encode(rule).finish().length;
    const actual = 1 + (own < 0x80 ? 1 : own < 0x4000 ? 2 : 3) + own;
    const bound = ruleWireBytes(rule);
    t.ok(bound >= actual, `${what}: bound ${bound} >= the ${actual} bytes it adds`);
    // Close enough to plan with: a few bytes per field, not a multiple.
    t.ok(bound <= actual * 1.1 + 64, `${what}: bound ${bound} within 10 % + 64 of ${actual}`);
  }
  const two = [cases[1]?.[1], cases[2]?.[1]].filter((r): r is Rule => r !== undefined);
  // The SyncRules body's own length grows by a byte or two with them: the frame's 1024 bytes besides its rules cover it.
  t.ok(two.reduce((sum, r) => sum + ruleWireBytes(r), 0) + 2 >= syncBytes(two) - empty, 'and the bounds add up over several rules');
});

t.test('the rule table refuses (ENOSPC) a rule whose bytes would take a full sync past the worker\'s frame', async (t) => {
  const limits = ruleLimits();
  const table = new RuleTable(limits);
  const max = workerFrameBytes(workerSlots(limits));
  // 300 IPv6 sources (about 13 kB) per rule: the frame fills long before 10 000 rules.
  const big = (i: number) => asValid({ inputInterface: 'in0', inputGroup: `ff3e::1:${(i + 1).toString(16)}`, inputPort: 5000, source: v6Sources(i, 300),
    outputs: [{ group: 'ff3e::2:1', port: 6000, interface: 'out0' }] });
  let refused: unknown;
  let i = 0;
  for (; i < limits.maxRules; i++) {
    try {
      table.add(big(i));
    } catch (err) {
      refused = err;
      break;
    }
  }
  t.ok(refused instanceof RuleTableError, `refused at rule ${i + 1}, before the ${limits.maxRules}-rule limit`);
  t.match(refused, { code: 'ENOSPC', message: new RegExp(`^input interface in0's rules take up to \\d+ bytes on its workers' command stream and this rule \\d+ more: ` +
    `a worker takes at most ${ruleBytesLimit(limits)} bytes of rules per input interface in one command \\(a full sync\\); shorten long source or excludeSources lists .*daemon\\.maxRulesPerInterface`) });
  const held = table.forInterface('in0');
  t.equal(held.length, i, 'the rules before it are held');
  const frame = encodeFrame(encodeCommand({ seq: 1, body: { kind: 'syncRules', generation: 2 ** 40, hash: new Uint8Array(32), rules: held } }));
  t.ok(frame.length <= max, `their full sync, ${frame.length} bytes, fits the worker's ${max}-byte frame`);
  t.ok(frame.length >= 0.95 * max, 'and fills at least 95 % of it: the bound refuses late, not early');
  t.equal(new FrameDecoder({ maxFrameBytes: max }).push(frame).length, 1, "the worker's decoder takes it");
  t.equal(table.add(asValid({ inputInterface: 'in1', inputGroup: 'ff3e::1:1', inputPort: 5000, source: v6Sources(0, 300), outputs: [] })).id > 0, true,
    'the bound is per input interface');
  table.remove(held[0]?.id ?? -1);
  t.ok(table.add(big(i)).id > 0, "a removal gives its bytes back: the refused rule fits now");
});

t.test('a config whose rules would not fit a full sync: ENOSPC at the rule that goes over', async (t) => {
  const limit = 100;
  // The 1 MiB frame of a small limit: 100 rules of 400 IPv6 sources (about 13 kB each) pass it.
  const rules: ConfigRule[] = Array.from({ length: limit }, (_, i) => ({ inputInterface: 'in0', inputGroup: `ff3e::1:${(i + 1).toString(16)}`,
    inputPort: 5000, source: v6Sources(i, 400), outputs: [{ group: 'ff3e::2:1', port: 6000, interface: 'out0' }] }));
  const text = formatConfig({ daemon: { maxRulesPerInterface: limit }, rules });
  let err: { path?: unknown[] } | undefined;
  try {
    parseConfig(text, 'wide.json5');
  } catch (e) {
    err = e as { path?: unknown[] };
  }
  t.match(err, {
    code: 'ENOSPC',
    message: new RegExp(`^wide\\.json5:\\d+:5: rules\\[\\d+\\]: input interface in0's rules up to here take up to \\d+ bytes on its workers' command stream, over the bound: ` +
      `a worker takes at most ${ruleBytesLimit(ruleLimits(limit))} bytes`),
  });
  const at = Number(err?.path?.[1]);
  t.ok(at > 0 && at < limit, `refused at rule ${at}, inside the rule limit`);
  const fits = rules.slice(0, at).map((r) => ruleWireBytes(r)).reduce((a, b) => a + b, 0);
  t.ok(fits <= ruleBytesLimit(ruleLimits(limit)) && fits + ruleWireBytes(rules[at] as ConfigRule) > ruleBytesLimit(ruleLimits(limit)), 'the first rule past the bound, as the rule table counts');
  t.equal(parseConfig(formatConfig({ daemon: { maxRulesPerInterface: limit }, rules: rules.slice(0, at) }), 'ok.json5').rules.length, at, 'the rules before it load');
});
