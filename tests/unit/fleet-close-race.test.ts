/**
 * Fleet.close() while an interface change is being followed, with fake
 * workers whose stop takes a while: a follow that was parking the workers
 * of a re-created interface starts none after close() began, and a worker
 * that the park and the close both stop gets one stop command and one
 * worker.exited event.
 */
import t from 'tap';
import { fleetLab, type FleetLab } from './fleet-fixture.js';

const slowStop = { script: (body: { kind: string }) => (body.kind === 'stop' ? { delayMs: 100 } : 'answer' as const) };

/** Starts the worker of in0, reports in0 as `link`, and waits until the follow's park has sent the worker its stop. */
async function followParking(lab: FleetLab, link: { ifindex: number; up: boolean }): Promise<{ following: Promise<void> }> {
  await lab.fleet.reconcile();
  lab.links.set('in0', link);
  const following = lab.fleet.interfacesChanged({ links: new Set(['in0']), addresses: new Set() });
  await lab.until(() => lab.workers[0]?.sent.some((c) => c.kind === 'stop') === true, 2_000, 'the park sent its stop');
  // Wrapped: an async function returning the promise itself would wait for it.
  return { following };
}

t.test('a follow in progress starts no worker after close() began', async (t) => {
  const lab = fleetLab(t, slowStop);
  // Re-created under the same name: the follow parks the worker, then would start a new one.
  const { following } = await followParking(lab, { ifindex: 9, up: true });
  await lab.fleet.close();
  // Once the follow has ended, any worker it started exists.
  await following;
  t.equal(lab.workers.length, 1, 'no worker started after the stop began');
  t.same(lab.workers[0]?.sent.map((c) => c.kind), ['ping', 'syncRules', 'stop'], 'the old one stopped once');
  t.same(lab.fleet.info(), [], 'no slots left');
});

t.test('a worker stopped by a park and by close() is stopped, and recorded, once', async (t) => {
  const events: Array<[string, Record<string, unknown>]> = [];
  const lab = fleetLab(t, { ...slowStop, events: { record: (kind, fields) => void events.push([kind, fields as Record<string, unknown>]) } });
  const { following } = await followParking(lab, { ifindex: 2, up: false });
  await lab.fleet.close();
  await following;
  t.same(lab.workers[0]?.sent.map((c) => c.kind), ['ping', 'syncRules', 'stop'], 'one stop command');
  t.same(events.map(([kind]) => kind), ['worker.started', 'worker.exited'], 'one worker.exited');
});
