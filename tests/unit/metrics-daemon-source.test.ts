/**
 * The metrics source over mcrd's stats (supervisor/metrics/daemon-source.ts):
 * it exports the rules the stats answer counted. A reload that ends while a
 * scrape waits for the workers' counters replaces a rule with a new id that
 * carries the old one's totals: exported at once it would read 0 and then
 * jump to those totals at the next scrape, which Prometheus counts as new
 * traffic and a stream-down alert reads as down.
 */
import t from 'tap';
import { daemonSource } from '../../supervisor/metrics/daemon-source.js';
import type { ControlHandler } from '../../supervisor/control/handler.js';
import type { Rule, StatsResult } from '../../proto/index.js';

const rule = (id: number): Rule => ({ id, inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000 + id,
  outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] });

t.test('a rule the stats answer did not count waits for the next scrape', async (t) => {
  let table: Rule[] = [rule(4), rule(5)];
  const stats = {
    async stats(): Promise<StatsResult> {
      const counted = table.map((r) => ({ ruleId: r.id, packets: 1000, bytes: 64_000, outputs: [] }));
      // The reload lands while the scrape waits for the workers: rule 5 is now rule 7.
      table = [rule(4), rule(7)];
      return { rules: counted, workers: [], inputs: [], outputInterfaces: [] } as unknown as StatsResult;
    },
  } as unknown as ControlHandler;
  const source = daemonSource({ handler: stats, rules: () => table, workers: () => [], reloads: { successful: true, lastSuccessSeconds: 0 } as never });
  const first = await source();
  t.same(first.rules.map((r) => r.id), [4], 'rule 4, counted and still there; 5 is gone and 7 was not counted');
  const second = await source();
  t.same(second.rules.map((r) => r.id), [4, 7], 'rule 7 at the next scrape, with its counts');
});
