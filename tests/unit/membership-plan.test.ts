/**
 * Membership planning, pure: the rules' wanted memberships per interface
 * ((*,G) wins over sources on the same group; several sources make one
 * INCLUDE set; unicast inputs want none), the rule table's incremental
 * WantedGroups agrees with it through any sequence of adds and removes and
 * bumps its version only when a want changed, and planMemberships orders
 * its operations so that no wanted traffic is ever left uncovered: drops
 * of unwanted groups first, then per group the joins, then the leaves,
 * with a mode change's leave marked to wait for the joins.
 */
import t from 'tap';
import { planMemberships, ssmSourceWarning, wantedMemberships, type GroupHeld, type GroupWant } from '../../supervisor/net/membership-plan.js';
import { membershipUses } from '../../common/rule-groups.js';
import { isSsmGroup } from '../../common/address-prefix.js';
import { RuleTable, checkRule } from '../../supervisor/rule-table.js';

const plain = (m: ReadonlyMap<string, GroupWant>): Record<string, string | string[]> =>
  Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([g, w]) => [g, w === 'any' ? 'any' : [...w].sort()]));

const held = (entries: Record<string, { any?: boolean; sources?: string[] }>): Map<string, GroupHeld> =>
  new Map(Object.entries(entries).map(([g, h]) => [g, { any: h.any ?? false, sources: new Set(h.sources ?? []) }]));

const wants = (entries: Record<string, 'any' | string[]>): Map<string, GroupWant> =>
  new Map(Object.entries(entries).map(([g, w]) => [g, w === 'any' ? 'any' : new Set(w)]));

t.test('wantedMemberships: any-source wins, sources gather, unicast wants nothing', async (t) => {
  const got = wantedMemberships([
    { inputInterface: 'in0', inputGroup: '232.1.1.1', source: '10.0.0.1' },
    { inputInterface: 'in0', inputGroup: '232.1.1.1', source: '10.0.0.2' },
    { inputInterface: 'in0', inputGroup: '232.1.1.1', source: '10.0.0.1' },
    { inputInterface: 'in0', inputGroup: '239.1.1.1', source: '10.0.0.1' },
    { inputInterface: 'in0', inputGroup: '239.1.1.1' },
    { inputInterface: 'in0', inputGroup: '239.1.1.2' },
    { inputInterface: 'in0', inputGroup: '10.0.0.5', source: '10.0.0.1' },
    { inputInterface: 'in1', inputGroup: '232.1.1.1', source: '10.0.0.3' },
  ]);
  t.same([...got.keys()], ['in0', 'in1']);
  t.same(plain(got.get('in0') ?? new Map()), { '232.1.1.1': ['10.0.0.1', '10.0.0.2'], '239.1.1.1': 'any', '239.1.1.2': 'any' });
  t.same(plain(got.get('in1') ?? new Map()), { '232.1.1.1': ['10.0.0.3'] });
});

t.test('membershipUses: source lists join each source, a prefix source is (*,G), a group prefix joins its joinGroups', async (t) => {
  t.same(membershipUses({ inputGroup: '232.1.1.1', source: '10.0.0.1,10.0.0.2' }), [['232.1.1.1', '10.0.0.1'], ['232.1.1.1', '10.0.0.2']]);
  t.same(membershipUses({ inputGroup: '232.1.1.1', source: '10.0.0.1,10.1.0.0/16' }), [['232.1.1.1', undefined]]);
  t.same(membershipUses({ inputGroup: '239.1.0.0/16' }), [], 'a range cannot be joined');
  t.same(membershipUses({ inputGroup: '239.1.0.0/16', joinGroups: '239.1.0.1,239.1.0.2', source: '10.0.0.9' }),
    [['239.1.0.1', '10.0.0.9'], ['239.1.0.2', '10.0.0.9']]);
  t.same(membershipUses({ inputGroup: '10.0.0.0/8' }), []);
  const got = wantedMemberships([{ inputInterface: 'in0', inputGroup: 'ff1e::/96', joinGroups: 'ff1e::1' }, { inputInterface: 'in0', inputGroup: 'ff1e::1', source: '2001:db8::1' }]);
  t.same(plain(got.get('in0') ?? new Map()), { 'ff1e::1': 'any' });
});

