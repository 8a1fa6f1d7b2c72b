/**
 * A worker's exit is handled in the fleet's chain, after the change in
 * progress, never in the middle of it (fleet.ts header). The race this
 * fixes: a worker that died during its first rule sync was declared
 * running (and logged `worker running` with the dead pid) by the start in
 * progress, while the exit handler, run at once outside the chain,
 * scheduled its restart in the middle of that start. Both orders a real
 * process can produce are tried: the command stream closing before the
 * exit is reported, and after.
 */
import t from 'tap';
import { fleetLab } from './fleet-fixture.js';

for (const exitFirst of [false, true]) {
  const order = exitFirst ? 'exit reported before the stream closes' : 'stream closes before the exit is reported';
  t.test(`a worker that dies during its first sync (${order})`, async (t) => {
    let dieOnFirstSync = true;
    const lab = fleetLab(t, { backoff: { minMs: 20, maxMs: 20 }, script: (body) => {
      if (body.kind !== 'syncRules' || !dieOnFirstSync) return 'answer';
      dieOnFirstSync = false;
      return exitFirst ? 'die-exit-first' : 'die';
    } });
    await lab.fleet.reconcile();
    const dead = lab.workers[0];
    t.same(dead?.sent.map((c) => c.kind), ['ping', 'syncRules'], 'it died on its rules');

    // The start ended first, and said the worker exited.
    const failed = lab.logs.findIndex((l) => l.msg === 'worker failed to start');
    t.ok(failed >= 0, 'the start reports the failure');
    t.match(lab.logs[failed], { code: 'ERR_MCR_WORKER_START', err: /exited during its first rule sync/ });
    t.notOk(lab.logs.some((l) => l.msg === 'worker running' && l.pid === dead?.pid), 'never declared running with the dead pid');
    // Then its exit was handled, once.
    await lab.until(() => lab.workers.length === 2 && lab.fleet.info()[0]?.state === 'running', 3_000, 'restarted');
    const exits = lab.logs.map((l, i) => [l.msg, i] as const).filter(([msg]) => msg === 'worker exited: restarting');
    t.equal(exits.length, 1, 'one exit handled, one restart');
    t.ok((exits[0]?.[1] ?? -1) > failed, 'the exit was handled after the start in progress, not in its middle');
    t.equal(lab.fleet.info()[0]?.restarts, 1);
    t.equal(lab.workers.length, 2, 'one replacement');
    const sync = lab.workers[1]?.sent[1];
    t.equal(sync?.kind === 'syncRules' ? sync.rules?.length : -1, 2, 'the replacement got the rules');
    t.ok(lab.logs.some((l) => l.msg === 'worker running' && l.pid === lab.workers[1]?.pid), 'the replacement runs');
  });
}

t.test('a worker that dies while another change holds the chain is handled after it', async (t) => {
  // Worker in0/1 answers its sync late; in0/0 dies meanwhile.
  let slow = false;
  const lab = fleetLab(t, { workers: 2, backoff: { minMs: 10, maxMs: 10 },
    script: (body, w) => (slow && body.kind === 'syncRules' && w.spec.id === 'in0/1' ? { delayMs: 200 } : 'answer') });
  await lab.fleet.reconcile();
  slow = true;
  const syncing = lab.fleet.interfacesChanged({ links: new Set(), addresses: new Set(['out0']) });
  await lab.until(() => (lab.workers[1]?.sent.length ?? 0) === 3, 1_000, 'sync sent');
  lab.workers[0]?.die({ code: 1, signal: null });
  await lab.until(() => lab.workers[0]?.connected === false, 1_000, 'dead');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const during = lab.fleet.info().find((w) => w.id === 'in0/0');
  t.equal(during?.restarts, 0, 'not acted on while the sync is in progress');
  t.equal(lab.logged(/^worker exited/).length, 0, 'no exit handled yet');
  t.same(lab.fleet.application(1, 'in0').pending, ['in0/0'], 'but reported as holding nothing');
  await syncing;
  await lab.until(() => lab.workers.length === 3 && lab.fleet.info().every((w) => w.state === 'running'), 3_000, 'restarted after the sync');
  t.equal(lab.fleet.info().find((w) => w.id === 'in0/0')?.restarts, 1);
});
