/**
 * mcrd's event log (supervisor/events/): the ring keeps the last N events
 * in order with increasing numbers; followers get the recent events first,
 * then each new one; a follower that stops taking events is dropped after
 * its stall time or at once past its queue bound, with a notice counting
 * what it missed and an events.follower-dropped event (reaching the other
 * followers after the event whose delivery dropped it), while a follower
 * that keeps up survives a burst; interface reports become appeared,
 * vanished, re-created, up/down and address events; the fleet records a
 * worker's start, its exit with the signal and its restart.
 */
import t from 'tap';
import { EventLog } from '../../supervisor/events/event-log.js';
import { InterfaceEvents, type InterfaceSnapshot } from '../../supervisor/events/interface-events.js';
import { reloadApplied } from '../../supervisor/events/rule-events.js';
import { MAX_RELOAD_CHANGES, type EventFields, type EventKind, type EventSink } from '../../supervisor/events/event-kinds.js';
import { fleetLab } from './fleet-fixture.js';
import type { Event } from '../../proto/index.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function addRules(log: EventLog, n: number, from = 1): void {
  for (let i = from; i < from + n; i++) log.record('rule.added', { rule: i, match: `in0 239.1.1.1:${5000 + i}`, outputs: [], by: 'control' });
}

const ruleIds = (events: Event[]): number[] => events.map((e) => (JSON.parse(e.fields) as { rule: number }).rule);

t.test('the ring keeps the last events in order, numbered, with their time, kind and fields', async (t) => {
  let clock = 1_700_000_000_000;
  const log = new EventLog({ capacity: 5, now: () => clock++ });
  t.same(log.recent(), [], 'empty at first');
  addRules(log, 3);
  t.same(ruleIds(log.recent()), [1, 2, 3]);
  const first = log.recent()[0];
  t.same(first, { seq: 1, timeMs: 1_700_000_000_000, kind: 'rule.added', fields: JSON.stringify({ rule: 1, match: 'in0 239.1.1.1:5001', outputs: [], by: 'control' }) });
  addRules(log, 4, 4);
  const kept = log.recent();
  t.same(kept.map((e) => e.seq), [3, 4, 5, 6, 7], 'the oldest two fell out, order kept across the wrap');
  t.same(ruleIds(kept), [3, 4, 5, 6, 7]);
  t.same(log.recent(2).map((e) => e.seq), [6, 7], 'last 2');
  t.same(log.recent(50).map((e) => e.seq), [3, 4, 5, 6, 7], 'more than kept: all kept');
  t.equal(log.lastSeq, 7);
  t.throws(() => new EventLog({ capacity: 0 }), RangeError);
  t.equal(new EventLog().capacity, 1000, 'mcrd keeps 1000 by default');
});

t.test('a follower gets the recent events, then each new one; ending it unsubscribes', async (t) => {
  const log = new EventLog();
  addRules(log, 2);
  const abort = new AbortController();
  const follower = log.follow(log.recent(), 1, abort.signal);
  t.equal(log.followerCount, 1);
  const first = await follower.next();
  t.same(ruleIds(first.value?.events ?? []), [1, 2], 'the recent ones first');
  const waiting = follower.next();
  addRules(log, 1, 3);
  t.same(ruleIds((await waiting).value?.events ?? []), [3], 'a new event wakes it');
  addRules(log, 3, 4);
  t.same(ruleIds((await follower.next()).value?.events ?? []), [4, 5, 6], 'events recorded meanwhile come as one batch');
  const pending = follower.next();
  abort.abort();
  t.same(await pending, { done: true, value: undefined }, 'the request ending (client gone) ends it');
  t.equal(log.followerCount, 0, 'unsubscribed');

  const other = log.follow([], 2, new AbortController().signal);
  await other.next();
  await other.return();
  t.equal(log.followerCount, 0, 'return() unsubscribes too');
  t.equal(log.follow([], 3, AbortSignal.abort()).queued, 0);
  t.equal(log.followerCount, 0, 'a follow whose request already ended is not subscribed');
});

