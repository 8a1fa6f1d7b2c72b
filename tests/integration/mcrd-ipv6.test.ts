/**
 * IPv6 through mcrd and mcrctl, end to end, and the consume filter on IPv6
 * inputs: a rule added with `mcrctl add` takes an IPv6 group in on in0 and
 * relays it to an IPv4 group on out0 (bridging) and an IPv6 group on out1.
 * With consumeInputs "auto" and no local listener, every datagram reaches
 * both sinks and the relay host's IPv6 UDP stack (/proc/net/snmp6:
 * Udp6InDatagrams + Udp6NoPorts + Udp6IgnoredMulti) counts none of them; a
 * local IPv6 listener (bound to [::]:5000, joined to the group on in0, seen
 * through /proc/net/udp6 and igmp6) makes mcrd stop consuming and hears
 * every datagram, which the same counter then sees; once it exits mcrd
 * consumes again. `mcrctl list` and `stats` show the IPv6 rule in brackets.
 * Then an IPv6 output with an explicit source (set by `mcrctl reload`)
 * follows its address: removed from out1, the output counts every datagram
 * as an error (by errno) while the rule's IPv4 output goes on; added again,
 * the output sends again, through the netlink events mcrd follows. An IPv6
 * output without a source follows out1's addresses too: its socket is
 * connected, which fixes the source the kernel chose (ip6_datagram_connect),
 * so only mcrd's sync after the change moves it, to the link-local address
 * while the global one is gone and back to the global one after.
 */
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess, type RelayLab } from '../../bench/lab/index.js';
import type { StatsResult } from '../../proto/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { ROOT, sinkReport, startSink } from './harness.js';
import { mcrctl, mcrctlJson, mcrdLab, startMcrd } from './mcrd-harness.js';

const PEER = join(ROOT, 'dist', 'tests', 'integration', 'udp6-peer.js');
const IN_GROUP = 'ff3e::1:2';
const OUT_GROUP = 'ff3e::2:2';
const WAIT_MS = 10_000;

/** IPv6 on (the lab turns it off everywhere) with a nodad address: up0 ↔ in0, out1 ↔ dn1. */
async function enableIpv6(rl: RelayLab): Promise<void> {
  const links: Array<[ns: string, ifname: string, addr: string]> = [
    [rl.src.ns, rl.src.ifname, '2001:db8:99::1/64'], [rl.relay.ns, rl.relay.input.ifname, '2001:db8:99::2/64'],
    [rl.relay.ns, 'out1', '2001:db8:2::1/64'], [rl.sinks[1]!.ns, rl.sinks[1]!.ifname, '2001:db8:2::2/64'],
  ];
  for (const [ns, ifname, addr] of links) {
    await rl.lab.sysctl(ns, `net/ipv6/conf/${ifname}/disable_ipv6`, 0);
    await rl.lab.exec(ns, 'ip', ['-6', 'addr', 'add', addr, 'dev', ifname, 'nodad']);
  }
}

/** UDP datagrams the relay namespace's own IPv6 stack took in (delivered, refused for lack of a socket, or unwanted multicast). */
async function udp6Seen(rl: RelayLab): Promise<number> {
  const text = (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/snmp6'])).stdout;
  let sum = 0;
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === 'Udp6InDatagrams' || name === 'Udp6NoPorts' || name === 'Udp6IgnoredMulti') sum += Number(value);
  }
  return sum;
}

function recv6(rl: RelayLab, ns: string, group: string, port: number, ifname: string, count: number): LabProcess {
  return rl.lab.spawn(ns, process.execPath, [PEER, 'recv', group, String(port), ifname, String(count), '1500', '25000']);
}

