/**
 * supervisor/net/output-drops.ts with a fake host: one entry per output
 * interface name, in order and once each; the root qdisc and the link's
 * transmit drops found by index (the qdisc's drops only when it keeps
 * them); an interface the watcher does not know, or the dumps do not list,
 * says ENODEV; a stacked output (VLAN, macvlan, ipvlan, MACsec) is followed by the
 * device it is stacked on, a bond or bridge by its ports, a veth not by its
 * peer; a read that fails names
 * its errno on every entry (ENODEV where the watcher knows no such name); a read
 * that does not answer within the bound is ETIMEDOUT; callers during a
 * read share it.
 */
import t from 'tap';
import { readOutputDrops, singleFlight, type OutputDropsHost } from '../../supervisor/net/output-drops.js';
import type { LinkDrops, RootQdisc } from '../../native/index.js';

const INDEX: Record<string, number> = { eth1: 3, eth2: 4, gone0: 7 };
const ROOTS: RootQdisc[] = [{ ifindex: 3, kind: 'fq_codel', drops: 17 }, { ifindex: 4, kind: 'mq', drops: 0 },
  { ifindex: 9, kind: 'tbf', drops: 5 }];
const link = (ifindex: number, name: string, txDropped: number, kind = '', linkIfindex?: number, masterIfindex?: number): LinkDrops =>
  ({ ifindex, name, txDropped, kind, ...(linkIfindex !== undefined ? { linkIfindex } : {}), ...(masterIfindex !== undefined ? { masterIfindex } : {}) });
const LINKS: LinkDrops[] = [link(3, 'eth1', 2), link(4, 'eth2', 0), link(9, 'tbf0', 1)];
/** An entry as readOutputDrops gives it: no stack unless said. */
const entry = (e: Record<string, unknown>): Record<string, unknown> => ({ qdisc: '', lower: [], upper: [], ...e });

function host(read: () => Promise<{ roots: RootQdisc[]; links: LinkDrops[] }> = async () => ({ roots: ROOTS, links: LINKS })): OutputDropsHost {
  return { ifindex: (name) => INDEX[name], interfaceDrops: read };
}

const coded = (code: string): Error => Object.assign(new Error(code), { code });

t.test('one entry per interface, in order, once each', async (t) => {
  t.same(await readOutputDrops(['eth2', 'eth1', 'eth2'], host()), [
    entry({ interface: 'eth2', qdisc: 'mq', qdiscDrops: 0, deviceDrops: 0 }),
    entry({ interface: 'eth1', qdisc: 'fq_codel', qdiscDrops: 17, deviceDrops: 2 }),
  ]);
  t.same(await readOutputDrops([], host(async () => { throw new Error('not asked'); })), [], 'no outputs: nothing read');
});

t.test('a qdisc that keeps no counters gives no qdisc drops; a link without statistics no device drops', async (t) => {
  t.same(await readOutputDrops(['eth1', 'eth2'], host(async () => ({ roots: [{ ifindex: 3, kind: 'made_up' }], links: [link(4, 'eth2', 6)] }))), [
    entry({ interface: 'eth1', qdisc: 'made_up' }),
    entry({ interface: 'eth2', qdisc: '', deviceDrops: 6 }),
  ]);
});

t.test('an interface that does not exist, or is gone from the dumps: ENODEV', async (t) => {
  t.same(await readOutputDrops(['nowhere0', 'gone0', 'eth2'], host()), [
    entry({ interface: 'nowhere0', qdisc: '', error: 'ENODEV' }),
    entry({ interface: 'gone0', qdisc: '', error: 'ENODEV' }),
    entry({ interface: 'eth2', qdisc: 'mq', qdiscDrops: 0, deviceDrops: 0 }),
  ]);
});

t.test('a read that fails names its errno on each interface; one that hangs is ETIMEDOUT within the bound', async (t) => {
  t.same(await readOutputDrops(['eth1', 'eth2'], host(async () => { throw coded('EAGAIN'); })),
    [entry({ interface: 'eth1', qdisc: '', error: 'EAGAIN' }), entry({ interface: 'eth2', qdisc: '', error: 'EAGAIN' })]);
  t.same(await readOutputDrops(['eth1'], host(async () => { throw new Error('no code'); })), [entry({ interface: 'eth1', qdisc: '', error: 'EIO' })],
    'an error without a code is EIO');
  const started = Date.now();
  const hung = await readOutputDrops(['eth1'], host(() => new Promise(() => undefined)), 50);
  t.same(hung, [entry({ interface: 'eth1', qdisc: '', error: 'ETIMEDOUT' })]);
  t.ok(Date.now() - started < 2000, 'answered at the bound, not when the read ends');
});

t.test('one read at a time: callers meanwhile share it, the next caller starts a new one', async (t) => {
  let reads = 0;
  let finish: (v: number) => void = () => undefined;
  const shared = singleFlight(() => { reads++; return new Promise<number>((r) => { finish = r; }); });
  const a = shared();
  const b = shared();
  t.equal(a, b, 'the same promise');
  t.equal(reads, 1, 'one read');
  finish(7);
  t.same(await Promise.all([a, b]), [7, 7]);
  const c = shared();
  t.equal(reads, 2, 'after it ended, a new read');
  finish(8);
  t.equal(await c, 8);
  const failing = singleFlight(async () => { reads++; throw new Error('x'); });
  await t.rejects(failing());
  await t.rejects(failing(), 'a failed read is not kept either');
  t.equal(reads, 4);
});

