/**
 * Rule validation and the compact output list of the CLI.
 */
import t from 'tap';
import { addressFamily, hostPort, isMulticast, RULE_LIMITS, validateRule } from '../../common/rule-spec.js';
import { parseOutputList } from '../../common/rule-text.js';
import { outputKey } from '../../common/output-match.js';
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
    // Linux refuses ':' in a name (dev_valid_name): eth0:1 is an IPv4 address's label, not a device.
    [out({ interface: 'eth0:1' }), /outputs\[0\]\.interface: "eth0:1" is not an interface name: .*give the device name without the label, eth0$/],
    [out({ interface: ':1' }), /outputs\[0\]\.interface: ":1" is not an interface name: .*give the device name without the label$/],
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

t.test('IPv6: every address field, canonical form, bracketed output lists', async (t) => {
  const v6 = { inputGroup: 'FF3E:0::1234', inputPort: 5000, outputs: [{ group: 'ff3e::0:5678', port: 6000, interface: 'o' }] };
  const rule = validateRule({ ...v6, source: '2001:DB8::1' });
  t.equal(rule.inputGroup, 'ff3e::1234', 'input group in canonical form');
  t.equal(rule.outputs[0]?.group, 'ff3e::5678', 'output group in canonical form');
  t.equal(rule.source, '2001:db8::1');
  t.equal(validateRule({ ...v6, inputGroup: 'fd00::7' }).inputGroup, 'fd00::7', 'a unicast input');
  t.equal(validateRule({ ...v6, inputGroup: 'ff02::fb' }).inputGroup, 'ff02::fb', 'any input scope, link-local too');
  t.same(parseOutputList('[ff3e::1234]:5000:eth1,[FE80::1]:6000:eth2:1,239.2.2.2:7000:eth3:9'), [
    { group: 'ff3e::1234', port: 5000, interface: 'eth1' },
    { group: 'fe80::1', port: 6000, interface: 'eth2', ttl: 1 },
    { group: '239.2.2.2', port: 7000, interface: 'eth3', ttl: 9 },
  ]);
  t.same(validateRule({ ...v6, outputs: [{ group: 'ff05::9', port: 1, interface: 'o', source: 'fd00::1', ttl: 3 }] }).outputs[0],
    { group: 'ff05::9', port: 1, interface: 'o', ttl: 3, source: 'fd00::1' });
});

t.test('bridging: a rule may mix families between its input and its outputs', async (t) => {
  const v4in = validateRule({ inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: 'ff3e::1', port: 6000, interface: 'o' }] });
  t.equal(v4in.outputs[0]?.group, 'ff3e::1');
  const v6in = validateRule({ inputGroup: 'ff3e::1', inputPort: 5000, source: 'fd00::2',
    outputs: [{ group: '239.9.9.9', port: 6000, interface: 'o', source: '10.0.0.1' }, { group: 'ff3e::2', port: 6000, interface: 'o' }] });
  t.same(v6in.outputs.map((o) => o.group), ['239.9.9.9', 'ff3e::2']);
});

