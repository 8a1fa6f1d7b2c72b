/**
 * mcrd's own counters (supervisor/stats/counter-ledger.ts, through
 * StatsReport): totals per rule, output, errno and input that never go
 * down when a worker restarts (another pid), crashes (its last counts stay),
 * or resets a counter within a process; stale counters objects add
 * nothing; one worker's reset is not hidden by another's growth; a
 * reload's changed rule keeps its totals and those of the outputs that
 * stayed, matched by destination, not index; clear zeroes on purpose
 * (one rule, or all and the inputs) and leaves rates alone; removed rules
 * and inputs are forgotten; a rule a sync refused goes on from its last
 * reading when its retry brings it back.
 */
import t from 'tap';
import { StatsReport, type CounterSlot } from '../../supervisor/stats/stats-report.js';
import { matchOutputs } from '../../common/output-match.js';
import type { Rule, WorkerCounters } from '../../proto/index.js';

const A = { group: '239.2.2.1', port: 6000, interface: 'out0' };
const B = { group: '239.2.2.2', port: 6001, interface: 'out1' };
const C = { group: '239.2.2.3', port: 6002, interface: 'out2' };
const rule = (id: number, outputs = [A, B]): Rule => ({ id, name: `r${id}`, inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000 + id, outputs });

/** A worker's counters: rule `id` matched `n`, each output sent n (the last one also `errno` failures), loop counters from `loop`. */
function counters(pid: number, rules: Array<{ id: number; n: number; outputs?: number; errno?: Record<string, number> }>, loop: Record<string, number> = {}): WorkerCounters {
  return {
    pid, received: loop.frames ?? 0, kernelDrops: loop.kernel_drops ?? 0, malformed: 0, unmatched: loop.no_rule ?? 0, loop,
    rules: rules.map((r) => {
      const outputs = Array.from({ length: r.outputs ?? 2 }, (_, i) => {
        const errorsByErrno = i === (r.outputs ?? 2) - 1 ? (r.errno ?? {}) : {};
        const errors = Object.values(errorsByErrno).reduce((a, b) => a + b, 0);
        return { packets: r.n, bytes: r.n * 100, errors, errorsByErrno };
      });
      return { ruleId: r.id, packets: r.n, bytes: r.n * 100, errors: outputs.reduce((a, o) => a + o.errors, 0), outputs };
    }),
  };
}
const slot = (id: string, pid: number | undefined, c: WorkerCounters | undefined, state = 'running'): CounterSlot =>
  ({ id, iface: 'in0', state, restarts: 0, worker: pid === undefined ? undefined : { pid }, counters: c });

t.test('a restart or a crash never takes anything off; a counter reset within a process counts from zero', async (t) => {
  const report = new StatsReport();
  const rules = [rule(1)];
  report.build([slot('in0/0', 100, counters(100, [{ id: 1, n: 1000, errno: { ENOBUFS: 4 } }], { frames: 1200, kernel_drops: 3, drop_fragment: 2, no_rule: 5 }))], rules, 0);
  // The worker was killed: the slot restarts, keeping its last counters object (already read).
  const restarting = report.build([slot('in0/0', undefined, counters(100, []), 'restarting')], rules, 1000);
  t.equal(restarting.rules[0]?.packets, 1000, 'a restarting slot: what was counted stays');
  // The new process counts from zero.
  const s = report.build([slot('in0/0', 200, counters(200, [{ id: 1, n: 300, errno: { ENOBUFS: 1, ENODEV: 2 } }], { frames: 310, drop_fragment: 1 }))], rules, 2000);
  t.equal(s.rules[0]?.packets, 1300, '1000 before the crash + 300 since');
  t.equal(s.rules[0]?.bytes, 130_000);
  t.equal(s.rules[0]?.outputs[0]?.packets, 1300);
  t.same(s.rules[0]?.outputs[1]?.errorsByErrno, { ENOBUFS: 5, ENODEV: 2 }, 'errors by errno added up across the restart');
  t.equal(s.rules[0]?.outputs[1]?.errors, 7);
  t.equal(s.rules[0]?.errors, 7, "the rule's errors: the sum of its outputs'");
  t.same(s.inputs, [{ interface: 'in0', frames: 1510, kernelDrops: 3, malformed: { fragment: 3 }, unmatched: 5 }], 'per input too');
  // The same process with a counter lower than before (never expected: workers carry counts through a sync) counts from zero.
  const down = report.build([slot('in0/0', 200, counters(200, [{ id: 1, n: 50 }]))], rules, 3000);
  t.equal(down.rules[0]?.packets, 1350, 'went down: its whole value is the increase');
  t.ok((down.rules[0]?.pps ?? 0) >= 0, 'no negative rate');
});

