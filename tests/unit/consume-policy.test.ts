/**
 * consumeInputs "auto" without a kernel: the /proc/net/igmp and
 * /proc/net/udp parsers on text a kernel printed (tests/fixtures/proc/,
 * taken in a namespace where two sockets bound *:5000 joined 239.1.1.1 on
 * d0, one of them also 239.255.0.7, and a third was bound to
 * 10.77.0.1:6001 and connected to 10.77.0.9:7000); the per-rule decision;
 * finding a socket's owner through /proc/PID/fd; and ConsumePolicy with an
 * injected /proc: what it consumes, what it logs when a decision changes,
 * and what it does when /proc cannot be read.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { packageRoot } from '../../native/package-root.js';
import { canonicalIpv6, parseProcIgmp, parseProcIgmp6, parseProcUdp, parseProcUdp6, procHexToIpv4, procHexToIpv6, socketInode } from '../../supervisor/net/proc-net.js';
import { candidateInodes, decideConsume, groupUsers, indexTables, type ListenerSnapshot, type OwnGroupSockets } from '../../supervisor/net/consume-decision.js';
import { findSocketOwners, SocketOwnerCache, type ProcReader } from '../../supervisor/net/socket-owners.js';
import { ConsumePolicy } from '../../supervisor/net/consume-policy.js';
import { SYNC_READ_MS, SYNC_RETRY_POLLS } from '../../supervisor/net/listener-tables.js';
import { formatConsumed } from '../../tools/mcrctl/render.js';

const FIXTURES = join(packageRoot(), 'tests', 'fixtures', 'proc');
const IGMP = readFileSync(join(FIXTURES, 'igmp.txt'), 'utf8');
const UDP = readFileSync(join(FIXTURES, 'udp.txt'), 'utf8');
const IGMP6 = readFileSync(join(FIXTURES, 'igmp6.txt'), 'utf8');
const UDP6 = readFileSync(join(FIXTURES, 'udp6.txt'), 'utf8');

t.test('proc-net: /proc/net/igmp and /proc/net/udp as a kernel prints them', async (t) => {
  t.equal(procHexToIpv4('010101EF', true), '239.1.1.1', 'little-endian host');
  t.equal(procHexToIpv4('EF010101', false), '239.1.1.1', 'big-endian host');
  t.equal(procHexToIpv4('XYZ'), undefined);
  const igmp = parseProcIgmp(IGMP, true);
  t.same(igmp, [
    { ifindex: 1, device: 'lo', groups: [{ group: '224.0.0.1', users: 1 }] },
    { ifindex: 2, device: 'd1', groups: [{ group: '224.0.0.1', users: 1 }] },
    { ifindex: 3, device: 'd0', groups: [{ group: '239.255.0.7', users: 1 }, { group: '239.1.1.1', users: 2 }, { group: '224.0.0.1', users: 1 }] },
  ]);
  t.equal(groupUsers(igmp, 'd0', '239.1.1.1'), 2);
  t.equal(groupUsers(igmp, 'd1', '239.1.1.1'), 0, 'joined on another interface only');
  t.same(parseProcUdp(UDP, true), [
    { localAddress: '0.0.0.0', localPort: 5000, remoteAddress: '0.0.0.0', remotePort: 0, uid: 0, inode: 6592254 },
    { localAddress: '0.0.0.0', localPort: 5000, remoteAddress: '0.0.0.0', remotePort: 0, uid: 0, inode: 6592253 },
    { localAddress: '10.77.0.1', localPort: 6001, remoteAddress: '10.77.0.9', remotePort: 7000, uid: 0, inode: 6592255 },
  ]);
  t.same(parseProcUdp('garbage\n  1: nothere\n', true), [], 'lines of another shape are skipped');
  t.same(parseProcUdp(UDP, true, new Set([6001, 9])).map((s) => s.inode), [6592255], 'only the sockets on the given ports');
  t.same(parseProcUdp(UDP, true, new Set([5000])).map((s) => s.inode), [6592254, 6592253]);
  t.same(parseProcIgmp('', true), []);
  t.equal(socketInode('socket:[6592254]'), 6592254);
  t.equal(socketInode('/dev/null'), undefined);
  t.equal(socketInode('anon_inode:[eventfd]'), undefined);
});

const rule = { id: 3, inputInterface: 'd0', inputGroup: '239.1.1.1', inputPort: 5000 };

/** mcrd's own membership sockets: one per group listed, a group listed twice on two sockets. */
function ownSocketsOf(...groups: string[]): OwnGroupSockets {
  return (_iface, group) => groups.filter((g) => g === group).length;
}