async function send6(rl: RelayLab, count: number, port = 5000): Promise<number> {
  const gen = rl.lab.spawn(rl.src.ns, process.execPath, [PEER, 'send', IN_GROUP, String(port), rl.src.ifname, String(count), '2000']);
  const line = await gen.waitForLine('stdout', /^\{/, 30_000);
  return (JSON.parse(line) as { sent: number }).sent;
}

const report6 = async (p: LabProcess): Promise<{ received: number; sources: Record<string, number> }> =>
  JSON.parse(await p.waitForLine('stdout', /^\{/, 40_000)) as { received: number; sources: Record<string, number> };
const received = async (p: LabProcess): Promise<number> => (await report6(p)).received;

interface Consumes { consumes?: { rules?: Array<{ ruleId: number; consumed: boolean; reason: string }> } }
const consumed = async (socket: string): Promise<{ consumed: boolean; reason: string } | undefined> =>
  (await mcrctlJson<Consumes>(socket, ['list'])).consumes?.rules?.[0];

t.test('IPv6 input relayed to IPv4 and IPv6 outputs; consume auto keeps it from the host\'s IPv6 stack unless a local socket listens', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (!existsSync('/proc/net/snmp6')) {
    t.plan(0, 'IPv6 is disabled in this kernel (no /proc/net/snmp6: booted with ipv6.disable=1?)');
    return;
  }
  const { rl, dir } = await mcrdLab(t, 'consv6', { outputs: 2 });
  await enableIpv6(rl);
  const socket = join(dir, 'mcrd.sock');
  const config = join(dir, 'mcrd.json5');
  writeFileSync(config, '{ rules: [] }\n');
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1']);

  const add = await mcrctl(socket, ['add', '--name', 'v6', '--input-interface', 'in0', '--input-group', IN_GROUP, '--input-port', '5000',
    '--outputs', `239.2.2.2:6000:out0,[${OUT_GROUP}]:6000:out1`]);
  t.equal(add.exitCode, 0, `mcrctl add with an IPv6 input and IPv4 + IPv6 outputs: ${add.stderr}`);
  const list = await mcrctl(socket, ['list']);
  t.match(list.stdout, /in0\s+ff3e::1:2\s+5000/, `mcrctl list shows the IPv6 input in its GROUP and PORT columns: ${list.stdout}`);
  t.match(list.stdout, /\[ff3e::2:2\]:6000:out1/, 'and the IPv6 output bracketed, as --outputs takes it');
  t.ok(await pollUntil(async () => (await consumed(socket))?.consumed === true, WAIT_MS), 'auto: consumed (no local listener)');

  // (a) No local listener: both sinks get every datagram, the relay's IPv6 stack none.
  let seen = await udp6Seen(rl);
  let sink4 = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 500, idle: 2 });
  let sink6 = recv6(rl, rl.sinks[1]!.ns, OUT_GROUP, 6000, rl.sinks[1]!.ifname, 500);
  await sink6.waitForLine('stderr', /"event":"ready"/, 10_000);
  t.equal(await send6(rl, 500), 500, 'the source sent 500 IPv6 datagrams');
  t.equal((await sinkReport(sink4)).received, 500, 'IPv6 → IPv4 output: every datagram');
  t.equal(await received(sink6), 500, 'IPv6 → IPv6 output: every datagram');
  t.equal((await udp6Seen(rl)) - seen, 0, 'the relay host\'s IPv6 UDP stack saw none of them');
  const stats = await mcrctl(socket, ['stats']);
  t.match(stats.stdout, /\[ff3e::1:2\]:5000/, `mcrctl stats names the IPv6 rule readably: ${stats.stdout}`);

  // (b) A local IPv6 listener on the relay host: seen within a poll, the filter lets its datagrams through.
  const local = recv6(rl, rl.relay.ns, IN_GROUP, 5000, 'in0', 300);
  await local.waitForLine('stderr', /"event":"ready"/, 10_000);
  t.ok(await pollUntil(async () => (await consumed(socket))?.consumed === false, WAIT_MS), 'auto: not consumed while it listens');
  t.match((await consumed(socket))?.reason, /local listener pid \d+ \(inode \d+\) bound to \[::\]:5000|a local socket joined ff3e::1:2 on in0/,
    'named by what /proc/net/udp6 or igmp6 showed');
  seen = await udp6Seen(rl);
  sink4 = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 300, idle: 2 });
  sink6 = recv6(rl, rl.sinks[1]!.ns, OUT_GROUP, 6000, rl.sinks[1]!.ifname, 300);
  await sink6.waitForLine('stderr', /"event":"ready"/, 10_000);
  t.equal(await send6(rl, 300), 300);
  t.equal(await received(local), 300, 'the local listener heard every datagram');
  t.ok((await udp6Seen(rl)) - seen >= 300, 'and the IPv6 stack counted them (the counter sees what is not consumed)');
  t.equal((await sinkReport(sink4)).received, 300, 'MCR still relays every one (IPv4 output)');
  t.equal(await received(sink6), 300, 'and the IPv6 output');
  t.ok(await pollUntil(async () => (await consumed(socket))?.consumed === true, WAIT_MS), 'the listener exited: consumed again');

  const del = await mcrctl(socket, ['remove', '--name', 'v6']);
  t.equal(del.exitCode, 0, `mcrctl remove: ${del.stderr}`);

  // (c) An IPv6 output bound to an explicit source follows that address on out1.
  writeFileSync(config, `{ rules: [{ name: "src6", inputInterface: "in0", inputGroup: "${IN_GROUP}", inputPort: 5010, outputs: [
    { group: "239.2.2.3", port: 6010, interface: "out0" },
    { group: "${OUT_GROUP}", port: 6010, interface: "out1", source: "2001:db8:2::1" },
    { group: "${OUT_GROUP}", port: 6011, interface: "out1" } ] }] }\n`);
  const reload = await mcrctl(socket, ['reload']);
  t.equal(reload.exitCode, 0, `mcrctl reload: ${reload.stderr}`);
  const outputs = async (): Promise<StatsResult['rules'][number]['outputs']> =>
    (await mcrctlJson<StatsResult>(socket, ['stats'])).rules.find((r) => r.outputs.length === 3)?.outputs ?? [];
  const rebuilt = (): number => mcrd.stdoutLines.filter((l) => l.includes('egress sockets rebuilt')).length;

  let before = rebuilt();
  await rl.lab.exec(rl.relay.ns, 'ip', ['-6', 'addr', 'del', '2001:db8:2::1/64', 'dev', 'out1']);
  t.ok(await pollUntil(async () => rebuilt() > before, WAIT_MS), 'the address removal is seen: egress sockets rebuilt');
  sink4 = await startSink(rl, 0, { group: '239.2.2.3', port: 6010, count: 200, idle: 2 });
  let free6 = recv6(rl, rl.sinks[1]!.ns, OUT_GROUP, 6011, rl.sinks[1]!.ifname, 200);
  await free6.waitForLine('stderr', /"event":"ready"/, 10_000);
  t.equal(await send6(rl, 200, 5010), 200);
  t.equal((await sinkReport(sink4)).received, 200, 'without the address the rule\'s IPv4 output relays every datagram');
  let free = await report6(free6);
  t.equal(free.received, 200, 'the IPv6 output without a source relays every datagram');
  t.ok(Object.keys(free.sources).length === 1 && Object.keys(free.sources)[0]?.startsWith('fe80:'),
    `from out1's link-local address, its only one left (not the removed one): ${JSON.stringify(free.sources)}`);
  let out = await outputs();
  t.equal(out[1]?.packets, 0, 'the IPv6 output sent none');
  t.equal(out[1]?.errors, 200, `and counted each as an error: ${JSON.stringify(out[1]?.errorsByErrno)}`);
  t.equal(Object.keys(out[1]?.errorsByErrno ?? {}).join(), 'EADDRNOTAVAIL', 'by its errno');

  before = rebuilt();
  await rl.lab.exec(rl.relay.ns, 'ip', ['-6', 'addr', 'add', '2001:db8:2::1/64', 'dev', 'out1', 'nodad']);
  t.ok(await pollUntil(async () => rebuilt() > before, WAIT_MS), 'the address is back: egress sockets rebuilt');
  sink6 = recv6(rl, rl.sinks[1]!.ns, OUT_GROUP, 6010, rl.sinks[1]!.ifname, 200);
  free6 = recv6(rl, rl.sinks[1]!.ns, OUT_GROUP, 6011, rl.sinks[1]!.ifname, 200);
  await sink6.waitForLine('stderr', /"event":"ready"/, 10_000);
  await free6.waitForLine('stderr', /"event":"ready"/, 10_000);
  t.equal(await send6(rl, 200, 5010), 200);
  t.equal(await received(sink6), 200, 'the IPv6 output sends every datagram again');
  free = await report6(free6);
  t.same(free, { received: 200, sources: { '2001:db8:2::1': 200 } }, 'and the one without a source sends from the global address again');
  out = await outputs();
  t.equal(out[1]?.packets, 200, 'counted as sent');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd exits 0');
});
