/**
 * How the fleet takes rule changes to its workers, with fake workers that
 * hold rule ids as worker/command-handler.ts does (an add of a rule held is
 * refused with EEXIST, a remove of one not held with ENOENT): changes to
 * one interface handled at once are each checked against the hash they
 * carried, so none is taken for a drift; an add a sync already delivered
 * is no drift either; a worker that really drifted still gets a full sync.
 * A reconcile (mcrd's start, a reload, an interface's first or last rule)
 * syncs only the workers whose interface's rules changed, or that hold a
 * rule they refused (tried again).
 */
import t from 'tap';
import { fleetLab, type FakeWorker, type Script } from './fleet-fixture.js';
import { checkRule } from '../../supervisor/rule-table.js';

/** A script that keeps each fake worker's rule ids and refuses what a real worker refuses. */
function holdingRules(): { script: Script; held: Map<FakeWorker, Set<number>> } {
  const held = new Map<FakeWorker, Set<number>>();
  const script: Script = (body, w) => {
    const ids = held.get(w) ?? new Set<number>();
    held.set(w, ids);
    if (body.kind === 'syncRules') {
      ids.clear();
      for (const r of body.rules ?? []) ids.add(r.id ?? 0);
    } else if (body.kind === 'addRule') {
      const id = body.rule?.id ?? 0;
      if (ids.has(id)) return { error: { code: 'EEXIST', message: `rule ${id} is already installed` } };
      ids.add(id);
    } else if (body.kind === 'removeRule') {
      if (!ids.delete(body.id ?? 0)) return { error: { code: 'ENOENT', message: `rule ${body.id ?? 0} is not installed in this worker` } };
    }
    return 'answer';
  };
  return { script, held };
}

const rule = (iface: string, port: number) => checkRule({ inputInterface: iface, inputGroup: '239.1.1.1', inputPort: port,
  outputs: [{ group: '239.2.2.2', port: 7000, interface: 'out0' }] });

t.test('changes to one interface handled at once: each ack is checked against the hash it carried', async (t) => {
  const { script } = holdingRules();
  const lab = fleetLab(t, { workers: 2, script });
  await lab.fleet.reconcile();
  // As daemon-handler does for requests handled at once: each goes to the
  // table first, then queues its broadcast, so the table is ahead of every
  // step but the last.
  const changes: Array<Promise<void>> = [];
  const added = [];
  for (let i = 0; i < 5; i++) {
    const r = lab.table.add(rule('in0', 8000 + i));
    added.push(r);
    changes.push(lab.fleet.broadcast('in0', { kind: 'addRule', generation: lab.table.generation, hash: lab.table.hashFor('in0'), rule: r }));
  }
  const gone = lab.table.remove(1);
  changes.push(lab.fleet.broadcast('in0', { kind: 'removeRule', generation: lab.table.generation, hash: lab.table.hashFor('in0'), id: gone.id }));
  await Promise.all(changes);
  t.equal(lab.logged(/drifted/).length, 0, 'no drift warning');
  for (const w of lab.workers) {
    t.same(w.sent.map((c) => c.kind), ['ping', 'syncRules', 'addRule', 'addRule', 'addRule', 'addRule', 'addRule', 'removeRule'],
      `${w.spec.id}: each change once, no full sync`);
    t.same(w.hash, lab.table.hashFor('in0'), `${w.spec.id} holds the table`);
  }
  for (const r of added) t.same(lab.fleet.application(r.id, 'in0').applied, ['in0/0', 'in0/1'], `rule ${r.id} applied`);
});

t.test('an add that a sync delivered first is answered EEXIST: no drift', async (t) => {
  const { script } = holdingRules();
  const lab = fleetLab(t, { script });
  lab.links.set('in1', { ifindex: 5, up: true });
  await lab.fleet.reconcile();
  // The first rule of in1 starts its worker (a sync of in1's table); a
  // second add handled meanwhile is in that sync already when its own
  // broadcast runs.
  lab.table.add(rule('in1', 9000));
  const starting = lab.fleet.reconcile();
  const second = lab.table.add(rule('in1', 9001));
  const adding = lab.fleet.broadcast('in1', { kind: 'addRule', generation: lab.table.generation, hash: lab.table.hashFor('in1'), rule: second });
  await Promise.all([starting, adding]);
  const w = lab.workers.find((x) => x.spec.interface === 'in1');
  t.same(w?.sent.map((c) => c.kind), ['ping', 'syncRules', 'addRule'], 'the add reached it, no second sync');
  t.equal(lab.logged(/drifted/).length, 0, 'not taken for a drift');
  t.same(lab.fleet.application(second.id, 'in1').applied, ['in1/0']);
});

