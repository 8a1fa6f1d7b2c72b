/**
 * The warnings mcrd gives about one rule on its own (supervisor/
 * rule-warnings.ts: returned by `mcrctl add`, logged at start and on
 * reload): a `monitor` on a rule that can match several streams (a group
 * prefix, any port, several sources or a source prefix), whose counts the
 * streams would mix (the analysis keeps one stream's state per rule), and
 * an SSM-range group with no source address to join.
 */
import t from 'tap';
import { monitorWarning, ruleWarnings } from '../../supervisor/rule-warnings.js';
import type { Rule } from '../../proto/index.js';

const rule = (over: Partial<Rule>): Rule => ({ id: 1, inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
  outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }], ...over });

t.test('a monitor over a rule that can match several streams is warned about', async (t) => {
  t.match(monitorWarning(rule({ monitor: 'rtp', inputGroup: '239.1.0.0/16' })), /^monitor rtp follows one stream per rule.*its group is a prefix \(239\.1\.0\.0\/16\)/);
  t.match(monitorWarning(rule({ monitor: 'mpegts', inputPort: 0 })), /its input port is "any"/);
  t.match(monitorWarning(rule({ monitor: 'rtp+mpegts', source: '10.0.0.1,10.0.0.2' })), /it admits several sources \(10\.0\.0\.1,10\.0\.0\.2\)/);
  t.match(monitorWarning(rule({ monitor: 'rtp', source: '10.0.0.0/24' })), /it admits several sources/);
  t.equal(monitorWarning(rule({ monitor: 'rtp', source: '10.0.0.1' })), undefined, 'one group, port and source: nothing to say');
  t.equal(monitorWarning(rule({ inputGroup: '239.1.0.0/16' })), undefined, 'no monitor: nothing to say');
});

t.test('ruleWarnings gathers both kinds', async (t) => {
  const both = ruleWarnings(rule({ inputGroup: '232.1.1.1', inputPort: 0, monitor: 'rtp' }));
  t.equal(both.length, 2);
  t.match(both[0], /^232\.1\.1\.1 is a source-specific multicast group/);
  t.match(both[1], /^monitor rtp follows one stream per rule/);
  t.same(ruleWarnings(rule({})), []);
});
