/**
 * mcrctl's text layout on plain values: the table formatter's alignment and
 * trimming, and the shared formats of outputs, rates and durations.
 */
import t from 'tap';
import { fitWidth, formatDuration, formatInput, formatOutput, formatRate, oneLine, orDash, present, table } from '../../tools/mcrctl/format.js';

t.test('table aligns columns under their headers', async (t) => {
  const lines = table(
    [{ header: 'NAME' }, { header: 'COUNT', align: 'right' }, { header: 'NOTE' }],
    [['a', '1', 'short'], ['longer-name', '12345', ''], ['b']],
  );
  t.same(lines, [
    'NAME         COUNT  NOTE',
    'a                1  short',
    'longer-name  12345',
    'b',
  ], 'left and right alignment, two-space gaps, trailing spaces trimmed, missing cells empty');
  t.same(table([{ header: 'X' }], []), ['X'], 'headers alone when there are no rows');
  t.same(table([{ header: 'N', align: 'right' }], [['100']]), ['  N', '100'], 'a header narrower than its values');
});

t.test('value formats', async (t) => {
  t.equal(formatOutput({ group: '239.2.2.2', port: 6000, interface: 'eth1' }), '239.2.2.2:6000:eth1');
  t.equal(formatOutput({ group: '239.2.2.2', port: 6000, interface: 'eth1', ttl: 4 }), '239.2.2.2:6000:eth1:4');
  t.equal(formatOutput({ group: '239.2.2.2', port: 6000, interface: 'eth1', ttl: 0, source: '' }), '239.2.2.2:6000:eth1',
    'protobuf defaults (0, "") count as unset');
  t.equal(formatOutput({ group: '10.0.0.9', port: 1, interface: 'e', source: '10.0.0.1' }), '10.0.0.9:1:e from 10.0.0.1');
  t.equal(formatInput({ inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 5000 }), 'eth0 239.1.1.1:5000');
  t.equal(formatInput({ inputInterface: 'eth0', inputGroup: 'ff3e::1', inputPort: 5000 }), 'eth0 [ff3e::1]:5000', 'IPv6 in brackets');
  t.equal(formatOutput({ group: 'ff3e::2', port: 6000, interface: 'eth1', ttl: 4, source: '2001:db8::1' }), '[ff3e::2]:6000:eth1:4 from 2001:db8::1',
    'an IPv6 output as --outputs takes it');
  t.equal(formatRate(99.84), '99.8');
  t.equal(formatRate(0), '0.0');
  t.equal(formatRate(Number.NaN), '-');
  t.equal(formatDuration(0), '0s');
  t.equal(formatDuration(59_999), '59s');
  t.equal(formatDuration(249_000), '4m09s');
  t.equal(formatDuration(3_723_000), '1h02m');
  t.equal(formatDuration(277_200_000), '3d05h');
  t.equal(formatDuration(-1), '-');
  t.equal(orDash(undefined), '-');
  t.equal(orDash(''), '-');
  t.equal(orDash(0), '-');
  t.equal(orDash('x'), 'x');
  t.equal(present(7), true);
  t.equal(oneLine('a\nb\r\nc'), 'a\\nb\\nc');
});

t.test('workers: a REASON column appears only when a slot has a reason', async (t) => {
  const { renderWorkers } = await import('../../tools/mcrctl/render.js');
  const running = { id: 'in0/0', interface: 'in0', core: 0, pid: 42, state: 'running', restarts: 0, generation: 3, logLevel: 'info', startedAtMs: 1000 };
  t.same(renderWorkers({ workers: [running] }, 61_000), [
    'WORKER  INTERFACE  CORE  PID  STATE    RESTARTS  GENERATION  LEVEL  UPTIME  LOOP',
    'in0/0   in0           0   42  running         0           3  info    1m00s  -',
  ]);
  const waiting = { id: 'in9/0', interface: 'in9', core: 0, pid: 0, state: 'waiting', restarts: 0, generation: 0, logLevel: 'info',
    startedAtMs: 0, reason: 'interface in9 does not exist: workers start when it appears' };
  const lines = renderWorkers({ workers: [running, waiting] }, 61_000);
  t.match(lines[0], /STATE\s+RESTARTS\s+GENERATION\s+LEVEL\s+UPTIME\s+LOOP\s+REASON$/, 'REASON header last');
  t.match(lines[1], /running .* 1m00s\s+-\s+-$/, 'a running slot (its loop not given) shows - for its reason');
  t.match(lines[2], /^in9\/0\s+in9\s+0\s+-\s+waiting\s+0\s+0\s+info\s+-\s+-\s+interface in9 does not exist: workers start when it appears$/,
    'a waiting slot: no pid, no uptime, why it waits');
});

t.test('workers: the LOOP column says how each worker\'s loop is scheduled, and only the departures from a current kernel', async (t) => {
  const { formatLoop } = await import('../../tools/mcrctl/render.js');
  const base = { ingress: 'ring', sliceUs: 100, rtPriority: 0, deferTaskrun: true, noIowait: true };
  t.equal(formatLoop(undefined), '-', 'no ready worker yet');
  t.equal(formatLoop(base), 'slice 100us', 'the default: the short slice, nothing else to say');
  t.equal(formatLoop({ ...base, sliceUs: 0 }), 'kernel slice', '--loop-slice-us 0');
  t.equal(formatLoop({ ...base, sliceUs: 0, sliceRefused: 'EPERM' }), 'kernel slice (EPERM)', 'the short slice refused, and why');
  t.equal(formatLoop({ ...base, rtPriority: 10 }), 'FIFO 10', '--loop-rt-priority 10');
  t.equal(formatLoop({ ...base, rtPriority: 10 }, true), 'FIFO 10 stepped down (saturated)', 'a real-time loop its saturation guard stepped down');
  t.equal(formatLoop(base, true), 'slice 100us', 'a normal-policy loop is never shown stepped down');
  t.equal(formatLoop({ ...base, rtRefused: 'EPERM' }), 'FIFO refused (EPERM), slice 100us', 'the default\'s SCHED_FIFO refused under a real-time limit: said first');
  t.equal(formatLoop({ ...base, deferTaskrun: false, noIowait: false }), 'slice 100us, no DEFER_TASKRUN, sleeps as iowait', 'an older kernel');
  const { renderWorkers } = await import('../../tools/mcrctl/render.js');
  const running = { id: 'in0/0', interface: 'in0', core: 1, pid: 42, state: 'running', restarts: 0, generation: 3, logLevel: 'info', startedAtMs: 1000, loop: base };
  t.match(renderWorkers({ workers: [running] }, 61_000)[1], /1m00s\s+slice 100us$/, 'in the table');
});

t.test('table and fitWidth count terminal columns: wide characters take two', async (t) => {
  // A rule named in Japanese: 5 characters, 10 columns on screen.
  const lines = table([{ header: 'NAME' }, { header: 'PORT', align: 'right' }], [['カメラ東京', '5000'], ['a', '6']]);
  t.same(lines, ['NAME        PORT', 'カメラ東京  5000', 'a              6'], 'the columns after it stay aligned');
  t.equal(fitWidth('カメラ東京 abc', 6), 'カメ>', 'cut at 5 columns and marked, a wide character never split');
  t.equal(fitWidth('abcdef', 4), 'abc>');
  t.equal(fitWidth('abcd', 4), 'abcd', 'what fits is left alone');
});
