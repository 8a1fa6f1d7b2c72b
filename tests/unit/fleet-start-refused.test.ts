/**
 * A worker whose relay loop the host refuses (RLIMIT_MEMLOCK too low for
 * its io_uring, a missing permission) exits with status 78 after a fatal
 * line saying what to raise (worker/fleet-worker.ts). Restarting it at once
 * would fail the same way, so the fleet retries it only at the longest
 * backoff, logs an error with the worker's own words, and shows them as the
 * slot's reason; other exits keep the doubling backoff from the minimum.
 */
import t from 'tap';
import { fleetLab } from './fleet-fixture.js';
import { WORKER_EXIT_START_REFUSED } from '../../common/worker-exit.js';

const FATAL = JSON.stringify({ level: 60, time: Date.now(), pid: 1, code: 'ENOMEM',
  msg: 'relay loop did not start: ENOMEM: io_uring_queue_init_params relay loop setup; ... (RLIMIT_MEMLOCK, now 64 KiB ...): raise it' });

t.test('exit 78: retried at the longest backoff, with the worker\'s reason', async (t) => {
  const lab = fleetLab(t, { backoff: { minMs: 20, maxMs: 400 } });
  await lab.fleet.reconcile();
  const first = lab.workers[0];
  first?.onLine(FATAL, 'stdout');
  first?.die({ code: WORKER_EXIT_START_REFUSED, signal: null });
  await lab.until(() => lab.logged(/could not start its relay loop/).length === 1, 2_000, 'the error log line');
  const line = lab.logged(/could not start its relay loop/)[0];
  t.match(line, { level: 50, worker: 'in0/0', code: WORKER_EXIT_START_REFUSED, restartInMs: 400 }, 'an error, restart at the 400 ms maximum, not 20');
  t.match(String(line?.error), /^ENOMEM: relay loop did not start: .*RLIMIT_MEMLOCK/, 'with the worker\'s own code and words');
  t.match(lab.fleet.info()[0]?.reason, /start refused by the host, retried every 0.4 s: ENOMEM: .*RLIMIT_MEMLOCK/, 'mcrctl workers shows why');
  t.equal(lab.workers.length, 1, 'no restart before the longest backoff');
  await lab.until(() => lab.workers.length === 2 && lab.fleet.info()[0]?.state === 'running', 2_000, 'the retry');
  t.ok((lab.workers[1]?.startedAt ?? 0) - (first?.startedAt ?? 0) >= 398, 'the retry came after the longest backoff');

  // An ordinary crash of the retried worker (no fatal line) backs off as usual again, from the maximum it reached.
  lab.workers[1]?.die({ code: 1, signal: null });
  await lab.until(() => lab.logged(/^worker exited: restarting$/).length === 1, 2_000, 'the ordinary exit');
  t.notMatch(lab.fleet.info()[0]?.reason, /refused/, 'a fatal line of an earlier worker is not reused');
});