t.test('a rule a sync refused, absent from readings until its retry, goes on from its last reading', async (t) => {
  const report = new StatsReport();
  const rules = [rule(1), rule(2)];
  report.build([slot('in0/0', 100, counters(100, [{ id: 1, n: 1000 }, { id: 2, n: 10 }]))], rules, 0);
  // Rule 1 refused by a sync: the worker does not report it (it carries its 1100 for the retry).
  const refused = report.build([slot('in0/0', 100, counters(100, [{ id: 2, n: 20 }]))], rules, 1000);
  t.equal(refused.rules[0]?.packets, 1000, 'refused: what was read stays');
  // Retried: the worker reports its carried 1100 plus 200 since.
  const back = report.build([slot('in0/0', 100, counters(100, [{ id: 1, n: 1300 }, { id: 2, n: 30 }]))], rules, 2000);
  t.equal(back.rules[0]?.packets, 1300, 'back: 1000 read before + 300 counted since, not 1300 more');
  t.equal(back.rules[0]?.outputs[0]?.packets, 1300, 'its outputs too');
  t.equal(back.rules[1]?.packets, 30);
});

t.test('stale counters add nothing; a reading names its own process', async (t) => {
  const report = new StatsReport();
  const rules = [rule(1)];
  const old = counters(100, [{ id: 1, n: 10_000 }]);
  report.build([slot('in0/0', 100, old)], rules, 0);
  const stale = report.build([slot('in0/0', 200, old)], rules, 1000);
  t.equal(stale.rules[0]?.packets, 10_000, 'the stale object is not counted again');
  // A reply from the old process that arrived after the new one started is still the old one's (WorkerCounters.pid).
  const late = report.build([slot('in0/0', 200, counters(100, [{ id: 1, n: 10_500 }]))], rules, 2000);
  t.equal(late.rules[0]?.packets, 10_500, "the old process's growth, not 10 500 new packets");
  const fresh = report.build([slot('in0/0', 200, counters(200, [{ id: 1, n: 40 }]))], rules, 3000);
  t.equal(fresh.rules[0]?.packets, 10_540);
});

t.test("one worker's reset is not hidden by another's growth", async (t) => {
  const report = new StatsReport();
  const rules = [rule(1)];
  report.build([slot('in0/0', 1, counters(1, [{ id: 1, n: 5000 }])), slot('in0/1', 2, counters(2, [{ id: 1, n: 5000 }]))], rules, 0);
  // A sum per rule would read 10000 -> 6500 and see one reset; per worker: +1000 and +500.
  const s = report.build([slot('in0/0', 1, counters(1, [{ id: 1, n: 6000 }])), slot('in0/1', 3, counters(3, [{ id: 1, n: 500 }]))], rules, 1000);
  t.equal(s.rules[0]?.packets, 11_500);
  t.equal(s.rules[0]?.pps, 1500);
});

t.test('a reload that changes a rule: its totals and those of the outputs that stayed go on, matched by destination', async (t) => {
  const report = new StatsReport();
  report.build([slot('in0/0', 1, counters(1, [{ id: 1, n: 100, errno: { EHOSTUNREACH: 3 } }]))], [rule(1)], 0);
  report.build([slot('in0/0', 1, counters(1, [{ id: 1, n: 200, errno: { EHOSTUNREACH: 6 } }]))], [rule(1)], 1000);
  // Output A removed, C added, B moved from index 1 to index 0.
  const changed = rule(7, [B, C]);
  report.carry(1, changed);
  const s = report.build([slot('in0/0', 1, counters(1, [{ id: 1, n: 200, errno: { EHOSTUNREACH: 6 } }]))], [changed], 1500);
  t.equal(s.rules[0]?.ruleId, 7);
  t.equal(s.rules[0]?.packets, 200, "the new id goes on with the old rule's packets");
  t.same(s.rules[0]?.outputs[0], { packets: 200, bytes: 20_000, pps: 0, errors: 6, errorsByErrno: { EHOSTUNREACH: 6 } }, 'B kept its counts at its new index, and has a rate at once (nothing flowed since 1000)');
  t.same(s.rules[0]?.outputs[1], { packets: 0, bytes: 0, errors: 0, errorsByErrno: {} }, 'C is new: zero, no rate yet');
  t.equal(s.rules[0]?.pps, 0, 'the rule has a rate at once: no gap');
  // The worker drops id 1 at its sync and counts id 7 from zero.
  const next = report.build([slot('in0/0', 1, counters(1, [{ id: 7, n: 50 }]))], [changed], 2500);
  t.equal(next.rules[0]?.packets, 250);
  t.equal(next.rules[0]?.outputs[0]?.packets, 250);
  t.equal(next.rules[0]?.outputs[1]?.packets, 50);
  t.equal(next.rules[0]?.pps, 50, 'the rate over the change: what flowed, no spike');
});

t.test('matchOutputs: same destination, n-th with n-th, not by index', async (t) => {
  t.same(matchOutputs(['a', 'b', 'a'], ['a', 'a', 'c', 'b', 'a']), [0, 2, -1, 1, -1]);
  t.same(matchOutputs([], ['a']), [-1]);
});

