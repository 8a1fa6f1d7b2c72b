/**
 * Rules that match more than one exact stream, through mcrd and mcrctl on
 * real namespaces (docs/config.md, "Rules that match more"):
 * - a group-prefix rule with any port whose output keeps the datagram's
 *   group and port (`group: "="`, `port: "="`) relays 239.1.5.5:5005 to
 *   239.1.5.5:5005 and, through a mapping output (`group: "239.9.0.0/16"`),
 *   to 239.9.5.5; its `joinGroups` entry is what mcrd joins on in0;
 * - its `excludeSources` entry drops that source's datagrams, counted as
 *   the loop's `drop_excluded` (the input's `malformed.excluded`);
 * - a source-prefix rule wins over the (*,G) rule of the same group and port;
 * - `mcrctl add` of a rule that overlaps another at the same precedence
 *   exits non-zero naming the other rule, and changes nothing.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatsResult } from '../../proto/index.js';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { inject, sinkReport, startSink } from './harness.js';
import { frame } from './frames.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';

const N = 40;

t.test('prefix rules with = outputs, source-prefix precedence, excludeSources and overlap refusal', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'match');
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(config, `{ rules: [
    { name: "wide", inputInterface: "in0", inputGroup: "239.1.0.0/16", inputPort: "any", excludeSources: ["10.99.0.66"],
      joinGroups: ["239.1.5.5"],
      outputs: [{ group: "=", port: "=", interface: "out0" }, { group: "239.9.0.0/16", port: 7777, interface: "out0" }] },
    { name: "any-source", inputInterface: "in0", inputGroup: "239.7.7.7", inputPort: 7000,
      outputs: [{ group: "239.2.2.2", port: 6000, interface: "out0" }] },
    { name: "from-net", inputInterface: "in0", inputGroup: "239.7.7.7", inputPort: 7000, source: "10.99.1.0/24",
      outputs: [{ group: "239.2.2.2", port: 6001, interface: "out0" }] },
  ] }\n`);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);

  // joinGroups: mcrd holds 239.1.5.5 on in0 (a /16 cannot be joined).
  const igmp = async (): Promise<string> => (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/igmp'])).stdout;
  await pollUntil(async () => /050501EF/i.test(await igmp()), 10_000, 50);
  t.match(await igmp(), /050501EF/i, 'mcrd joined the joinGroups entry 239.1.5.5 on in0');

  const keep = await startSink(rl, 0, { group: '239.1.5.5', port: 5005, count: N, idle: 2, duration: 20 });
  const mapped = await startSink(rl, 0, { group: '239.9.5.5', port: 7777, count: N, idle: 2, duration: 20 });
  t.equal(await inject(rl, [frame({ group: '239.1.5.5', port: 5005, source: '10.99.0.66' })], N), N, 'the excluded source sent');
  t.equal(await inject(rl, [frame({ group: '239.1.5.5', port: 5005, source: '10.99.0.1' })], N), N, 'another source sent');
  t.equal((await sinkReport(keep)).received, N, '"=" kept group 239.1.5.5 and port 5005, and only the source not excluded arrived');
  t.equal((await sinkReport(mapped)).received, N, '239.9.0.0/16 mapped 239.1.5.5 to 239.9.5.5');

  t.equal(await inject(rl, [frame({ group: '239.7.7.7', port: 7000, source: '10.99.1.5' })], N), N);
  t.equal(await inject(rl, [frame({ group: '239.7.7.7', port: 7000, source: '10.99.0.9' })], 2 * N), 2 * N);
  const packets = (s: StatsResult, id: number): number => s.rules.find((r) => r.ruleId === id)?.packets ?? 0;
  const list = await mcrctlJson<{ rules: Array<{ id: number; name?: string }> }>(socket, ['list']);
  const id = (name: string): number => list.rules.find((r) => r.name === name)?.id ?? -1;
  let stats = await mcrctlJson<StatsResult>(socket, ['stats']);
  await pollUntil(async () => {
    stats = await mcrctlJson<StatsResult>(socket, ['stats']);
    return packets(stats, id('any-source')) >= 2 * N && (stats.workers[0]?.loop.drop_excluded ?? 0) >= N;
  }, 10_000, 100);
  t.equal(packets(stats, id('from-net')), N, 'the source-prefix rule took 10.99.1.5\'s datagrams');
  t.equal(packets(stats, id('any-source')), 2 * N, 'the (*,G) rule took the other source\'s, and none of 10.99.1.5\'s');
  t.equal(packets(stats, id('wide')), N, 'the prefix rule matched the source it does not exclude');
  t.equal(stats.workers[0]?.loop.drop_excluded, N, 'the excluded source\'s datagrams are counted as drop_excluded');
  t.equal(stats.inputs.find((i) => i.interface === 'in0')?.malformed.excluded, N, 'and under the input\'s drop reason "excluded"');

  // 10.99.1.0/24 to 239.7.7.7:7000 is from-net's key too: equally specific, so refused.
  const overlap = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.7.7.7', '--input-port', '7000',
    '--source', '10.99.2.0/24,10.99.1.0/24', '--outputs', '239.2.2.2:6002:out0']);
  t.not(overlap.exitCode, 0, 'mcrctl add of an overlapping rule fails');
  t.match(overlap.stderr, new RegExp(`EEXIST: rule ${id('from-net')} \\(from-net\\) overlaps this rule on in0 at the same precedence ` +
    '\\(source 10\\.99\\.1\\.0/24, group 239\\.7\\.7\\.7, port 7000\\)'), `it names the other rule and the shared key: ${overlap.stderr}`);
  const duplicate = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.0.0/16', '--input-port', 'any',
    '--outputs', '=:=:out0']);
  t.match(duplicate.stderr, new RegExp(`EEXIST: rule ${id('wide')} \\(wide\\) already matches 239\\.1\\.0\\.0/16:any on in0`), 'a duplicate of the prefix rule is refused too');
  const after = await mcrctlJson<{ rules: unknown[] }>(socket, ['list']);
  t.equal(after.rules.length, 3, 'the table is unchanged');
  const more = await mcrctl(socket, ['add', '--input-interface', 'in0', '--input-group', '239.1.0.0/16', '--input-port', '5005',
    '--outputs', '=:6005:out0']);
  t.equal(more.exitCode, 0, `a more specific rule (one port) is taken: ${more.stderr}`);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd exits 0 on SIGTERM');
});
