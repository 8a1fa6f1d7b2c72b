/**
 * The demo's plan and preflight (bench/demo/): docs/demo.json5 loads and
 * maps onto the lab (one stream per rule, one sink per output, multicast
 * joined, unicast by port); configs that do not fit the lab are refused
 * naming what to change; missing build products and a non-root user are
 * refused with their codes.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../supervisor/config/index.js';
import { packageRoot } from '../../native/package-root.js';
import { planDemo, type LabShape } from '../../bench/demo/plan.js';
import { BUILT_FILES, checkBuilt, checkRoot } from '../../bench/demo/preflight.js';

const LAB: LabShape = { inputIfname: 'in0', relayOutputs: [{ ifname: 'out0' }, { ifname: 'out1' }], sinks: [{ ifname: 'dn0' }, { ifname: 'dn1' }] };

t.test('docs/demo.json5 maps onto the lab', async (t) => {
  const config = loadConfig(join(packageRoot(), 'docs', 'demo.json5'));
  const plan = planDemo(config, LAB, 'demo.json5');
  t.strictSame(plan.streams, [
    { rule: 'cam-1', stream: 1, dest: '239.1.1.1', port: 5000 },
    { rule: 'feed-a', stream: 2, dest: '239.2.0.1', port: 7000 },
  ]);
  t.strictSame(plan.sinks, [
    { label: 'cam-1 -> 239.10.1.1:5000:out0', sink: 0, args: ['--port', '5000', '--group', '239.10.1.1', '--interface', 'dn0'] },
    { label: 'cam-1 -> 239.20.1.1:6000:out1', sink: 1, args: ['--port', '6000', '--group', '239.20.1.1', '--interface', 'dn1'] },
    { label: 'feed-a -> 10.99.2.2:7000:out1', sink: 1, args: ['--port', '7000'] },
  ]);
});

t.test('configs that do not fit the lab are refused', async (t) => {
  const rule = { inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] };
  const config = (r: object): Config => ({ daemon: {}, rules: [{ ...rule, ...r }] as Config['rules'] });
  t.throws(() => planDemo({ daemon: {}, rules: [] }, LAB, 'f'), { code: 'ERR_MCR_DEMO_CONFIG', message: /no rules/ });
  t.throws(() => planDemo(config({ inputInterface: 'eth1' }), LAB, 'f'), { code: 'ERR_MCR_DEMO_CONFIG', message: /listens on eth1; the lab's input is in0/ });
  t.throws(() => planDemo(config({ outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out7' }] }), LAB, 'f'),
    { code: 'ERR_MCR_DEMO_CONFIG', message: /out7, which the lab does not have: use one of out0, out1/ });
  t.throws(() => planDemo(config({ source: '10.0.0.5' }), LAB, 'f'), { code: 'ERR_MCR_DEMO_CONFIG', message: /remove the source/ });
});

t.test('preflight: not built, not root', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'demo-built-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  t.throws(() => checkBuilt(empty), { code: 'ENOENT', message: new RegExp(`${BUILT_FILES[0]}.*run \`npm ci\``) });
  t.doesNotThrow(() => checkBuilt(packageRoot()), 'this checkout is built');
  t.throws(() => checkRoot(1000), { code: 'EPERM', message: /needs root: run it as root/ });
});
