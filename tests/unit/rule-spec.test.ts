/**
 * Rule validation and the compact output list of the CLI.
 */
import t from 'tap';
import { parseOutputList, RULE_LIMITS, validateRule } from '../../common/rule-spec.js';
import { checkRule } from '../../supervisor/rule-table.js';

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

t.test('bounds: one validation with documented limits for every path', async (t) => {
  const good = { inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'o' }] };
  const out = (over: Record<string, unknown>): unknown => ({ ...good, outputs: [{ ...good.outputs[0], ...over }] });
  const cases: Array<[unknown, RegExp]> = [
    [{ ...good, name: 'n'.repeat(RULE_LIMITS.nameLength + 1) }, /rule\.name: expected 1-64 printable characters/],
    [{ ...good, name: 'tab\there' }, /rule\.name: expected 1-64 printable characters/],
    [{ ...good, outputs: Array.from({ length: RULE_LIMITS.outputsPerRule + 1 }, () => good.outputs[0]) }, /rule\.outputs: 65 outputs, at most 64 per rule/],
    [out({ group: '0.0.0.0' }), /outputs\[0\]\.group: 0\.0\.0\.0 is not a destination/],
    [out({ group: '127.0.0.1' }), /outputs\[0\]\.group: 127\.0\.0\.1 is not a destination/],
    [out({ ttl: 0 }), /outputs\[0\]\.ttl: expected an integer 1\.\.255, got 0/],
    [out({ interface: 'a'.repeat(16) }), /outputs\[0\]\.interface: expected an interface name \(1-15/],
    [out({ interface: '..' }), /outputs\[0\]\.interface/],
    [out({ source: '0.0.0.0' }), /outputs\[0\]\.source: 0\.0\.0\.0 is not a source address/],
    [{ ...good, source: '0.0.0.0' }, /rule\.source: 0\.0\.0\.0 is not a source address/],
  ];
  for (const [value, message] of cases) t.throws(() => validateRule(value), { code: 'ERR_MCR_BAD_RULE', message }, String(message));
  t.same(validateRule({ ...good, name: 'é'.repeat(64) }).name, 'é'.repeat(64), '64 printable characters are fine');
  t.equal(validateRule({ ...good, outputs: Array.from({ length: 64 }, () => good.outputs[0]) }).outputs.length, 64, '64 outputs are fine');
});

t.test('control requests go through the same validation: ttl 0 is refused, not taken as "default"', async (t) => {
  const rule = { inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'o', ttl: 0 }] };
  t.throws(() => checkRule(rule), { code: 'ERR_MCR_BAD_RULE', message: /outputs\[0\]\.ttl/ });
  t.throws(() => checkRule({ ...rule, inputInterface: 'x'.repeat(40), outputs: [{ ...rule.outputs[0]!, ttl: 5 }] }),
    { code: 'ERR_MCR_BAD_RULE', message: /inputInterface: expected an interface name/ }, 'an over-long name is refused as such');
  t.equal(checkRule({ ...rule, name: '', outputs: [{ ...rule.outputs[0]!, ttl: 5, source: '' }] }).outputs[0]?.source, undefined,
    "'' is how a client says unset");
});
