/**
 * The metrics a scrape writes (supervisor/metrics/): from a made-up mcrd
 * snapshot, every series has the value the stats answer gives, a rule
 * nobody counted yet has its series at 0, errno series appear when the
 * errno first occurs and then stay, outputs with the same labels are
 * added and labelled as the tables print them, every input has every
 * malformed reason, every worker every state;
 * concurrent scrapes share one snapshot; reload outcomes reach the gauges.
 */
import t from 'tap';
import { MetricsCollector } from '../../supervisor/metrics/collector.js';
import { ReloadStatus, trackReloads } from '../../supervisor/metrics/reload-status.js';
import { counterNames, type MetricsSnapshot } from '../../supervisor/metrics/snapshot.js';
import { WORKER_STATES } from '../../supervisor/metrics/worker-metrics.js';
import type { ReloadResult, Rule, StatsResult, WorkerInfo } from '../../proto/index.js';
import { parseMetrics, select, value } from './metrics-text.js';

const NAMES = counterNames({ loop: ['frames', 'drop_short_ethernet', 'drop_fragment', 'no_rule', 'sent'] });
const RULES: Rule[] = [
  { id: 7, name: 'cam-1', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, source: '10.0.0.1',
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }, { group: '10.9.9.9', port: 7000, interface: 'out1' },
      // Same group, port and interface as the first, another TTL: shares its series.
      { group: '239.2.2.2', port: 6000, interface: 'out0', ttl: 8 }] },
  { id: 9, inputInterface: 'in1', inputGroup: '239.1.1.2', inputPort: 5001, outputs: [{ group: '239.3.3.3', port: 6000, interface: 'out0' }] },
];
const WORKERS: WorkerInfo[] = [
  { id: 'in0/0', interface: 'in0', core: 0, pid: 100, state: 'running', restarts: 2, generation: 3, logLevel: 'info', startedAtMs: 0,
    loop: { ingress: 'ring', sliceUs: 0, sliceRefused: 'EPERM', rtPriority: 0, deferTaskrun: true, noIowait: false } },
  { id: 'in1/0', interface: 'in1', core: 0, pid: 0, state: 'waiting', restarts: 0, generation: 0, logLevel: 'info', startedAtMs: 0 },
];

/** Rule 7 counted by worker in0/0; rule 9 not yet reported by anyone. */
function stats(errorsByErrno: Record<string, number>): StatsResult {
  const errors = Object.values(errorsByErrno).reduce((a, b) => a + b, 0);
  return {
    rules: [{ ruleId: 7, packets: 1000, bytes: 1_316_000, errors,
      outputs: [{ packets: 1000, bytes: 1_316_000, errors: 0, errorsByErrno: {} },
        { packets: 990, bytes: 1_302_840, errors, errorsByErrno },
        { packets: 1000, bytes: 1_316_000, errors: 0, errorsByErrno: {} }] }],
    workers: [{ worker: 'in0/0', interface: 'in0', received: 1010, kernelDrops: 4, restarts: 2,
      loop: { frames: 1010, drop_fragment: 3, no_rule: 7, rt_stepdowns: 2, rt_stepped_down: 1 } },
      { worker: 'in1/0', interface: 'in1', received: 0, kernelDrops: 0, restarts: 0, loop: {} }],
    inputs: [{ interface: 'in0', frames: 1010, kernelDrops: 4, malformed: { fragment: 3 }, unmatched: 7 }],
    outputInterfaces: [{ interface: 'out0', qdisc: 'fq_codel', qdiscDrops: 12, deviceDrops: 3, lower: [], upper: [] }, { interface: 'out1', qdisc: 'made_up', deviceDrops: 0, lower: [], upper: [] },
      { interface: 'out2', qdisc: '', error: 'ENODEV', lower: [], upper: [] }],
  };
}

