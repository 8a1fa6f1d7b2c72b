/**
 * IPv6 through mcr-relay in a namespace lab, IPv6 enabled on the veths:
 * - IPv4 in → IPv6 multicast out (bridging; the rule on the command line,
 *   `--outputs [ff3e::3]:6003:out0`), full speed, so the IPv6 output
 *   sends UDP_SEGMENT batches (gso_batches grows, nothing falls back);
 * - IPv6 multicast in from one source (a source-specific rule; joined with
 *   MLD by mcr-relay) → IPv6 multicast out with a hop limit of 5, IPv4
 *   multicast out (bridging), IPv6 unicast out and a link-local group
 *   (ff02::, scoped to the output interface), all from one rule;
 * - an IPv6 group prefix (ff3e::100/120), any port, with `joinGroups`: an
 *   output keeping each datagram's group and port ("=") and one mapping the
 *   group into ff3e::200/120 on a fixed port;
 * every sink receives every datagram, byte-exact, and the per-output
 * counters and stats name the IPv6 destinations in brackets.
 */
import { existsSync } from 'node:fs';
import t from 'tap';
import { createRelayLab, skipUnlessRoot, type RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { relayCommand, runGen, sinkReport, startRelay, startSink, stopRelay, type RelayReport } from './harness.js';

const SRC6 = 'fd99::1';
const IN6 = 'fd99::2';
const OUT6 = 'fd99:1::1';
const SINK6 = 'fd99:1::2';

/** IPv6 on for one interface, DAD off (nothing else claims these addresses), and an address. */
async function enableIpv6(rl: RelayLab, ns: string, ifname: string, cidr: string): Promise<void> {
  await rl.lab.sysctl(ns, `net/ipv6/conf/${ifname}/accept_dad`, 0);
  await rl.lab.sysctl(ns, `net/ipv6/conf/${ifname}/disable_ipv6`, 0);
  await rl.lab.exec(ns, 'ip', ['-6', 'addr', 'add', cidr, 'dev', ifname, 'nodad']);
}

/** No address of `ns` is tentative any more (sends from and binds to one would fail). */
async function settled(rl: RelayLab, ns: string): Promise<boolean> {
  const r = await rl.lab.exec(ns, 'ip', ['-6', 'addr', 'show', 'tentative']);
  return r.stdout.trim() === '';
}

function loopStats(reply: Record<string, unknown>): RelayReport['loop'] {
  return (reply.stats as RelayReport).loop;
}

t.test('IPv6 multicast and unicast out, IPv4<->IPv6 bridging, UDP_SEGMENT batches on IPv6', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (!existsSync('/proc/sys/net/ipv6/conf/all/disable_ipv6')) {
    t.plan(0, 'needs IPv6 in the kernel (/proc/sys/net/ipv6 is missing: booted with ipv6.disable=1 or built without CONFIG_IPV6)');
    return;
  }
  const rl = await createRelayLab({ tag: 'v6' });
  t.teardown(() => rl.lab.destroy());
  const sink = rl.sinks[0];
  const out = rl.relay.outputs[0];
  if (sink === undefined || out === undefined) throw new Error('lab without a sink');
  await enableIpv6(rl, rl.src.ns, rl.src.ifname, `${SRC6}/64`);
  await enableIpv6(rl, rl.relay.ns, rl.relay.input.ifname, `${IN6}/64`);
  await enableIpv6(rl, rl.relay.ns, out.ifname, `${OUT6}/64`);
  await enableIpv6(rl, sink.ns, sink.ifname, `${SINK6}/64`);
  for (const ns of [rl.src.ns, rl.relay.ns, sink.ns]) {
    t.ok(await pollUntil(() => settled(rl, ns), 10_000), `no tentative IPv6 address left in ${ns}`);
  }

  // The bridging rule in mcr-relay's command-line form (IPv6 output in brackets), the other one by command.
  const relay = await startRelay(rl, ['--input-group', '239.1.1.1', '--input-port', '5000', '--outputs', `[ff3e::3]:6003:${out.ifname}`],
    { stdin: true });
  const add6 = await relayCommand(relay, { op: 'add', rule: { inputGroup: 'ff3e::1', inputPort: 5000, source: SRC6, outputs: [
    { group: 'ff3e::2', port: 6000, interface: out.ifname, ttl: 5 },
    { group: '239.2.2.2', port: 6001, interface: out.ifname },
    { group: SINK6, port: 6002, interface: out.ifname },
    { group: 'ff02::1:3', port: 6004, interface: out.ifname },
  ] } });
  t.equal(add6.msg, 'command done', `IPv6 in, IPv6 + IPv4 + IPv6 unicast + link-local out: added ${String(add6.err ?? '')}`);
  // /proc/net/igmp6: index, interface, group in 32 hex digits, users, flags, timer.
  const igmp6 = (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/igmp6'])).stdout;
  t.match(igmp6, new RegExp(`\\s${rl.relay.input.ifname}\\s+ff3e0{27}1\\s`), 'mcr-relay joined ff3e::1 on the input interface (MLD)');

  // IPv4 in, IPv6 out, as fast as the generator goes: batches form.
  const BRIDGED = 5000;
  const sink4to6 = await startSink(rl, 0, { group: 'ff3e::3', port: 6003, count: BRIDGED, idle: 3 });
  const gen4 = await runGen(rl, { dest: '239.1.1.1', port: 5000, count: BRIDGED, rate: 0, size: 300 });
  const got4to6 = await sinkReport(sink4to6);
  t.equal(gen4.sent, BRIDGED, 'generator sent every IPv4 datagram');
  const afterBridge = loopStats(await relayCommand(relay, { op: 'stats' }));
  t.equal(got4to6.received, BRIDGED - afterBridge.kernel_drops, 'the IPv6 sink got every IPv4 datagram the relay received');
  t.equal(got4to6.corrupted + got4to6.duplicated, 0, 'byte-exact, no duplicates');
  t.ok(afterBridge.gso_batches > 0, `IPv6 output sent UDP_SEGMENT batches (${afterBridge.gso_batches} batches, ${afterBridge.gso_datagrams} datagrams)`);
  t.equal(afterBridge.gso_fallbacks, 0, 'no IPv6 batch was refused');

  // IPv6 in, three outputs of both families.
  const COUNT = 3000;
  const sinks = await Promise.all([
    startSink(rl, 0, { group: 'ff3e::2', port: 6000, count: COUNT, idle: 3 }),
    startSink(rl, 0, { group: '239.2.2.2', port: 6001, count: COUNT, idle: 3 }),
    startSink(rl, 0, { bind: SINK6, port: 6002, count: COUNT, idle: 3 }),
    startSink(rl, 0, { group: 'ff02::1:3', port: 6004, count: COUNT, idle: 3 }),
  ]);
  const gen6 = await runGen(rl, { dest: 'ff3e::1', port: 5000, count: COUNT, rate: 20_000, size: 200 });
  t.equal(gen6.sent, COUNT, 'generator sent every IPv6 datagram');
  const [v6mc, v4mc, v6uc, v6ll] = await Promise.all(sinks.map((s) => sinkReport(s)));

  // An IPv6 group prefix, any port (issue 16, "Rules that match more"), by command: one output keeps
  // each datagram's group and port, the other maps the group into another /120 on a fixed port; mcr-relay
  // joins the listed groups of the range only.
  const addPrefix = await relayCommand(relay, { op: 'add', rule: { inputGroup: 'ff3e::100/120', inputPort: 'any', joinGroups: 'ff3e::101,ff3e::102',
    outputs: [{ group: '=', port: '=', interface: out.ifname }, { group: 'ff3e::200/120', port: 7000, interface: out.ifname }] } });
  t.equal(addPrefix.msg, 'command done', `IPv6 prefix rule, any port, "=" and mapped outputs: added ${String(addPrefix.err ?? '')}`);
  const joined6 = (await rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/igmp6'])).stdout;
  t.match(joined6, new RegExp(`\\s${rl.relay.input.ifname}\\s+ff3e0{25}101\\s`), 'joinGroups: ff3e::101 joined on the input (MLD)');
  t.notMatch(joined6, /ff3e0{25}100\s/, 'the prefix itself is not a group to join');
  const PREFIXED = 1000;
  const prefixSinks = await Promise.all([
    startSink(rl, 0, { group: 'ff3e::101', port: 5101, count: PREFIXED, idle: 3 }),
    startSink(rl, 0, { group: 'ff3e::102', port: 5102, count: PREFIXED, idle: 3 }),
    startSink(rl, 0, { group: 'ff3e::201', port: 7000, count: PREFIXED, idle: 3 }),
  ]);
  const gens = await Promise.all([
    runGen(rl, { dest: 'ff3e::101', port: 5101, count: PREFIXED, rate: 5000, size: 200 }),
    runGen(rl, { dest: 'ff3e::102', port: 5102, count: PREFIXED, rate: 5000, size: 200 }),
  ]);
  t.same(gens.map((g) => g.sent), [PREFIXED, PREFIXED], 'both groups of the range sent');
  const [own101, own102, mapped201] = await Promise.all(prefixSinks.map((s) => sinkReport(s)));
  t.equal(own101?.received, PREFIXED, '"=" output: ff3e::101:5101 arrives with its own group and port');
  t.equal(own102?.received, PREFIXED, '"=" output: ff3e::102:5102 arrives with its own group and port');
  t.equal(mapped201?.received, PREFIXED, 'mapped output: ff3e::101 -> ff3e::201, port 7000 (ff3e::102 maps to ff3e::202, not listened to)');
  for (const got of [own101, own102, mapped201]) t.equal((got?.corrupted ?? 1) + (got?.duplicated ?? 1), 0, 'byte-exact, no duplicates');

  const report = await stopRelay(relay);
  const prefixRule = report.rules.find((r) => r.id === addPrefix.id);
  t.equal(prefixRule?.packets, 2 * PREFIXED, 'the prefix rule matched every datagram of both groups');
  const names = ['IPv6 multicast', 'IPv4 multicast (bridged)', 'IPv6 unicast', 'IPv6 link-local multicast'];
  [v6mc, v4mc, v6uc, v6ll].forEach((got, i) => {
    t.equal(got?.received, COUNT, `${names[i]} sink received every datagram`);
    t.equal((got?.lost ?? 1) + (got?.corrupted ?? 1) + (got?.duplicated ?? 1), 0, `${names[i]}: no loss, byte-exact, no duplicates`);
  });
  const ttls = (r: unknown): unknown => (r as { ttls: unknown }).ttls;
  const sources = (r: unknown): unknown => (r as { sources: unknown }).sources;
  t.same(ttls(v6mc), { 5: COUNT }, 'IPv6 multicast output: hop limit 5 (IPV6_MULTICAST_HOPS)');
  t.same(ttls(v6uc), { 64: COUNT }, 'IPv6 unicast output: the unicast default hop limit (IPV6_UNICAST_HOPS)');
  t.same(sources(v6mc), { [OUT6]: COUNT }, "sent from the output interface's IPv6 address");
  t.same(sources(v4mc), { [out.addr]: COUNT }, "bridged IPv4 output sent from the interface's IPv4 address");
  const rule6 = report.rules.find((r) => r.id === add6.id);
  t.same(rule6?.outputs.map((o) => [o.destination, o.packets, o.errors]),
    [['[ff3e::2]:6000', COUNT, 0], ['239.2.2.2:6001', COUNT, 0], [`[${SINK6}]:6002`, COUNT, 0], ['[ff02::1:3]:6004', COUNT, 0]],
    'per-output counters, IPv6 in brackets');
  t.equal(rule6?.packets, COUNT, 'the IPv6 rule matched every datagram');
  t.equal(report.loop.drop_ipv6_fragment, 0, 'no fragments');
  t.equal(report.loop.drop_bad_ipv6_header, 0, 'no malformed IPv6');
  t.equal(report.loop.inflight_buffers, 0, 'every buffer returned');
});
