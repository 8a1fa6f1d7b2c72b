/**
 * supervisor/net/output-drops.ts with a fake host: one entry per output
 * interface name, in order and once each; the root qdisc and the link's
 * transmit drops found by index (the qdisc's drops only when it keeps
 * them); an interface the watcher does not know, or the dumps do not list,
 * says ENODEV; a read that fails names its errno on every entry; a read
 * that does not answer within the bound is ETIMEDOUT; callers during a
 * read share it.
 */
import t from 'tap';
import { readOutputDrops, singleFlight, type OutputDropsHost } from '../../supervisor/net/output-drops.js';
import type { LinkDrops, RootQdisc } from '../../native/index.js';

const INDEX: Record<string, number> = { eth1: 3, eth2: 4, gone0: 7 };
const ROOTS: RootQdisc[] = [{ ifindex: 3, kind: 'fq_codel', drops: 17 }, { ifindex: 4, kind: 'mq', drops: 0 },
  { ifindex: 9, kind: 'tbf', drops: 5 }];
const LINKS: LinkDrops[] = [{ ifindex: 3, txDropped: 2 }, { ifindex: 4, txDropped: 0 }, { ifindex: 9, txDropped: 1 }];

function host(read: () => Promise<{ roots: RootQdisc[]; links: LinkDrops[] }> = async () => ({ roots: ROOTS, links: LINKS })): OutputDropsHost {
  return { ifindex: (name) => INDEX[name], interfaceDrops: read };
}

const coded = (code: string): Error => Object.assign(new Error(code), { code });

t.test('one entry per interface, in order, once each', async (t) => {
  t.same(await readOutputDrops(['eth2', 'eth1', 'eth2'], host()), [
    { interface: 'eth2', qdisc: 'mq', qdiscDrops: 0, deviceDrops: 0 },
    { interface: 'eth1', qdisc: 'fq_codel', qdiscDrops: 17, deviceDrops: 2 },
  ]);
  t.same(await readOutputDrops([], host(async () => { throw new Error('not asked'); })), [], 'no outputs: nothing read');
});

t.test('a qdisc that keeps no counters gives no qdisc drops; a link without statistics no device drops', async (t) => {
  t.same(await readOutputDrops(['eth1', 'eth2'], host(async () => ({ roots: [{ ifindex: 3, kind: 'made_up' }], links: [{ ifindex: 4, txDropped: 6 }] }))), [
    { interface: 'eth1', qdisc: 'made_up' },
    { interface: 'eth2', qdisc: '', deviceDrops: 6 },
  ]);
});

t.test('an interface that does not exist, or is gone from the dumps: ENODEV', async (t) => {
  t.same(await readOutputDrops(['nowhere0', 'gone0', 'eth2'], host()), [
    { interface: 'nowhere0', qdisc: '', error: 'ENODEV' },
    { interface: 'gone0', qdisc: '', error: 'ENODEV' },
    { interface: 'eth2', qdisc: 'mq', qdiscDrops: 0, deviceDrops: 0 },
  ]);
});

t.test('a read that fails names its errno on each interface; one that hangs is ETIMEDOUT within the bound', async (t) => {
  t.same(await readOutputDrops(['eth1', 'eth2'], host(async () => { throw coded('EAGAIN'); })),
    [{ interface: 'eth1', qdisc: '', error: 'EAGAIN' }, { interface: 'eth2', qdisc: '', error: 'EAGAIN' }]);
  t.same(await readOutputDrops(['eth1'], host(async () => { throw new Error('no code'); })), [{ interface: 'eth1', qdisc: '', error: 'EIO' }],
    'an error without a code is EIO');
  const started = Date.now();
  const hung = await readOutputDrops(['eth1'], host(() => new Promise(() => undefined)), 50);
  t.same(hung, [{ interface: 'eth1', qdisc: '', error: 'ETIMEDOUT' }]);
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
