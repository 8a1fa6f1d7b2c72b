/**
 * `mcrctl log-level set` through the fleet, with fake workers: a running
 * worker is told at once; a worker that is starting (spawned with the old
 * level) is told once it runs; a level a worker refuses is neither kept
 * for it nor counted.
 */
import t from 'tap';
import { fleetLab, sleep } from './fleet-fixture.js';

t.test('a level set while a worker starts reaches it once it runs', async (t) => {
  const lab = fleetLab(t, { script: (body) => (body.kind === 'ping' && body.loop === true ? { delayMs: 150 } : 'answer') });
  const starting = lab.fleet.reconcile();
  await lab.until(() => lab.fleet.info()[0]?.state === 'starting', 1_000, 'starting');
  t.equal(await lab.fleet.setLogLevel('debug'), 1, 'counted: the slot keeps it for its worker');
  await starting;
  const w = lab.workers[0];
  t.equal(w?.spec.logLevel, 'info', 'spawned with the level before');
  t.same(w?.sent.map((c) => c.kind), ['ping', 'syncRules', 'setLogLevel'], 'told once it runs');
  const last = w?.sent.at(-1);
  t.equal(last?.kind === 'setLogLevel' ? last.level : undefined, 'debug');
  t.equal(lab.fleet.info()[0]?.logLevel, 'debug');

  // Nothing more is sent to a worker started with the slot's level.
  w?.die({ code: 1, signal: null });
  await lab.until(() => lab.workers.length === 2 && lab.fleet.info()[0]?.state === 'running', 3_000, 'restarted');
  await sleep(20);
  t.equal(lab.workers[1]?.spec.logLevel, 'debug', 'the replacement is spawned with it');
  t.same(lab.workers[1]?.sent.map((c) => c.kind), ['ping', 'syncRules'], 'and not told again');
});

t.test('a level a worker refuses is not kept for it nor counted', async (t) => {
  const lab = fleetLab(t, { workers: 2, script: (body, w) => (body.kind === 'setLogLevel' && w.spec.id === 'in0/1'
    ? { error: { code: 'ERR_MCR_BAD_LEVEL', message: `unknown log level "${body.level ?? ''}"` } } : 'answer') });
  await lab.fleet.reconcile();
  t.equal(await lab.fleet.setLogLevel('warn'), 1, 'one worker took it');
  t.same(lab.fleet.info().map((w) => [w.id, w.logLevel]), [['in0/0', 'warn'], ['in0/1', 'info']], 'the refusing worker keeps its level');
  t.equal(lab.logged(/refused the log level/).length, 1, 'logged');
});