t.test('clear: one rule, or all and the inputs; rates are not disturbed', async (t) => {
  const report = new StatsReport();
  const rules = [rule(1), rule(2)];
  const at = (n: number): CounterSlot[] => [slot('in0/0', 1, counters(1, [{ id: 1, n, errno: { ENOBUFS: 1 } }, { id: 2, n }], { frames: 2 * n, drop_not_udp: 1 }))];
  report.build(at(1000), rules, 0);
  t.same(report.clear([2, 99]), { ruleIds: [2], inputs: [] }, 'clears the rules that exist');
  const one = report.build(at(1000), rules, 1000);
  t.equal(one.rules[0]?.packets, 1000, 'rule 1 untouched');
  t.equal(one.rules[1]?.packets, 0, 'rule 2 zeroed');
  t.equal(one.rules[1]?.pps, 0, 'and its rate is a real 0, not negative');
  const all = report.clear();
  t.same(all, { ruleIds: [1, 2], inputs: ['in0'] });
  const zero = report.build(at(1000), rules, 2000);
  t.same(zero.rules.map((r) => [r.packets, r.bytes, r.errors, r.outputs.map((o) => [o.packets, o.errors, o.errorsByErrno])]),
    [[0, 0, 0, [[0, 0, {}], [0, 0, {}]]], [0, 0, 0, [[0, 0, {}], [0, 0, {}]]]], 'everything at zero');
  t.same(zero.inputs, [{ interface: 'in0', frames: 0, kernelDrops: 0, malformed: { not_udp: 0 }, unmatched: 0 }], 'the inputs too');
  const after = report.build(at(1500), rules, 3000);
  t.equal(after.rules[0]?.packets, 500, 'counting again from the clear');
  t.equal(after.rules[0]?.pps, 500, 'the rate is what flowed, not a spike or a drop');
  t.equal(after.inputs[0]?.frames, 1000);
});

t.test('removed rules and unused inputs are forgotten; a rule is at zero before any worker reports it', async (t) => {
  const report = new StatsReport();
  report.build([slot('in0/0', 1, counters(1, [{ id: 1, n: 10 }]))], [rule(1)], 0);
  const gone = report.build([], [], 1000);
  t.same(gone.inputs, [], 'no rule, no slot: no input');
  t.same(gone.rules, []);
  const fresh = report.build([], [rule(2, [C])], 2000);
  t.same(fresh.rules[0], { ruleId: 2, packets: 0, bytes: 0, errors: 0, outputs: [{ packets: 0, bytes: 0, errors: 0, errorsByErrno: {} }] });
  t.same(fresh.inputs.map((i) => i.interface), ['in0'], "a rule's input is listed before any worker runs");
});

t.test('observe: counts read before a change are not lost and not counted twice', async (t) => {
  const report = new StatsReport();
  const rules = [rule(1)];
  report.build([slot('in0/0', 1, counters(1, [{ id: 1, n: 100 }]))], rules, 0);
  const read = [slot('in0/0', 1, counters(1, [{ id: 1, n: 400 }]))];
  report.observe(read, rules);
  report.clear([1]);
  const s = report.build(read, rules, 1000);
  t.equal(s.rules[0]?.packets, 0, 'what was observed before the clear is cleared, not counted after it');
  t.equal(s.rules[0]?.pps, 300, 'and the rate still counts it');
});

t.test("the stream monitor's counts survive a worker restart and are zeroed by clear", async (t) => {
  const report = new StatsReport();
  const rules = [rule(1)];
  const withMonitor = (pid: number, lost: number, cc: number, jitter: number): WorkerCounters => {
    const c = counters(pid, [{ id: 1, n: 100 }]);
    const r = c.rules[0];
    if (r !== undefined) r.monitor = { rtpLost: lost, rtpDuplicates: 0, rtpReordered: 1, rtpSsrcChanges: 0, rtpInvalid: 0, rtpJitterUs: jitter,
      tsSyncByteErrors: 0, tsSyncLosses: 0, tsCcErrors: cc, tsPidOverflow: 0 };
    return c;
  };
  report.build([slot('in0/0', 100, withMonitor(100, 7, 3, 50))], rules, 0);
  t.same({ lost: report.monitor(1)?.rtpLost, cc: report.monitor(1)?.tsCcErrors, reordered: report.monitor(1)?.rtpReordered }, { lost: 7, cc: 3, reordered: 1 });
  // kill -9: the new process counts from zero.
  report.build([slot('in0/0', 200, withMonitor(200, 2, 1, 80))], rules, 1000);
  t.same({ lost: report.monitor(1)?.rtpLost, cc: report.monitor(1)?.tsCcErrors, reordered: report.monitor(1)?.rtpReordered },
    { lost: 9, cc: 4, reordered: 2 }, 'counted before the restart + since');
  report.clear([1]);
  t.same({ lost: report.monitor(1)?.rtpLost, cc: report.monitor(1)?.tsCcErrors }, { lost: 0, cc: 0 }, 'clear zeroes them');
  report.build([slot('in0/0', 200, withMonitor(200, 5, 1, 80))], rules, 2000);
  t.equal(report.monitor(1)?.rtpLost, 3, 'then counts what grew after the clear');
  t.equal(report.monitor(2), undefined, 'no rule, no counts');
});
