/**
 * InterfaceWatcher with an injected fake monitor: the first dump is state,
 * not a change; bursts become one debounced report of links (existence,
 * index, up; a rename as both names) and addresses; carrier-only changes
 * are not reported; a resync reports exactly what differs from before
 * (lookups meanwhile answer from the last complete state); a
 * failed monitor is replaced.
 */
import t from 'tap';
import { pino } from 'pino';
import { InterfaceWatcher, type InterfaceChange, type MonitorFactory } from '../../supervisor/net/interface-watcher.js';
import type { InterfaceEvent, NativeError } from '../../native/index.js';
import { pollUntil } from '../../bench/lab/time.js';

type Emit = (err: NativeError | null, events: InterfaceEvent[] | null) => void;

const logger = pino({ level: 'silent' });
const link = (ifindex: number, name: string, up = true, running = true): InterfaceEvent =>
  ({ type: 'link', ifindex, name, up, running, flags: 0 });
const addr = (type: 'addressAdded' | 'addressRemoved', ifindex: number, address: string): InterfaceEvent =>
  ({ type, ifindex, name: '', address, family: address.includes(':') ? 6 : 4, prefixLength: address.includes(':') ? 64 : 24 });

function setup(debounceMs = 20): { watcher: InterfaceWatcher; emit: () => Emit; reports: InterfaceChange[]; opened: () => number; closed: () => number } {
  const emitters: Emit[] = [];
  let closed = 0;
  const factory: MonitorFactory = (cb) => {
    emitters.push(cb);
    return { close: () => void closed++, malformed: () => 0 };
  };
  const reports: InterfaceChange[] = [];
  const watcher = new InterfaceWatcher({ logger, debounceMs, maxDelayMs: 200, reopenMs: 10, monitor: factory, onChange: (c) => reports.push(c) });
  return { watcher, emit: () => emitters[emitters.length - 1] as Emit, reports, opened: () => emitters.length, closed: () => closed };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('the first dump is the state; a burst is one report', async (t) => {
  const { watcher, emit, reports } = setup();
  const started = watcher.start();
  emit()(null, [link(1, 'lo'), link(2, 'in0'), addr('addressAdded', 2, '10.0.0.1'), { type: 'synced' }]);
  await started;
  t.same(watcher.get('in0'), { ifindex: 2, name: 'in0', up: true, running: true, addresses: ['10.0.0.1'] });
  t.equal(watcher.get('in1'), undefined, 'unknown interface');
  await sleep(50);
  t.equal(reports.length, 0, 'the dump itself is not a change');

  emit()(null, [link(3, 'in1', false)]);
  emit()(null, [link(3, 'in1', true), addr('addressAdded', 3, '10.0.1.1')]);
  emit()(null, [addr('addressAdded', 2, '10.0.0.9'), addr('addressRemoved', 2, '10.0.0.1')]);
  await sleep(60);
  t.equal(reports.length, 1, 'one report for the burst');
  t.same([...(reports[0]?.links ?? [])], ['in1']);
  t.same([...(reports[0]?.addresses ?? [])].sort(), ['in0', 'in1']);
  t.same([...(reports[0]?.addressTexts ?? [])].sort(), ['10.0.0.1', '10.0.0.9', '10.0.1.1'], 'and the addresses that came or went (an output source may live anywhere)');
  t.same(watcher.get('in0')?.addresses, ['10.0.0.9']);

  // IPv6 addresses are followed the same way (the native side reports a tentative one as removed).
  emit()(null, [addr('addressAdded', 2, '2001:db8::1'), addr('addressAdded', 2, 'fe80::1')]);
  t.ok(await pollUntil(async () => reports.length >= 2, 5_000, 5), 'reported after the burst');
  t.same([...(reports[1]?.addresses ?? [])], ['in0'], 'an IPv6 address added is an address change of its interface');
  t.same(watcher.get('in0')?.addresses, ['10.0.0.9', '2001:db8::1', 'fe80::1']);
  emit()(null, [addr('addressRemoved', 2, '2001:db8::1')]);
  t.ok(await pollUntil(async () => reports.length >= 3, 5_000, 5), 'reported after the burst');
  t.same([...(reports[2]?.addresses ?? [])], ['in0'], 'and one removed');
  t.same([...(reports[2]?.addressTexts ?? [])], ['2001:db8::1']);
  emit()(null, [{ type: 'linkRemoved', ifindex: 3, name: 'in1', up: false, running: false, flags: 0 }]);
  t.ok(await pollUntil(async () => reports.length >= 4, 5_000, 5), 'a removal reported');
  t.same([...(reports[3]?.addressTexts ?? [])], ['10.0.1.1'], 'a removed interface\'s addresses went with it');
  t.same(watcher.get('in0')?.addresses, ['10.0.0.9', 'fe80::1']);
  watcher.close();
});

t.test('carrier changes are not reported; up/down and removal are', async (t) => {
  const { watcher, emit, reports } = setup();
  const started = watcher.start();
  emit()(null, [link(2, 'in0'), { type: 'synced' }]);
  await started;
  emit()(null, [link(2, 'in0', true, false)]);
  await sleep(50);
  t.equal(reports.length, 0, 'lost carrier only: nothing to report');
  t.equal(watcher.get('in0')?.running, false, 'but tracked');
  emit()(null, [link(2, 'in0', false, false)]);
  await sleep(50);
  t.same([...(reports.pop()?.links ?? [])], ['in0'], 'down is reported');
  emit()(null, [{ type: 'linkRemoved', ifindex: 2, name: 'in0', up: false, running: false, flags: 0 }]);
  await sleep(50);
  t.same([...(reports.pop()?.links ?? [])], ['in0'], 'removal is reported');
  t.equal(watcher.get('in0'), undefined);
  // Re-created: a new index under the old name.
  emit()(null, [link(7, 'in0')]);
  await sleep(50);
  t.same([...(reports.pop()?.links ?? [])], ['in0']);
  t.equal(watcher.get('in0')?.ifindex, 7);
  watcher.close();
});

t.test('a rename reports both names, the new one as a link that appeared', async (t) => {
  const { watcher, emit, reports } = setup();
  const started = watcher.start();
  emit()(null, [link(5, 'tmp0', false), link(6, 'tmp1'), addr('addressAdded', 6, '10.0.6.1'), { type: 'synced' }]);
  await started;
  // Renamed while down, up flag unchanged, no address: only the name says anything happened.
  emit()(null, [link(5, 'out0', false)]);
  t.ok(await pollUntil(async () => reports.length >= 1, 5_000, 5), 'reported');
  t.same([...(reports[0]?.links ?? [])].sort(), ['out0', 'tmp0'], 'the old name went, the new one appeared');
  t.same([...(reports[0]?.addresses ?? [])], [], 'no address to follow');
  t.same(watcher.get('out0'), { ifindex: 5, name: 'out0', up: false, running: true, addresses: [] });
  // An interface with addresses, renamed: its addresses move with it.
  emit()(null, [link(6, 'out1')]);
  t.ok(await pollUntil(async () => reports.length >= 2, 5_000, 5), 'reported');
  t.same([...(reports[1]?.links ?? [])].sort(), ['out1', 'tmp1']);
  t.same([...(reports[1]?.addresses ?? [])], ['out1']);
  watcher.close();
});

t.test('a resync reports exactly what differs from before', async (t) => {
  const { watcher, emit, reports } = setup();
  const started = watcher.start();
  emit()(null, [link(2, 'in0'), link(3, 'out0'), addr('addressAdded', 3, '10.0.0.1'), link(4, 'same'), { type: 'synced' }]);
  await started;
  // Events were lost: the dump shows in0 gone, out0 re-addressed, new1 new, same unchanged.
  emit()(null, [{ type: 'resync' }, link(3, 'out0'), addr('addressAdded', 3, '10.0.0.2'), link(4, 'same'), link(5, 'new1')]);
  await sleep(50);
  t.equal(reports.length, 0, 'nothing reported before the dump completes');
  t.equal(watcher.get('in0')?.ifindex, 2, 'meanwhile lookups answer from the last complete state, not the half-read one');
  t.equal(watcher.get('new1'), undefined, 'which does not know new1 yet');
  t.same(watcher.names().sort(), ['in0', 'out0', 'same']);
  emit()(null, [{ type: 'synced' }]);
  await sleep(50);
  t.equal(reports.length, 1);
  t.same([...(reports[0]?.links ?? [])].sort(), ['in0', 'new1']);
  t.same([...(reports[0]?.addresses ?? [])], ['out0']);
  t.equal(watcher.get('in0'), undefined, 'once it is complete, the new state');
  t.equal(watcher.get('new1')?.ifindex, 5);
  watcher.close();
});

t.test('a dump that restarts before it completes keeps the last complete state for lookups and the diff', async (t) => {
  const { watcher, emit, reports } = setup();
  const started = watcher.start();
  emit()(null, [link(2, 'in0'), link(3, 'out0'), { type: 'synced' }]);
  await started;
  // Events lost; the new dump is interrupted after one link and starts over.
  emit()(null, [{ type: 'resync' }, link(3, 'out0'), { type: 'resync' }, link(3, 'out0')]);
  t.equal(watcher.get('in0')?.ifindex, 2, 'in0 still known while the restarted dump is read');
  emit()(null, [{ type: 'synced' }]);
  t.ok(await pollUntil(async () => reports.length >= 1, 5_000, 5), 'reported after the burst');
  t.same([...(reports[0]?.links ?? [])], ['in0'], 'the diff against the last complete state sees in0 gone');
  t.equal(watcher.get('in0'), undefined);
  watcher.close();
});

t.test('a failed monitor is closed and replaced; its dump is compared with the old state', async (t) => {
  const { watcher, emit, reports, opened, closed } = setup();
  const started = watcher.start();
  emit()(null, [link(2, 'in0'), { type: 'synced' }]);
  await started;
  emit()(Object.assign(new Error('ENOMEM: recvfrom'), { code: 'ENOMEM' }), []);
  t.equal(closed(), 1, 'the failed monitor is closed');
  await sleep(30);
  t.equal(opened(), 2, 'a new one is opened');
  t.equal(watcher.get('in0')?.ifindex, 2, 'before its dump, in0 is still known');
  emit()(null, [link(2, 'in0'), link(6, 'in1'), { type: 'synced' }]);
  await sleep(50);
  t.same([...(reports[0]?.links ?? [])], ['in1'], 'only the difference');
  watcher.close();
});

t.test('start rejects with the monitor\'s code when it cannot open', async (t) => {
  const thrown = () => { throw Object.assign(new Error('EPERM: socket'), { code: 'EPERM' }); };
  const failing = new InterfaceWatcher({ logger, monitor: thrown, onChange: () => undefined });
  await t.rejects(failing.start(), { code: 'EPERM' }, 'a monitor that cannot open rejects with its code');
  failing.close();
});
