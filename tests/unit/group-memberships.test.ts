/**
 * GroupMemberships with an injected fake of the addon's membership calls
 * that behaves as the kernel does (net/ipv4/igmp.c): per socket at most
 * `maxGroups` groups and `maxSources` sources per group (ENOBUFS past
 * them), EADDRINUSE for a second (*,G) join, and a source join on a socket
 * holding the group (*,G) silently turning it into INCLUDE {source}.
 * Checks: every distinct wanted group joined once per interface, (*,G) or
 * INCLUDE sources as the rules want; what no rule wants leaves; interfaces
 * that do not exist are skipped and re-joined under their new index when
 * re-created; ENOBUFS (and, for IPv6, ENOMEM: option memory) spills
 * groups and sources onto other sockets;
 * (*,G) <-> INCLUDE transitions keep the wanted traffic covered after every
 * single call and never end in a silent mode switch; a failed join keeps
 * the old membership and is reported with an errno code and what to do;
 * IPv6 groups go on AF_INET6 sockets only and IPv4 ones on AF_INET sockets
 * (the fake refuses a group of the other family, as the addon does);
 * a versioned wanted map (the rule table's) that has not changed since
 * everything in it was joined is not walked.
 */
import t from 'tap';
import { pino } from 'pino';
import { GroupMemberships } from '../../supervisor/net/group-memberships.js';
import { WantedGroups, type GroupWant } from '../../supervisor/net/membership-plan.js';

const logger = pino({ level: 'silent' });

const err = (code: string): Error => Object.assign(new Error(`${code}: setsockopt`), { code });

/** The kernel's view, as the fake keeps it: per socket, per "ifindex/group", 'any' or INCLUDE sources. */
function fake(opts: { maxGroups?: number; maxSources?: number; fail?: Record<string, string>; v6OptmemGroups?: number } = {}) {
  const maxGroups = opts.maxGroups ?? 20;
  // IPv6: no group limit, but each membership takes option memory (ENOMEM once it is used up).
  const v6OptmemGroups = opts.v6OptmemGroups ?? Infinity;
  const maxSources = opts.maxSources ?? 10;
  const fail = opts.fail ?? {};
  let nextFd = 100;
  const open = new Map<number, Map<string, 'any' | Set<string>>>();
  const families = new Map<number, 4 | 6>();
  /** The addon refuses a group (or source) of the other family than the socket's. */
  const checkFamily = (fd: number, ...addrs: string[]): void => {
    for (const a of addrs) if ((a.includes(':') ? 6 : 4) !== families.get(fd)) throw err('EAFNOSUPPORT');
  };
  const calls: string[] = [];
  const socket = (fd: number) => {
    const s = open.get(fd);
    if (s === undefined) throw err('EBADF');
    return s;
  };
  const n = {
    openMembershipSocket: (family: 4 | 6 = 4) => {
      const fd = nextFd++;
      open.set(fd, new Map());
      families.set(fd, family);
      return fd;
    },
    changeMembership: (fd: number, ifindex: number, group: string, join: boolean) => {
      const s = socket(fd);
      checkFamily(fd, group);
      const key = `${ifindex}/${group}`;
      if (join) {
        const code = fail[group];
        if (code !== undefined) throw err(code);
        if (s.has(key)) throw err('EADDRINUSE');
        if (families.get(fd) === 6 ? s.size >= v6OptmemGroups : s.size >= maxGroups) throw err(families.get(fd) === 6 ? 'ENOMEM' : 'ENOBUFS');
        s.set(key, 'any');
      } else {
        if (!s.has(key)) throw err('EADDRNOTAVAIL');
        s.delete(key);
      }
      calls.push(`${join ? 'join' : 'leave'} ${ifindex} ${group} fd${fd}`);
    },
    changeSourceMembership: (fd: number, ifindex: number, group: string, source: string, join: boolean) => {
      const s = socket(fd);
      checkFamily(fd, group, source);
      const key = `${ifindex}/${group}`;
      const m = s.get(key);
      if (join) {
        const code = fail[`${group}/${source}`];
        if (m === undefined) {
          if (families.get(fd) === 6 ? s.size >= v6OptmemGroups : s.size >= maxGroups) throw err(families.get(fd) === 6 ? 'ENOMEM' : 'ENOBUFS');
          s.set(key, new Set());  // the kernel joins (INCLUDE, empty) first, and keeps it if the source fails
        }
        if (code !== undefined) throw err(code);
        const now = s.get(key);
        if (now === 'any') s.set(key, new Set([source]));  // the kernel's silent mode switch
        else if (now !== undefined) {
          if (now.size >= maxSources) throw err('ENOBUFS');
          now.add(source);
        }
      } else {
        if (m === undefined || m === 'any' || !m.has(source)) throw err('EADDRNOTAVAIL');
        m.delete(source);
        if (m.size === 0) s.delete(key);  // (INCLUDE, empty) is a leave
      }
      calls.push(`${join ? 'join' : 'leave'} ${ifindex} ${group} ${source} fd${fd}`);
    },
    closeFd: (fd: number) => {
      calls.push(`close fd${fd}`);
      open.delete(fd);
    },
  };
  /** The interface's filter for a group: 'any' if a socket holds (*,G), else the union of sources (empty: not joined). */
  const filter = (ifindex: number, group: string): 'any' | string[] => {
    const sources = new Set<string>();
    for (const s of open.values()) {
      const m = s.get(`${ifindex}/${group}`);
      if (m === 'any') return 'any';
      if (m !== undefined) for (const x of m) sources.add(x);
    }
    return [...sources].sort();
  };
  return { n, open, families, calls, filter };
}

