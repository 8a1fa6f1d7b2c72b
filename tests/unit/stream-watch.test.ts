/**
 * Loss of signal in mcrd (supervisor/health/stream-watch.ts), on a made-up
 * clock and made-up worker arrivals: a rule starts down, goes up with an
 * arrival within its timeout and down once the latest arrival is older than
 * it; several workers combine (the latest wins), a restarted worker's empty
 * report does not lose the last arrival; every change is one log line and
 * one onChange call; timeout 0 is `off` and never polls a worker; the poll
 * interval follows the smallest timeout; removed rules are forgotten; an up
 * after a down carries how long the stream was down.
 * Also the cost of a poll at 5000 rules x 2 workers.
 */
import t from 'tap';
import { pino } from 'pino';
import type { Rule, RuleArrivals } from '../../proto/index.js';
import { pollIntervalMs, StreamWatch, type StreamChange } from '../../supervisor/health/stream-watch.js';

const rule = (id: number, signalTimeoutMs?: number): Rule => ({ id, inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000 + id,
  outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }], ...(signalTimeoutMs !== undefined ? { signalTimeoutMs } : {}) });

function fixture(rules: Rule[]) {
  const lines: Array<{ level: number; msg: string; rule?: number }> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  const clock = { now: 1_000_000 };
  let reports: RuleArrivals[] = [];
  let polls = 0;
  const watch = new StreamWatch({ rules: () => rules, poll: async () => { polls++; return reports; }, logger, now: () => clock.now });
  const changes: StreamChange[] = [];
  watch.onChange((c) => changes.push(c));
  return { watch, lines, clock, changes, set: (r: RuleArrivals[]) => { reports = r; }, polls: () => polls };
}

t.test('down before the first datagram, up within the timeout, down after it; logged once per change', async (t) => {
  const rules = [rule(1), rule(2, 0)];
  const f = fixture(rules);
  t.same(f.watch.view(rules[0] as Rule), { state: 'down', changedAtMs: 1_000_000, lastRxMs: 0 }, 'a new rule is down');
  t.equal(f.watch.view(rules[1] as Rule).state, 'off', 'timeout 0: off');
  await f.watch.poll();
  t.equal(f.changes.length, 0, 'no change to report yet');
  f.clock.now += 100;
  f.set([{ ruleIds: [1, 2], lastRxMs: [f.clock.now - 50, f.clock.now - 50] }]);
  await f.watch.poll();
  t.equal(f.watch.view(rules[0] as Rule).state, 'up');
  t.equal(f.watch.view(rules[1] as Rule).state, 'off', 'an unwatched rule stays off whatever arrives');
  f.clock.now += 500;
  await f.watch.poll();
  t.equal(f.watch.view(rules[0] as Rule).state, 'up', 'still within 1000 ms of the arrival');
  f.clock.now += 500;
  await f.watch.poll();
  await f.watch.poll();
  const v = f.watch.view(rules[0] as Rule);
  t.equal(v.state, 'down', 'down 1050 ms after the last arrival');
  t.equal(v.changedAtMs, f.clock.now, 'the change time');
  t.same(f.changes.map((c) => [c.ruleId, c.previous, c.state]), [[1, 'down', 'up'], [1, 'up', 'down']], 'two changes reported');
  t.same(f.lines.filter((l) => l.msg.startsWith('stream')).map((l) => [l.level, l.msg.split(':')[0], l.rule]),
    [[30, 'stream up', 1], [40, 'stream down', 1]], 'info up, warn down, once each');
});

t.test('an up after a reported down says how long the stream was down; the first up does not', async (t) => {
  const rules = [rule(1)];
  const f = fixture(rules);
  f.clock.now += 100;
  f.set([{ ruleIds: [1], lastRxMs: [f.clock.now] }]);
  await f.watch.poll();
  f.clock.now += 1_500;
  await f.watch.poll();
  t.equal(f.watch.view(rules[0] as Rule).state, 'down');
  f.clock.now += 4_000;
  f.set([{ ruleIds: [1], lastRxMs: [f.clock.now - 10] }]);
  await f.watch.poll();
  t.same(f.changes.map((c) => [c.state, c.downMs]), [['up', undefined], ['down', undefined], ['up', 4_000]],
    'down for the 4000 ms between the two polls that saw it change');
  const up = f.lines.filter((l) => l.msg === 'stream up') as Array<{ downMs?: number }>;
  t.same(up.map((l) => l.downMs), [undefined, 4_000], 'and the log line says so');
});