t.test('a follower that stops taking events is dropped after its stall time, with the count of what it missed', async (t) => {
  const drops: Array<EventFields['events.follower-dropped']> = [];
  const log = new EventLog({ followers: { stallMs: 80 }, onDrop: (d) => drops.push(d) });
  const slow = log.follow([], 7, new AbortController().signal);
  const reader = log.follow([], 8, new AbortController().signal);
  let readerGot = 0;
  const reading = (async () => {
    for await (const batch of reader) readerGot += batch.events.length;
  })();
  await slow.next();
  let dropped = false;
  void slow.dropped.then(() => (dropped = true));
  addRules(log, 5);
  await sleep(20);
  t.notOk(dropped, 'not dropped before its stall time');
  addRules(log, 2, 6);
  const start = Date.now();
  while (!dropped && Date.now() - start < 3000) await sleep(10);
  t.ok(dropped, 'dropped once its oldest event waited 80 ms');
  t.equal(drops.length, 1, 'told once');
  t.match(drops[0], { client: 7, missed: 7, firstMissedSeq: 1, lastMissedSeq: 7 });
  t.ok((drops[0]?.stalledMs ?? 0) >= 80, `stalled ${drops[0]?.stalledMs} ms`);
  const notice = log.recent().find((e) => e.kind === 'events.follower-dropped');
  t.ok(notice !== undefined, 'the drop is an event itself');
  t.match(JSON.parse(notice?.fields ?? '{}'), { client: 7, missed: 7 });
  await t.rejects(slow.next(), { code: 'ERR_MCR_SLOW_FOLLOWER', message: /7 events \(seq 1\.\.7\) were not sent/ }, 'its next batch is the notice');
  t.same(await slow.next(), { done: true, value: undefined }, 'then it is over');
  t.equal(log.followerCount, 1, 'only the reader is left');
  addRules(log, 1, 100);
  // Wait (bounded) for the reader to take its last batch, rather than a fixed pause.
  const until = Date.now() + 3000;
  while (readerGot < 9 && Date.now() < until) await sleep(5);
  t.equal(readerGot, 9, 'the follower that reads got every event, the drop notice included');
  await reader.return();
  await reading;
});

t.test('past its queue bound a follower is dropped at once; below it a burst is delivered', async (t) => {
  const log = new EventLog({ followers: { stallMs: 60_000, maxQueued: 50 } });
  const keepsUp = log.follow([], 1, new AbortController().signal);
  await keepsUp.next();
  addRules(log, 50);
  const batch = await keepsUp.next();
  t.equal(batch.value?.events.length, 50, 'a burst of exactly the bound arrives as one batch');
  addRules(log, 51, 51);
  await t.rejects(keepsUp.next(), { code: 'ERR_MCR_SLOW_FOLLOWER', message: /51 events waited unread: 51 events \(seq 51\.\.101\)/ });
  t.equal(log.followerCount, 0);
  t.match(JSON.parse(log.recent(1)[0]?.fields ?? '{}'), { missed: 51, firstMissedSeq: 51, lastMissedSeq: 101 });
});

t.test('an event recorded while one is being delivered (a drop) reaches the other followers after it, in order', async (t) => {
  const log = new EventLog({ followers: { stallMs: 60_000, maxQueued: 2 } });
  const neverReads = log.follow([], 1, new AbortController().signal);
  const reads = log.follow([], 2, new AbortController().signal);
  await reads.next();
  addRules(log, 1);
  await reads.next();
  addRules(log, 1, 2);
  await reads.next();
  // The third event overflows the first follower, whose drop is recorded while the third is handed out.
  addRules(log, 1, 3);
  const got: Event[] = (await reads.next()).value?.events ?? [];
  t.same(got.map((e) => `${e.seq}:${e.kind}`), ['3:rule.added', '4:events.follower-dropped'], 'in the order they were numbered');
  t.same(log.recent().map((e) => e.seq), [1, 2, 3, 4]);
  await t.rejects(neverReads.next(), { code: 'ERR_MCR_SLOW_FOLLOWER' });
  await reads.return();
});

t.test('a reload records one event per rule it touched and one with its diff, capped', async (t) => {
  const log = new EventLog();
  const changes = Array.from({ length: MAX_RELOAD_CHANGES + 3 }, (_, i) => ({ kind: 'added', ruleId: i + 1, previousId: 0, match: `in0 239.1.1.1:${i}`, fields: [] }));
  changes.push({ kind: 'changed', ruleId: 200, previousId: 9, match: 'in0 239.9.9.9:1', fields: [{ field: 'outputs[0].port', before: '6000', after: '6001' }] } as never);
  reloadApplied(log, { file: '/etc/mcr.json5', added: changes.length - 1, removed: 0, changed: 1, unchanged: 4, changes, daemonNotApplied: [] }, () => undefined);
  const events = log.recent();
  t.equal(events.length, changes.length + 1);
  t.same(events.slice(-2).map((e) => e.kind), ['rule.changed', 'reload.applied']);
  t.match(JSON.parse(events.at(-2)?.fields ?? '{}'), { rule: 200, previous: 9, fields: [{ field: 'outputs[0].port', before: '6000', after: '6001' }], by: 'reload' });
  const applied = JSON.parse(events.at(-1)?.fields ?? '{}') as { changes: unknown[]; more: number; unchanged: number };
  t.equal(applied.changes.length, MAX_RELOAD_CHANGES, 'the diff is capped');
  t.equal(applied.more, 4, 'and says how many more');
  t.equal(applied.unchanged, 4);
});