/** Wanted memberships: per interface, per group 'any' or a list of sources. */
const want = (entries: Record<string, Record<string, 'any' | string[]> | string[]>): Map<string, Map<string, GroupWant>> =>
  new Map(Object.entries(entries).map(([iface, groups]) => [iface, new Map(Array.isArray(groups)
    ? groups.map((g): [string, GroupWant] => [g, 'any'])
    : Object.entries(groups).map(([g, w]): [string, GroupWant] => [g, w === 'any' ? 'any' : new Set(w)]))]));

t.test('join, leave, missing and re-created interfaces', async (t) => {
  const f = fake();
  const m = new GroupMemberships(f.n, logger);
  const index: Record<string, number> = { in0: 2 };
  const ifindexOf = (name: string): number | undefined => index[name];
  t.same(m.apply(want({ in0: ['239.1.1.1', '239.1.1.2'], in1: ['239.1.1.3'] }), ifindexOf), []);
  t.same(m.groups('in0'), ['239.1.1.1', '239.1.1.2']);
  t.same(m.groups('in1'), [], 'in1 does not exist: nothing joined, no error');
  t.equal(f.open.size, 1, 'one socket for in0');

  m.apply(want({ in0: ['239.1.1.2'] }), ifindexOf);
  t.same(m.groups('in0'), ['239.1.1.2'], 'the unwanted group left');
  t.ok(f.calls.includes('leave 2 239.1.1.1 fd100'));

  index.in1 = 5;
  m.apply(want({ in0: ['239.1.1.2'], in1: ['239.1.1.3'] }), ifindexOf);
  t.same(m.groups('in1'), ['239.1.1.3'], 'joined when it appeared');

  index.in1 = 9;  // re-created: new index
  m.apply(want({ in0: ['239.1.1.2'], in1: ['239.1.1.3'] }), ifindexOf);
  t.ok(f.calls.includes('join 9 239.1.1.3 fd102'), 'joined again under the new index on a fresh socket');
  t.notOk(f.open.has(101), 'the old socket was closed');

  m.apply(want({}), ifindexOf);
  t.equal(f.open.size, 0, 'no rules: every socket closed');
  m.close();
});

t.test('more groups than a socket may hold go on another socket', async (t) => {
  const f = fake({ maxGroups: 2 });
  const m = new GroupMemberships(f.n, logger);
  const groups = ['239.0.0.1', '239.0.0.2', '239.0.0.3', '239.0.0.4', '239.0.0.5'];
  t.same(m.apply(want({ in0: groups }), () => 3), []);
  t.same(m.groups('in0'), groups);
  t.equal(f.open.size, 3, 'three sockets of at most two groups');
  m.close();
  t.equal(f.open.size, 0, 'close releases them all');
});