t.test('an SSM group (232/8, ff3x::/32) with source rules is joined INCLUDE even beside rules without a source', async (t) => {
  const got = wantedMemberships([
    { inputInterface: 'in0', inputGroup: '232.1.1.1', source: '10.0.0.1' },
    { inputInterface: 'in0', inputGroup: '232.1.1.1' },
    { inputInterface: 'in0', inputGroup: '232.1.1.2' },
    { inputInterface: 'in0', inputGroup: '233.1.1.1', source: '10.0.0.1' },
    { inputInterface: 'in0', inputGroup: '233.1.1.1' },
    { inputInterface: 'in0', inputGroup: 'ff3e::1:2', source: '2001:db8::1' },
    { inputInterface: 'in0', inputGroup: 'ff3e::1:2' },
    { inputInterface: 'in0', inputGroup: 'ff3e:30:2001:db8::1', source: '2001:db8::1' },
    { inputInterface: 'in0', inputGroup: 'ff3e:30:2001:db8::1' },
  ]);
  t.same(plain(got.get('in0') ?? new Map()), {
    '232.1.1.1': ['10.0.0.1'], '232.1.1.2': 'any', '233.1.1.1': 'any',
    'ff3e::1:2': ['2001:db8::1'], 'ff3e:30:2001:db8::1': 'any',
  }, 'INCLUDE in 232/8 and ff3x::/32 (an SSM network ignores (*,G)); (*,G) elsewhere, and where no rule has a source');
  t.ok(isSsmGroup('232.255.0.1') && isSsmGroup('ff35::8000:1') && !isSsmGroup('231.1.1.1') && !isSsmGroup('ff3e:30:2001:db8::1') && !isSsmGroup('ff1e::1'),
    'the ranges of RFC 4607');
  t.match(ssmSourceWarning({ inputInterface: 'in0', inputGroup: '232.1.1.1' }), /^232\.1\.1\.1 is a source-specific multicast group .*names no source/);
  t.match(ssmSourceWarning({ inputInterface: 'in0', inputGroup: 'ff3e::1', source: '2001:db8::/64' }), /^ff3e::1 is .*names a source prefix, which cannot be joined/);
  t.match(ssmSourceWarning({ inputInterface: 'in0', inputGroup: '232.1.0.0/16', joinGroups: '232.1.0.1,232.1.0.2' }),
    /^232\.1\.0\.1, 232\.1\.0\.2 are source-specific multicast groups/);
  t.equal(ssmSourceWarning({ inputInterface: 'in0', inputGroup: '232.1.1.1', source: '10.0.0.1' }), undefined, 'sources named: nothing to say');
  t.equal(ssmSourceWarning({ inputInterface: 'in0', inputGroup: '239.1.1.1' }), undefined, 'not an SSM group');
});

t.test('the rule table keeps WantedGroups equal to wantedMemberships, versioned by want changes', async (t) => {
  const table = new RuleTable();
  const sources = [undefined, '10.0.0.1', '10.0.0.2', '10.0.0.3'];
  const groups = ['232.1.1.1', '239.1.1.2', '10.9.9.9'];
  // A fixed pseudo-random walk (LCG), so a failure reproduces.
  let seed = 12345;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const ids: number[] = [];
  let port = 5000;
  for (let step = 0; step < 400; step++) {
    if (ids.length > 0 && next(3) === 0) {
      const [id] = ids.splice(next(ids.length), 1);
      table.remove(id ?? -1);
    } else {
      const source = sources[next(sources.length)];
      ids.push(table.add(checkRule({ inputInterface: 'in0', inputGroup: groups[next(groups.length)] ?? '', inputPort: port++,
        outputs: [{ group: '239.9.9.9', port: 6000, interface: 'out0' }], ...(source === undefined ? {} : { source }) })).id);
    }
    const live = table.inputGroups().get('in0') ?? new Map<string, GroupWant>();
    const reference = wantedMemberships(table.list()).get('in0') ?? new Map<string, GroupWant>();
    if (JSON.stringify(plain(live)) !== JSON.stringify(plain(reference))) {
      t.fail(`step ${step}: ${JSON.stringify(plain(live))} != ${JSON.stringify(plain(reference))}`);
      return;
    }
  }
  t.pass('400 random adds and removes: equal at every step');

  const fresh = new RuleTable();
  const r = (over: Record<string, unknown>) => checkRule({ inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: port++,
    outputs: [{ group: '239.9.9.9', port: 6000, interface: 'out0' }], ...over });
  const any = fresh.add(r({}));
  const w = fresh.inputGroups().get('in0') as ReadonlyMap<string, GroupWant> & { version: number };
  const v0 = w.version;
  const s1 = fresh.add(r({ source: '10.0.0.1' }));
  t.equal(w.version, v0, 'a source under (*,G) changes no want: same version');
  fresh.remove(any.id);
  t.not(w.version, v0, '(*,G) -> INCLUDE is a change');
  t.same(plain(w), { '239.1.1.1': ['10.0.0.1'] });
  const v1 = w.version;
  const s1b = fresh.add(r({ source: '10.0.0.1' }));
  t.equal(w.version, v1, 'a second rule with the same source changes no want');
  fresh.add(r({ source: '10.0.0.2' }));
  t.not(w.version, v1, 'a new source is a change');
  fresh.remove(s1.id);
  fresh.remove(s1b.id);
  t.same(plain(w), { '239.1.1.1': ['10.0.0.2'] }, 'a source goes with its last rule');

  // In an SSM range a source rule's arrival beside (*,G) is a change: INCLUDE it is.
  const ssm = new RuleTable();
  const q = (over: Record<string, unknown>) => checkRule({ inputInterface: 'in0', inputGroup: '232.1.1.1', inputPort: port++,
    outputs: [{ group: '239.9.9.9', port: 6000, interface: 'out0' }], ...over });
  const anySsm = ssm.add(q({}));
  const ws = ssm.inputGroups().get('in0') as ReadonlyMap<string, GroupWant> & { version: number };
  const vs = ws.version;
  ssm.add(q({ source: '10.0.0.1' }));
  t.not(ws.version, vs, 'SSM: a source beside (*,G) is a change');
  t.same(plain(ws), { '232.1.1.1': ['10.0.0.1'] }, 'to INCLUDE');
  const vs1 = ws.version;
  ssm.remove(anySsm.id);
  t.equal(ws.version, vs1, 'SSM: the rule without a source going changes no want');
});

