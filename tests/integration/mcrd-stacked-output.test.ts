/**
 * Outputs that send through other devices: a macvlan on the relay's out0,
 * and a bridge whose port out0 is. Neither has a queue of its own
 * (noqueue), so the datagrams queue, and are dropped, in out0's qdisc
 * below, which no MCR counter of the macvlan or bridge shows. stats lists
 * out0 after each, as its lower device, with the drops tc counts there;
 * the table names it "(lower of mv0)", "(lower of br0)".
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import type { StatsResult } from '../../proto/index.js';
import { runGen, sinkReport, startSink } from './harness.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';

/** How a test puts `dev` over out0 in the relay namespace; false when the kernel cannot. */
type Stack = (exec: (args: string[]) => Promise<{ exitCode?: number; stderr: string }>) => Promise<string | undefined>;

const MACVLAN: Stack = async (ip) => {
  const made = await ip(['link', 'add', 'mv0', 'link', 'out0', 'type', 'macvlan', 'mode', 'bridge']);
  return made.exitCode === 0 ? undefined : `this kernel has no macvlan (CONFIG_MACVLAN): ${made.stderr.trim()}`;
};

const BRIDGE: Stack = async (ip) => {
  const made = await ip(['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
  if (made.exitCode !== 0) return `this kernel has no bridge (CONFIG_BRIDGE): ${made.stderr.trim()}`;
  // out0 leaves IP to the bridge: its address would route the sink's subnet past br0.
  await ip(['addr', 'flush', 'dev', 'out0']);
  const port = await ip(['link', 'set', 'out0', 'master', 'br0']);
  return port.exitCode === 0 ? undefined : `out0 cannot be a bridge port here: ${port.stderr.trim()}`;
};

for (const [dev, stack] of [['mv0', MACVLAN], ['br0', BRIDGE]] as const) {
  const what = dev === 'mv0' ? 'the macvlan' : 'the bridge';
  t.test(`${what}'s output: out0 below it is listed with the drops of its qdisc`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const { rl, dir } = await mcrdLab(t, `stack${dev}`);
    const ns = rl.relay.ns;
    const cannot = await stack((args) => rl.lab.exec(ns, 'ip', args, { reject: false, timeoutMs: 5000 }));
    if (cannot !== undefined) {
      t.plan(0, cannot);
      return;
    }
    await rl.lab.exec(ns, 'ip', ['addr', 'add', '10.98.0.1/24', 'dev', dev]);
    await rl.lab.exec(ns, 'ip', ['link', 'set', dev, 'up']);
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
      { inputInterface: "in0", inputGroup: "239.1.1.8", inputPort: 5008, outputs: [{ group: "239.2.2.8", port: 6008, interface: "${dev}" }] },
    ] }`);
    const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);
    t.teardown(() => mcrd.stop('SIGTERM', 20_000).then(() => undefined));

    const before = (await mcrctlJson<StatsResult>(socket, ['stats'])).outputInterfaces;
    t.same(before.map((o) => [o.interface, o.qdisc, o.lower, o.upper]), [[dev, 'noqueue', ['out0'], []], ['out0', 'tbf', [], [dev]]],
      `${what}, then the device it sends through`);

    const sink = await startSink(rl, 0, { group: '239.2.2.8', port: 6008, count: 1000, idle: 2 });
    await runGen(rl, { dest: '239.1.1.8', port: 5008, count: 1000, rate: 2000, size: 1000 });
    const received = (await sinkReport(sink)).received;
    const stats = await mcrctlJson<StatsResult>(socket, ['stats']);
    const tc = JSON.parse((await rl.lab.exec(ns, 'tc', ['-s', '-j', 'qdisc', 'show', 'dev', 'out0'])).stdout) as Array<{ kind: string; drops: number }>;
    const out0 = stats.outputInterfaces.find((o) => o.interface === 'out0');
    t.equal(stats.rules[0]?.packets, 1000, 'the rule matched every datagram');
    t.ok(received > 0 && received < 1000, `the sink, behind ${what}, got some but fewer than the 1000 (${received})`);
    t.ok((out0?.qdiscDrops ?? 0) > 0, `stats shows the lower device's qdisc drops (${out0?.qdiscDrops})`);
    // Read just after mcrd's: the host's own packets (IPv6 neighbour discovery) may add a drop or two in between.
    const tcDrops = tc.find((q) => q.kind === 'tbf')?.drops ?? -1;
    const drops = out0?.qdiscDrops ?? 0;
    t.ok(tcDrops >= drops && tcDrops <= drops + 5, `the count tc -s qdisc shows on out0 (${tcDrops} against ${drops})`);
    t.ok(drops + received >= 995, `the drops and the deliveries account for the datagrams (${drops} + ${received} of 1000)`);
    t.notOk(out0?.error, 'read without error');
    const sent = stats.rules[0]?.outputs[0];
    const upper = stats.outputInterfaces.find((o) => o.interface === dev);
    t.comment(`${dev}'s output: packets ${sent?.packets}, errors ${sent?.errors} ${JSON.stringify(sent?.errorsByErrno)}; ${dev}'s own device drops ${upper?.deviceDrops}`);
    // A bridge hands each packet to its ports and reports success whatever they do: only out0's counts show the drops.
    if (dev === 'br0') t.equal(sent?.errors, 0, `the bridge told the sender of none: every datagram counts as sent (${sent?.packets})`);

    const table = await mcrctl(socket, ['stats']);
    t.match(table.stdout, new RegExp(`\nOUTPUT +QDISC +QDISC-DROPS +DEVICE-DROPS\n${dev} +noqueue +\\d+ +\\d+\nout0 \\(lower of ${dev}\\) +tbf +[1-9]\\d* +\\d+\n`),
      `the table lists out0 under ${what}, as its lower device`);
  });
}