/** A sink that keeps what it is given, typed. */
function recorder(): EventSink & { got: Array<{ kind: EventKind; fields: Record<string, unknown> }> } {
  const got: Array<{ kind: EventKind; fields: Record<string, unknown> }> = [];
  return { got, record: (kind, fields) => void got.push({ kind, fields: fields as Record<string, unknown> }) };
}

t.test('interface reports become appeared, vanished, re-created, up/down and address events', async (t) => {
  const links = new Map<string, InterfaceSnapshot>([['in0', { ifindex: 2, up: true, addresses: ['10.0.0.1'] }]]);
  const sink = recorder();
  const ev = new InterfaceEvents({ get: (n) => links.get(n), names: () => [...links.keys()] }, sink);
  ev.changed(['in0']);
  t.same(sink.got, [], 'nothing changed since the start: no event');
  links.set('out0', { ifindex: 5, up: false, addresses: [] });
  ev.changed(['out0']);
  links.set('out0', { ifindex: 5, up: true, addresses: ['10.1.0.1'] });
  ev.changed(['out0', 'out0']);
  links.set('out0', { ifindex: 5, up: true, addresses: ['10.1.0.2', '10.1.0.1'] });
  ev.changed(['out0']);
  links.set('in0', { ifindex: 9, up: true, addresses: ['10.0.0.1'] });
  links.delete('out0');
  ev.changed(['out0', 'in0']);
  ev.changed(['gone']);
  t.same(sink.got, [
    { kind: 'interface.appeared', fields: { interface: 'out0', ifindex: 5, up: false, addresses: [] } },
    { kind: 'interface.up', fields: { interface: 'out0', ifindex: 5 } },
    { kind: 'interface.address-changed', fields: { interface: 'out0', before: [], after: ['10.1.0.1'] } },
    { kind: 'interface.address-changed', fields: { interface: 'out0', before: ['10.1.0.1'], after: ['10.1.0.1', '10.1.0.2'] } },
    { kind: 'interface.recreated', fields: { interface: 'in0', ifindex: 9, previousIfindex: 2 } },
    { kind: 'interface.vanished', fields: { interface: 'out0', ifindex: 5 } },
  ]);
});

t.test('the fleet records a worker start, its exit by signal and its restart', async (t) => {
  const sink = recorder();
  const lab = fleetLab(t, { events: sink, backoff: { minMs: 20, maxMs: 40 } });
  await lab.fleet.reconcile();
  const first = lab.workers[0];
  t.same(sink.got.map((e) => e.kind), ['worker.started']);
  t.match(sink.got[0]?.fields, { worker: 'in0/0', interface: 'in0', pid: first?.pid, core: 0 });
  first?.die({ code: null, signal: 'SIGKILL' });
  await lab.until(() => lab.workers.length === 2 && lab.fleet.info()[0]?.state === 'running', 3_000, 'restart');
  t.same(sink.got.map((e) => e.kind), ['worker.started', 'worker.exited', 'worker.restarted']);
  t.match(sink.got[1]?.fields, { worker: 'in0/0', pid: first?.pid, code: null, signal: 'SIGKILL', reason: 'killed by SIGKILL', next: 'restart', restartInMs: 20 });
  t.match(sink.got[2]?.fields, { worker: 'in0/0', pid: lab.workers[1]?.pid, restarts: 1, after: 'killed by SIGKILL' });
  lab.table.remove(1);
  lab.table.remove(2);
  await lab.fleet.reconcile();
  await lab.until(() => sink.got.length === 4, 3_000, 'the stopped worker\'s exit');
  t.match(sink.got.at(-1), { kind: 'worker.exited', fields: { pid: lab.workers[1]?.pid, code: 0, next: 'none' } }, 'a stop on purpose is an exit with nothing next');
});
