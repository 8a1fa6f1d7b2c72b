/**
 * The hung-worker watchdog with fake heartbeats (fleet-fixture.ts): a
 * worker whose heartbeat moves is left alone however long it runs, one
 * whose loop never started (heartbeat 0) is not judged, and one whose
 * heartbeat stops is killed with SIGKILL within the threshold plus a few
 * checks, logged with its id, pid and stall, shown in `mcrctl workers`'
 * reason and restarted like a crash. A worker that stops beating while
 * mcrd stops is left to the stop's own deadline, which still holds.
 * Time limits here: check every 20 ms, hung after 300 ms stalled.
 */
import t from 'tap';
import { fleetLab, sleep } from './fleet-fixture.js';

const HUNG_AFTER_MS = 300;

t.test('a beating worker is never killed; a stalled one is killed, logged, shown and restarted', async (t) => {
  const lab = fleetLab(t, { workers: 2, backoff: { minMs: 20, maxMs: 20 }, timing: { hungAfterMs: HUNG_AFTER_MS } });
  await lab.fleet.reconcile();
  const [victim, other] = lab.workers;
  await sleep(HUNG_AFTER_MS * 3);
  t.same([victim?.kills, other?.kills], [[], []], `nothing killed while the heartbeats move (${String(victim?.beat)} beats)`);
  t.ok((victim?.beat ?? 0n) > 0n, 'the fake loop beats');

  const stalledAt = Date.now();
  victim?.stallBeat();
  await lab.until(() => (victim?.kills.length ?? 0) > 0, 2_000, 'killed');
  const detectedAt = Date.now();
  t.same(victim?.kills, ['SIGKILL'], 'killed with SIGKILL, once');
  // Not before the threshold from its last beat (the fake beats on this
  // event loop, so a late timer may have made that beat the stall's real
  // start); at most the threshold plus a few checks after the stall
  // (bounded loosely: timers run late on a busy machine).
  const sinceBeat = detectedAt - (victim?.lastBeatAt ?? 0);
  t.ok(sinceBeat >= HUNG_AFTER_MS, `killed ${sinceBeat} ms after its last beat (threshold ${HUNG_AFTER_MS} ms)`);
  t.ok(detectedAt - stalledAt < HUNG_AFTER_MS * 5, `detected ${detectedAt - stalledAt} ms after the stall`);
  const warn = lab.logged(/^worker hung/);
  t.equal(warn.length, 1, 'one warning');
  t.match(warn[0], { level: 40, worker: 'in0/0', pid: victim?.pid, hungAfterMs: HUNG_AFTER_MS });
  t.ok(Number(warn[0]?.stalledMs) >= HUNG_AFTER_MS, `the warning says how long it stalled (${String(warn[0]?.stalledMs)} ms)`);

  await lab.until(() => lab.workers.length === 3 && lab.fleet.info().every((w) => w.state === 'running'), 3_000, 'replaced');
  const slot = lab.fleet.info().find((w) => w.id === 'in0/0');
  t.equal(slot?.restarts, 1, 'counted as a restart');
  t.equal(slot?.pid, lab.workers[2]?.pid, 'a new process');
  t.match(slot?.reason, /^last exit \S+: hung: heartbeat stalled \d+\.\d s, killed by mcrd, restarted$/, 'the reason says it was hung');
  t.match(lab.logged(/^worker exited: restarting$/)[0], { worker: 'in0/0', signal: 'SIGKILL', hung: true });
  t.notOk(lab.fleet.info().find((w) => w.id === 'in0/1')?.reason, 'the other worker is untouched');
  const sync = lab.workers[2]?.sent[1];
  t.equal(sync?.kind === 'syncRules' ? sync.rules?.length : -1, 2, 'the replacement gets the rules');

  // The replacement is watched too.
  await sleep(HUNG_AFTER_MS * 2);
  t.same(lab.workers[2]?.kills, [], 'the beating replacement is left alone');
  lab.workers[2]?.stallBeat();
  await lab.until(() => (lab.workers[2]?.kills.length ?? 0) > 0, 2_000, 'replacement killed');
  t.equal(other?.kills.length, 0, 'in0/1 never killed');
});

t.test('a loop that never beat (heartbeat 0) is not judged by the watchdog', async (t) => {
  const lab = fleetLab(t, { beatMs: 0, timing: { hungAfterMs: HUNG_AFTER_MS } });
  await lab.fleet.reconcile();
  t.equal(lab.fleet.info()[0]?.state, 'running');
  await sleep(HUNG_AFTER_MS * 3);
  t.same(lab.workers[0]?.kills, [], 'not killed');
  t.equal(lab.logged(/^worker hung/).length, 0);
});