t.test('a worker that really drifted still gets a full sync', async (t) => {
  const { script, held } = holdingRules();
  const lab = fleetLab(t, { script });
  await lab.fleet.reconcile();
  const w = lab.workers[0];
  // The worker lost rule 2 behind mcrd's back: it still echoes the old hash.
  if (w !== undefined) held.get(w)?.delete(2);
  lab.table.remove(2);
  await lab.fleet.broadcast('in0', { kind: 'removeRule', generation: lab.table.generation, hash: lab.table.hashFor('in0'), id: 2 });
  t.equal(lab.logged(/drifted/).length, 1, 'the drift is seen');
  t.same(w?.sent.map((c) => c.kind), ['ping', 'syncRules', 'removeRule', 'syncRules'], 'and repaired with a full sync');

  // A refusal that leaves the worker behind the table is a drift too.
  let refuse = true;
  const lab2 = fleetLab(t, { script: (body) => (refuse && body.kind === 'addRule' ? { error: { code: 'ERR_MCR_INTERNAL', message: 'no' } } : 'answer') });
  await lab2.fleet.reconcile();
  const r = lab2.table.add(rule('in0', 8100));
  await lab2.fleet.broadcast('in0', { kind: 'addRule', generation: lab2.table.generation, hash: lab2.table.hashFor('in0'), rule: r });
  refuse = false;
  t.equal(lab2.logged(/drifted/).length, 1, 'the failed add is seen');
  t.same(lab2.workers[0]?.sent.map((c) => c.kind), ['ping', 'syncRules', 'addRule', 'syncRules'], 'and repaired with a full sync');
  t.same(lab2.workers[0]?.hash, lab2.table.hashFor('in0'));
});

t.test('reconcile syncs only the workers whose interface changed, or that refused a rule', async (t) => {
  const lab = fleetLab(t, { workers: 2 });
  lab.links.set('in1', { ifindex: 5, up: true });
  await lab.fleet.reconcile();
  const since = (): string[][] => lab.workers.map((w) => w.sent.slice(marks.get(w) ?? 0).map((c) => c.kind));
  const marks = new Map<FakeWorker, number>();
  const mark = (): void => { for (const w of lab.workers) marks.set(w, w.sent.length); };

  mark();
  await lab.fleet.reconcile();
  t.same(since(), [[], []], 'a reload that changes nothing sends nothing');

  mark();
  lab.table.add(rule('in1', 9000));
  await lab.fleet.reconcile();
  t.same(since(), [[], [], ['ping', 'syncRules'], ['ping', 'syncRules']], 'the first rule of in1 starts its workers, in0\'s are left alone');

  mark();
  // A reload that changes a rule of in0: removed and added again under a new id.
  const old = lab.table.remove(1);
  lab.table.add(rule('in0', old.inputPort));
  await lab.fleet.reconcile();
  t.same(since(), [['syncRules'], ['syncRules'], [], []], 'only in0\'s workers get a full sync');

  mark();
  lab.table.remove(lab.table.forInterface('in1')[0]?.id ?? 0);
  await lab.fleet.reconcile();
  t.same(since(), [[], [], ['stop'], ['stop']], 'in1\'s last rule gone: its workers stop, in0\'s are left alone');
  t.same(lab.fleet.info().map((w) => w.id), ['in0/0', 'in0/1']);
});

t.test('reconcile tries a refused rule again on the worker that refused it', async (t) => {
  let refuse = true;
  const lab = fleetLab(t, { workers: 2, script: (body, w) => {
    // in0/1 refuses rule 2 (the kernel refused its output socket), applies the others.
    if (body.kind === 'syncRules' && w.spec.id === 'in0/1') w.refused = refuse ? [{ ruleId: 2, error: { code: 'EACCES', message: 'no' } }] : [];
    return 'answer';
  } });
  await lab.fleet.reconcile();
  t.same(lab.fleet.application(2, 'in0').refused.map((r) => r.worker), ['in0/1']);
  refuse = false;
  const before = lab.workers.map((w) => w.sent.length);
  await lab.fleet.reconcile();
  t.same(lab.workers.map((w, i) => w.sent.slice(before[i]).map((c) => c.kind)), [[], ['syncRules']], 'a reload retries the refusal, only there');
  t.same(lab.fleet.application(2, 'in0').applied, ['in0/0', 'in0/1'], 'applied now');
});
