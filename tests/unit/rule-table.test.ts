/**
 * The supervisor's rule table: its indexes answer like the scans they
 * replaced (id order, per interface, by name, multicast input groups with
 * use counts), each interface's hash follows its own rules and only them
 * (the same rules under the same ids hash the same whatever the history;
 * any change of a rule, an id or the set changes it; a removal gives back
 * the earlier hash), an interface is held to its limits with ENOSPC, and a
 * change at 10 000 rules costs about what it does at 10.
 */
import t from 'tap';
import { RuleTable, checkRule } from '../../supervisor/rule-table.js';
import type { ValidRule } from '../../common/rule-spec.js';
import { ruleLimits } from '../../common/rule-limits.js';
import type { RuleInput } from '../../proto/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A rule as a control request would bring it, validated as mcrd does where it enters. */
function rule(i: number, over: Partial<RuleInput> = {}): ValidRule {
  return checkRule({ inputInterface: 'in0', inputGroup: `239.1.${i >> 8}.${i & 255}`, inputPort: 5000 + (i % 50_000),
    outputs: [{ group: `239.2.${i >> 8}.${i & 255}`, port: 6000, interface: 'out0' }], ...over });
}

t.test('indexes: ids in order, per interface, by name, groups with use counts', async (t) => {
  const table = new RuleTable();
  const a = table.add(rule(1, { name: 'a' }));
  const b = table.add(rule(2, { inputInterface: 'in1' }));
  const c = table.add(rule(3, { inputGroup: '239.1.0.1', inputPort: 7000 }));
  const d = table.add(rule(4, { inputGroup: '10.0.0.9' }));
  t.same(table.list().map((r) => r.id), [a.id, b.id, c.id, d.id], 'list: by increasing id');
  t.same(table.forInterface('in0').map((r) => r.id), [a.id, c.id, d.id], 'forInterface: that interface only, by id');
  t.same(table.interfaces(), ['in0', 'in1']);
  t.equal(table.byName('a'), a);
  t.equal(table.count('in0'), 3);
  t.equal(table.outputCount('in0'), 3);
  t.same([...(table.inputGroups().get('in0')?.keys() ?? [])].sort(), ['239.1.0.1'], 'one group for two rules; a unicast input needs none');
  table.remove(a.id);
  t.same([...(table.inputGroups().get('in0')?.keys() ?? [])], ['239.1.0.1'], 'still used by the other rule');
  table.remove(c.id);
  t.equal(table.inputGroups().has('in0'), false, 'no multicast group left on in0');
  t.equal(table.byName('a'), undefined, 'the name is free again');
  t.same(table.add(rule(1, { name: 'a' })).name, 'a');
  table.remove(b.id);
  t.same(table.interfaces(), ['in0'], 'an interface without rules is gone');
  t.same(table.forInterface('in1'), []);
  t.throws(() => table.add(rule(4, { inputGroup: '10.0.0.9' })), { code: 'EEXIST' }, 'same match refused');
  t.throws(() => table.add(rule(9, { name: 'a' })), { code: 'EEXIST' }, 'same name refused');
  t.throws(() => table.remove(999), { code: 'ENOENT' });
});

t.test('hash: follows the interface rules (ids included), not their history', async (t) => {
  const one = new RuleTable();
  const two = new RuleTable();
  const empty = hex(one.hashFor('in0'));
  // Same ids and contents reached by different paths.
  one.add(rule(1)); one.add(rule(2)); one.add(rule(3)); one.remove(2);
  two.add(rule(1)); two.add(rule(7, { name: 'x' })); two.add(rule(3));
  two.remove(2);
  t.equal(hex(one.hashFor('in0')), hex(two.hashFor('in0')), 'equal rules under equal ids hash equally');
  const before = hex(one.hashFor('in0'));
  const other = hex(one.hashFor('in1'));
  const added = one.add(rule(4));
  t.not(hex(one.hashFor('in0')), before, 'an add changes the hash');
  one.remove(added.id);
  t.equal(hex(one.hashFor('in0')), before, 'removing it gives the earlier hash back');
  one.add(rule(5, { inputInterface: 'in1' }));
  t.equal(hex(one.hashFor('in0')), before, 'a change on another interface leaves this hash alone');
  t.not(hex(one.hashFor('in1')), other);
  // Same content under another id: another table to a worker.
  const three = new RuleTable();
  three.add(rule(1)); three.add(rule(3));
  t.not(hex(three.hashFor('in0')), hex(two.hashFor('in0')), 'the same rules under other ids hash differently');
  // One field different.
  const four = new RuleTable();
  const five = new RuleTable();
  four.add(rule(1));
  five.add(rule(1, { outputs: [{ group: '239.2.0.1', port: 6000, interface: 'out0', ttl: 3 }] }));
  t.not(hex(four.hashFor('in0')), hex(five.hashFor('in0')), 'a changed output changes the hash');
  t.equal(hex(new RuleTable().hashFor('in0')), empty, 'no rules: always the same hash');
  t.equal(one.hashFor('in0').length, 32);
});