function snapshot(over: Partial<ListenerSnapshot> & { igmp?: string; udp?: string; own?: OwnGroupSockets } = {}): ListenerSnapshot {
  const { igmp, udp, own, ...rest } = over;
  return { ...indexTables(parseProcIgmp(igmp ?? IGMP, true), parseProcUdp(udp ?? UDP, true), own), owner: () => undefined, ...rest };
}

t.test('decideConsume: forced, a bound listener, a joined group, mcrd\'s own sockets, nobody', async (t) => {
  t.same(decideConsume(rule, true, snapshot()), { consumed: true, reason: 'consumeInputs is true' }, 'true consumes even with listeners');
  t.same(decideConsume(rule, false, snapshot({ udp: '', igmp: '' })), { consumed: false, reason: 'consumeInputs is false' });
  t.same(decideConsume(rule, 'auto', snapshot({ owner: (i) => (i === 6592254 ? { pid: 1234, own: false } : undefined) })), {
    consumed: false, reason: 'local listener pid 1234 (inode 6592254) bound to 0.0.0.0:5000', listener: { pid: 1234, inode: 6592254 },
  }, 'a socket bound to *:5000, with its pid');
  t.same(decideConsume(rule, 'auto', snapshot()), {
    consumed: false, reason: 'local listener inode 6592254 (uid 0) bound to 0.0.0.0:5000', listener: { inode: 6592254 },
  }, 'an owner not found is named by inode and uid');
  const ownListeners = { owner: () => ({ pid: 1, own: true }) };
  t.same(decideConsume(rule, 'auto', snapshot(ownListeners)), { consumed: false, reason: 'a local socket joined 239.1.1.1 on d0' },
    'mcrd\'s sockets are no listeners, but the group has 2 users and mcrd holds none');
  t.same(decideConsume(rule, 'auto', snapshot({ ...ownListeners, own: ownSocketsOf('239.1.1.1') })), {
    consumed: false, reason: 'a local socket joined 239.1.1.1 on d0' }, 'one of its 2 users is mcrd\'s: one is left');
  t.same(decideConsume(rule, 'auto', snapshot({ ...ownListeners, own: ownSocketsOf('239.1.1.1', '239.1.1.1') })),
    { consumed: true, reason: 'no local listener' }, 'both users are mcrd\'s, two sockets holding the group\'s SSM sources between them');
  const mcrdOnly = snapshot({ udp: '', igmp: IGMP.replace('010101EF     2', '010101EF     1'), own: ownSocketsOf('239.1.1.1') });
  t.same(decideConsume(rule, 'auto', mcrdOnly), { consumed: true, reason: 'no local listener' }, 'the only user is mcrd\'s membership');
  t.same(decideConsume({ ...rule, inputPort: 6001, inputGroup: '239.255.0.7' }, 'auto', snapshot({ ...ownListeners, own: ownSocketsOf('239.255.0.7') })),
    { consumed: true, reason: 'no local listener' }, 'a socket bound to a unicast address does not receive a group');
  t.same(decideConsume({ ...rule, inputInterface: 'd1' }, 'auto', snapshot({ ...ownListeners, udpByPort: new Map() })), { consumed: true, reason: 'no local listener' },
    'a join on another interface does not count');
  t.same(decideConsume({ ...rule, inputGroup: '10.77.0.1', inputPort: 6001 }, 'auto', snapshot()), {
    consumed: false, reason: 'local listener inode 6592255 (uid 0) bound to 10.77.0.1:6001', listener: { inode: 6592255 },
  }, 'a unicast input: a socket bound to that address listens');
  t.same([...candidateInodes([rule], snapshot().udpByPort)].sort(), [6592253, 6592254], 'only sockets where a rule\'s datagrams arrive are looked up');
});