function collector(snapshots: MetricsSnapshot[]): { c: MetricsCollector; calls: () => number } {
  let calls = 0;
  const c = new MetricsCollector({ names: NAMES, version: '1.2.3', source: async () => {
    const s = snapshots[Math.min(calls, snapshots.length - 1)];
    calls++;
    if (s === undefined) throw new Error('no snapshot');
    return s;
  } });
  return { c, calls: () => calls };
}

const snapshot = (errorsByErrno: Record<string, number>, rules = RULES): MetricsSnapshot =>
  ({ stats: stats(errorsByErrno), rules, workers: WORKERS, reload: { successful: true, lastSuccessSeconds: 1_700_000_000.25 } });

t.test('every series from the snapshot, with its value', async (t) => {
  const { c } = collector([snapshot({ EHOSTUNREACH: 10 })]);
  const p = parseMetrics(await c.scrape());
  t.same(p.problems, [], 'the text parses: no duplicates, every sample typed');
  t.equal(c.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  t.ok(p.samples.every((s) => s.name.startsWith('mcr_')), 'one prefix');
  for (const [name, type] of p.types) if (type === 'counter') t.match(name, /_total$/, `${name}: a counter ends in _total`);

  const cam = { rule: '7', name: 'cam-1' };
  t.equal(value(p, 'mcr_rule_info', { ...cam, input: 'in0', group: '239.1.1.1', port: '5000', source: '10.0.0.1' }), 1);
  t.equal(value(p, 'mcr_rule_received_packets_total', { ...cam, input: 'in0' }), 1000);
  t.equal(value(p, 'mcr_rule_received_bytes_total', { ...cam, input: 'in0' }), 1_316_000);
  const out0 = { ...cam, output: '239.2.2.2:6000:out0' };
  const out1 = { ...cam, output: '10.9.9.9:7000:out1' };
  t.equal(select(p, 'mcr_output_sent_packets_total', cam).length, 2, 'two series for three outputs: two share their labels');
  t.equal(value(p, 'mcr_output_sent_packets_total', out0), 2000, 'the outputs sharing labels are added');
  t.equal(value(p, 'mcr_output_sent_bytes_total', out0), 2_632_000);
  t.equal(value(p, 'mcr_output_sent_packets_total', out1), 990);
  t.equal(value(p, 'mcr_output_send_errors_total', out1), 10);
  t.equal(value(p, 'mcr_output_send_errors_total', out0), 0);
  t.equal(value(p, 'mcr_output_send_errors_by_errno_total', { ...out1, errno: 'EHOSTUNREACH' }), 10);
  t.same(select(p, 'mcr_output_send_errors_by_errno_total', out0), [], 'no errno series before an errno occurred');

  const fresh = { rule: '9', name: '' };
  t.equal(value(p, 'mcr_rule_received_packets_total', { ...fresh, input: 'in1' }), 0, 'a rule no worker reported: 0, not absent');
  t.equal(value(p, 'mcr_output_sent_packets_total', { ...fresh, output: '239.3.3.3:6000:out0' }), 0);
  t.equal(value(p, 'mcr_output_send_errors_total', { ...fresh, output: '239.3.3.3:6000:out0' }), 0);

  t.equal(value(p, 'mcr_input_frames_total', { input: 'in0' }), 1010);
  t.equal(value(p, 'mcr_input_kernel_drops_total', { input: 'in0' }), 4);
  t.equal(value(p, 'mcr_input_unmatched_total', { input: 'in0' }), 7);
  t.equal(value(p, 'mcr_input_malformed_total', { input: 'in0', reason: 'fragment' }), 3);
  t.equal(value(p, 'mcr_input_malformed_total', { input: 'in0', reason: 'short_ethernet' }), 0, 'every reason of the layout, at 0');
  t.same(select(p, 'mcr_input_malformed_total', { input: 'in1' }).map((s) => s.labels.reason), ['short_ethernet', 'fragment'],
    'an input without counts has every reason');
  t.equal(value(p, 'mcr_output_interface_qdisc_drops_total', { interface: 'out0' }), 12, 'an output interface\'s qdisc drops');
  t.equal(value(p, 'mcr_output_interface_device_drops_total', { interface: 'out0' }), 3, 'and its device drops');
  t.equal(value(p, 'mcr_output_interface_device_drops_total', { interface: 'out1' }), 0);
  t.same(select(p, 'mcr_output_interface_qdisc_drops_total', { interface: 'out1' }), [], 'a qdisc without counters: no series');
  t.same(select(p, 'mcr_output_interface_device_drops_total', { interface: 'out2' }), [], 'an interface that could not be read: no series');

  t.equal(value(p, 'mcr_worker_restarts_total', { worker: 'in0/0', input: 'in0' }), 2);
  t.same(select(p, 'mcr_worker_state', { worker: 'in1/0' }).map((s) => [s.labels.state, s.value]),
    WORKER_STATES.map((s) => [s, s === 'waiting' ? 1 : 0]), 'one series per state, 1 for the current one');
  t.same(select(p, 'mcr_worker_loop_info', {}).map((s) => [s.labels, s.value]), [[{ worker: 'in0/0', input: 'in0', ingress: 'ring',
    slice_us: '0', slice_refused: 'EPERM', rt_priority: '0', rt_refused: '', defer_taskrun: 'true', no_iowait: 'false' }, 1]],
  'how the ready worker\'s loop runs, as labels; none for a slot without a worker');
  t.same(select(p, 'mcr_worker_loop_rt_stepdowns_total', {}).map((s) => [s.labels, s.value]), [[{ worker: 'in0/0', input: 'in0' }, 2]],
    'a real-time loop\'s step downs, for the worker whose stats carry them');
  t.same(select(p, 'mcr_worker_loop_rt_stepped_down', {}).map((s) => [s.labels, s.value]), [[{ worker: 'in0/0', input: 'in0' }, 1]],
    'and whether it is stepped down now');
  t.equal(value(p, 'mcr_build_info', { version: '1.2.3', node: process.version }), 1);
  t.equal(value(p, 'mcr_config_last_reload_successful'), 1);
  t.equal(value(p, 'mcr_config_last_reload_success_timestamp_seconds'), 1_700_000_000.25);
});

t.test('an errno series stays once it appeared; a removed rule takes its series with it', async (t) => {
  const { c } = collector([snapshot({ ENOBUFS: 2 }), snapshot({ EMSGSIZE: 1 }), snapshot({}, RULES.slice(1))]);
  const out1 = { rule: '7', output: '10.9.9.9:7000:out1' };
  const first = parseMetrics(await c.scrape());
  t.same(select(first, 'mcr_output_send_errors_by_errno_total', out1).map((s) => [s.labels.errno, s.value]), [['ENOBUFS', 2]]);
  // The worker restarted: its counts (ENOBUFS among them) start again at 0.
  const second = parseMetrics(await c.scrape());
  t.same(select(second, 'mcr_output_send_errors_by_errno_total', out1).map((s) => [s.labels.errno, s.value]), [['ENOBUFS', 0], ['EMSGSIZE', 1]],
    'ENOBUFS stays at 0 rather than vanishing');
  const third = parseMetrics(await c.scrape());
  t.same(select(third, 'mcr_rule_received_packets_total', { rule: '7' }), [], 'rule 7 removed: no series');
  t.same(select(third, 'mcr_output_send_errors_by_errno_total', { rule: '7' }), []);
  t.equal(select(third, 'mcr_rule_received_packets_total', { rule: '9' }).length, 1);
});

t.test('an output label is the output as the tables print it: an IPv6 group in brackets, a kept group or port as "="', async (t) => {
  const v6: Rule = { id: 4, name: 'cam6', inputInterface: 'in0', inputGroup: 'ff3e::1:2', inputPort: 5000,
    outputs: [{ group: 'ff3e::2:2', port: 6000, interface: 'out0' }, { group: '=', port: 0, interface: 'out1' }] };
  const { c } = collector([{ ...snapshot({}), rules: [v6] }]);
  const p = parseMetrics(await c.scrape());
  t.same(select(p, 'mcr_output_sent_packets_total', { rule: '4' }).map((s) => s.labels.output).sort(), ['=:=:out1', '[ff3e::2:2]:6000:out0']);
});

t.test('label values are escaped', async (t) => {
  const odd: Rule = { id: 3, name: 'a "quoted" \\ name\nwith a newline', inputInterface: 'in0', inputGroup: '239.1.1.3', inputPort: 1, outputs: [] };
  const { c } = collector([{ ...snapshot({}), rules: [odd] }]);
  const p = parseMetrics(await c.scrape());
  t.same(p.problems, []);
  t.equal(value(p, 'mcr_rule_received_packets_total', { rule: '3' }), 0);
  t.equal(select(p, 'mcr_rule_received_packets_total', { rule: '3' })[0]?.labels.name, odd.name, 'the name reads back as it was');
});

t.test('concurrent scrapes share one snapshot; the next scrape takes a new one', async (t) => {
  let release: () => void = () => undefined;
  let calls = 0;
  const c = new MetricsCollector({ names: NAMES, version: 'x', source: async () => {
    calls++;
    await new Promise<void>((r) => (release = r));
    return snapshot({});
  } });
  const scrapes = [c.scrape(), c.scrape(), c.scrape()];
  await new Promise((r) => setImmediate(r));
  t.equal(calls, 1, 'one snapshot for three requests in flight');
  release();
  const texts = await Promise.all(scrapes);
  t.ok(texts.every((x) => x === texts[0]), 'the same text for all three');
  const next = c.scrape();
  await new Promise((r) => setImmediate(r));
  t.equal(calls, 2, 'a scrape after the first finished takes its own snapshot');
  release();
  await next;
});

t.test('a failed snapshot fails the scrapes waiting on it, not the next one', async (t) => {
  let fail = true;
  const c = new MetricsCollector({ names: NAMES, version: 'x', source: async () => {
    if (fail) throw Object.assign(new Error('worker ping failed'), { code: 'ETIMEDOUT' });
    return snapshot({});
  } });
  await t.rejects(Promise.all([c.scrape(), c.scrape()]), { code: 'ETIMEDOUT' });
  fail = false;
  t.match(await c.scrape(), /mcr_build_info/);
});

t.test('trackReloads reports each reload outcome', async (t) => {
  const status = new ReloadStatus(1_000_000);
  t.equal(status.successful, true, 'the start-up load counts as a success');
  t.equal(status.lastSuccessSeconds, 1000);
  let refuse = true;
  const result = { file: 'f', added: 0, removed: 0, changed: 0, unchanged: 1, changes: [], problems: [], daemonNotApplied: [] } satisfies ReloadResult;
  const handler = trackReloads({
    reload: async (_request: object, _context: object) => {
      if (refuse) throw Object.assign(new Error('bad config'), { code: 'ERR_MCR_CONFIG' });
      return result;
    },
    other: () => 'kept',
  }, status);
  const context = { signal: new AbortController().signal, clientId: 0, requestId: 0 };
  await t.rejects(handler.reload({}, context), { code: 'ERR_MCR_CONFIG' }, 'the error still reaches the caller');
  t.equal(status.successful, false);
  t.equal(status.lastSuccessSeconds, 1000, 'a refused reload keeps the last good time');
  refuse = false;
  const before = Date.now() / 1000;
  t.equal(await handler.reload({}, context), result);
  t.equal(status.successful, true);
  t.ok(status.lastSuccessSeconds >= before, 'a reload that worked sets the time');
  t.equal(handler.other(), 'kept', 'the other methods are the handler\'s own');
});