t.test('a failed join carries its code and what to do, and is retried next time', async (t) => {
  const fail: Record<string, string> = { '239.9.9.9': 'EINVAL' };
  const f = fake({ fail });
  const m = new GroupMemberships(f.n, logger);
  const errors = m.apply(want({ in0: ['239.1.1.1', '239.9.9.9'] }), () => 2);
  t.equal(errors.length, 1);
  t.match(errors[0], { interface: 'in0', group: '239.9.9.9', code: 'EINVAL', message: /^EINVAL: 239\.9\.9\.9 cannot be joined on in0: check/ });
  t.same(m.groups('in0'), ['239.1.1.1'], 'the other group joined regardless');
  delete fail['239.9.9.9'];
  t.same(m.apply(want({ in0: ['239.1.1.1', '239.9.9.9'] }), () => 2), [], 'retried at the next apply');
  t.same(m.groups('in0'), ['239.1.1.1', '239.9.9.9']);
  m.close();
});

t.test('a versioned wanted set is not walked again until it changes or a join failed', async (t) => {
  const f = fake({ fail: { '239.9.9.9': 'EINVAL' } });
  const m = new GroupMemberships(f.n, logger);
  let walks = 0;
  class Counted extends WantedGroups {
    override [Symbol.iterator](): MapIterator<[string, GroupWant]> {
      walks++;
      return super[Symbol.iterator]();
    }
  }
  const groups = new Counted();
  groups.addUse('239.1.1.1', undefined);
  groups.addUse('239.1.1.2', undefined);
  const wanted = new Map([['in0', groups]]);
  m.apply(wanted, () => 2);
  const joins = f.calls.length;
  const walked = walks;
  m.apply(wanted, () => 2);
  t.equal(walks, walked, 'unchanged: not walked');
  t.equal(f.calls.length, joins, 'and nothing joined');
  groups.addUse('239.1.1.3', undefined);
  m.apply(wanted, () => 2);
  t.same(m.groups('in0'), ['239.1.1.1', '239.1.1.2', '239.1.1.3'], 'a change is applied');
  groups.addUse('239.9.9.9', undefined);
  t.equal(m.apply(wanted, () => 2).length, 1, 'a failed join is reported');
  t.equal(m.apply(wanted, () => 2).length, 1, 'and tried again at the next apply though the set did not change');
  m.close();
});

t.test('source rules join INCLUDE; (*,G) covers a group any rule takes from any source', async (t) => {
  const f = fake();
  const m = new GroupMemberships(f.n, logger);
  t.same(m.apply(want({ in0: { '232.1.1.1': ['10.0.0.1', '10.0.0.2'], '239.1.1.1': 'any' } }), () => 2), []);
  t.same(f.filter(2, '232.1.1.1'), ['10.0.0.1', '10.0.0.2'], 'one INCLUDE membership with each source');
  t.equal(f.filter(2, '239.1.1.1'), 'any');
  t.equal(f.open.size, 1, 'both on one socket');
  t.same(m.memberships('in0'), { '232.1.1.1': { any: false, sources: ['10.0.0.1', '10.0.0.2'] }, '239.1.1.1': { any: true, sources: [] } });
  m.apply(want({ in0: { '232.1.1.1': ['10.0.0.2'], '239.1.1.1': 'any' } }), () => 2);
  t.same(f.filter(2, '232.1.1.1'), ['10.0.0.2'], 'a source no rule names leaves');
  t.ok(f.calls.includes('leave 2 232.1.1.1 10.0.0.1 fd100'), 'with MCAST_LEAVE_SOURCE_GROUP');
  m.apply(want({ in0: { '239.1.1.1': 'any' } }), () => 2);
  t.same(f.filter(2, '232.1.1.1'), [], 'the group goes with its last source');
  t.same(m.groups('in0'), ['239.1.1.1']);
  m.close();
  t.equal(f.open.size, 0);
});

