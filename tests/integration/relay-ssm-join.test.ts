/**
 * The standalone relay (mcr-relay) joins what its rules want: a rule that
 * names source addresses joins each source-specific (IGMPv3 INCLUDE), as
 * an SSM network (232.0.0.0/8) needs to deliver the stream; a rule without
 * one joins any-source (*,G). Before, it joined (*,G) whatever the rule
 * said, so with --source on an SSM network nothing arrived. Read from the
 * kernel's view of the relay's input (/proc/net/mcfilter: source filters;
 * /proc/net/igmp: groups); the relay's stop leaves nothing joined.
 */
import t from 'tap';
import { createRelayLab, skipUnlessRoot, type RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { startRelay, stopRelay } from './harness.js';

/** The relay input's source filters, "group source MODE" (mcfilter prints addresses as host-order hex). */
async function filters(rl: RelayLab): Promise<string[]> {
  const ip = (hex: string): string => {
    const n = parseInt(hex, 16);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  };
  const out: string[] = [];
  for (const line of (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/mcfilter'])).stdout.split('\n')) {
    const f = /^\s*\d+\s+(\S+)\s+0x([0-9a-f]{8})\s+0x([0-9a-f]{8})\s+(\d+)\s+(\d+)/.exec(line);
    if (f === null || f[1] !== rl.relay.input.ifname) continue;
    out.push(`${ip(f[2] ?? '')} ${ip(f[3] ?? '')} ${Number(f[4]) > 0 ? 'INCLUDE' : 'EXCLUDE'}`);
  }
  return out.sort();
}

/** Whether /proc/net/igmp lists `group` (as the raw, network-order word) on the relay's input. */
async function joined(rl: RelayLab, group: string): Promise<boolean> {
  const raw = group.split('.').map(Number).reverse().map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  let dev = '';
  for (const line of (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/igmp'])).stdout.split('\n')) {
    const device = /^\d+\s+(\S+)\s*:/.exec(line);
    if (device !== null) dev = device[1] ?? '';
    if (dev === rl.relay.input.ifname && new RegExp(`^\\s+${raw}\\s`).test(line)) return true;
  }
  return false;
}

t.test('mcr-relay joins source-specific for a rule with --source, any-source without', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'rssm' });
  t.teardown(() => rl.lab.destroy());

  const ssm = await startRelay(rl, ['--input-group', '232.1.1.1', '--input-port', '5000', '--source', '10.99.0.1,10.99.0.2',
    '--outputs', '239.2.2.2:6000:out0']);
  const want = ['232.1.1.1 10.99.0.1 INCLUDE', '232.1.1.1 10.99.0.2 INCLUDE'];
  let seen: string[] = [];
  await pollUntil(async () => JSON.stringify(seen = await filters(rl)) === JSON.stringify(want), 5000, 50);
  t.same(seen, want, 'each source joined INCLUDE on the input');
  await stopRelay(ssm);
  t.same(await filters(rl), [], 'the stop leaves no source filter');
  t.notOk(await joined(rl, '232.1.1.1'), 'nor the group');

  const any = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', '239.2.2.2:6000:out0']);
  t.ok(await pollUntil(() => joined(rl, '239.1.1.1'), 5000, 50), 'without --source: the group joined');
  t.same(await filters(rl), [], 'any-source: no source filter');
  await stopRelay(any);
});
