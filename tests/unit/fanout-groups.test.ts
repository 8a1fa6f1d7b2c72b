/**
 * Packet fan-out group ids per input interface (supervisor/fleet/fanout-groups.ts):
 * one per interface, the same for its lifetime, given back when its workers
 * are gone and reused only after the rest of the range, and a clear ENOSPC
 * when every id is held; many interfaces over time never take an id
 * outside the 16-bit range; the fleet gives an interface's id back once its
 * last rule is gone and its workers have stopped.
 */
import t from 'tap';
import { FANOUT_GROUP_FIRST, FANOUT_GROUP_LAST, FanoutGroups } from '../../supervisor/fleet/fanout-groups.js';
import { fleetLab, sleep } from './fleet-fixture.js';
import { checkRule } from '../../supervisor/rule-table.js';

t.test('one id per interface, kept while it is held', async (t) => {
  const g = new FanoutGroups();
  const a = g.idFor('eth0');
  t.equal(a, FANOUT_GROUP_FIRST);
  t.equal(g.idFor('eth0'), a, 'asked again: the same id');
  t.equal(g.idFor('eth1'), a + 1);
});

t.test('a released id is reused only after the rest of the range, and the range wraps', async (t) => {
  const g = new FanoutGroups(10, 13);
  t.same(['a', 'b', 'c'].map((i) => g.idFor(i)), [10, 11, 12]);
  g.release('a');
  t.equal(g.idFor('d'), 13, 'the next id, not the one just freed');
  t.equal(g.idFor('e'), 10, 'then the range wraps to the freed one');
  t.throws(() => g.idFor('f'), { code: 'ENOSPC', message: /every packet fan-out group id mcrd uses \(4\) is taken.*remove the rules of interfaces that are gone/ });
  g.release('c');
  g.release('nothing');  // an interface that holds none: no effect
  t.equal(g.idFor('f'), 12);
});

t.test('interfaces that come and go, more over time than the range holds: given-back ids make room (no ENOSPC), all inside the range', async (t) => {
  const g = new FanoutGroups();
  const span = FANOUT_GROUP_LAST - FANOUT_GROUP_FIRST + 1;
  let outside = 0;
  // More interfaces over time than there are ids, a few alive at once (veths of containers, say).
  for (let i = 0; i < span + 1000; i++) {
    const id = g.idFor(`veth${i}`);
    if (id < FANOUT_GROUP_FIRST || id > FANOUT_GROUP_LAST) outside++;
    if (i >= 3) g.release(`veth${i - 3}`);
  }
  t.equal(outside, 0, `${span + 1000} interfaces, every id a 16-bit one from mcrd's range`);
});

t.test('the fleet gives an interface\'s id back once its workers have stopped', async (t) => {
  const lab = fleetLab(t, { rules: 1 });
  await lab.fleet.reconcile();
  t.equal(lab.workers[0]?.spec.fanoutGroup, FANOUT_GROUP_FIRST, 'in0\'s workers join the first id');
  const only = lab.table.list()[0];
  if (only === undefined) throw new Error('the lab has one rule');
  lab.table.remove(only.id);
  await lab.fleet.reconcile();
  const first = lab.workers[0];
  t.ok(first !== undefined && await Promise.race([first.exited.then(() => true), sleep(1_000).then(() => false)]),
    'in0\'s worker stopped with its last rule');
  lab.table.add(checkRule({ inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] }));
  await lab.fleet.reconcile();
  t.equal(lab.workers.length, 2, 'a new worker for in0');
  t.equal(lab.workers[1]?.spec.fanoutGroup, FANOUT_GROUP_FIRST + 1, 'in0 took an id afresh: its first was given back');
});
