/**
 * mcrd's control handler (supervisor/daemon-handler.ts) over a fleet of
 * fake workers (fleet-fixture.ts): once mcrd is stopping, rule changes and
 * reloads are refused with ESHUTDOWN and change nothing (the stop takes
 * down what they would change, and a change then could leave a consume
 * filter behind); a log level is one of pino's names, not any property
 * of an object ('constructor', '__proto__').
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { fleetLab } from './fleet-fixture.js';
import { createHandler, type DaemonState } from '../../supervisor/daemon-handler.js';
import { WorkerLogs } from '../../supervisor/worker-logs.js';
import { EventLog } from '../../supervisor/events/event-log.js';

const context = { signal: new AbortController().signal, clientId: 1, requestId: 1 };

function handlerLab(t: Parameters<typeof fleetLab>[0], configFile = '/nonexistent/mcrd.json5') {
  const lab = fleetLab(t);
  let stopping = false;
  let inputSyncs = 0;
  const events = new EventLog();
  const state: DaemonState = { table: lab.table, fleet: lab.fleet, logs: new WorkerLogs(), events, logger: pino({ level: 'silent' }),
    syncInputs: () => { inputSyncs++; }, configFile, version: 'test', startedAtMs: Date.now(), stopping: () => stopping };
  return { lab, events, handler: createHandler(state), stop: () => { stopping = true; }, inputSyncs: () => inputSyncs };
}

t.test('while mcrd stops, add, remove and reload are refused with ESHUTDOWN and change nothing', async (t) => {
  const { lab, handler, stop, inputSyncs } = handlerLab(t);
  await lab.fleet.reconcile();
  const added = await handler.addRule({ rule: { id: 0, inputInterface: 'in0', inputGroup: '239.1.1.9', inputPort: 5009,
    outputs: [{ group: '239.2.2.9', port: 6009, interface: 'out0' }] } }, context);
  t.equal(added.rule.inputPort, 5009, 'a change before the stop is applied');
  const rules = lab.table.list().length;
  const generation = lab.table.generation;
  const syncs = inputSyncs();
  stop();
  await t.rejects(handler.addRule({ rule: { id: 0, inputInterface: 'in0', inputGroup: '239.1.1.10', inputPort: 5010,
    outputs: [{ group: '239.2.2.9', port: 6010, interface: 'out0' }] } }, context), { code: 'ESHUTDOWN', message: /mcrd is stopping/ });
  await t.rejects(handler.removeRule({ id: added.rule.id }, context), { code: 'ESHUTDOWN' });
  await t.rejects(handler.reload({}, context), { code: 'ESHUTDOWN' });
  t.equal(lab.table.list().length, rules, 'the table is as it was');
  t.equal(lab.table.generation, generation);
  t.equal(inputSyncs(), syncs, 'memberships and filters untouched');
});

t.test('a reload the stop overtakes while it reads the counters changes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-handler-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'mcrd.json5');
  writeFileSync(file, JSON.stringify({ rules: [{ inputInterface: 'in0', inputGroup: '239.1.1.11', inputPort: 5011,
    outputs: [{ group: '239.2.2.11', port: 6011, interface: 'out0' }] }] }));
  const { lab, events, handler, stop, inputSyncs } = handlerLab(t, file);
  await lab.fleet.reconcile();
  // The stop begins while the reload waits for the workers' counters.
  const counters = lab.fleet.counters.bind(lab.fleet);
  lab.fleet.counters = async (...args: Parameters<typeof counters>) => {
    const sampled = await counters(...args);
    stop();
    return sampled;
  };
  const before = lab.table.list().map((r) => r.id);
  const generation = lab.table.generation;
  const syncs = inputSyncs();
  await t.rejects(handler.reload({}, context), { code: 'ESHUTDOWN', message: /the reload refused, nothing changed/ });
  t.same(lab.table.list().map((r) => r.id), before, 'the rules are as they were: none removed, the file\'s not added');
  t.equal(lab.table.generation, generation);
  t.equal(inputSyncs(), syncs, 'memberships and filters untouched');
  t.match(events.recent(10).map((e) => e.kind), ['reload.refused'], 'recorded as refused, not applied');
});

t.test('log-level set refuses names that are not levels, Object.prototype\'s included', async (t) => {
  const { lab, handler } = handlerLab(t);
  await lab.fleet.reconcile();
  for (const level of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'verbose']) {
    await t.rejects(handler.logLevelSet({ level }, context), { code: 'ERR_MCR_BAD_LEVEL' }, level);
  }
  t.same(lab.workers[0]?.sent.map((c) => c.kind), ['ping', 'syncRules'], 'nothing sent to the worker');
  t.same((await handler.logLevelGet({}, context)).workers.map((w) => w.level), ['info'], 'its level unchanged');
  t.same(await handler.logLevelSet({ level: 'debug' }, context), { level: 'debug', workers: 1 }, 'a real level is set');
});
