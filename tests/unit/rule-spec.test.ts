/**
 * Rule validation and the compact output list of the CLI.
 */
import t from 'tap';
import { parseOutputList, toNativeRule, validateRule } from '../../worker/rule-spec.js';

t.test('parseOutputList reads G:P:IF[:TTL] lists', async (t) => {
  t.same(parseOutputList('239.2.2.2:6000:out0'), [{ group: '239.2.2.2', port: 6000, interface: 'out0' }]);
  t.same(parseOutputList('239.2.2.2:6000:out0:4,10.0.0.9:7000:eth1'), [
    { group: '239.2.2.2', port: 6000, interface: 'out0', ttl: 4 },
    { group: '10.0.0.9', port: 7000, interface: 'eth1' },
  ]);
  for (const bad of ['', '239.2.2.2:6000', '239.2.2.2:70000:out0', 'x:1:out0', '239.2.2.2:1:out0:0', '1.2.3.4:1:if:2:3']) {
    t.throws(() => parseOutputList(bad), { code: 'ERR_MCR_BAD_RULE' }, `rejects "${bad}"`);
  }
});

t.test('validateRule checks every field and names it', async (t) => {
  const good = { inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'o' }] };
  t.same(validateRule(good), good);
  t.same(validateRule({ ...good, source: '10.0.0.1', name: 'n' }).source, '10.0.0.1');
  const cases: Array<[unknown, RegExp]> = [
    [{ ...good, inputGroup: '239.1.1' }, /rule\.inputGroup/],
    [{ ...good, inputPort: 0 }, /rule\.inputPort: expected an integer 1\.\.65535/],
    [{ ...good, outputs: [] }, /rule\.outputs: expected at least one output/],
    [{ ...good, extra: 1 }, /unknown field "extra"/],
    [{ ...good, outputs: [{ group: '239.2.2.2', port: 6000 }] }, /outputs\[0\]\.interface/],
    [{ ...good, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'o', ttl: 300 }] }, /outputs\[0\]\.ttl/],
    [{ ...good, name: '' }, /rule\.name/],
    [null, /expected an object/],
  ];
  for (const [value, message] of cases) {
    t.throws(() => validateRule(value), { code: 'ERR_MCR_BAD_RULE', message }, `rejects ${JSON.stringify(value)}`);
  }
});

t.test('toNativeRule maps user fields to the addon shape', async (t) => {
  const native = toNativeRule(7, {
    inputGroup: '239.1.1.1',
    inputPort: 5000,
    source: '10.0.0.1',
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'o', ttl: 3, source: '10.1.0.1' }],
  });
  t.same(native, {
    id: 7,
    dstAddr: '239.1.1.1',
    dstPort: 5000,
    srcAddr: '10.0.0.1',
    outputs: [{ dstAddr: '239.2.2.2', dstPort: 6000, interface: 'o', ttl: 3, srcAddr: '10.1.0.1' }],
  });
});
