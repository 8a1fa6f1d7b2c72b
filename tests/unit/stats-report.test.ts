/**
 * The stats answer (supervisor/stats/stats-report.ts): counters summed over
 * workers per rule and output, pps absent (not 0) until there is an earlier
 * sample, rates per rule and per output after, and stale counters a fleet
 * slot still holds (failed ping, restart) never read as a new process's.
 */
import t from 'tap';
import { StatsReport, type CounterSlot } from '../../supervisor/stats/stats-report.js';
import type { Rule, WorkerCounters } from '../../proto/index.js';

const RULES: Rule[] = [
  { id: 1, inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }, { group: '10.0.0.9', port: 7000, interface: 'out1' }] },
  { id: 2, inputInterface: 'in0', inputGroup: '239.1.1.2', inputPort: 5001, outputs: [{ group: '239.3.3.3', port: 6000, interface: 'out0' }] },
];

/** Counters of rule 1 only: `packets` matched, sent to both outputs, 100 bytes each. */
const counters = (packets: number): WorkerCounters => ({
  received: packets, kernelDrops: 0, malformed: 0, unmatched: 0,
  rules: [{ ruleId: 1, packets, bytes: packets * 100, errors: 1,
    outputs: [{ packets, bytes: packets * 100, errors: 0, errorsByErrno: {} },
      { packets: packets - 1, bytes: (packets - 1) * 100, errors: 1, errorsByErrno: { ENODEV: 1 } }] }],
  loop: {},
});
const slot = (id: string, pid: number | undefined, c: WorkerCounters | undefined, state = 'running'): CounterSlot =>
  ({ id, iface: 'in0', state, restarts: 0, worker: pid === undefined ? undefined : { pid }, counters: c });

t.test('sums over workers; no pps on the first sample, pps per rule and output after', async (t) => {
  const report = new StatsReport();
  const first = report.build([slot('in0/0', 100, counters(1000)), slot('in0/1', 101, counters(500))], RULES, 0);
  t.equal(first.rateIntervalMs, undefined, 'no interval yet');
  t.strictSame(first.rules[0], { ruleId: 1, packets: 1500, bytes: 150_000, errors: 2,
    outputs: [{ packets: 1500, bytes: 150_000, errors: 0, errorsByErrno: {} }, { packets: 1498, bytes: 149_800, errors: 2, errorsByErrno: { ENODEV: 2 } }] },
  'no pps key at all; errors by errno summed too');
  t.strictSame(first.rules[1], { ruleId: 2, packets: 0, bytes: 0, errors: 0, outputs: [{ packets: 0, bytes: 0, errors: 0, errorsByErrno: {} }] },
    'a rule no worker reported yet');
  t.strictSame(first.workers.map((w) => w.received), [1000, 500]);

  const second = report.build([slot('in0/0', 100, counters(3000)), slot('in0/1', 101, counters(1500))], RULES, 2000);
  t.equal(second.rateIntervalMs, 2000);
  t.equal(second.rules[0]?.pps, 1500, '(2000 + 1000) matched over 2 s');
  t.equal(second.rules[0]?.outputs[0]?.pps, 1500);
  t.equal(second.rules[0]?.outputs[1]?.pps, 1500);
  t.equal(second.rules[1]?.pps, 0, 'a rule with nothing matched has a real 0');
});

t.test('errors by errno: each errno summed over the workers, none invented', async (t) => {
  const report = new StatsReport();
  const worker = (byErrno: Record<string, number>): WorkerCounters => {
    const errors = Object.values(byErrno).reduce((a, b) => a + b, 0);
    return { received: 10, kernelDrops: 0, malformed: 0, unmatched: 0, loop: {},
      rules: [{ ruleId: 2, packets: 10, bytes: 1000, errors, outputs: [{ packets: 10 - errors, bytes: 100 * (10 - errors), errors, errorsByErrno: byErrno }] }] };
  };
  const r = report.build([slot('in0/0', 100, worker({ ENETUNREACH: 3, ENODEV: 4 })), slot('in0/1', 101, worker({ ENODEV: 1, other: 2 }))], RULES, 0);
  t.strictSame(r.rules[1]?.outputs[0]?.errorsByErrno, { ENETUNREACH: 3, ENODEV: 5, other: 2 });
  t.equal(r.rules[1]?.outputs[0]?.errors, 10, 'and they add up to the errors');
});