t.test('(*,G) <-> INCLUDE: every step keeps the wanted sources covered, no silent mode switch', async (t) => {
  const f = fake();
  const m = new GroupMemberships(f.n, logger);
  // Another group any-source on the same socket, so the newest socket is one that holds 232.1.1.1 too.
  m.apply(want({ in0: { '232.1.1.1': 'any', '239.1.1.1': 'any' } }), () => 2);
  const covered: string[] = [];
  const record = (wanted: 'any' | string[]) => {
    const inner = { ...f.n };
    const check = () => {
      const now = f.filter(2, '232.1.1.1');
      const ok = now === 'any' || (wanted !== 'any' && wanted.every((s) => now.includes(s)));
      covered.push(ok ? 'ok' : `uncovered after ${f.calls[f.calls.length - 1] ?? ''}: ${JSON.stringify(now)}`);
    };
    f.n.changeMembership = (...a) => { inner.changeMembership(...a); check(); };
    f.n.changeSourceMembership = (...a) => { inner.changeSourceMembership(...a); check(); };
    return () => Object.assign(f.n, inner);
  };
  let restore = record(['10.0.0.1', '10.0.0.2']);
  t.same(m.apply(want({ in0: { '232.1.1.1': ['10.0.0.1', '10.0.0.2'], '239.1.1.1': 'any' } }), () => 2), []);
  restore();
  t.same(covered.filter((c) => c !== 'ok'), [], '(*,G) -> INCLUDE: covered after every call');
  t.same(f.filter(2, '232.1.1.1'), ['10.0.0.1', '10.0.0.2'], 'and INCLUDE at the end, not (*,G) nor a partial set');
  t.equal(f.filter(2, '239.1.1.1'), 'any', 'the other group untouched');
  covered.length = 0;
  restore = record('any');
  t.same(m.apply(want({ in0: { '232.1.1.1': 'any', '239.1.1.1': 'any' } }), () => 2), []);
  restore();
  t.same(covered.filter((c) => c !== 'ok'), [], 'INCLUDE -> (*,G): covered after every call');
  t.equal(f.filter(2, '232.1.1.1'), 'any');
  t.same(m.memberships('in0')['232.1.1.1'], { any: true, sources: [] }, 'no source left beside (*,G)');
  m.close();
  t.equal(f.open.size, 0);
});

t.test('a failed source join keeps (*,G) until it succeeds', async (t) => {
  const fail: Record<string, string> = { '232.1.1.1/10.0.0.2': 'EINVAL' };
  const f = fake({ fail });
  const m = new GroupMemberships(f.n, logger);
  m.apply(want({ in0: { '232.1.1.1': 'any' } }), () => 2);
  const errors = m.apply(want({ in0: { '232.1.1.1': ['10.0.0.1', '10.0.0.2'] } }), () => 2);
  t.equal(errors.length, 1);
  t.match(errors[0], { interface: 'in0', group: '232.1.1.1', source: '10.0.0.2', code: 'EINVAL', message: /^EINVAL: 232\.1\.1\.1 from 10\.0\.0\.2 cannot be joined on in0/ });
  t.equal(f.filter(2, '232.1.1.1'), 'any', '(*,G) kept: 10.0.0.2 would be lost without it');
  delete fail['232.1.1.1/10.0.0.2'];
  t.same(m.apply(want({ in0: { '232.1.1.1': ['10.0.0.1', '10.0.0.2'] } }), () => 2), [], 'retried');
  t.same(f.filter(2, '232.1.1.1'), ['10.0.0.1', '10.0.0.2'], 'and then (*,G) left');
  m.close();
});

t.test('ENOBUFS on a source join (igmp_max_msf, igmp_max_memberships) goes to another socket', async (t) => {
  const f = fake({ maxGroups: 2, maxSources: 2 });
  const m = new GroupMemberships(f.n, logger);
  const sources = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'];
  t.same(m.apply(want({ in0: { '232.1.1.1': sources } }), () => 2), []);
  t.same(f.filter(2, '232.1.1.1'), sources, 'five sources held');
  t.equal(f.open.size, 3, 'on three sockets of at most two sources');
  t.same(m.apply(want({ in0: { '232.1.1.1': sources, '232.1.1.2': ['10.0.0.1'], '232.1.1.3': ['10.0.0.1'] } }), () => 2), []);
  t.same(f.filter(2, '232.1.1.3'), ['10.0.0.1']);
  t.ok([...f.open.values()].every((s) => s.size <= 2), 'no socket past two groups');
  t.ok([...f.open.values()].every((s) => [...s.values()].every((x) => x === 'any' || x.size > 0)), 'no empty INCLUDE left behind by a refused join');
  const fewer = ['10.0.0.2', '10.0.0.5'];
  m.apply(want({ in0: { '232.1.1.1': fewer } }), () => 2);
  t.same(f.filter(2, '232.1.1.1'), fewer);
  t.same(m.groups('in0'), ['232.1.1.1']);
  t.equal(f.open.size, m.socketCount('in0'), 'sockets emptied by the leaves are closed');
  t.ok(m.socketCount('in0') <= 2);
  m.close();
  t.equal(f.open.size, 0);
});

