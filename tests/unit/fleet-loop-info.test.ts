/**
 * What `mcrctl workers` learns of a worker's loop from the fleet: the
 * policy the loop started with (its ready ping) and, for a real-time loop,
 * whether the kernel shows its thread under the normal policy now (its
 * saturation guard stepped it down). The policy is read when asked, from
 * the loop thread (faked here; tests/native/heartbeat.test.ts reads a real
 * one), so the answer follows a step down and a step back up; a loop that
 * started under the normal policy is never "stepped down", and a thread
 * that cannot be found says nothing.
 */
import t from 'tap';
import { FAKE_LOOP, fleetLab } from './fleet-fixture.js';
import { SCHED_FIFO } from '../../supervisor/fleet/loop-thread.js';

const SCHED_OTHER = 0;

t.test('a real-time loop under the normal policy now is stepped down; back under SCHED_FIFO it is not', async (t) => {
  let policy: number | undefined = SCHED_FIFO;
  const lab = fleetLab(t, { loop: { ...FAKE_LOOP, rtPriority: 10 }, loopPolicy: () => policy });
  await lab.fleet.reconcile();
  await lab.until(() => lab.fleet.info()[0]?.loop !== undefined, 2_000, 'ready');
  t.equal(lab.fleet.info()[0]?.loopSteppedDown, undefined, 'under SCHED_FIFO: not stepped down');
  policy = SCHED_OTHER;
  t.equal(lab.fleet.info()[0]?.loopSteppedDown, true, 'under the normal policy now: stepped down');
  policy = SCHED_FIFO;
  t.equal(lab.fleet.info()[0]?.loopSteppedDown, undefined, 'back under SCHED_FIFO: not any more');
  policy = undefined;
  t.equal(lab.fleet.info()[0]?.loopSteppedDown, undefined, 'thread not found: nothing said');
});

t.test('a loop that started under the normal policy is never stepped down', async (t) => {
  let asked = 0;
  const lab = fleetLab(t, { loopPolicy: () => { asked++; return SCHED_OTHER; } });
  await lab.fleet.reconcile();
  await lab.until(() => lab.fleet.info()[0]?.loop !== undefined, 2_000, 'ready');
  t.equal(lab.fleet.info()[0]?.loopSteppedDown, undefined, 'not stepped down');
  t.equal(asked, 0, 'and /proc is not read for it');
});
