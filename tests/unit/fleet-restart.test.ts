/**
 * The fleet's restart state machine with fake workers (fleet-fixture.ts):
 * a crashed worker is restarted after the backoff, which doubles per exit
 * up to its maximum and returns to the minimum after a stable run; a stop
 * during a restart's backoff wait spawns nothing and resolves; a worker
 * that exits during a sync fails the sync cleanly and is restarted with the
 * rules; the exit's cause is shown as the slot's reason.
 */
import t from 'tap';
import { FAKE_LOOP, fleetLab, sleep } from './fleet-fixture.js';
import { checkRule } from '../../supervisor/rule-table.js';

t.test('a crashed worker restarts after the backoff, which doubles up to its maximum', async (t) => {
  const lab = fleetLab(t, { backoff: { minMs: 40, maxMs: 120 } });
  await lab.fleet.reconcile();
  t.equal(lab.workers.length, 1, 'one worker started');
  t.equal(lab.fleet.info()[0]?.state, 'running');
  const first = lab.workers[0];
  t.same(first?.sent.map((c) => c.kind), ['ping', 'syncRules'], 'ready ping, then its rules');
  t.same(lab.fleet.info()[0]?.loop, FAKE_LOOP, 'the ready ping\'s answer says how its loop runs');

  const gaps: number[] = [];
  for (let crash = 1; crash <= 4; crash++) {
    const victim = lab.workers[lab.workers.length - 1];
    const diedAt = Date.now();
    victim?.die({ code: 1, signal: null });
    if (crash === 1) {
      await lab.until(() => lab.fleet.info()[0]?.state !== 'running', 3_000, 'the exit seen');
      t.equal(lab.fleet.info()[0]?.loop, undefined, 'no loop shown while the slot has no worker');
    }
    await lab.until(() => lab.workers.length === crash + 1 && lab.fleet.info()[0]?.state === 'running', 3_000, `restart ${crash}`);
    gaps.push((lab.workers[crash]?.startedAt ?? 0) - diedAt);
  }
  const planned = lab.logged(/^worker exited: restarting$/).map((l) => l.restartInMs);
  t.same(planned, [40, 80, 120, 120], 'backoff 40, doubled, capped at the maximum');
  // Timers never fire before their delay (allow 2 ms of rounding).
  gaps.forEach((gap, i) => t.ok(gap >= (planned[i] as number) - 2, `restart ${i + 1} came ${gap} ms after the exit, not before its ${String(planned[i])} ms backoff`));
  const info = lab.fleet.info()[0];
  t.equal(info?.restarts, 4, 'four restarts counted');
  t.equal(info?.pid, lab.workers[4]?.pid, 'the slot shows the new pid');
  t.match(info?.reason, /^last exit \S+: exited with code 1, restarted$/, 'the reason says why it was restarted');
  t.same(info?.loop, FAKE_LOOP, 'and its new worker\'s loop');
  const last = lab.workers[4];
  t.same(last?.sent.map((c) => c.kind), ['ping', 'syncRules'], 'each new worker gets its rules');
  const sync = last?.sent[1];
  t.equal(sync?.kind === 'syncRules' ? sync.rules?.length : -1, 2, 'all the interface\'s rules');
});

t.test('the backoff returns to its minimum after a stable run', async (t) => {
  // stableMs well above a stall of this process on a busy host: a pause
  // longer than it between a restart and the next die() would read as a
  // stable run and reset the backoff early.
  const lab = fleetLab(t, { backoff: { minMs: 20, maxMs: 1_000 }, timing: { stableMs: 1_000 } });
  await lab.fleet.reconcile();
  for (let crash = 1; crash <= 3; crash++) {
    lab.workers[lab.workers.length - 1]?.die({ code: 1, signal: null });
    await lab.until(() => lab.workers.length === crash + 1 && lab.fleet.info()[0]?.state === 'running', 3_000, `restart ${crash}`);
  }
  // Ran longer than stableMs: the next exit restarts after the minimum again.
  await sleep(1_100);
  lab.workers[3]?.die({ code: null, signal: 'SIGSEGV' });
  await lab.until(() => lab.workers.length === 5 && lab.fleet.info()[0]?.state === 'running', 3_000, 'restart 4');
  // And doubles from there.
  lab.workers[4]?.die({ code: 1, signal: null });
  await lab.until(() => lab.workers.length === 6, 3_000, 'restart 5');
  t.same(lab.logged(/^worker exited: restarting$/).map((l) => l.restartInMs), [20, 40, 80, 20, 40]);
  t.match(lab.logged(/^worker exited: restarting$/)[3], { signal: 'SIGSEGV', code: null });
  t.equal(lab.fleet.info()[0]?.restarts, 5);
});

