/**
 * `mcrctl stats` marks an output whose interface has no carrier
 * (OutputStats.no_carrier, set by mcrd): its sends are dropped by the
 * device and mostly counted as sent, so the table says so beside it.
 */
import t from 'tap';
import { renderStats } from '../../tools/mcrctl/render.js';
import type { Rule, StatsResult } from '../../proto/index.js';

t.test('an output without carrier is marked, the others are not', async (t) => {
  const rule: Rule = { id: 1, inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }, { group: '239.2.2.3', port: 6001, interface: 'out1' }] } as Rule;
  const stats = { rules: [{ ruleId: 1, packets: 10, bytes: 640, errors: 0,
    outputs: [{ packets: 10, bytes: 640, errors: 0, errorsByErrno: {} }, { packets: 10, bytes: 640, errors: 0, errorsByErrno: {}, noCarrier: true }] }],
  workers: [], inputs: [], outputInterfaces: [] } as unknown as StatsResult;
  const text = renderStats(stats, [rule], Date.now()).join('\n');
  t.match(text, /-> 239\.2\.2\.3:6001:out1 \(no carrier\)/, 'out1 marked');
  t.notMatch(text, /out0 \(no carrier\)/, 'out0 not');
});
