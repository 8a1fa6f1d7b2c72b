/**
 * Loss of signal in mcrd (supervisor/health/stream-watch.ts), on a made-up
 * clock and made-up worker arrivals: a rule starts down, goes up with an
 * arrival within its timeout and down once the latest arrival is older than
 * it; several workers combine (the latest wins), a restarted worker's empty
 * report does not lose the last arrival; every change is one log line and
 * one onChange call; timeout 0 is `off` and never polls a worker; the poll
 * interval follows the smallest timeout; removed rules are forgotten; an up
 * after a down carries how long the stream was down; a step of the wall
 * clock, back or forward, changes no state (arrivals are judged on the
 * monotonic clock).
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
  const clock = new TestClock();
  let reports: RuleArrivals[] = [];
  let polls = 0;
  const watch = new StreamWatch({ rules: () => rules, poll: async () => { polls++; return reports; }, logger, now: () => clock.now, monoNow: () => clock.mono });
  const changes: StreamChange[] = [];
  watch.onChange((c) => changes.push(c));
  /** Workers' reports by wall time; each arrival's monotonic time is the one the clocks give it now (0 stays 0: none yet). */
  const set = (r: Array<Omit<RuleArrivals, 'lastRxMonoMs'> & { lastRxMonoMs?: number[] }>): void => {
    reports = r.map((a) => ({ ...a, lastRxMonoMs: a.lastRxMonoMs ?? a.lastRxMs.map((ms) => (ms === 0 ? 0 : ms - clock.offset)) }));
  };
  return { watch, lines, clock, changes, set, polls: () => polls };
}

/** The host's two clocks: time passing moves both (setting `now`), a step of the wall clock (`step`) only `now`. */
class TestClock {
  mono = 5_000_000;
  /** Wall minus monotonic. */
  offset = 1_000_000 - 5_000_000;
  get now(): number {
    return this.mono + this.offset;
  }
  set now(wall: number) {
    this.mono += wall - this.now;
  }
  step(ms: number): void {
    this.offset += ms;
  }
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

t.test('a step of the wall clock changes nothing: a stopped stream goes down after its timeout, a flowing one stays up', async (t) => {
  const rules = [rule(1), rule(2)];
  const f = fixture(rules);
  f.set([{ ruleIds: [1, 2], lastRxMs: [f.clock.now, f.clock.now] }]);
  await f.watch.poll();
  t.same(rules.map((r) => f.watch.view(r).state), ['up', 'up']);
  // NTP steps the wall clock back an hour; rule 1's stream stops (its
  // worker keeps reporting the words of its last arrival), rule 2's flows on.
  const stopped = { wall: f.clock.now, mono: f.clock.mono };
  f.clock.step(-3_600_000);
  const polls: number[] = [];
  for (let i = 0; i < 6; i++) {
    f.clock.now += 400;
    polls.push(f.clock.now);
    f.set([{ ruleIds: [1, 2], lastRxMs: [stopped.wall, f.clock.now - 50], lastRxMonoMs: [stopped.mono, f.clock.mono - 50] }]);
    await f.watch.poll();
  }
  t.equal(f.watch.view(rules[0] as Rule).state, 'down', 'stopped 2.4 s ago: down, not up until the wall clock is back where it was');
  t.equal(f.watch.view(rules[1] as Rule).state, 'up', 'flowing: up');
  t.equal(f.watch.view(rules[1] as Rule).lastRxMs, f.clock.now - 50, 'its last arrival shown in the new wall time');
  const down = f.changes.find((c) => c.ruleId === 1 && c.state === 'down');
  t.equal(down?.atMs, polls[2], 'one down, at the poll that first saw the timeout pass (1200 ms after the last arrival)');
  // And a step forward an hour: nothing flowing goes down.
  f.clock.step(3_600_000);
  f.clock.now += 400;
  f.set([{ ruleIds: [2], lastRxMs: [f.clock.now - 50] }]);
  await f.watch.poll();
  t.equal(f.watch.view(rules[1] as Rule).state, 'up', 'still up after a step forward');
  t.same(f.changes.map((c) => [c.ruleId, c.state]), [[1, 'up'], [2, 'up'], [1, 'down']], 'no other change reported');
});

t.test('stop does not wait for a poll a hung worker holds, and that poll reports nothing when it ends', async (t) => {
  const rules = [rule(1, 1000)];
  let mono = 5_000_000;
  let next: Promise<RuleArrivals[]> = Promise.resolve([{ ruleIds: [1], lastRxMs: [mono], lastRxMonoMs: [mono] }]);
  const watch = new StreamWatch({ rules: () => rules, poll: () => next, logger: pino({ level: 'silent' }), now: () => mono, monoNow: () => mono });
  const changes: StreamChange[] = [];
  watch.onChange((c) => changes.push(c));
  await watch.poll();
  t.same(changes.map((c) => c.state), ['up'], 'the stream flows');
  // 2 s later a poll waits on a hung worker, and mcrd begins to stop.
  mono += 2000;
  let answer: (r: RuleArrivals[]) => void = () => {};
  next = new Promise((resolve) => { answer = resolve; });
  const held = watch.poll();
  t.equal(watch.stop(), undefined, 'stop returns at once, not once the poll ends');
  // The worker answers late, as a stopping one does: nothing new arrived,
  // which would read as a stream down 2 s after its last datagram.
  answer([]);
  await held;
  t.same(changes.map((c) => c.state), ['up'], 'no stream down reported for the stop');
});