t.test('workers combine: the latest arrival of any; a restarted worker does not reset it', async (t) => {
  const rules = [rule(1, 500)];
  const f = fixture(rules);
  f.set([{ ruleIds: [1], lastRxMs: [f.clock.now - 900] }, { ruleIds: [1], lastRxMs: [f.clock.now - 100] }]);
  await f.watch.poll();
  t.equal(f.watch.view(rules[0] as Rule).state, 'up', 'one worker saw it recently');
  f.set([{ ruleIds: [1], lastRxMs: [0] }]);
  f.clock.now += 200;
  await f.watch.poll();
  t.equal(f.watch.view(rules[0] as Rule).state, 'up', 'a worker that restarted (no arrivals yet) does not turn it down early');
  t.equal(f.watch.view(rules[0] as Rule).lastRxMs, f.clock.now - 300, 'the latest arrival is kept');
});

t.test('nothing watched, nothing polled; the interval follows the smallest timeout; removed rules are forgotten', async (t) => {
  const rules = [rule(1, 0)];
  const f = fixture(rules);
  await f.watch.poll();
  t.equal(f.polls(), 0, 'no worker asked when no rule is watched');
  t.equal(pollIntervalMs(rules), undefined);
  t.equal(pollIntervalMs([rule(1)]), 500, 'default 1000 ms: every 500 ms');
  t.equal(pollIntervalMs([rule(1), rule(2, 300)]), 150, 'half the smallest timeout');
  t.equal(pollIntervalMs([rule(2, 50)]), 100, 'never more often than every 100 ms');
  rules.push(rule(3));
  f.set([{ ruleIds: [3], lastRxMs: [f.clock.now] }]);
  await f.watch.poll();
  t.equal(f.changes.length, 1, 'rule 3 came up');
  rules.pop();
  await f.watch.poll();
  rules.push(rule(3));
  t.equal(f.watch.view(rules[1] as Rule).state, 'down', 'a rule removed and added again under the same id starts over');
});

t.test('a poll at 5000 rules and 2 workers is cheap', async (t) => {
  const rules = Array.from({ length: 5000 }, (_, i) => rule(i + 1));
  const f = fixture(rules);
  const ids = rules.map((r) => r.id);
  f.set([{ ruleIds: ids, lastRxMs: ids.map(() => f.clock.now) }, { ruleIds: ids, lastRxMs: ids.map(() => 0) }]);
  await f.watch.poll();
  const rounds = 20;
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) await f.watch.poll();
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / rounds;
  t.comment(`one poll over 5000 rules x 2 workers: ${ms.toFixed(2)} ms of mcrd's CPU (decoding the replies not included)`);
  t.equal(f.changes.length, 5000, 'every rule came up once');
});

t.test('a rule a reload changed (a new id) goes on from the old one\'s stream: no spurious up, a stop still reported down', async (t) => {
  const rules = [rule(1)];
  const f = fixture(rules);
  f.set([{ ruleIds: [1], lastRxMs: [f.clock.now] }]);
  await f.watch.poll();
  t.equal(f.watch.view(rules[0] as Rule).state, 'up');
  // The stream stops; 300 ms later a reload changes the rule: it is rule 2 now.
  f.clock.now += 300;
  const changed = { ...rule(1), id: 2 };
  rules.splice(0, 1, changed);
  f.watch.carry(1, changed);
  f.set([]);
  await f.watch.poll();
  t.equal(f.watch.view(changed).state, 'up', 'still up: its last arrival is 300 ms old, and no new up is reported');
  f.clock.now += 800;
  await f.watch.poll();
  t.equal(f.watch.view(changed).state, 'down', 'down once the arrival before the reload is a timeout old');
  t.same(f.changes.map((c) => [c.ruleId, c.previous, c.state]), [[1, 'down', 'up'], [2, 'up', 'down']], 'the stop reported, for the new id');
});
