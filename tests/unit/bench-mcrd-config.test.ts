/**
 * The config the bench hands mcrd for an MCR cell (bench/methods/mcr.ts,
 * benchMcrdConfig) is one mcrd accepts, and its signalTimeoutMs option does
 * what bench:latency's `nowatch` variant says: 0 turns the rule's
 * loss-of-signal watch off, so mcrd's stream watch has nothing to poll,
 * where the default polls the worker every 500 ms.
 */
import t from 'tap';
import { benchMcrdConfig } from '../../bench/methods/mcr.js';
import { parseConfig } from '../../supervisor/config/load.js';
import { pollIntervalMs } from '../../supervisor/health/stream-watch.js';

t.test('without a timeout: the rule mcrd reads watches its stream, polled every 500 ms', async (t) => {
  const config = parseConfig(JSON.stringify(benchMcrdConfig('vin0', '239.1.1.1', ['vo0', 'vo1'])), 'bench.json5');
  t.equal(config.rules.length, 1);
  const rule = config.rules[0];
  t.equal(rule?.inputInterface, 'vin0');
  t.same(rule?.outputs.map((o) => o.interface), ['vo0', 'vo1']);
  t.equal(rule?.signalTimeoutMs, undefined, 'the default timeout applies');
  t.equal(pollIntervalMs(config.rules), 500);
});

t.test('signalTimeoutMs 0: the watch is off and nothing is polled', async (t) => {
  const config = parseConfig(JSON.stringify(benchMcrdConfig('vin0', 'ff1e::1:1', ['vo0'], 0)), 'bench.json5');
  t.equal(config.rules[0]?.signalTimeoutMs, 0);
  t.equal(pollIntervalMs(config.rules), undefined);
});