t.test('a stacked output is followed by the devices it is stacked on, each listed once; a veth peer is not a lower device', async (t) => {
  const index: Record<string, number> = { 'eth1.100': 20, 'mv0': 21, eth1: 3, veth0: 30, 'ipv0': 22, 'far0': 23 };
  const links = [link(3, 'eth1', 2), link(20, 'eth1.100', 0, 'vlan', 21), link(21, 'mv0', 5, 'macvlan', 3), link(30, 'veth0', 0, 'veth', 31),
    link(31, 'veth1', 9), link(22, 'ipv0', 0, 'ipvlan', 3), link(23, 'far0', 0, 'macvlan')];
  const roots: RootQdisc[] = [{ ifindex: 3, kind: 'fq_codel', drops: 17 }, { ifindex: 20, kind: 'noqueue', drops: 0 }];
  const stacked: OutputDropsHost = { ifindex: (name) => index[name], interfaceDrops: async () => ({ roots, links }) };
  t.same(await readOutputDrops(['eth1.100', 'veth0', 'ipv0', 'eth1', 'far0'], stacked), [
    entry({ interface: 'eth1.100', qdisc: 'noqueue', qdiscDrops: 0, deviceDrops: 0, lower: ['mv0'] }),
    entry({ interface: 'mv0', deviceDrops: 5, lower: ['eth1'], upper: ['eth1.100'] }),
    entry({ interface: 'eth1', qdisc: 'fq_codel', qdiscDrops: 17, deviceDrops: 2, upper: ['mv0', 'ipv0'] }),
    entry({ interface: 'veth0', deviceDrops: 0 }),
    entry({ interface: 'ipv0', deviceDrops: 0, lower: ['eth1'] }),
    entry({ interface: 'far0', deviceDrops: 0 }),
  ], 'VLAN on macvlan on eth1; eth1 listed once though an output too; the macvlan whose parent is in another namespace has none');
  t.same((await readOutputDrops(['eth1', 'ipv0'], stacked)).map((e) => [e.interface, e.lower, e.upper]),
    [['eth1', [], ['ipv0']], ['ipv0', ['eth1'], []]], 'a lower device that is an output before its upper keeps its place');
  t.same((await readOutputDrops(['eth1.100', 'mv0', 'eth1'], stacked)).map((e) => [e.interface, e.lower, e.upper]),
    [['eth1.100', ['mv0'], []], ['mv0', ['eth1'], ['eth1.100']], ['eth1', [], ['mv0']]],
    'outputs that are below an earlier output are listed there once, their relations once');
  const deep = Array.from({ length: 12 }, (_, i) => link(100 + i, `v${i}`, 0, 'vlan', 101 + i)).concat(link(112, 'v12', 0));
  const tower: OutputDropsHost = { ifindex: (name) => (name === 'v0' ? 100 : undefined), interfaceDrops: async () => ({ roots: [], links: deep }) };
  t.equal((await readOutputDrops(['v0'], tower)).length, 9, 'a stack is followed 8 devices deep at most');
});

t.test('a bond or bridge output is followed by its ports, each with what it transmits through', async (t) => {
  const index: Record<string, number> = { br0: 40, bond0: 50, vrf0: 60 };
  const links = [link(40, 'br0', 0, 'bridge'), link(41, 'p1', 3, 'veth', 42, 40), link(42, 'p1peer', 0, 'veth', 41),
    link(43, 'p2.7', 1, 'vlan', 44, 40), link(44, 'eth9', 2), link(50, 'bond0', 0, 'bond'), link(51, 'eth5', 4, '', undefined, 50),
    link(60, 'vrf0', 0, 'vrf'), link(61, 'eth6', 0, '', undefined, 60)];
  const ported: OutputDropsHost = { ifindex: (name) => index[name], interfaceDrops: async () => ({ roots: [{ ifindex: 44, kind: 'tbf', drops: 9 }], links }) };
  t.same(await readOutputDrops(['br0', 'bond0', 'vrf0'], ported), [
    entry({ interface: 'br0', deviceDrops: 0, lower: ['p1', 'p2.7'] }),
    entry({ interface: 'p1', deviceDrops: 3, upper: ['br0'] }),
    entry({ interface: 'p2.7', deviceDrops: 1, lower: ['eth9'], upper: ['br0'] }),
    entry({ interface: 'eth9', qdisc: 'tbf', qdiscDrops: 9, deviceDrops: 2, upper: ['p2.7'] }),
    entry({ interface: 'bond0', deviceDrops: 0, lower: ['eth5'] }),
    entry({ interface: 'eth5', deviceDrops: 4, upper: ['bond0'] }),
    entry({ interface: 'vrf0', deviceDrops: 0 }),
  ], 'ports depth first, a port\'s own stack under it; a veth port not followed to its peer; a VRF routes, not followed');
});