function fakeProc(tables: Record<number, string[] | undefined>, files: Record<string, string | Error>): ProcReader & { scanned: number[] } {
  const scanned: number[] = [];
  const read = (path: string): string => {
    const f = files[path];
    if (f === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    if (f instanceof Error) throw f;
    return f;
  };
  return {
    scanned,
    read,
    readAsync: async (path) => read(path),
    fdLinks: (pid) => {
      scanned.push(pid);
      return tables[pid];
    },
    pids: () => Object.keys(tables).map(Number),
  };
}

t.test('socket owners: own processes first, then everyone, cached while the socket lives', async (t) => {
  const proc = fakeProc({ 10: ['socket:[1]', '/dev/null'], 20: ['socket:[2]'], 30: undefined, 40: ['socket:[3]'] }, {});
  t.same(findSocketOwners(new Set([1, 2]), [10], proc), new Map([[1, { pid: 10, own: true }], [2, { pid: 20, own: false }]]));
  t.same(proc.scanned, [10, 20], 'stops once every inode is found');
  const cache = new SocketOwnerCache(proc);
  proc.scanned.length = 0;
  let owner = cache.lookup(new Set([3, 99]), [10]);
  t.same(owner(3), { pid: 40, own: false });
  t.same(owner(99), { own: false }, 'not found: someone else\'s, without a pid');
  const walked = proc.scanned.length;
  owner = cache.lookup(new Set([3, 99]), [10]);
  t.equal(proc.scanned.length, walked, 'known inodes are not looked up again');
  t.same(owner(3), { pid: 40, own: false });
});

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { logger, lines };
}

t.test('ConsumePolicy auto: consumes what nobody listens to, follows listeners, logs each change', async (t) => {
  const rules = [rule, { id: 4, inputInterface: 'd0', inputGroup: '239.2.2.2', inputPort: 7000, source: '10.1.1.1' }];
  const files: Record<string, string | Error> = { '/proc/net/igmp': IGMP, '/proc/net/udp': UDP };
  const proc = fakeProc({ 1234: ['socket:[6592254]', 'socket:[6592253]'] }, files);
  const { logger, lines } = captureLogger();
  let changes = 0;
  const policy = new ConsumePolicy({ mode: 'auto', logger, rules: () => rules, ownGroupSockets: ownSocketsOf('239.1.1.1', '239.2.2.2'), ownPids: () => [1],
    onChange: () => changes++, reader: proc, pollMs: 20 });
  t.equal(policy.refresh(), true, 'first decisions are a change');
  t.same(policy.list(), [
    { ruleId: 3, consumed: false, reason: 'local listener pid 1234 (inode 6592254) bound to 0.0.0.0:5000' },
    { ruleId: 4, consumed: true, reason: 'no local listener' },
  ]);
  t.same(policy.consumeMatches(), new Map([['d0', [{ group: '239.2.2.2', port: 7000, source: '10.1.1.1' }]]]), 'only rule 4 is filtered');
  const logged = lines.filter((l) => l.level === 30).map((l) => l.msg);
  t.same(logged, ['rule 3 (239.1.1.1:5000 on d0): local listener pid 1234 (inode 6592254) bound to 0.0.0.0:5000 -> not consuming',
    'rule 4 (10.1.1.1 -> 239.2.2.2:7000 on d0): no local listener -> consuming']);
  t.match(lines.find((l) => l.rule === 3), { consumed: false, pid: 1234, inode: 6592254 });
  t.equal(policy.refresh(), false, 'nothing changed, nothing logged');
  t.equal(lines.length, 2);

  // The listener closes: both sockets and its membership go (mcrd's is the one user left).
  files['/proc/net/udp'] = UDP.split('\n').filter((l) => !l.includes(':1388 ')).join('\n');
  files['/proc/net/igmp'] = IGMP.replace('010101EF     2', '010101EF     1');
  policy.start();
  await new Promise((r) => setTimeout(r, 200));
  policy.stop();
  t.equal(changes, 1, 'the poll saw it once and called onChange');
  t.same(policy.get(3), { consumed: true, reason: 'no local listener', rule });
  t.equal(lines.at(-1)?.msg, 'rule 3 (239.1.1.1:5000 on d0): no local listener -> consuming');
  rules.pop();
  t.equal(policy.refresh(), true, 'a removed rule is a change');
  t.same(policy.list().map((c) => c.ruleId), [3]);
});