t.test('IPv6 joins past a socket\'s option memory (ENOMEM) go on another socket', async (t) => {
  const f = fake({ v6OptmemGroups: 3 });
  const m = new GroupMemberships(f.n, logger);
  const groups = Array.from({ length: 8 }, (_, i) => `ff3e::${i + 1}`);
  t.same(m.apply(want({ in0: { ...Object.fromEntries(groups.map((g) => [g, 'any'])), 'ff3e::100': ['2001:db8::1'] } }), () => 2), [],
    'every group and the source joined, none refused');
  for (const g of groups) t.equal(f.filter(2, g), 'any', `${g} held`);
  t.same(f.filter(2, 'ff3e::100'), ['2001:db8::1']);
  t.equal(f.open.size, 3, 'nine groups on three sockets of at most three');
  m.close();
  t.equal(f.open.size, 0);
});

t.test('IPv6 groups are held on AF_INET6 sockets, IPv4 ones on AF_INET sockets, each in its mode', async (t) => {
  const f = fake({ maxSources: 1 });
  const m = new GroupMemberships(f.n, logger);
  const wants = want({ in0: { '239.1.1.1': 'any', 'ff3e::1': ['2001:db8::1', '2001:db8::2'], 'ff15::9': 'any', '232.1.1.1': ['10.0.0.1'] } });
  t.same(m.apply(wants, () => 4), [], 'every join of both families succeeds');
  t.same(f.filter(4, 'ff3e::1'), ['2001:db8::1', '2001:db8::2'], 'the IPv6 SSM group is INCLUDE of both sources');
  t.equal(f.filter(4, 'ff15::9'), 'any', 'the IPv6 any-source group is (*,G)');
  t.equal(f.filter(4, '239.1.1.1'), 'any');
  t.same(f.filter(4, '232.1.1.1'), ['10.0.0.1']);
  const fams = [...f.open.keys()].map((fd) => f.families.get(fd));
  t.equal(fams.filter((x) => x === 6).length, 2, 'two AF_INET6 sockets: the second source spilled (mld_max_msf 1 in the fake)');
  t.equal(fams.filter((x) => x === 4).length, 1, 'one AF_INET socket for both IPv4 groups');
  t.same(m.memberships('in0')['ff3e::1'], { any: false, sources: ['2001:db8::1', '2001:db8::2'] });

  // An any-source rule arrives on the SSM group: (*,G) joined on an IPv6 socket before the sources leave.
  let covered = true;
  const inner = { ...f.n };
  const check = (): void => {
    const now = f.filter(4, 'ff3e::1');
    if (now !== 'any' && !(now.includes('2001:db8::1') && now.includes('2001:db8::2'))) covered = false;
  };
  f.n.changeMembership = (...a) => { inner.changeMembership(...a); check(); };
  f.n.changeSourceMembership = (...a) => { inner.changeSourceMembership(...a); check(); };
  t.same(m.apply(want({ in0: { 'ff3e::1': 'any' } }), () => 4), []);
  t.ok(covered, 'the wanted sources were received after every single call');
  t.equal(f.filter(4, 'ff3e::1'), 'any', 'the IPv6 group is (*,G) now');
  t.same(m.groups('in0'), ['ff3e::1'], 'the other groups left');
  t.ok([...f.open.keys()].every((fd) => f.families.get(fd) === 6), 'only IPv6 sockets remain');
  m.apply(want({}), () => 4);
  t.equal(f.open.size, 0, 'no rules: every socket closed');
});

t.test('a join the host refuses for lack of IPv6 says so', async (t) => {
  const f = fake();
  f.n.openMembershipSocket = (family?: 4 | 6) => {
    if (family === 6) throw err('EAFNOSUPPORT');
    return 100;
  };
  const m = new GroupMemberships(f.n, logger);
  const errors = m.apply(want({ in0: ['ff3e::1'] }), () => 2);
  t.equal(errors.length, 1);
  t.equal(errors[0]?.code, 'EAFNOSUPPORT');
  t.match(errors[0]?.message, /this kernel has no IPv6 \(booted with ipv6\.disable=1\?\)/);
});
