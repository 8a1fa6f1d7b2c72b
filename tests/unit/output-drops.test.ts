/**
 * supervisor/net/output-drops.ts with a fake host: one entry per output
 * interface name, in order and once each; the root qdisc found by index
 * (its drops only when it keeps them), the device drops from sysfs; an
 * interface that does not exist says ENODEV; a dump or a sysfs read that
 * fails names its errno and the other count is still given.
 */
import t from 'tap';
import { readOutputDrops, type OutputDropsHost } from '../../supervisor/net/output-drops.js';
import type { RootQdisc } from '../../native/index.js';

const INDEX: Record<string, number> = { eth1: 3, eth2: 4, lo: 1 };

function host(o: { roots?: () => RootQdisc[]; tx?: (name: string) => number } = {}): OutputDropsHost {
  return {
    ifindex: (name) => INDEX[name],
    rootQdiscs: o.roots ?? (() => [{ ifindex: 3, kind: 'fq_codel', drops: 17, overlimits: 0, qlen: 0 }, { ifindex: 4, kind: 'mq', drops: 0 },
      { ifindex: 9, kind: 'tbf', drops: 5 }]),
    txDropped: o.tx ?? ((name) => ({ eth1: 2, eth2: 0 } as Record<string, number>)[name] ?? 0),
  };
}

const coded = (code: string): Error => Object.assign(new Error(code), { code });

t.test('one entry per interface, in order, once each', async (t) => {
  t.same(readOutputDrops(['eth2', 'eth1', 'eth2'], host()), [
    { interface: 'eth2', qdisc: 'mq', qdiscDrops: 0, deviceDrops: 0 },
    { interface: 'eth1', qdisc: 'fq_codel', qdiscDrops: 17, deviceDrops: 2 },
  ]);
  t.same(readOutputDrops([], host({ roots: () => { throw new Error('not asked'); } })), [], 'no outputs: nothing read');
});

t.test('a qdisc without counters, or none listed, gives no qdisc drops', async (t) => {
  const h = host({ roots: () => [{ ifindex: 3, kind: 'noqueue' }] });
  t.same(readOutputDrops(['eth1', 'lo'], h), [
    { interface: 'eth1', qdisc: 'noqueue', deviceDrops: 2 },
    { interface: 'lo', qdisc: '', deviceDrops: 0 },
  ]);
});

t.test('an interface that does not exist: ENODEV, nothing read for it', async (t) => {
  const asked: string[] = [];
  const h = host({ tx: (name) => { asked.push(name); return 0; } });
  t.same(readOutputDrops(['gone0', 'eth2'], h), [
    { interface: 'gone0', qdisc: '', error: 'ENODEV' },
    { interface: 'eth2', qdisc: 'mq', qdiscDrops: 0, deviceDrops: 0 },
  ]);
  t.same(asked, ['eth2'], 'sysfs read only for the interface that exists');
});

t.test('a count that cannot be read names its errno; the other is still given', async (t) => {
  t.same(readOutputDrops(['eth1'], host({ roots: () => { throw coded('ETIMEDOUT'); } })),
    [{ interface: 'eth1', qdisc: '', deviceDrops: 2, error: 'ETIMEDOUT' }], 'the dump timed out');
  t.same(readOutputDrops(['eth1'], host({ tx: () => { throw coded('ENOENT'); } })),
    [{ interface: 'eth1', qdisc: 'fq_codel', qdiscDrops: 17, error: 'ENOENT' }], 'sysfs without the file');
  t.same(readOutputDrops(['eth1'], host({ roots: () => { throw new Error('no code'); }, tx: () => Number.NaN })),
    [{ interface: 'eth1', qdisc: '', error: 'EIO,EBADMSG' }], 'both: an error without a code is EIO, a count that is not a number EBADMSG');
});