t.test('stale counters of a replaced process are not read as the new one', async (t) => {
  const report = new StatsReport();
  const old = counters(10_000);
  report.build([slot('in0/0', 100, old)], RULES, 0);
  // The worker was restarted and the first ping of the new one failed: the
  // slot still holds the old object. It must not count as 10000 new packets.
  const stale = report.build([slot('in0/0', 200, old)], RULES, 1000);
  t.equal(stale.rules[0]?.pps, 0, 'nothing counted from the stale object');
  const restarting = report.build([slot('in0/0', undefined, old, 'restarting')], RULES, 2000);
  t.equal(restarting.rules[0]?.pps, 0, 'a restarting slot counts nothing');
  const fresh = report.build([slot('in0/0', 200, counters(300))], RULES, 3000);
  t.equal(fresh.rateIntervalMs, 1000);
  t.equal(fresh.rules[0]?.pps, 300, 'the new process counted from zero');
  t.ok(fresh.rules[0]?.outputs.every((o) => (o.pps ?? -1) >= 0), 'no negative rate for any output');
});

t.test('a reading after observe() that did not answer is not fresh: no rate spike when the worker answers again', async (t) => {
  // A steady 1 000 pps; a clear (or reload) observes the workers at 2 s; the
  // ping of 5 s times out, so the fleet still holds the counters observe saw.
  const report = new StatsReport();
  report.build([slot('in0/0', 100, counters(0))], RULES, 0);
  report.build([slot('in0/0', 100, counters(1000))], RULES, 1000);
  const atClear = counters(2000);
  report.observe([slot('in0/0', 100, atClear)], RULES);
  report.clear();
  report.build([slot('in0/0', 100, atClear)], RULES, 5000);
  const again = report.build([slot('in0/0', 100, counters(5600))], RULES, 5600);
  t.equal(again.rules[0]?.pps, 1000, 'the true rate, not the 6 000 the incomplete sample of 5 s gave as reference');
});

t.test('a reading whose answers came far apart is not a rate reference: no dip-then-spike', async (t) => {
  // A steady 1 000 pps over two workers (500 each). In the reading at 10.8 s
  // one worker answered at 10.0 s and the other, busy with a sync, at 10.8 s.
  const report = new StatsReport();
  const at = (ms: number, total: number, readAt: [number, number]): CounterSlot[] =>
    [{ ...slot('in0/0', 100, counters(total / 2)), countersAtMs: readAt[0] }, { ...slot('in0/1', 101, counters(total / 2)), countersAtMs: readAt[1] }];
  report.build(at(9000, 9000, [9000, 9001]), RULES, 9000);
  // At 10.8 s the early worker's half is 0.8 s old: the total (10 400) is that of no single moment.
  report.build(at(10_800, 10_400, [10_000, 10_800]), RULES, 10_800);
  const next = report.build(at(11_400, 11_400, [11_400, 11_401]), RULES, 11_400);
  t.equal(next.rateIntervalMs, 2400, 'measured from the reading of 9 s, the last whose answers came together');
  t.equal(next.rules[0]?.pps, 1000, 'the true rate, not the 1 667 measured from the spread reading');
});

t.test('answers that always come far apart still give rates: the first such reading is the reference', async (t) => {
  const report = new StatsReport();
  const at = (total: number, first: number): CounterSlot[] =>
    [{ ...slot('in0/0', 100, counters(total / 2)), countersAtMs: first }, { ...slot('in0/1', 101, counters(total / 2)), countersAtMs: first + 300 }];
  report.build(at(0, 0), RULES, 300);
  const next = report.build(at(1000, 1000), RULES, 1300);
  t.equal(next.rules[0]?.pps, 1000, 'a rate, from the only reading there was');
});

t.test('with answers always far apart, the reference is renewed every 5 s, so rates follow the traffic', async (t) => {
  const report = new StatsReport();
  const at = (total: number, first: number): CounterSlot[] =>
    [{ ...slot('in0/0', 100, counters(total / 2)), countersAtMs: first }, { ...slot('in0/1', 101, counters(total / 2)), countersAtMs: first + 300 }];
  // 1 000 pps for 10 s, then 0: a reading every second.
  let total = 0;
  let last;
  for (let s = 0; s <= 20; s++) {
    if (s > 0 && s <= 10) total += 1000;
    last = report.build(at(total, s * 1000), RULES, s * 1000 + 300);
  }
  t.ok((last?.rules[0]?.pps ?? -1) === 0, `10 s after the traffic stopped the rate is 0 (${last?.rules[0]?.pps}), not an average since the start`);
});
