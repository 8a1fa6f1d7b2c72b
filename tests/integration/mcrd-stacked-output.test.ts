/**
 * An output on a stacked device: a macvlan on the relay's out0. Its own
 * queue is noqueue, so the datagrams queue, and are dropped, in out0's
 * qdisc below it, which no MCR counter of the macvlan would show. stats
 * lists out0 after the macvlan, as its lower device, with the drops tc
 * counts there; the table names it "(lower of mv0)".
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import type { StatsResult } from '../../proto/index.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';

t.test('a macvlan output: its lower device is listed with the drops of its qdisc', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'stack');
  const ns = rl.relay.ns;
  const macvlan = await rl.lab.exec(ns, 'ip', ['link', 'add', 'mv0', 'link', 'out0', 'type', 'macvlan', 'mode', 'bridge'],
    { reject: false, timeoutMs: 5000 });
  if (macvlan.exitCode !== 0) {
    t.plan(0, `this kernel has no macvlan (CONFIG_MACVLAN): ${macvlan.stderr.trim()}`);
    return;
  }
  await rl.lab.exec(ns, 'ip', ['addr', 'add', '10.98.0.1/24', 'dev', 'mv0']);
  await rl.lab.exec(ns, 'ip', ['link', 'set', 'mv0', 'up']);
  // 1 Mbit/s with room for one datagram on the lower device: most of 1000 datagrams of 1000 B at 2000 pps are dropped there.
  const tbf = await rl.lab.exec(ns, 'tc', ['qdisc', 'add', 'dev', 'out0', 'root', 'tbf', 'rate', '1mbit', 'burst', '1600', 'limit', '1600'],
    { reject: false, timeoutMs: 5000 });
  if (tbf.exitCode !== 0) {
    t.plan(0, `this kernel has no tbf qdisc (CONFIG_NET_SCH_TBF): ${tbf.stderr.trim()}`);
    return;
  }
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'rules.json5');
  writeFileSync(config, `{ rules: [
    { inputInterface: "in0", inputGroup: "239.1.1.8", inputPort: 5008, outputs: [{ group: "239.2.2.8", port: 6008, interface: "mv0" }] },
  ] }`);
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 20_000).then(() => undefined));

  const before = (await mcrctlJson<StatsResult>(socket, ['stats'])).outputInterfaces;
  t.same(before.map((o) => [o.interface, o.qdisc, o.lower, o.upper]), [['mv0', 'noqueue', 'out0', []], ['out0', 'tbf', '', ['mv0']]],
    'the macvlan, then the device it is stacked on');

  const sink = await startSink(rl, 0, { group: '239.2.2.8', port: 6008, count: 1000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.8', port: 5008, count: 1000, rate: 2000, size: 1000 });
  const received = (await sinkReport(sink)).received;
  const stats = await mcrctlJson<StatsResult>(socket, ['stats']);
  const tc = JSON.parse((await rl.lab.exec(ns, 'tc', ['-s', '-j', 'qdisc', 'show', 'dev', 'out0'])).stdout) as Array<{ kind: string; drops: number }>;
  const out0 = stats.outputInterfaces.find((o) => o.interface === 'out0');
  t.equal(stats.rules[0]?.packets, 1000, 'the rule matched every datagram');
  t.ok(received > 0 && received < 1000, `the sink, behind the macvlan, got some but fewer than the 1000 (${received})`);
  t.ok((out0?.qdiscDrops ?? 0) > 0, `stats shows the lower device's qdisc drops (${out0?.qdiscDrops})`);
  // Read just after mcrd's: the host's own packets (IPv6 neighbour discovery) may add a drop or two in between.
  const tcDrops = tc.find((q) => q.kind === 'tbf')?.drops ?? -1;
  const drops = out0?.qdiscDrops ?? 0;
  t.ok(tcDrops >= drops && tcDrops <= drops + 5, `the count tc -s qdisc shows on out0 (${tcDrops} against ${drops})`);
  t.ok(drops + received >= 995, `the drops and the deliveries account for the datagrams (${drops} + ${received} of 1000)`);
  t.notOk(out0?.error, 'read without error');
  const sent = stats.rules[0]?.outputs[0];
  const mv0 = stats.outputInterfaces.find((o) => o.interface === 'mv0');
  t.comment(`mv0's output: packets ${sent?.packets}, errors ${sent?.errors} ${JSON.stringify(sent?.errorsByErrno)}; mv0's own device drops ${mv0?.deviceDrops}`);

  const table = await mcrctl(socket, ['stats']);
  t.match(table.stdout, /\nOUTPUT +QDISC +QDISC-DROPS +DEVICE-DROPS\nmv0 +noqueue +\d+ +\d+\nout0 \(lower of mv0\) +tbf +[1-9]\d* +\d+\n/,
    'the table lists out0 under the macvlan, as its lower device');
});
