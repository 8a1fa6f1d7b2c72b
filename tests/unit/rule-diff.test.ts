/**
 * The reload diff sees every field: the variations are generated from a
 * rule with every field set (each leaf changed, each optional field removed,
 * each absent optional field added), never listed by hand, so a field added
 * to the rule model later is covered without touching this test.
 */
import t from 'tap';
import { ruleDiff } from '../../supervisor/rule-diff.js';
import type { Rule } from '../../proto/index.js';

const FULL: Rule = {
  id: 3, name: 'cam-1', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, source: '10.0.0.1',
  outputs: [
    { group: '239.2.2.2', port: 6000, interface: 'out0', ttl: 4, source: '10.1.0.1' },
    { group: '10.2.0.20', port: 7000, interface: 'out1', ttl: 9, source: '10.2.0.1' },
  ],
};

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** Every leaf of a value with its path, in ruleDiff's notation. */
function leaves(v: Json, path = ''): Array<[string, Json]> {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, `${path}[${i}]`));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, path === '' ? k : `${path}.${k}`));
  return [[path, v]];
}

/** A copy of `v` with the value at `path` replaced (undefined deletes the key). */
function withLeaf(v: Json, path: string, value: Json | undefined): Json {
  const copy = JSON.parse(JSON.stringify(v)) as Json;
  const keys = path.match(/[^.[\]]+/g) ?? [];
  let at = copy as Record<string, Json>;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, Json>;
  const last = keys[keys.length - 1] ?? '';
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

function other(v: Json): Json {
  if (typeof v === 'number') return v + 1;
  if (typeof v === 'string') return `${v}x`;
  if (typeof v === 'boolean') return !v;
  return 'changed';
}

t.test('a rule compared with itself has no changes, whatever its id', async (t) => {
  t.same(ruleDiff(FULL, { ...FULL, id: 99 }), []);
  t.same(ruleDiff(FULL, JSON.parse(JSON.stringify(FULL)) as Rule), []);
});

t.test('every leaf changed in turn is reported, alone, with its path and both values', async (t) => {
  const all = leaves(FULL as unknown as Json).filter(([p]) => p !== 'id');
  t.ok(all.length >= 15, `${all.length} leaves generated`);
  for (const [path, value] of all) {
    const changed = withLeaf(FULL as unknown as Json, path, other(value)) as unknown as Rule;
    t.same(ruleDiff(FULL, changed), [{ field: path, before: JSON.stringify(value), after: JSON.stringify(other(value)) }], `${path} changed`);
  }
});

t.test('every optional leaf removed or added is reported', async (t) => {
  const optional = leaves(FULL as unknown as Json).filter(([p]) => /(^|\.)(name|source|ttl)$/.test(p));
  t.ok(optional.length >= 6, `${optional.length} optional leaves`);
  for (const [path, value] of optional) {
    const without = withLeaf(FULL as unknown as Json, path, undefined) as unknown as Rule;
    t.same(ruleDiff(FULL, without), [{ field: path, before: JSON.stringify(value), after: '' }], `${path} removed`);
    t.same(ruleDiff(without, FULL), [{ field: path, before: '', after: JSON.stringify(value) }], `${path} added`);
  }
});

t.test('an output added or removed is one change naming it', async (t) => {
  const one = { ...FULL, outputs: FULL.outputs.slice(0, 1) };
  const diff = ruleDiff(one, FULL);
  t.same(diff, [{ field: 'outputs[1]', before: '', after: JSON.stringify(FULL.outputs[1]) }]);
  t.same(ruleDiff(FULL, one), [{ field: 'outputs[1]', before: JSON.stringify(FULL.outputs[1]), after: '' }]);
  const swapped = { ...FULL, outputs: [FULL.outputs[1]!, FULL.outputs[0]!] };
  t.ok(ruleDiff(FULL, swapped).length > 0, 'outputs in another order are a change (the order is what stats follow)');
});
