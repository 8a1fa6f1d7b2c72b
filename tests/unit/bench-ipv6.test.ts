/**
 * The bench's IPv6 cells without a lab (issue 16): the CONFIG_IPV6_MROUTE
 * probe and its reason text, the IPv6 forms of the anchors (nftables
 * ruleset and its MAC, GStreamer pipeline, socat addresses), the lab's
 * addresses, the run-time estimate and option parsing of the families, and
 * the report: an IPv6 section with MCR as a ratio to every anchor measured
 * over IPv6, the kernel's cell and a list naming why it was not measured,
 * and the IPv4 tables untouched by IPv6 cells of the same method.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ipv6Addresses, GROUP6_ROUTE } from '../../bench/bench-lab-ipv6.js';
import { estimateSec, GROUP6, hasFamily, preset, type MethodName } from '../../bench/config.js';
import { MROUTE6_SKIP_REASON, MROUTE_SKIP_REASON, multicastRouting6UnavailableReason } from '../../bench/lab/index.js';
import { gstPipeline } from '../../bench/methods/gstreamer.js';
import { ipv6Words, multicastMac6, nftRuleset6 } from '../../bench/methods/nft.js';
import { socatAddresses } from '../../bench/methods/socat.js';
import { renderMarkdown } from '../../bench/report-md.js';
import type { BenchResults, CellResult } from '../../bench/results.js';
import type { TrialResult } from '../../bench/trial.js';

t.test('CONFIG_IPV6_MROUTE is read from /proc/net/ip6_mr_vif', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-mroute6-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ip6_mr_vif');
  t.equal(multicastRouting6UnavailableReason(file), MROUTE6_SKIP_REASON, 'absent: the reason');
  t.equal(MROUTE6_SKIP_REASON, 'kernel IPv6 multicast forwarding is not available on this kernel (CONFIG_IPV6_MROUTE)');
  writeFileSync(file, 'Interface      BytesIn  PktsIn  BytesOut PktsOut Flags\n');
  t.equal(multicastRouting6UnavailableReason(file), undefined, 'present: available');
});

t.test('IPv6 addresses expand, and a group maps to its 33:33 MAC', async (t) => {
  t.same(ipv6Words('ff1e::1:1'), [0xff1e, 0, 0, 0, 0, 0, 1, 1]);
  t.same(ipv6Words('2001:db8:1:2:3:4:5:6'), [0x2001, 0xdb8, 1, 2, 3, 4, 5, 6]);
  t.same(ipv6Words('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  t.equal(multicastMac6('ff1e::1:1'), '33:33:00:01:00:01');
  t.equal(multicastMac6('ff02::1:ff12:3456'), '33:33:ff:12:34:56', 'RFC 2464: the low 32 bits');
  for (const bad of ['1:2:3', '1::2::3', 'ff1e::g', '1:2:3:4:5:6:7:8:9', '1:2:3:4::5:6:7:8']) {
    t.throws(() => ipv6Words(bad), { code: 'ERR_BENCH_ARG' }, `${bad} refused`);
  }
});

t.test('nft IPv6 ruleset: one rule, ip6 daddr rewrite, dup to all but the last, fwd to the last', async (t) => {
  const outs = [
    { ifname: 'out0', mac: '02:00:00:00:00:0a', group: 'ff1e::2:2', port: 6000 },
    { ifname: 'out1', mac: '02:00:00:00:00:0b', group: 'ff1e::3:3', port: 6001 },
  ];
  const one = nftRuleset6('tb', 'in0', GROUP6, 5000, outs.slice(0, 1));
  t.match(one, /type filter hook ingress device "in0" priority 0; policy accept;/);
  const rules = one.split('\n').filter((l) => l.includes('ip6 daddr ff1e::1:1 udp dport 5000'));
  t.equal(rules.length, 1, 'one rule: an IPv6 UDP checksum is never zero');
  t.match(rules[0], 'ip6 daddr set ff1e::2:2 udp dport set 6000 ether saddr set 02:00:00:00:00:0a ether daddr set 33:33:00:02:00:02 fwd to "out0"');
  t.notMatch(one, /\bip daddr\b|checksum/, 'no IPv4 statement, no checksum rule');
  const two = nftRuleset6('tb', 'in0', GROUP6, 5000, outs);
  t.same([...two.matchAll(/(dup|fwd) to "(\w+)"/g)].map((m) => `${m[1]} ${m[2]}`), ['dup out0', 'fwd out1']);
  t.throws(() => nftRuleset6('tb', 'in0', GROUP6, 5000, []), { code: 'ERR_BENCH_ARG' });
});

t.test('GStreamer and socat over IPv6', async (t) => {
  const gst = gstPipeline('in0', [{ addr: '2001:db8:1::1', group: GROUP6, port: 5000, ifname: 'out0' }], 6).join(' ');
  t.equal(gst, 'udpsrc address=ff1e::1:1 port=5000 multicast-iface=in0 auto-multicast=true ! ' +
    'udpsink host=ff1e::1:1 port=5000 bind-address=2001:db8:1::1 multicast-iface=out0 auto-multicast=false loop=false sync=false async=false');
  t.notMatch(gstPipeline('in0', [{ addr: '10.99.1.1', group: '239.1.1.1', port: 5000, ifname: 'out0' }]).join(' '), 'multicast-iface=out0',
    'IPv4 keeps its pipeline (bind-address picks the interface)');
  t.same(socatAddresses('in0', { ifname: 'out0', addr: '10.99.1.1', addr6: '2001:db8:1::1' }, 6),
    ['UDP6-RECV:5000,ipv6-join-group=[ff1e::1:1]:in0,reuseaddr', 'UDP6-SENDTO:[ff1e::1:1]:5000,bind=[2001:db8:1::1],so-bindtodevice=out0']);
  t.same(socatAddresses('in0', { ifname: 'out0', addr: '10.99.1.1' }),
    ['UDP4-RECV:5000,ip-add-membership=239.1.1.1:in0,reuseaddr', 'UDP4-SENDTO:239.1.1.1:5000,ip-multicast-if=10.99.1.1,bind=10.99.1.1'], 'IPv4 unchanged');
  t.throws(() => socatAddresses('in0', { ifname: 'out0', addr: '10.99.1.1' }, 6), { code: 'ERR_BENCH_ARG' }, 'IPv6 without an address on the output');
});

t.test('the lab\'s IPv6 addresses and group route', async (t) => {
  const a = ipv6Addresses(11);
  t.equal(a.src, '2001:db8:99::1');
  t.equal(a.input, '2001:db8:99::2');
  t.equal(a.outputs[0], '2001:db8:1::1');
  t.equal(a.sinks[0], '2001:db8:1::2');
  t.equal(a.outputs[10], '2001:db8:b::1', 'hex subnets');
  t.equal(new Set([...a.outputs, ...a.sinks, a.src, a.input]).size, 24, 'all distinct');
  t.equal(GROUP6_ROUTE, 'ff1e::/16');
});

t.test('families: both by default, the estimate counts the IPv6 cells, older configs mean IPv4', async (t) => {
  const quick = preset('quick', '/nonexistent');
  t.same(quick.families, [4, 6]);
  t.same(quick.ipv6?.payloads, [64], 'quick: one IPv6 payload, briefly');
  t.same(preset('full', '/nonexistent').ipv6?.payloads, [64, 1400], 'full: IPv6 cells at 64 and 1400 B');
  const both = estimateSec(quick);
  const only4 = estimateSec({ ...quick, families: [4] });
  const only6 = estimateSec({ ...quick, families: [6] });
  t.ok(both > only4 && both > only6, `both families take longer (${both} s) than either (${only4} s, ${only6} s)`);
  t.ok(only6 < only4, 'the IPv6 cells alone: fan-out 1, no latency or experiments');
  const old = { ...quick } as Partial<typeof quick>;
  delete old.families;
  t.ok(hasFamily(old as typeof quick, 4) && !hasFamily(old as typeof quick, 6), 'a results file without families measured IPv4');
});

function trial(pps: number, cpu: number): TrialResult {
  return { gen: { pps }, cpuSecPerMInput: cpu, cpuSecPerMEgress: cpu } as unknown as TrialResult;
}

function measured(method: MethodName, payload: number, pps: number, cpu: number, family?: 6): CellResult {
  return {
    method, payload, fanout: 1, limit: 'relay core saturated', ...(family !== undefined ? { family } : {}),
    search: { method, payload, fanout: 1, zeroLossPps: pps, generatorLimited: false, verified: true, reported: trial(pps, cpu), trials: [] },
  };
}

function results(cells: CellResult[], families: Array<4 | 6>): BenchResults {
  return {
    schema: 'mcr-bench/1', startedAt: '2026-12-04T00:00:00Z', finishedAt: '2026-12-04T00:05:00Z',
    config: { ...preset('quick', '/nonexistent'), payloads: [64], fanouts: [1], families, ipv6: { payloads: [64, 1400] }, experiments: undefined },
    lossThreshold: 1e-4,
    host: { cpuModel: 'cpu', kernel: '6.18', cores: 2, loadavgAtStart: '0.1 0.1 0.1', backgroundUtil: [0, 0] },
    versions: { node: 'v20', mcrCommit: 'abc' },
    generatorMax: [{ payload: 64, pps: 800_000, report: {} as never }, { payload: 64, family: 6, pps: 700_000, report: {} as never }],
    cells, errors: [],
  };
}

const V6_CELLS: CellResult[] = [
  measured('mcr', 64, 300_000, 3.0, 6),
  { method: 'kernel', payload: 64, fanout: 1, family: 6, skipped: MROUTE6_SKIP_REASON },
  measured('nft', 64, 400_000, 1.0, 6),
  measured('c-ring', 64, 150_000, 4.0, 6),
  measured('c-mmsg', 64, 100_000, 6.0, 6),
  measured('socat', 64, 30_000, 30.0, 6),
  measured('gstreamer', 64, 60_000, 15.0, 6),
  measured('mcr', 1400, 200_000, 3.5, 6),
  { method: 'kernel', payload: 1400, fanout: 1, family: 6, skipped: MROUTE6_SKIP_REASON },
  measured('nft', 1400, 400_000, 1.0, 6),
];

t.test('the report: an IPv6 section with MCR ÷ each anchor and the kernel\'s reason, beside the IPv4 tables', async (t) => {
  const v4: CellResult[] = [measured('mcr', 64, 500_000, 2.0), { method: 'kernel', payload: 64, fanout: 1, skipped: MROUTE_SKIP_REASON }, measured('nft', 64, 500_000, 1.0)];
  const md = renderMarkdown(results([...v4, ...V6_CELLS], [4, 6]));
  const v6 = md.slice(md.indexOf('## IPv6 (fan-out 1)'));
  t.ok(md.indexOf('## IPv6 (fan-out 1)') > 0, 'the section is there');
  t.match(v6, 'Generator maximum over IPv6: 64 B: 700 kpps');
  t.match(v6, `| 64 | 300 kpps | not measured: ${MROUTE6_SKIP_REASON} | 400 kpps | 150 kpps | 100 kpps | 30.0 kpps | 60.0 kpps |`, 'the kernel cell says why');
  t.match(v6, `| 1400 | 200 kpps | not measured: ${MROUTE6_SKIP_REASON} | 400 kpps | – | – | – | – |`);
  const row = (title: string, payload: number): string => v6.slice(v6.indexOf(title)).split('\n').find((l) => l.startsWith(`| ${payload} |`)) ?? '';
  t.equal(row('Zero-loss throughput over IPv6, MCR ÷ anchor', 64), '| 64 | not measured | 0.75× | 2.00× | 3.00× | 10.00× | 5.00× |');
  t.equal(row('Zero-loss throughput over IPv6, MCR ÷ anchor', 1400), '| 1400 | not measured | 0.50× | – | – | – | – |');
  t.equal(row('Relay-core CPU per million input datagrams over IPv6, MCR ÷ anchor', 64), '| 64 | not measured | 3.00× | 0.75× | 0.50× | 0.10× | 0.20× |');
  t.match(v6, `Not measured over IPv6 on this host:\n\n- kernel (smcroute): ${MROUTE6_SKIP_REASON}\n`);
  // The IPv4 tables read only the IPv4 cells, though both families have MCR at 64 B fan-out 1.
  t.match(md, `| 64 | 1 | 500 kpps | not measured: ${MROUTE_SKIP_REASON} | 500 kpps |`, 'IPv4 row from IPv4 cells');
  t.match(md, `## Anchors not measured on this host\n\n- kernel (smcroute): ${MROUTE_SKIP_REASON}\n`, 'the IPv4 list keeps the IPv4 reason');
  t.match(md, `| 64 | 1 | kernel (smcroute) (IPv6) | not measured: ${MROUTE6_SKIP_REASON} |`, 'the limit table labels IPv6 cells');
  t.match(md, '- Generator maximum (mcrgen --rate 0 --gso 8, core 0, no method running): 64 B: 800 kpps, IPv6 64 B: 700 kpps');
});

t.test('a run of the IPv6 cells alone has no IPv4 tables, and a run without them no IPv6 section', async (t) => {
  const md = renderMarkdown(results(V6_CELLS, [6]));
  t.match(md, 'IPv4 was not measured in this run (--families 6)');
  t.notMatch(md, '## Zero-loss throughput (input datagrams/s)');
  t.notMatch(md, '## Targets (issue 4)');
  t.match(md, '## IPv6 (fan-out 1)');
  t.notMatch(renderMarkdown(results([measured('mcr', 64, 1000, 1)], [4])), '## IPv6', 'no IPv6 cells, no section');
});
