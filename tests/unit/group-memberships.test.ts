/**
 * GroupMemberships with an injected fake of the addon's membership calls:
 * joins every distinct wanted group once per interface, leaves what no rule
 * wants, skips interfaces that do not exist, re-joins under the new index
 * when an interface is re-created, spills onto a second socket when the
 * kernel's per-socket limit answers ENOBUFS, reports failures with an
 * errno code and what to do, and does not walk a versioned wanted set (the
 * rule table's) that has not changed since everything in it was joined.
 */
import t from 'tap';
import { pino } from 'pino';
import { GroupMemberships, groupsByInterface } from '../../supervisor/net/group-memberships.js';
import { VersionedSet } from '../../supervisor/rule-table.js';

const logger = pino({ level: 'silent' });

function fake(limitPerSocket = 20, fail: Record<string, string> = {}) {
  let nextFd = 100;
  const open = new Map<number, Set<string>>();  // fd -> "ifindex/group"
  const calls: string[] = [];
  const n = {
    openMembershipSocket: () => {
      const fd = nextFd++;
      open.set(fd, new Set());
      return fd;
    },
    changeMembership: (fd: number, ifindex: number, group: string, join: boolean) => {
      const held = open.get(fd);
      if (held === undefined) throw Object.assign(new Error('EBADF'), { code: 'EBADF' });
      const code = fail[group];
      if (join && code !== undefined) throw Object.assign(new Error(`${code}: setsockopt`), { code });
      if (join && held.size >= limitPerSocket) throw Object.assign(new Error('ENOBUFS: setsockopt'), { code: 'ENOBUFS' });
      calls.push(`${join ? 'join' : 'leave'} ${ifindex} ${group} fd${fd}`);
      if (join) held.add(`${ifindex}/${group}`);
      else held.delete(`${ifindex}/${group}`);
    },
    closeFd: (fd: number) => {
      calls.push(`close fd${fd}`);
      open.delete(fd);
    },
  };
  return { n, open, calls };
}

const want = (entries: Record<string, string[]>): Map<string, Set<string>> =>
  new Map(Object.entries(entries).map(([k, v]) => [k, new Set(v)]));

t.test('groupsByInterface: distinct multicast groups per input interface', async (t) => {
  const rules = [
    { inputInterface: 'in0', inputGroup: '239.1.1.1' }, { inputInterface: 'in0', inputGroup: '239.1.1.1' },
    { inputInterface: 'in0', inputGroup: '10.0.0.5' }, { inputInterface: 'in1', inputGroup: '239.1.1.1' },
  ];
  t.same(groupsByInterface(rules), want({ in0: ['239.1.1.1'], in1: ['239.1.1.1'] }), 'duplicates once, unicast inputs none');
});

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
  const f = fake(2);
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
  const f = fake(20, fail);
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
  const f = fake(20, { '239.9.9.9': 'EINVAL' });
  const m = new GroupMemberships(f.n, logger);
  let walks = 0;
  class Counted extends VersionedSet {
    override [Symbol.iterator](): SetIterator<string> {
      walks++;
      return super[Symbol.iterator]();
    }
  }
  const groups = new Counted(['239.1.1.1', '239.1.1.2']);
  const wanted = new Map([['in0', groups]]);
  m.apply(wanted, () => 2);
  const joins = f.calls.length;
  const walked = walks;
  m.apply(wanted, () => 2);
  t.equal(walks, walked, 'unchanged: not walked');
  t.equal(f.calls.length, joins, 'and nothing joined');
  groups.add('239.1.1.3');
  m.apply(wanted, () => 2);
  t.same(m.groups('in0'), ['239.1.1.1', '239.1.1.2', '239.1.1.3'], 'a change is applied');
  groups.add('239.9.9.9');
  t.equal(m.apply(wanted, () => 2).length, 1, 'a failed join is reported');
  t.equal(m.apply(wanted, () => 2).length, 1, 'and tried again at the next apply though the set did not change');
  m.close();
});
