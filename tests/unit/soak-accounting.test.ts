/**
 * The soak's accounting arithmetic (bench/soak/accounting.ts, counters.ts):
 * a phase without a fault is exact or fails by name; a fault's loss splits
 * into what MCR counted (send errors, f × ring drops and no-rule frames)
 * and what nobody counted, the input link's own counters (frames dropped
 * while it was down, frames that reached it unread) and the kernel's
 * neighbour table discards (a unicast output's next hop being resolved,
 * given to the one input whose touched pairs are unicast, else kept as
 * other namespaces') included; /proc/net/stat/arp_cache parsing; untouched pairs must lose nothing; loop deltas
 * across worker restarts and parked slots; per-rule deltas that reset; and
 * which counter resets are explained (restart, a fault's resync) or not.
 */
import t from 'tap';
import { accountPhase, faultLoss, neighbourInterface, type PairTraffic } from '../../bench/soak/accounting.js';
import { parseUnresolvedDiscards, readUnresolvedDiscards } from '../../bench/soak/neigh-counters.js';
import { backwardEvents, errnoGrowth, finalCounters, loopDelta, ruleDelta, type CounterSample, type WorkerSample } from '../../bench/soak/counters.js';
import { BASE_RULES, fanoutOf, pairsOf, type Pair } from '../../bench/soak/topology.js';
import { parseProcNetUdp } from '../../bench/soak/traffic.js';

const pairs = BASE_RULES.flatMap(pairsOf);
const pair = (id: string): Pair => {
  const p = pairs.find((x) => x.id === id);
  if (p === undefined) throw new Error(`no pair ${id}`);
  return p;
};
const traffic = (id: string, sent: number, received: number, o: Partial<PairTraffic> = {}): PairTraffic =>
  ({ pair: pair(id), sent, received, duplicated: 0, sinkDrops: 0, touched: false, ...o });
const fanouts = new Map([['in0', 1], ['in1', 2]]);
const loops = (in0: Record<string, number>, in1: Record<string, number>, restarted: string[] = []) =>
  new Map([['in0', { values: in0, restarted: restarted.filter((w) => w.startsWith('in0')) }], ['in1', { values: in1, restarted: restarted.filter((w) => w.startsWith('in1')) }]]);

t.test('the topology: one fan-out per input, as the accounting needs', async (t) => {
  t.equal(fanoutOf(BASE_RULES, 'in0'), 1);
  t.equal(fanoutOf(BASE_RULES, 'in1'), 2);
  t.same(pairs.map((p) => p.id), ['a#0', 'b#0', 'c#0', 'd#0', 'd#1', 'e#0', 'e#1']);
  t.throws(() => fanoutOf([...BASE_RULES, { ...BASE_RULES[0]!, name: 'x', outputs: [] }], 'in0'), /fan-outs/);
});

t.test('a steady phase that is exact passes', async (t) => {
  const a = accountPhase({
    label: 'p', steady: true,
    traffic: [traffic('a#0', 100, 100), traffic('d#0', 50, 50), traffic('d#1', 50, 50)],
    loops: loops({ matched: 100, sent: 100 }, { matched: 50, sent: 100 }), fanouts,
    rules: new Map([['a', { packets: 100, outputs: [{ packets: 100, errors: 0 }] }], ['d', { packets: 50, outputs: [{ packets: 50, errors: 0 }, { packets: 50, errors: 0 }] }]]),
  });
  t.same(a.failures, []);
  t.same(a.interfaces.map((i) => [i.iface, i.sent, i.lostPairs, i.notCounted]), [['in0', 100, 0, 0], ['in1', 50, 0, 0]]);
});