t.test('planMemberships: joins, leaves and drops in an order that never uncovers wanted traffic', async (t) => {
  t.same(planMemberships(new Map(), wants({ '239.1.1.1': 'any', '232.1.1.1': ['10.0.0.1', '10.0.0.2'] })), [
    { kind: 'join', group: '239.1.1.1', source: null },
    { kind: 'join', group: '232.1.1.1', source: '10.0.0.1' },
    { kind: 'join', group: '232.1.1.1', source: '10.0.0.2' },
  ], 'from nothing: (*,G) and one join per source');

  t.same(planMemberships(held({ '239.1.1.1': { any: true }, '232.1.1.1': { sources: ['10.0.0.1'] } }),
    wants({ '239.1.1.1': 'any', '232.1.1.1': ['10.0.0.1'] })), [], 'nothing to do when held is wanted');

  t.same(planMemberships(held({ '232.1.1.1': { any: true } }), wants({ '232.1.1.1': ['10.0.0.1', '10.0.0.2'] })), [
    { kind: 'join', group: '232.1.1.1', source: '10.0.0.1' },
    { kind: 'join', group: '232.1.1.1', source: '10.0.0.2' },
    { kind: 'leave', group: '232.1.1.1', source: null, afterJoins: true },
  ], '(*,G) -> INCLUDE: the sources first, then (*,G), only if they joined');

  t.same(planMemberships(held({ '232.1.1.1': { sources: ['10.0.0.1', '10.0.0.2'] } }), wants({ '232.1.1.1': 'any' })), [
    { kind: 'join', group: '232.1.1.1', source: null },
    { kind: 'leaveSources', group: '232.1.1.1', afterJoins: true },
  ], 'INCLUDE -> (*,G): (*,G) first, then the sources, only if it joined');

  t.same(planMemberships(held({ '232.1.1.1': { sources: ['10.0.0.1', '10.0.0.2'] } }), wants({ '232.1.1.1': ['10.0.0.2', '10.0.0.3'] })), [
    { kind: 'join', group: '232.1.1.1', source: '10.0.0.3' },
    { kind: 'leave', group: '232.1.1.1', source: '10.0.0.1', afterJoins: false },
  ], 'INCLUDE set changes: the new source joins before the old one leaves (it need not wait: no rule wants it)');

  t.same(planMemberships(held({ '239.1.1.9': { any: true }, '232.1.1.1': { any: true, sources: ['10.0.0.1'] } }),
    wants({ '239.1.1.1': 'any', '232.1.1.1': ['10.0.0.1'] })), [
    { kind: 'drop', group: '239.1.1.9' },
    { kind: 'join', group: '239.1.1.1', source: null },
    { kind: 'leave', group: '232.1.1.1', source: null, afterJoins: true },
  ], 'unwanted groups dropped first; an interrupted transition (both held) is finished');
});
