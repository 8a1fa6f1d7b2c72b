/**
 * An output's `source` address followed wherever it lives
 * (supervisor/fleet/fleet.ts, interfacesChanged): a source on another
 * interface than its output's (a VIP on lo) that appears or goes changes no
 * output interface, yet the workers of that rule's input get a full sync,
 * which builds the output again with the address (an output built while it
 * was missing stays dead, EADDRNOTAVAIL, until then). The address may be
 * reported in another text form than the rule gives it. Inputs without such
 * an output are not synced.
 */
import t from 'tap';
import { checkRule } from '../../supervisor/rule-table.js';
import { fleetLab } from './fleet-fixture.js';

t.test('a source address that appears on another interface syncs the inputs sending from it, and only those', async (t) => {
  const lab = fleetLab(t, { rules: 1 });
  lab.links.set('in1', { ifindex: 4, up: true });
  lab.table.add(checkRule({ inputInterface: 'in1', inputGroup: 'ff3e::1', inputPort: 7000,
    outputs: [{ group: 'ff3e::2', port: 7001, interface: 'out0', source: '2001:DB8:0:0::9' }] }));
  await lab.fleet.reconcile();
  await lab.until(() => lab.workers.length === 2, 3_000, 'both inputs\' workers running');
  const sent = (iface: string): string[] => lab.workers.find((w) => w.spec.interface === iface)?.sent.map((c) => c.kind) ?? [];
  const before = { in0: sent('in0').length, in1: sent('in1').length };
  // The VIP comes up on lo: no output interface changed.
  await lab.fleet.interfacesChanged({ links: new Set(), addresses: new Set(['lo']), addressTexts: new Set(['2001:db8::9']) });
  t.same(sent('in1').slice(before.in1), ['syncRules'], 'in1, whose output sends from it, got a full sync');
  t.equal(sent('in0').length, before.in0, 'in0 got nothing');
  await lab.fleet.interfacesChanged({ links: new Set(), addresses: new Set(['lo']), addressTexts: new Set(['192.0.2.1']) });
  t.same(sent('in1').slice(before.in1), ['syncRules'], 'another address: nothing more');
});