t.test('ConsumePolicy auto: a rule change decides only the new rules from the last tables; the poll reads them again', async (t) => {
  const rules: Array<typeof rule> = [{ ...rule, inputPort: 7000 }];
  const proc = fakeProc({}, { '/proc/net/igmp': IGMP, '/proc/net/udp': UDP, '/proc/net/igmp6': IGMP6, '/proc/net/udp6': UDP6 });
  let reads = 0;
  const reader = { ...proc, read: (p: string) => { reads++; return proc.read(p); }, readAsync: async (p: string) => { reads++; return proc.read(p); } };
  const { logger } = captureLogger();
  const policy = new ConsumePolicy({ mode: 'auto', logger, rules: () => rules, ownGroupSockets: ownSocketsOf('239.1.1.1'), ownPids: () => [], onChange: () => {},
    reader, pollMs: 50 });
  policy.refresh();
  t.equal(reads, 4, 'a refresh reads the four files');
  rules.push({ ...rule, id: 5, inputPort: 6001, inputGroup: '10.77.0.1' });
  t.equal(policy.rulesChanged(), true, 'a new rule is a change');
  t.equal(reads, 4, 'decided from the tables just read');
  t.match(policy.get(5), { consumed: false, reason: 'local listener inode 6592255 (uid 0) bound to 10.77.0.1:6001' },
    'a port the last refresh did not parse is parsed from its text');
  t.equal(policy.rulesChanged(), false, 'nothing new: no change');
  policy.start();
  const deadline = Date.now() + 5000;
  while (reads < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  policy.stop();
  t.ok(reads >= 8, 'the poll read the four files again');
  t.ok((policy.lastPollDurationMs ?? -1) >= 0, 'and timed itself (the next poll waits at least 50 times that)');
});

t.test('ConsumePolicy auto: mcrd\'s memberships are counted when the tables are read, not when a rule is decided from them later', async (t) => {
  // One other socket joined 239.1.1.1 on d0 when the tables were read; mcrd held none of it then.
  const igmp = IGMP.replace('010101EF     2', '010101EF     1');
  const files: Record<string, string> = { '/proc/net/igmp': igmp, '/proc/net/udp': '', '/proc/net/igmp6': '', '/proc/net/udp6': '' };
  const proc = fakeProc({}, files);
  let mcrdSockets = 0;
  const rules: Array<typeof rule> = [{ ...rule, inputPort: 7000 }];
  const policy = new ConsumePolicy({ mode: 'auto', logger: captureLogger().logger, rules: () => rules, ownGroupSockets: () => mcrdSockets,
    ownPids: () => [], onChange: () => {}, reader: proc, pollMs: 60_000 });
  policy.refresh();
  t.match(policy.get(3), { consumed: false, reason: 'a local socket joined 239.1.1.1 on d0' }, 'the other socket is a listener');
  // mcrd joins the group for the new rule after those tables were read.
  mcrdSockets = 1;
  rules.push({ ...rule, id: 6, inputPort: 7001 });
  policy.rulesChanged();
  t.match(policy.get(6), { consumed: false, reason: 'a local socket joined 239.1.1.1 on d0' },
    'the one user the tables show is still the other socket, not mcrd\'s new membership');
  files['/proc/net/igmp'] = IGMP;  // the kernel now counts mcrd's membership too: 2 users
  policy.refresh();
  t.match(policy.get(6), { consumed: false, reason: 'a local socket joined 239.1.1.1 on d0' }, 'and after a fresh read, which shows 2 users');
});

t.test('ConsumePolicy auto: a poll reads on the event loop while the last read there was quick, through the pool once it was slow, and tries again', async (t) => {
  const proc = fakeProc({}, { '/proc/net/igmp': IGMP, '/proc/net/udp': UDP, '/proc/net/igmp6': IGMP6, '/proc/net/udp6': UDP6 });
  const ways: string[] = [];
  // A slow host: every read of /proc/net/udp spins for SYNC_READ_MS + 1 ms, whichever way it is made.
  let slowMs = 0;
  const spin = (): void => { const until = performance.now() + slowMs; while (performance.now() < until) { /* the kernel's walk */ } };
  const reader = {
    ...proc,
    read: (p: string) => { ways.push('sync'); if (p === '/proc/net/udp') spin(); return proc.read(p); },
    readAsync: async (p: string) => { ways.push('async'); if (p === '/proc/net/udp') spin(); return proc.read(p); },
  };
  const { logger } = captureLogger();
  const policy = new ConsumePolicy({ mode: 'auto', logger, rules: () => [rule], ownGroupSockets: ownSocketsOf(), ownPids: () => [], onChange: () => {},
    reader, pollMs: 20 });
  const pollOnce = async (): Promise<string[]> => {
    ways.length = 0;
    policy.start();
    const deadline = Date.now() + 5000;
    while (ways.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    policy.stop();
    return ways.slice(0, 4);
  };
  policy.refresh();
  t.ok((policy.lastReadDurationMs ?? Infinity) < SYNC_READ_MS, `the refresh's read was quick (${policy.lastReadDurationMs?.toFixed(2)} ms)`);
  t.same(await pollOnce(), ['sync', 'sync', 'sync', 'sync'], 'so the poll reads on the event loop');
  slowMs = SYNC_READ_MS + 1;
  policy.refresh();
  t.ok((policy.lastReadDurationMs ?? 0) >= SYNC_READ_MS, 'a slow read is timed');
  t.same(await pollOnce(), ['async', 'async', 'async', 'async'], 'the next poll reads through the pool');
  // The pool's time does not count: after SYNC_RETRY_POLLS polls through it, one tries the event loop again.
  let polls = 1;
  while (polls < SYNC_RETRY_POLLS - 1) {
    t.same(await pollOnce(), ['async', 'async', 'async', 'async'], `poll ${++polls} through the pool`);
  }
  t.same(await pollOnce(), ['sync', 'sync', 'sync', 'sync'], `poll ${SYNC_RETRY_POLLS}: the event loop again (still slow)`);
  for (let i = 1; i < 2 * SYNC_RETRY_POLLS; i++) await pollOnce();
  t.same(await pollOnce(), ['sync', 'sync', 'sync', 'sync'], 'slow again: the next try comes after twice as many polls');
  slowMs = 0;
  for (let i = 1; i < 4 * SYNC_RETRY_POLLS; i++) await pollOnce();
  t.same(await pollOnce(), ['sync', 'sync', 'sync', 'sync'], 'quick at last: on the event loop');
  t.same(await pollOnce(), ['sync', 'sync', 'sync', 'sync'], 'and from then on');
});

t.test('ConsumePolicy: many changes at once log one summary line; forced modes neither read /proc nor log', async (t) => {
  const rules = Array.from({ length: 40 }, (_, i) => ({ id: i + 1, inputInterface: 'd0', inputGroup: `239.9.0.${i + 1}`, inputPort: 9000 }));
  const { logger, lines } = captureLogger();
  const proc = fakeProc({}, { '/proc/net/igmp': IGMP, '/proc/net/udp': UDP });
  new ConsumePolicy({ mode: 'auto', logger, rules: () => rules, ownGroupSockets: ownSocketsOf(), ownPids: () => [], onChange: () => {}, reader: proc }).refresh();
  t.equal(lines.filter((l) => l.level === 30).length, 1, 'one info line');
  t.match(lines.find((l) => l.level === 30), { msg: 'consume decisions changed', changed: 40, consuming: 40 });
  t.equal(lines.filter((l) => l.level === 20).length, 40, 'each rule at debug');

  for (const mode of [true, false]) {
    const quiet = captureLogger();
    const none = fakeProc({}, {});
    const policy = new ConsumePolicy({ mode, logger: quiet.logger, rules: () => rules, ownGroupSockets: ownSocketsOf(), ownPids: () => [], onChange: () => {}, reader: none });
    policy.refresh();
    t.ok(policy.list().every((c) => c.consumed === mode && c.reason === `consumeInputs is ${mode}`), `${mode}: every rule`);
    t.equal(quiet.lines.length, 0, `${mode}: nothing logged`);
    t.equal(policy.consumeMatches().size, mode ? 1 : 0);
  }
});

t.test('ConsumePolicy auto: an unreadable /proc file consumes nothing, warned once per outage', async (t) => {
  const files: Record<string, string | Error> = { '/proc/net/igmp': IGMP, '/proc/net/udp': Object.assign(new Error('EACCES: denied'), { code: 'EACCES' }) };
  const { logger, lines } = captureLogger();
  const policy = new ConsumePolicy({ mode: 'auto', logger, rules: () => [rule], ownGroupSockets: ownSocketsOf(), ownPids: () => [], onChange: () => {},
    reader: fakeProc({}, files) });
  policy.refresh();
  policy.refresh();
  t.same(policy.list(), [{ ruleId: 3, consumed: false, reason: '/proc/net/udp cannot be read' }]);
  t.equal(lines.filter((l) => l.level === 40).length, 1, 'one warning');
  t.match(lines.find((l) => l.level === 40), { code: 'EACCES', file: '/proc/net/udp' });
  files['/proc/net/udp'] = '';
  files['/proc/net/igmp'] = '';
  policy.refresh();
  t.same(policy.list(), [{ ruleId: 3, consumed: true, reason: 'no local listener' }]);
  t.ok(lines.some((l) => l.msg === 'local listeners can be seen again'));
});

t.test('mcrctl list\'s CONSUMED cell', async (t) => {
  t.equal(formatConsumed({ consumed: true, reason: 'no local listener' }), 'yes: no local listener');
  t.equal(formatConsumed({ consumed: false, reason: 'consumeInputs is false' }), 'no: consumeInputs is false');
  t.equal(formatConsumed(undefined), '-');
});

t.test('proc-net: /proc/net/igmp6 and /proc/net/udp6 as a kernel printed them (tests/fixtures/proc/*6.txt)', async (t) => {
  t.equal(canonicalIpv6('FF3E:0:0::1:2'), 'ff3e::1:2');
  t.equal(procHexToIpv6('00003EFF000000000000000002000100', true), 'ff3e::1:2', 'udp6 words are host order');
  t.equal(procHexToIpv6('FF3E0000000000000000000000010002', false), 'ff3e::1:2');
  const igmp6 = parseProcIgmp6(IGMP6);
  t.same(igmp6.map((i) => i.device), ['lo', 'd1', 'd0'], 'one entry per device');
  t.same(igmp6.find((i) => i.device === 'd0')?.groups.find((g) => g.group === 'ff3e::1:2'), { group: 'ff3e::1:2', users: 2 },
    'two sockets joined ff3e::1:2 on d0');
  t.equal(groupUsers(igmp6, 'd0', 'FF3E::1:2'), 2, 'a group is found whatever its notation');
  const udp6 = parseProcUdp6(UDP6, true);
  t.same(udp6.map((s) => `${s.localAddress}:${s.localPort}`), [':::5000', 'ff3e::1:2:5001', '2001:db8::5:6001']);
  t.same(parseProcUdp6(UDP6, true, new Set([5001])).map((s) => s.inode), [8124749], 'only the asked ports are parsed');
});

t.test('decideConsume: IPv6 rules and listeners', async (t) => {
  const snap6 = (over: Partial<ListenerSnapshot> & { own?: OwnGroupSockets } = {}): ListenerSnapshot => {
    const { own: ownSockets, ...rest } = over;
    return { ...indexTables([...parseProcIgmp(IGMP, true), ...parseProcIgmp6(IGMP6)], [...parseProcUdp(UDP, true), ...parseProcUdp6(UDP6, true)], ownSockets),
      owner: () => undefined, ...rest };
  };
  const r6 = { id: 9, inputInterface: 'd0', inputGroup: 'ff3e::1:2', inputPort: 5000 };
  t.same(decideConsume(r6, 'auto', snap6()), { consumed: false, reason: 'local listener inode 8124748 (uid 0) bound to [::]:5000', listener: { inode: 8124748 } },
    'a socket bound to [::]:5000 receives the IPv6 group');
  t.match(decideConsume({ ...r6, inputPort: 5001 }, 'auto', snap6()), { consumed: false, listener: { inode: 8124749 } },
    'a socket bound to the group itself');
  const own = { owner: () => ({ pid: 1, own: true }) };
  t.same(decideConsume(r6, 'auto', snap6({ ...own, own: ownSocketsOf('ff3e::1:2') })),
    { consumed: false, reason: 'a local socket joined ff3e::1:2 on d0' }, 'igmp6 shows 2 users, mcrd holds one: another socket joined');
  const onlyMcrd = indexTables(parseProcIgmp6(IGMP6.replace(/(ff3e0000000000000000000000010002\s+)2/, '$11')), [], ownSocketsOf('ff3e::1:2'));
  t.same(decideConsume(r6, 'auto', { ...onlyMcrd, owner: () => undefined }),
    { consumed: true, reason: 'no local listener' }, 'mcrd\'s membership is the only user');
  t.same(decideConsume({ ...r6, inputPort: 6001, inputGroup: 'ff3e::7' }, 'auto', snap6()), { consumed: true, reason: 'no local listener' },
    'a socket bound to a unicast IPv6 address does not receive a group');
  t.match(decideConsume({ ...r6, inputGroup: '2001:db8::5', inputPort: 6001 }, 'auto', snap6()), { consumed: false, listener: { inode: 8124750 } },
    'a unicast IPv6 input: a socket bound to that address listens');
  const r4 = { id: 10, inputInterface: 'd9', inputGroup: '239.77.0.1', inputPort: 5000 };
  t.match(decideConsume(r4, 'auto', snap6({ udpByPort: indexTables([], parseProcUdp6(UDP6, true)).udpByPort })),
    { consumed: false, reason: 'local listener inode 8124748 (uid 0) bound to [::]:5000' },
    'an IPv4 rule: a dual-stack socket bound to [::] receives it as well (V6ONLY cannot be seen)');
  const mapped = { localAddress: procHexToIpv6('0000000000000000FFFF00000101EF', true) ?? '', localPort: 5000, remoteAddress: '::', remotePort: 0, uid: 0, inode: 77 };
  t.equal(mapped.localAddress, '', 'a 30-digit field is no address');
  const mapped6 = { ...mapped, localAddress: procHexToIpv6('0000000000000000FFFF0000EF0101EF', true) ?? '' };
  t.equal(mapped6.localAddress, '::ffff:ef01:1ef', 'udp6 shows an IPv4-mapped bind canonically, in hex (host-order words)');
  t.match(decideConsume({ ...r4, inputGroup: '239.1.1.239', inputPort: 5000 }, 'auto', snap6({ udpByPort: new Map([[5000, [mapped6]]]) })),
    { consumed: false, listener: { inode: 77 } }, 'an IPv6 socket bound to ::ffff:239.1.1.239 receives that IPv4 group');
  t.same(decideConsume({ ...r6, inputPort: 7777 }, 'auto', snap6({ udpByPort: indexTables([], parseProcUdp(UDP, true)).udpByPort, groupUsers: () => 0 })),
    { consumed: true, reason: 'no local listener' }, 'IPv4 sockets never receive an IPv6 rule');
});

t.test('ConsumePolicy auto: a kernel without IPv6 (no igmp6, udp6) still decides IPv4 rules', async (t) => {
  const proc = fakeProc({}, { '/proc/net/igmp': IGMP, '/proc/net/udp': UDP });
  const { logger, lines } = captureLogger();
  const policy = new ConsumePolicy({ mode: 'auto', logger, rules: () => [{ ...rule, inputGroup: '239.77.0.9', inputPort: 7000 }],
    ownGroupSockets: ownSocketsOf(), ownPids: () => [], onChange: () => {}, reader: proc });
  policy.refresh();
  t.same(policy.list(), [{ ruleId: rule.id, consumed: true, reason: 'no local listener' }]);
  t.equal(lines.filter((l) => Number(l.level) >= 40).length, 0, 'no warning: missing IPv6 tables mean no IPv6 listener');
});

t.test('ConsumePolicy: the consumed matches kept per interface equal a walk of every decision, through adds, removes, moves and listeners', async (t) => {
  // No listener on ports 7000+ in the fixtures; port 5000 has one (rule 3 of the first test).
  type R = { id: number; inputInterface: string; inputGroup: string; inputPort: number; source?: string };
  let rules: R[] = Array.from({ length: 40 }, (_, i) => ({ id: i + 1, inputInterface: `d${i % 3}`, inputGroup: `239.9.0.${i + 1}`, inputPort: 7000 + i }));
  const proc = fakeProc({}, { '/proc/net/igmp': IGMP, '/proc/net/udp': UDP });
  const { logger } = captureLogger();
  const policy = new ConsumePolicy({ mode: 'auto', logger, rules: () => rules, ownGroupSockets: ownSocketsOf(), ownPids: () => [], onChange: () => {}, reader: proc });
  const sorted = (m: Map<string, Array<{ group: string; port: number; source?: string }>>): Record<string, string[]> =>
    Object.fromEntries([...m].filter(([, l]) => l.length > 0).sort(([a], [b]) => a.localeCompare(b))
      .map(([k, l]) => [k, l.map((x) => `${x.group}:${x.port}:${x.source ?? '*'}`).sort()]));
  const walk = (): Record<string, string[]> => {
    const out = new Map<string, Array<{ group: string; port: number; source?: string }>>();
    for (const r of rules) {
      if (policy.get(r.id)?.consumed !== true) continue;
      out.set(r.inputInterface, [...(out.get(r.inputInterface) ?? []), { group: r.inputGroup, port: r.inputPort, ...(r.source !== undefined ? { source: r.source } : {}) }]);
    }
    return sorted(out);
  };
  policy.refresh();
  t.same(sorted(policy.consumeMatches()), walk(), 'first decisions');
  t.equal(Object.values(walk()).flat().length, 40, 'every rule consumed');
  const d1 = policy.consumeMatches().get('d1');
  rules = [...rules, { id: 41, inputInterface: 'd0', inputGroup: '239.9.1.1', inputPort: 7100 }];
  policy.rulesChanged();
  t.same(sorted(policy.consumeMatches()), walk(), 'after an add');
  t.equal(policy.consumeMatches().get('d1'), d1, 'an interface nothing changed on keeps the same list (InputFilters reuses its program)');
  rules = rules.filter((r) => r.id !== 2 && r.id !== 5);
  policy.rulesChanged();
  t.same(sorted(policy.consumeMatches()), walk(), 'after removes');
  t.not(policy.consumeMatches().get('d1'), d1, 'rules 2 and 5 were on d1: its list is new');
  // A reload moves rule 3 to another interface under the same id, and rule 6 gets a source; rule 7 moves to a port with a listener.
  rules = rules.map((r) => r.id === 3 ? { ...r, inputInterface: 'd9' } : r.id === 6 ? { ...r, source: '10.1.1.1' } : r.id === 7 ? { ...r, inputGroup: '239.1.1.1', inputPort: 5000 } : r);
  policy.rulesChanged();
  t.same(sorted(policy.consumeMatches()), walk(), 'after a move, a new source and a listener');
  t.equal(policy.get(7)?.consumed, false, 'rule 7 is no longer consumed');
  t.ok(policy.consumeMatches().has('d9'), 'd9 has rule 3');
  rules = rules.filter((r) => r.inputInterface !== 'd2');
  policy.refresh();
  t.same(sorted(policy.consumeMatches()), walk(), 'after a full refresh with d2 emptied');
  t.notOk(policy.consumeMatches().has('d2'), 'no list for an interface without consumed rules');
});