t.test('IPv6 mistakes are refused with what to do', async (t) => {
  const good = { inputGroup: 'ff3e::1', inputPort: 5000, outputs: [{ group: 'ff3e::2', port: 6000, interface: 'o' }] };
  const out = (over: Record<string, unknown>): unknown => ({ ...good, outputs: [{ ...good.outputs[0], ...over }] });
  const cases: Array<[unknown, RegExp]> = [
    [{ ...good, inputGroup: 'ff3e::1::2' }, /rule\.inputGroup: expected an IPv4 or IPv6 address/],
    [{ ...good, inputGroup: 'fe80::1%eth0' }, /rule\.inputGroup: .* carries a zone .*the rule's interface is its scope/],
    [{ ...good, inputGroup: '::ffff:239.1.1.1' }, /IPv4-mapped IPv6 address: write the IPv4 address \(239\.1\.1\.1\)/],
    [{ ...good, source: '10.0.0.1' }, /rule\.source: 10\.0\.0\.1 is IPv4 but rule\.inputGroup ff3e::1 is IPv6: give an IPv6 source/],
    [{ ...good, source: '::' }, /rule\.source: :: is not a source address/],
    [{ ...good, source: 'ff3e::9' }, /rule\.source: ff3e::9 is a multicast group, not a source address/],
    [out({ group: '::1' }), /outputs\[0\]\.group: ::1 is not a destination/],
    [out({ group: '::' }), /outputs\[0\]\.group: :: is not a destination/],
    [out({ group: 'ff01::1' }), /outputs\[0\]\.group: ff01::1 is not a destination.*scope 0 or 1/],
    [out({ group: 'ff30::1' }), /outputs\[0\]\.group: ff30::1 is not a destination/],
    [out({ source: '10.0.0.1' }), /outputs\[0\]\.source: 10\.0\.0\.1 is IPv4 but rule\.outputs\[0\]\.group ff3e::2 is IPv6/],
    [{ ...good, outputs: [{ group: '239.1.1.1', port: 1, interface: 'o', source: 'fd00::1' }] }, /outputs\[0\]\.source: fd00::1 is IPv6 but .* is IPv4/],
  ];
  for (const [value, message] of cases) t.throws(() => validateRule(value), { code: 'ERR_MCR_BAD_RULE', message }, String(message));
  const lists: Array<[string, RegExp]> = [
    ['ff3e::1:5000:eth1', /put an IPv6 address in brackets, as in \[ff3e::1234\]:5000:eth1/],
    ['ff3e::1:5000:eth1:4', /put an IPv6 address in brackets/],
    ['[ff3e::1:5000:eth1', /closing bracket followed by ':' and the port/],
    ['[ff3e::1]5000:eth1', /closing bracket followed by ':' and the port/],
    ['[ff3e::1]:5000', /expected GROUP:PORT:INTERFACE\[:TTL\] \(an IPv6 GROUP in brackets/],
    ['[239.1.1.1x]:5000:eth1', /expected an IPv4 or IPv6 address/],
  ];
  for (const [text, message] of lists) t.throws(() => parseOutputList(text), { code: 'ERR_MCR_BAD_RULE', message }, text);
});

t.test('address helpers: family, multicast, host:port', async (t) => {
  t.equal(addressFamily('239.1.1.1'), 4);
  t.equal(addressFamily('ff3e::1'), 6);
  t.ok(isMulticast('ff3e::1') && isMulticast('ff02::fb') && isMulticast('224.0.0.251'));
  t.notOk(isMulticast('fd00::1') || isMulticast('10.0.0.1') || isMulticast('::'));
  t.equal(hostPort('ff3e::1', 5000), '[ff3e::1]:5000');
  t.equal(hostPort('239.1.1.1', 5000), '239.1.1.1:5000');
  t.equal(outputKey({ group: 'ff3e::1', port: 5000, interface: 'eth1' }), '[ff3e::1]:5000:eth1');
  t.equal(outputKey({ group: '239.1.1.1', port: 5000, interface: 'eth1' }), '239.1.1.1:5000:eth1');
});

t.test('rules that match more: source lists and prefixes, excludes, group prefixes, "any" and "="', async (t) => {
  const out = [{ group: '239.2.2.2', port: 6000, interface: 'o' }];
  const r = validateRule({ inputGroup: '239.1.0.0/16', inputPort: 'any', source: ['10.1.0.0/16', '10.9.9.9', '10.1.0.0/16'],
    excludeSources: '10.1.2.3, 10.1.3.0/24', joinGroups: ['239.1.0.1', '239.1.7.7'],
    outputs: [{ group: '=', port: '=', interface: 'o' }, { group: '239.9.0.0/16', port: 7000, interface: 'o' }] });
  t.same(r, { inputGroup: '239.1.0.0/16', inputPort: 0, source: '10.1.0.0/16,10.9.9.9', excludeSources: '10.1.2.3,10.1.3.0/24',
    joinGroups: '239.1.0.1,239.1.7.7', outputs: [{ group: '=', port: 0, interface: 'o' }, { group: '239.9.0.0/16', port: 7000, interface: 'o' }] },
  'canonical: lists as one comma string without duplicates, any and = as 0');
  t.same(validateRule({ inputGroup: 'FF3E:0::/96', inputPort: 5, source: '2001:DB8::/32', outputs: out.map((o) => ({ ...o, group: 'ff3e::9' })) }).inputGroup,
    'ff3e::/96', 'an IPv6 prefix in canonical text');
  t.equal(validateRule({ inputGroup: '239.1.1.1/32', inputPort: 5, source: '10.0.0.1/32', outputs: out }).inputGroup, '239.1.1.1', 'a full-length prefix is the address');
  t.equal(validateRule({ inputGroup: '239.1.1.1', inputPort: 5, source: '10.0.0.1/32', outputs: out }).source, '10.0.0.1');
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ inputGroup: '239.1.2.0/16', inputPort: 5, outputs: out }, /inputGroup: 239\.1\.2\.0\/16 has bits set past its \/16: write 239\.1\.0\.0\/16/],
    [{ inputGroup: '224.0.0.0/3', inputPort: 5, outputs: out }, /reaches past multicast/],
    [{ inputGroup: '239.1.1.1', inputPort: 5, source: '10.0.0.0/0', outputs: out }, /bad prefix length/],
    [{ inputGroup: '239.1.1.1', inputPort: 5, source: ['10.0.0.1', 'ff3e::1'], outputs: out }, /rule\.source\[1\]: ff3e::1 is a multicast group/],
    [{ inputGroup: '239.1.1.1', inputPort: 5, source: '2001:db8::/32', outputs: out }, /is IPv6 but rule\.inputGroup 239\.1\.1\.1 is IPv4/],
    [{ inputGroup: '239.1.1.1', inputPort: 5, excludeSources: [], outputs: out }, /excludeSources: expected an address/],
    [{ inputGroup: '232.1.1.1', inputPort: 5, source: '10.1.2.3', excludeSources: '10.1.2.3', outputs: out },
      /rule\.excludeSources: 10\.1\.2\.3 excludes every source the rule admits \(10\.1\.2\.3\): it would match nothing; remove the exclusion or widen source/],
    [{ inputGroup: '232.1.1.1', inputPort: 5, source: '10.1.2.3, 10.2.0.0/16', excludeSources: '10.1.0.0/16, 10.0.0.0/8', outputs: out }, /excludes every source the rule admits/],
    [{ inputGroup: '232.1.1.1', inputPort: 5, source: '10.0.0.0/23', excludeSources: '10.0.0.0/24, 10.0.1.0/24', outputs: out },
      /excludes every source the rule admits \(10\.0\.0\.0\/23\)/],
    [{ inputGroup: '239.1.1.1', inputPort: 5, excludeSources: '0.0.0.0/1, 128.0.0.0/1', outputs: out }, /excludes every source the rule admits \(any\)/],
    [{ inputGroup: '239.1.1.1', inputPort: 5, outputs: [{ group: '239.9.0.0/16', port: 1, interface: 'o' }] }, /needs an inputGroup prefix of the same family and length/],
    [{ inputGroup: '239.1.0.0/16', inputPort: 5, outputs: [{ group: '239.9.0.0/24', port: 1, interface: 'o' }] }, /write the output prefix with \/16/],
    [{ inputGroup: '239.1.0.0/16', inputPort: 5, joinGroups: '239.2.0.1', outputs: out }, /239\.2\.0\.1 is not inside inputGroup 239\.1\.0\.0\/16/],
    [{ inputGroup: '10.0.0.0/8', inputPort: 5, joinGroups: '10.0.0.1', outputs: out }, /not multicast: there is nothing to join/],
    [{ inputGroup: '239.1.1.1', inputPort: 0, outputs: out }, /inputPort: expected an integer 1\.\.65535/],
    [{ inputGroup: '239.1.1.1', inputPort: 5, signalTimeoutMs: 100, outputs: out },
      /rule\.signalTimeoutMs: 100 ms is shorter than a working watch: give 0 \(not watched\) or 300\.\.3600000/],
    [{ inputGroup: '239.1.1.1', inputPort: 5, outputs: [{ group: '=', port: 0, interface: 'o' }] }, /port: expected an integer 1\.\.65535/],
    [{ inputGroup: 'ff3e::/96', inputPort: 5, outputs: [{ group: '=', port: 1, interface: 'o', source: '10.0.0.1' }] }, /is IPv4 but inputGroup ff3e::\/96 is IPv6/],
  ];
  for (const [rule, message] of bad) t.throws(() => validateRule(rule), { code: 'ERR_MCR_BAD_RULE', message }, JSON.stringify(rule));
  t.doesNotThrow(() => validateRule({ inputGroup: '232.1.1.1', inputPort: 5, source: '10.1.0.0/16', excludeSources: '10.1.2.3', outputs: out }),
    'an exclusion inside source leaves the rest of it');
  t.doesNotThrow(() => validateRule({ inputGroup: '232.1.1.1', inputPort: 5, source: '10.1.2.3,10.1.2.4', excludeSources: '10.1.2.3', outputs: out }),
    'one of two sources excluded leaves the other');
  t.doesNotThrow(() => validateRule({ inputGroup: '239.1.1.1', inputPort: 5, excludeSources: '0.0.0.0/1', outputs: out }),
    'half of all senders excluded leaves the other half');
  for (const ms of [0, 300, 3_600_000]) t.doesNotThrow(() => validateRule({ inputGroup: '239.1.1.1', inputPort: 5, signalTimeoutMs: ms, outputs: out }), `signalTimeoutMs ${ms}`);
  // Off the control socket 0 is how "any" and "=" travel.
  t.equal(validateRule({ inputGroup: '239.1.1.1', inputPort: 0, outputs: [{ group: '=', port: 0, interface: 'o' }] }, 'rule', [], true).inputPort, 0);
  t.same(parseOutputList('=:=:o,239.9.0.0/16:=:o:4,[ff3e:9::/96]:7:o'), [
    { group: '=', port: 0, interface: 'o' }, { group: '239.9.0.0/16', port: 0, interface: 'o', ttl: 4 }, { group: 'ff3e:9::/96', port: 7, interface: 'o' }]);
  t.equal(hostPort('239.1.0.0/16', 0), '239.1.0.0/16:any');
});