t.test('a steady phase fails on loss, counter disagreement, errors, a restart', async (t) => {
  const a = accountPhase({
    label: 'p', steady: true,
    traffic: [traffic('a#0', 100, 99), traffic('b#0', 10, 10, { duplicated: 2 })],
    loops: loops({ matched: 109, sent: 108, send_errors: 1 }, {}, ['in0/1']), fanouts,
    rules: new Map([['a', { packets: 100, outputs: [{ packets: 98, errors: 1 }] }], ['b', undefined]]),
  });
  const text = a.failures.join('\n');
  t.match(text, /a#0 \(in0 -> out0\): lost 1 of 100, and no fault was active/);
  t.match(text, /b#0 .*: 2 duplicated datagrams/);
  t.match(text, /in0: worker\(s\) in0\/1 restarted with no fault active/);
  t.match(text, /in0: workers matched 109 datagrams, the generators sent 110/);
  t.match(text, /in0: 1 send errors with no fault active/);
  t.match(text, /mcrd counts 98 sent on a#0, its sink got 99/);
  t.match(text, /mcrd counts 1 errors on a#0/);
  t.notMatch(text, /rule b/, 'a rule whose counters reset is not compared');
});

t.test('a fault phase: touched loss splits into counted and not counted; fan-out multiplies input drops', async (t) => {
  // in1 (fan-out 2): d lost 30 at both outputs, e lost 10 at output 0 only.
  // MCR: 20 send errors, 5 ring drops and 3 no-rule frames (each costs 2 output datagrams).
  const a = accountPhase({
    label: 'f', steady: false,
    traffic: [traffic('a#0', 100, 100), traffic('d#0', 200, 170, { touched: true }), traffic('d#1', 200, 170, { touched: true }),
      traffic('e#0', 200, 190, { touched: true, sinkDrops: 4 }), traffic('e#1', 200, 200, { touched: true })],
    loops: loops({ matched: 100, sent: 100 }, { matched: 392, kernel_drops: 5, no_rule: 3, send_errors: 20, drop_not_udp: 7 }), fanouts,
    rules: new Map(),
  });
  t.same(a.failures, [], 'an untouched pair that lost nothing, touched pairs may lose');
  const in1 = a.interfaces.find((i) => i.iface === 'in1');
  t.equal(in1?.lostPairs, 70);
  t.equal(in1?.malformed, 7, 'stray malformed frames are reported');
  // 70 lost = 20 send errors + 2 × (5 + 3) + 4 sink drops + 30 not counted; malformed frames explain nothing.
  t.equal(in1?.notCounted, 30);
  t.same(faultLoss(a), { sent: 100 + 2 * 400, lostPairs: 70, countedByMcr: 36, countedAtInput: 0, countedByNeigh: 0, sinkDrops: 4, notCounted: 30, neighOther: 0 });
});

t.test('an input link down: its counters account for what MCR never saw', async (t) => {
  // in1 (fan-out 2), 1000 frames per rule sent: the link dropped 300 while down (tx dropped on the
  // sending end), 1700 reached in1 of which the workers saw 1500 (200 arrived before they read),
  // so each of d's and e's outputs got 1000 - (300 + 200) / 2 = 750.
  const link = { upTxPackets: 1700, upTxDropped: 300, inRxPackets: 1700, inRxDropped: 0, inTxPackets: 0 };
  const a = accountPhase({
    label: 'f', steady: false,
    traffic: [traffic('a#0', 100, 100), traffic('d#0', 1000, 750, { touched: true }), traffic('d#1', 1000, 750, { touched: true }),
      traffic('e#0', 1000, 750, { touched: true }), traffic('e#1', 1000, 750, { touched: true })],
    loops: loops({ frames: 100, matched: 100, sent: 100 }, { frames: 1500, matched: 1500, sent: 3000 }), fanouts, rules: new Map(),
    links: new Map([['in0', { upTxPackets: 100, upTxDropped: 0, inRxPackets: 100, inRxDropped: 0, inTxPackets: 2 }], ['in1', link]]),
  });
  t.same(a.failures, []);
  const in1 = a.interfaces.find((i) => i.iface === 'in1');
  t.equal(in1?.linkDrops, 300, 'frames the link dropped while down');
  t.equal(in1?.unread, 200, 'frames that reached the input but no worker');
  t.equal(in1?.notCounted, 0, '1000 lost output datagrams = 2 × (300 + 200)');
  t.same(faultLoss(a), { sent: 100 + 2 * 2000, lostPairs: 1000, countedByMcr: 0, countedAtInput: 1000, countedByNeigh: 0, sinkDrops: 0, notCounted: 0, neighOther: 0 });
  t.equal(a.interfaces.find((i) => i.iface === 'in0')?.unread, 0, 'an input whose workers saw every frame it received has none unread (its 2 outgoing frames, mcrd\'s IGMP reports, are not input)');
});

t.test('output down on out2: the neighbour table\'s discards explain the unicast output\'s loss after the link is back', async (t) => {
  // out2 down: c#0 (in0, unicast to 10.99.3.2) and e#0 (in1, multicast) touched. While down both
  // get send errors (400 each); after up, c#0's next hop is resolved again and the kernel
  // discards 150 datagrams MCR had counted as sent (ARP queue full); e#0 needs no ARP.
  const input = {
    label: 'f', steady: false,
    traffic: [traffic('a#0', 1000, 1000), traffic('c#0', 1000, 450, { touched: true }), traffic('d#0', 1000, 1000), traffic('d#1', 1000, 1000),
      traffic('e#0', 1000, 600, { touched: true }), traffic('e#1', 1000, 1000)],
    loops: loops({ frames: 2000, matched: 2000, sent: 1600, send_errors: 400 }, { frames: 1000, matched: 1000, sent: 1600, send_errors: 400 }), fanouts,
    rules: new Map(),
  };
  const a = accountPhase({ ...input, neighDiscards: 150 });
  t.same(a.failures, []);
  const in0 = a.interfaces.find((i) => i.iface === 'in0');
  const in1 = a.interfaces.find((i) => i.iface === 'in1');
  t.equal(in0?.neighDiscards, 150, 'given to the input of the touched unicast pair');
  t.equal(in0?.notCounted, 0, '550 lost = 400 send errors + 150 neighbour discards (no fan-out factor: one discard is one output datagram)');
  t.equal(in1?.neighDiscards, 0);
  t.equal(in1?.notCounted, 0);
  t.equal(a.neighOther, 0);
  t.same(faultLoss(a), { sent: 2000 + 2 * 2000, lostPairs: 950, countedByMcr: 800, countedAtInput: 0, countedByNeigh: 150, sinkDrops: 0, notCounted: 0, neighOther: 0 });
  // Without the counter (not readable) the same loss is not counted, as before.
  t.equal(accountPhase(input).interfaces.find((i) => i.iface === 'in0')?.notCounted, 150);
  // More discards than the loss (another namespace's at the same time): a negative residue, not hidden.
  t.equal(accountPhase({ ...input, neighDiscards: 170 }).interfaces.find((i) => i.iface === 'in0')?.notCounted, -20);
});

t.test('neighbour discards in a phase with no unicast output touched are other namespaces\', explaining nothing', async (t) => {
  // out0 down: a#0 and d#0 (multicast) touched; 37 discards happened somewhere else on the machine.
  const a = accountPhase({
    label: 'f', steady: false,
    traffic: [traffic('a#0', 100, 60, { touched: true }), traffic('c#0', 100, 100), traffic('d#0', 100, 70, { touched: true }), traffic('d#1', 100, 100)],
    loops: loops({ frames: 200, matched: 200, sent: 160, send_errors: 40 }, { frames: 100, matched: 100, sent: 170, send_errors: 30 }), fanouts,
    rules: new Map(), neighDiscards: 37,
  });
  t.same(a.interfaces.map((i) => [i.iface, i.neighDiscards, i.notCounted]), [['in0', 0, 0], ['in1', 0, 0]]);
  t.equal(a.neighOther, 37);
  t.equal(faultLoss(a).neighOther, 37);
  t.equal(faultLoss(a).countedByNeigh, 0);
  const steady = accountPhase({ label: 's', steady: true, traffic: [traffic('c#0', 100, 100)], loops: loops({ matched: 100, sent: 100 }, {}), fanouts, rules: new Map(), neighDiscards: 5 });
  t.same(steady.failures, [], 'a steady phase does not fail on another namespace\'s discards');
  t.equal(steady.neighOther, 5);
  t.equal(neighbourInterface([traffic('c#0', 1, 1, { touched: true }), traffic('e#0', 1, 1, { touched: true })]), 'in0', 'multicast pairs do not count');
  t.equal(neighbourInterface([traffic('c#0', 1, 1)]), undefined, 'an untouched unicast pair does not count');
});

t.test('/proc/net/stat/arp_cache: unresolved_discards summed over CPUs (hex), found by its header', async (t) => {
  const text = [
    'entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls',
    '00000002 00000e8c 00000d36 00000002   000021c9 00000186 00000010   00000000         00000000         00000ba9         00000000       0001145c            00000000',
    '00000002 00000bfa 00000d4e 00000002   00001d9e 000001c3 00000000   00000000         00000000         00000000         00000000       0000408d            00000000',
    '',
  ].join('\n');
  t.equal(parseUnresolvedDiscards(text), 0x1145c + 0x408d);
  t.throws(() => parseUnresolvedDiscards('entries allocs\n1 2\n'), /ERR_MCR_SOAK_NEIGH: no unresolved_discards column/);
  t.throws(() => parseUnresolvedDiscards(text.replace('0000408d', 'zz')), /unreadable line/);
  t.equal(readUnresolvedDiscards('/nonexistent/arp_cache'), undefined, 'no file (not the initial namespace): no term, not a zero');
});

t.test('a fault phase: a pair the fault does not touch must lose nothing', async (t) => {
  const a = accountPhase({
    label: 'f', steady: false,
    traffic: [traffic('a#0', 100, 97), traffic('b#0', 100, 50, { touched: true })],
    loops: loops({ matched: 150, send_errors: 50 }, {}), fanouts, rules: new Map(),
  });
  t.same(a.failures, ['f: a#0 (in0 -> out0): lost 3 of 100, and the fault does not touch it']);
  t.equal(a.interfaces[0]?.notCounted, 3, 'and its loss is in nobody\'s count');
});

const w = (id: string, pid: number, loop?: Record<string, number>): WorkerSample =>
  ({ id, iface: id.split('/')[0] ?? '', pid, state: loop ? 'running' : 'waiting', restarts: 0, loop });
const sample = (atMs: number, workers: WorkerSample[], rules: CounterSample['rules'] = []): CounterSample => ({ atMs, workers, rules });

t.test('loopDelta: growth per process; a new PID counts from 0; a parked slot is skipped', async (t) => {
  const samples = [
    sample(0, [w('in0/0', 10, { matched: 100, sent: 100 }), w('in0/1', 11, { matched: 5 }), w('in1/0', 20, { matched: 7 })]),
    sample(500, [w('in0/0', 10, { matched: 150, sent: 150 }), w('in0/1', 0), w('in1/0', 20, { matched: 9 })]),
    sample(1000, [w('in0/0', 12, { matched: 30, sent: 29 }), w('in0/1', 13, { matched: 8 }), w('in1/0', 20, { matched: 9 })]),
    sample(1500, [w('in0/0', 12, { matched: 40, sent: 40, inflight_sends: 3 }), w('in0/1', 13, { matched: 9 }), w('in1/0', 20, { matched: 9 })]),
  ];
  const d = loopDelta(samples, 0, 3, 'in0');
  // in0/0: 50 (pid 10) + 40 (pid 12 from 0); in0/1: 8 + 1 after being parked.
  t.same(d.values, { matched: 99, sent: 90 }, 'inflight gauges are not summed');
  t.same(d.restarted.sort(), ['in0/0', 'in0/1']);
  t.same(loopDelta(samples, 2, 3, 'in0'), { values: { matched: 11, sent: 11 }, restarted: [] });
  t.same(loopDelta(samples, 0, 3, 'in1'), { values: { matched: 2 }, restarted: [] });
});

t.test('loopDelta: a process that ended in the range counts up to its logged final counters', async (t) => {
  const samples = [
    sample(0, [w('in0/0', 10, { frames: 100 })]),
    sample(500, [w('in0/0', 10, { frames: 150 })]),
    sample(1000, [w('in0/0', 0)]),
    sample(1500, [w('in0/0', 12, { frames: 40 })]),
  ];
  const finals = finalCounters(['not json', JSON.stringify({ level: 30, pid: 10, worker: 'in0/0', counters: { frames: 170 }, msg: 'worker stopped: final counters' })]);
  t.same([...finals.keys()], [10], 'read from the worker\'s last log line');
  t.same(loopDelta(samples, 0, 3, 'in0', finals).values, { frames: 50 + 20 + 40 }, 'the 20 frames after its last sample are counted');
  t.same(loopDelta(samples, 0, 1, 'in0', finals).values, { frames: 50 }, 'not in a range it outlived');
});

const rs = (id: number, name: string, packets: number, out: number, errors = 0) => ({ id, name, packets, outputs: [{ packets: out, errors }] });

t.test('ruleDelta: growth, or undefined where the counter fell or the rule was replaced', async (t) => {
  const samples = [sample(0, [], [rs(1, 'a', 10, 10)]), sample(1, [], [rs(1, 'a', 20, 19, 1)]), sample(2, [], [rs(1, 'a', 5, 5)]), sample(3, [], [rs(7, 'a', 9, 9)])];
  t.same(ruleDelta(samples, 0, 1, 'a'), { packets: 10, outputs: [{ packets: 9, errors: 1 }] });
  t.same(ruleDelta(samples, 0, 2, 'a'), { packets: undefined, outputs: [{ packets: undefined, errors: undefined }] });
  t.equal(ruleDelta(samples, 2, 3, 'a'), undefined, 'a different rule id: not comparable');
  t.equal(ruleDelta(samples, 0, 1, 'zz'), undefined);
});

t.test('backwardEvents: every step back, named by what went on (restart, a fault, nothing); loop counters within one process, gauges never', async (t) => {
  const samples = [
    sample(0, [w('in0/0', 10, { frames: 100 }), w('in1/0', 20, { frames: 5 })], [rs(1, 'a', 100, 100), rs(4, 'd', 50, 50)]),
    // in0/0 restarted; mcrd still shows the old counters.
    sample(1000, [w('in0/0', 11, { frames: 3 }), w('in1/0', 20, { frames: 6 })], [rs(1, 'a', 100, 100), rs(4, 'd', 60, 60)]),
    // The new counters arrive a sample later: still the restart.
    sample(2000, [w('in0/0', 11, { frames: 9 }), w('in1/0', 20, { frames: 7 })], [rs(1, 'a', 4, 4), rs(4, 'd', 70, 70)]),
    // d falls inside a fault window.
    sample(20_000, [w('in0/0', 11, { frames: 10 }), w('in1/0', 20, { frames: 8 })], [rs(1, 'a', 6, 6), rs(4, 'd', 2, 2)]),
    sample(39_500, [w('in0/0', 11, { frames: 10 }), w('in1/0', 20, { frames: 8 })], [rs(1, 'a', 6, 6), rs(4, 'd', 2, 2)]),
    // a falls outside any window, no restart near: unexplained. A loop counter falls in one process.
    sample(40_000, [w('in0/0', 11, { frames: 11 }), w('in1/0', 20, { frames: 1 })], [rs(1, 'a', 1, 1), rs(4, 'd', 3, 3)]),
    // Gauges fall by design (busy share, sends in flight): never reported.
    sample(41_000, [w('in0/0', 11, { frames: 12, busy_permille: 231, inflight_sends: 9 }), w('in1/0', 20, { frames: 2 })], [rs(1, 'a', 1, 1), rs(4, 'd', 3, 3)]),
    sample(42_000, [w('in0/0', 11, { frames: 13, busy_permille: 54, inflight_sends: 0 }), w('in1/0', 20, { frames: 3 })], [rs(1, 'a', 1, 1), rs(4, 'd', 3, 3)]),
  ];
  const windows = [{ label: '#3 output-down out1', startMs: 15_000, endMs: 21_000 }];
  const iface = (name: string): string => (name === 'a' ? 'in0' : 'in1');
  const ev = backwardEvents(samples, windows, iface);
  const brief = ev.map((e) => `${e.counter}|${e.cause}|${e.fault ?? ''}`);
  t.same(brief, [
    'rule a packets|worker restart|', 'rule a output 0 packets|worker restart|',
    'rule d packets|during a fault|#3 output-down out1', 'rule d output 0 packets|during a fault|#3 output-down out1',
    'rule a packets|unexplained|', 'rule a output 0 packets|unexplained|',
    'worker in1/0 (pid 20) frames|unexplained|',
  ]);
});

t.test('errnoGrowth: growth by errno in a time range, a reset counted from 0', async (t) => {
  const o = (byErrno: Record<string, number>) => ({ id: 1, name: 'a', packets: 0, outputs: [{ packets: 0, errors: 0, errorsByErrno: byErrno }] });
  const samples = [sample(0, [], [o({ ENETUNREACH: 5 })]), sample(500, [], [o({ ENETUNREACH: 9 })]), sample(1000, [], [o({ ENETUNREACH: 2, ENODEV: 4 })]),
    sample(5000, [], [o({ ENETUNREACH: 50 })])];
  t.same(errnoGrowth(samples, 0, 1000), { ENETUNREACH: 4 + 2, ENODEV: 4 });
  t.same(errnoGrowth(samples, 600, 6000), { ENETUNREACH: 48 }, 'only samples inside the range');
});

t.test('/proc/net/udp: port, receive queue and drops per socket', async (t) => {
  const text = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    ' 1234: 010200EF:1771 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 12345 2 0000000000000000 17',
    ' 1235: 00000000:1773 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12346 2 0000000000000000 0',
  ].join('\n');
  t.same(parseProcNetUdp(text), [{ port: 6001, rxQueue: 2560, drops: 17 }, { port: 6003, rxQueue: 0, drops: 0 }]);
});