t.test('limits: ENOSPC past the rules or outputs of one interface, with the number and how to raise it', async (t) => {
  const table = new RuleTable(ruleLimits(3));
  t.same(table.limits, { maxRules: 3, maxOutputs: 12 });
  const ids = [0, 1, 2].map((i) => table.add(rule(i)).id);
  t.throws(() => table.add(rule(3)), {
    code: 'ENOSPC',
    message: /^input interface in0 has 3 rules already: the limit per input interface is 3 rules and 12 outputs .*raise daemon\.maxRulesPerInterface \(mcrd --max-rules-per-interface, up to 100000; it takes effect when mcrd starts\)$/,
  }, 'the fourth rule of in0 is refused');
  t.equal(table.count('in0'), 3, 'nothing changed');
  t.ok(table.add(rule(3, { inputInterface: 'in1' })), 'another interface has its own limit');
  table.remove(ids[0] ?? 0);
  t.ok(table.add(rule(3)), 'after a removal there is room again');

  const outputs = new RuleTable(ruleLimits(2));
  const eight = (i: number): ValidRule => rule(i, { outputs: Array.from({ length: 5 }, (_, k) => ({ group: `239.3.0.${k + 1}`, port: 6000 + i, interface: 'out0' })) });
  outputs.add(eight(0));
  t.throws(() => outputs.add(eight(1)), { code: 'ENOSPC', message: /^input interface in0 has 5 outputs already and this rule has 5: the limit per input interface is 2 rules and 8 outputs/ },
    'outputs past 4 per rule on average are refused');
  t.ok(outputs.add(rule(1)), 'a rule that fits is taken');
});

t.test('a change at 10 000 rules costs about what it does at 10', async (t) => {
  // Compared with the same work at a smaller size in the same run, never
  // with the clock: a loaded machine slows both alike.
  const fill = (n: number): { table: RuleTable; ms: number } => {
    const table = new RuleTable(ruleLimits(20_000));
    const start = performance.now();
    for (let i = 0; i < n; i++) table.add(rule(i));
    return { table, ms: performance.now() - start };
  };
  const small = fill(10);
  const thousand = fill(1000);
  const { table, ms: fillMs } = fill(10_000);
  // What mcrd does for one add: the table change, the hash (sent and checked), the interface's groups.
  const change = (tbl: RuleTable, i: number): number => {
    const start = performance.now();
    const r = tbl.add(rule(20_000 + i));
    tbl.hashFor('in0');
    tbl.inputGroups();
    tbl.byName('nope');
    tbl.remove(r.id);
    tbl.hashFor('in0');
    return performance.now() - start;
  };
  const large: number[] = [];
  const few: number[] = [];
  // Interleaved, so that any load falls on both series.
  for (let i = 0; i < 200; i++) {
    large.push(change(table, i));
    few.push(change(small.table, i));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
  const ratio = median(large) / median(few);
  t.comment(`1 000 rules added in ${thousand.ms.toFixed(1)} ms, 10 000 in ${fillMs.toFixed(0)} ms; an add and a remove with their hashes: ` +
    `median ${median(large).toFixed(3)} ms at 10 000 rules, ${median(few).toFixed(3)} ms at 10`);
  // Measured about 0.05 ms against about 0.02 (before the indexes: about
  // 30 ms at 10 000, the list sorted and the interface hashed whole each time).
  t.ok(ratio < 20, `an add and a remove at 10 000 rules cost under 20 times what they cost at 10 (${ratio.toFixed(1)} times)`);
  // Linear filling gives 10 times; the quadratic one before the indexes 100 times (0.2 s against about 4 s).
  t.ok(fillMs < 40 * Math.max(thousand.ms, 1), `10 000 adds take under 40 times 1 000 adds (${(fillMs / thousand.ms).toFixed(1)} times)`);
  t.equal(table.list().length, 10_000);
});


t.test('overlaps the precedence cannot order are refused naming the other rule; others are not', async (t) => {
  const table = new RuleTable();
  const base = { inputInterface: 'in0', outputs: [{ group: '=', port: 0, interface: 'out0' }] };
  const wide = table.add(checkRule({ ...base, name: 'wide', inputGroup: '239.1.0.0/16', inputPort: 0, source: '10.1.0.0/16' }));
  t.throws(() => table.add(checkRule({ ...base, inputGroup: '239.1.0.0/16', inputPort: 0, source: '192.0.2.0/24,10.1.0.0/16' })),
    { code: 'EEXIST', message: new RegExp(`rule ${wide.id} \\(wide\\) overlaps this rule on in0 at the same precedence \\(source 10\\.1\\.0\\.0/16, group 239\\.1\\.0\\.0/16, port any\\).*make one more specific`) });
  const exact = table.add(checkRule({ ...base, inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 1, interface: 'o' }] }));
  t.throws(() => table.add(checkRule({ ...base, inputGroup: '239.1.1.1', inputPort: 5000, excludeSources: '10.0.0.1' })),
    { code: 'EEXIST', message: new RegExp(`rule ${exact.id} already matches 239\\.1\\.1\\.1:5000 on in0`) }, 'an exclusion is no precedence');
  table.add(checkRule({ ...base, inputGroup: '239.1.0.0/16', inputPort: 5000, source: '10.1.0.0/16' }));
  table.add(checkRule({ ...base, inputGroup: '239.1.1.0/24', inputPort: 0, source: '10.1.0.0/16' }));
  table.add(checkRule({ ...base, inputGroup: '239.1.0.0/16', inputPort: 0, source: '10.1.0.0/17' }));
  t.equal(table.list().length, 5, 'a longer group, a port, a longer source each order the rules');
  table.remove(wide.id);
  table.add(checkRule({ ...base, inputGroup: '239.1.0.0/16', inputPort: 0, source: '192.0.2.0/24,10.1.0.0/16' }));
  t.equal(table.list().length, 5, 'removal frees every key of the rule');
});