t.test('a worker hung during its start is killed and the start fails cleanly', async (t) => {
  // The loop beats a little, then stalls before the worker answers its first sync (which it never does).
  let first = true;
  const lab = fleetLab(t, { backoff: { minMs: 20, maxMs: 20 }, timing: { hungAfterMs: HUNG_AFTER_MS, syncTimeoutMs: 5_000 },
    script: (body, w) => {
      if (body.kind !== 'syncRules' || !first) return 'answer';
      first = false;
      setTimeout(() => w.stallBeat(), 30);
      return 'ignore';
    } });
  const started = Date.now();
  await lab.fleet.reconcile();
  const took = Date.now() - started;
  t.ok(took < 2_500, `the start ended when the worker was killed (${took} ms), not at the 5 s sync timeout`);
  t.same(lab.workers[0]?.kills, ['SIGKILL']);
  t.match(lab.logged(/^worker failed to start$/)[0], { code: 'ERR_MCR_WORKER_START' });
  await lab.until(() => lab.workers.length === 2 && lab.fleet.info()[0]?.state === 'running', 3_000, 'replaced');
  t.match(lab.fleet.info()[0]?.reason, /hung: heartbeat stalled/);
});

t.test('a worker that stops beating while mcrd stops is left to the stop deadline', async (t) => {
  // SIGSTOPped as the stop begins: it never answers the stop and never beats again.
  const lab = fleetLab(t, { timing: { hungAfterMs: HUNG_AFTER_MS, stopTimeoutMs: 600 },
    script: (body, w) => {
      if (body.kind !== 'stop') return 'answer';
      w.stallBeat();
      return 'ignore';
    } });
  await lab.fleet.reconcile();
  const worker = lab.workers[0];
  const started = Date.now();
  await lab.fleet.close();
  const took = Date.now() - started;
  t.same(worker?.kills, ['SIGKILL'], 'killed once, by the stop deadline');
  t.equal(lab.logged(/^worker hung/).length, 0, 'not by the watchdog (a draining worker stops beating too)');
  t.equal(lab.logged(/^worker did not stop in time: killed$/).length, 1, 'the deadline kill is logged');
  t.ok(took >= 590 && took < 600 + 1_000, `close took ${took} ms: the 600 ms deadline, no more waiting on top`);
  t.equal(lab.workers.length, 1, 'nothing restarted');
});

t.test('a hung worker killed as mcrd begins to stop is not restarted and delays nothing', async (t) => {
  const lab = fleetLab(t, { backoff: { minMs: 500, maxMs: 500 }, timing: { hungAfterMs: HUNG_AFTER_MS, stopTimeoutMs: 5_000 },
    script: (body) => (body.kind === 'stop' ? 'ignore' : 'answer') });
  await lab.fleet.reconcile();
  const worker = lab.workers[0];
  await lab.until(() => (worker?.beat ?? 0n) > 1n, 1_000, 'beating');
  worker?.stallBeat();
  await lab.until(() => (worker?.kills.length ?? 0) > 0, 2_000, 'killed');
  const started = Date.now();
  await lab.fleet.close();
  t.ok(Date.now() - started < 2_500, 'close does not wait out the 5 s stop deadline for a worker already dead');
  await sleep(600);
  t.equal(lab.workers.length, 1, 'not restarted after its 500 ms backoff');
});

t.test('a stalled loop that is runnable (starved of CPU) gets 4 times the threshold before it is killed', async (t) => {
  const states = new Map<number, string>();
  const lab = fleetLab(t, { workers: 2, backoff: { minMs: 20, maxMs: 20 }, timing: { hungAfterMs: HUNG_AFTER_MS },
    loopState: (pid) => states.get(pid) });
  await lab.fleet.reconcile();
  const [starved, stopped] = lab.workers;
  if (starved === undefined || stopped === undefined) throw new Error('two workers expected');
  states.set(starved.pid, 'R');
  states.set(stopped.pid, 'T');
  await lab.until(() => starved.beat > 0n && stopped.beat > 0n, 2_000, 'both loops beat');
  const stalledAt = Date.now();
  starved.stallBeat();
  stopped.stallBeat();
  await lab.until(() => stopped.kills.length > 0, 2_000, 'the stopped loop killed');
  t.same(starved.kills, [], 'the runnable one is not killed at the threshold');
  t.equal(lab.logged(/starved of CPU/).length, 1, 'its starvation is logged once');
  await lab.until(() => starved.kills.length > 0, 4_000, 'the starved loop judged at last');
  const after = Date.now() - stalledAt;
  t.ok(after >= HUNG_AFTER_MS * 4 - 40, `killed only after 4 times the threshold (${after} ms)`);
});