t.test('a stop during a restart\'s backoff wait spawns nothing and resolves', async (t) => {
  const lab = fleetLab(t, { backoff: { minMs: 400, maxMs: 400 } });
  await lab.fleet.reconcile();
  lab.workers[0]?.die({ code: 1, signal: null });
  await lab.until(() => lab.fleet.info()[0]?.state === 'restarting', 1_000, 'restarting');
  let closed = false;
  const closing = lab.fleet.close().then(() => { closed = true; });
  // Well inside the 400 ms the restart waits: close does not wait for it.
  await Promise.race([closing, sleep(300)]);
  t.ok(closed, 'close resolved before the backoff ran out');
  await sleep(500);
  t.equal(lab.workers.length, 1, 'no worker spawned after the stop');
  t.equal(lab.logged(/restart/).filter((l) => l.msg !== 'worker exited: restarting').length, 0, 'no restart attempted');
});

t.test('a stop while a worker\'s exit waits in the chain starts nothing', async (t) => {
  // The exit's handling (and so the restart) waits in the chain behind a sync that a slow worker answers late.
  let slow = false;
  const lab = fleetLab(t, { workers: 2, backoff: { minMs: 10, maxMs: 10 },
    script: (body) => (slow && body.kind === 'syncRules' ? { delayMs: 300 } : 'answer') });
  await lab.fleet.reconcile();
  t.equal(lab.workers.length, 2);
  slow = true;
  const syncing = lab.fleet.interfacesChanged({ links: new Set(), addresses: new Set(['out0']) });
  await sleep(20);
  lab.workers[0]?.die({ code: 1, signal: null });
  await sleep(100);
  t.equal(lab.workers.length, 2, 'the restart waits behind the sync');
  await lab.fleet.close();
  await syncing;
  await sleep(100);
  t.equal(lab.workers.length, 2, 'nothing started after the stop');
  t.same(lab.fleet.info(), [], 'no slots left');
});

t.test('a worker that exits during a sync: the sync fails cleanly, the worker restarts with the rules', async (t) => {
  let dieOnSync = false;
  const lab = fleetLab(t, { script: (body) => (dieOnSync && body.kind === 'syncRules' ? 'die' : 'answer') });
  await lab.fleet.reconcile();
  dieOnSync = true;
  // An output interface got an address: the workers sending out of it get a full sync.
  await lab.fleet.interfacesChanged({ links: new Set(), addresses: new Set(['out0']) });
  t.same(lab.workers[0]?.sent.map((c) => c.kind), ['ping', 'syncRules', 'syncRules'], 'the sync reached the worker');
  dieOnSync = false;
  await lab.until(() => lab.workers.length === 2 && lab.fleet.info()[0]?.state === 'running', 3_000, 'restarted');
  const again = lab.workers[1];
  const sync = again?.sent[1];
  t.equal(sync?.kind, 'syncRules', 'the new worker gets a full sync');
  t.equal(sync?.kind === 'syncRules' ? sync.rules?.length : -1, 2, 'with the interface\'s rules');
  t.same(lab.fleet.application(1, 'in0'), { ruleId: 1, applied: ['in0/0'], refused: [], unconfirmed: [], pending: [] }, 'applied by the new worker');
  t.equal(lab.fleet.info()[0]?.restarts, 1);
  t.equal(lab.logged(/did not answer/).length, 0, 'no timeout waited for: the sync failed at once');
  t.equal(lab.logged(/drifted/).length, 0, 'not mistaken for a drift');
});

t.test('a rule change to a worker that dies on it: reported pending, the replacement gets it', async (t) => {
  let dieOnAdd = false;
  const lab = fleetLab(t, { workers: 2, script: (body, w) => (dieOnAdd && body.kind === 'addRule' && w.spec.id === 'in0/0' ? 'die' : 'answer') });
  await lab.fleet.reconcile();
  dieOnAdd = true;
  const rule = lab.table.add(checkRule({ inputInterface: 'in0', inputGroup: '239.1.1.9', inputPort: 5009,
    outputs: [{ group: '239.2.2.9', port: 6009, interface: 'out0' }] }));
  const started = Date.now();
  await lab.fleet.broadcast('in0', { kind: 'addRule', generation: lab.table.generation, hash: lab.table.hashFor('in0'), rule });
  const took = Date.now() - started;
  t.ok(took < 400, `the change did not wait for a dead worker's timeout (${took} ms, command timeout 500 ms)`);
  const application = lab.fleet.application(rule.id, 'in0');
  t.same(application.applied, ['in0/1'], 'applied by the live worker');
  t.same(application.pending, ['in0/0'], 'pending on the dead one, not applied');
  dieOnAdd = false;
  await lab.until(() => lab.workers.length === 3 && lab.fleet.info().every((w) => w.state === 'running'), 3_000, 'restarted');
  const sync = lab.workers[2]?.sent[1];
  t.ok(sync?.kind === 'syncRules' && sync.rules?.some((r) => r.id === rule.id), 'the replacement holds the new rule');
  t.same(lab.fleet.application(rule.id, 'in0').applied, ['in0/0', 'in0/1']);
});
