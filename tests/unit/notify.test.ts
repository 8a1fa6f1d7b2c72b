/**
 * The systemd notify protocol as mcrd speaks it (supervisor/notify/), with
 * the datagram sender faked: no NOTIFY_SOCKET, no datagram; the variable is
 * taken out of the environment; READY=1 waits for every worker to forward
 * (a slot waiting for its interface does not hold it back); RELOADING=1 /
 * READY=1 around a reload, even a refused one, but not before the first
 * READY; STOPPING=1; a failed send is logged once per code.
 */
import t from 'tap';
import { pino } from 'pino';
import { Notifier, RETRY_MS } from '../../supervisor/notify/notifier.js';
import { allForwarding, ServiceState, statusLine } from '../../supervisor/notify/service-state.js';
import type { WorkerInfo } from '../../proto/index.js';

function setup(env: NodeJS.ProcessEnv, fail?: string): { sent: string[]; logs: Array<{ msg: string; code?: string }>; notifier: Notifier } {
  const sent: string[] = [];
  const logs: Array<{ msg: string; code?: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l) as { msg: string }) });
  const notifier = Notifier.fromEnv(env, (address, data) => {
    if (fail !== undefined) throw Object.assign(new Error(`${fail}: sendto ${address}`), { code: fail });
    sent.push(`${address} ${data.toString()}`);
  }, logger, () => 123456789n);
  return { sent, logs, notifier };
}

const worker = (id: string, state: string): WorkerInfo => ({ id, interface: 'in0', core: 0, pid: 1, state, restarts: 0, generation: 1, logLevel: 'info', startedAtMs: 0 });

t.test('no NOTIFY_SOCKET: nothing is sent', async (t) => {
  const { sent, notifier } = setup({});
  notifier.ready('x');
  notifier.stopping();
  t.same(sent, []);
  t.notOk(notifier.enabled);
});

t.test('the variable is removed for children; messages as systemd reads them', async (t) => {
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '@sd-test', PATH: '/bin' };
  const { sent, notifier } = setup(env);
  t.same(env, { PATH: '/bin' }, 'NOTIFY_SOCKET is gone from the environment');
  notifier.ready('1 rule');
  notifier.reloading();
  notifier.stopping();
  notifier.status('same');
  notifier.status('same');
  t.same(sent, ['@sd-test READY=1\nSTATUS=1 rule\n', '@sd-test RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=reloading the configuration\n',
    '@sd-test STOPPING=1\nSTATUS=stopping: draining workers\n', '@sd-test STATUS=same\n'], 'an unchanged status is sent once');
});

t.test('a failed send is logged once per code and never throws', async (t) => {
  const { logs, notifier } = setup({ NOTIFY_SOCKET: '/run/none' }, 'ECONNREFUSED');
  notifier.ready();
  notifier.stopping();
  t.same(logs.filter((l) => l.code === 'ECONNREFUSED').length, 1);
});

t.test('READY=1 that meets a full queue (EAGAIN) is sent again until it goes; a status line is not', async (t) => {
  const sent: string[] = [];
  let refusals = 3;
  const logger = pino({ level: 'silent' });
  const notifier = Notifier.fromEnv({ NOTIFY_SOCKET: '@sd' }, (_address, data) => {
    if (refusals > 0) {
      refusals--;
      throw Object.assign(new Error('EAGAIN: sendto'), { code: 'EAGAIN' });
    }
    sent.push(data.toString());
  }, logger, () => 1n);
  notifier.ready('1 rule');
  t.same(sent, [], 'the first send met a full queue');
  for (let i = 0; i < 100 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, RETRY_MS));
  t.same(sent, ['READY=1\nSTATUS=1 rule\n'], 'sent once the queue took it');
  refusals = 1;
  notifier.status('busy');
  await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
  t.same(sent.length, 1, 'a status line that meets a full queue is not sent again (the next one replaces it)');
});

t.test('READY waits for every worker; reloads are bracketed after it', async (t) => {
  const { sent, notifier } = setup({ NOTIFY_SOCKET: '/run/n' });
  let workers = [worker('in0/0', 'starting'), worker('in0/1', 'running'), worker('in9/0', 'waiting')];
  const logger = pino({ level: 'silent' });
  const state = new ServiceState({ notifier, logger, workers: () => workers, rules: () => 2, pps: async () => 1500, readyPollMs: 5, statusIntervalMs: 20 });
  t.teardown(() => state.close());
  // A SIGHUP during start-up: no READY from the reload.
  await state.aroundReload(async () => undefined);
  const ready = state.startReady();
  await new Promise((r) => setTimeout(r, 30));
  t.notOk(sent.some((m) => /READY=1/.test(m)), 'no READY while a worker starts');
  t.match(sent.at(-1), /STATUS=starting: 2 rules, 1\/3 workers forwarding, 1 waiting for its interface, 1 starting or restarting/);
  workers = [worker('in0/0', 'running'), worker('in0/1', 'running'), worker('in9/0', 'waiting')];
  await ready;
  t.match(sent.at(-1), /^\/run\/n READY=1\nSTATUS=2 rules, 2\/3 workers forwarding, 1 waiting for its interface\n$/);
  await new Promise((r) => setTimeout(r, 60));
  t.ok(sent.some((m) => /STATUS=2 rules, 2\/3 workers forwarding, 1 waiting for its interface, 1\.5 kpps in/.test(m)), 'the status refresh carries the rate');
  const before = sent.length;
  await t.rejects(state.aroundReload(async () => { throw new Error('refused'); }), /refused/);
  t.match(sent.slice(before).join('|'), /RELOADING=1[\s\S]*\|[\s\S]*READY=1/, 'RELOADING then READY around a refused reload');
  state.stopping();
  t.match(sent.at(-1), /STOPPING=1/);
});

t.test('allForwarding and statusLine', async (t) => {
  t.ok(allForwarding([]));
  t.notOk(allForwarding([worker('a', 'restarting')]));
  t.equal(statusLine(1, [worker('a', 'running')], 2_500_000), '1 rule, 1/1 workers forwarding, 2.50 Mpps in');
});

t.test('state changes made while one waits for a full queue follow it in order', async (t) => {
  const sent: string[] = [];
  let refusals = 1;
  const notifier = Notifier.fromEnv({ NOTIFY_SOCKET: '@sd' }, (_address, data) => {
    if (refusals > 0) {
      refusals--;
      throw Object.assign(new Error('EAGAIN: sendto'), { code: 'EAGAIN' });
    }
    sent.push(data.toString().split('\n')[0] ?? '');
  }, pino({ level: 'silent' }), () => 1n);
  // A reload quicker than one retry: RELOADING=1 meets the full queue, the
  // reload ends, READY=1 is made while RELOADING=1 still waits.
  notifier.reloading();
  notifier.ready('1 rule');
  notifier.status('1 rule, 2 kpps in');
  t.same(sent, ['STATUS=1 rule, 2 kpps in'], 'a status line does not wait (the queue took it)');
  for (let i = 0; i < 100 && sent.length < 4; i++) await new Promise((r) => setTimeout(r, RETRY_MS));
  t.same(sent, ['STATUS=1 rule, 2 kpps in', 'RELOADING=1', 'READY=1', 'STATUS=1 rule, 2 kpps in'],
    'RELOADING=1 before READY=1, as made; then the latest status again, since READY=1 carried an older one');
});
