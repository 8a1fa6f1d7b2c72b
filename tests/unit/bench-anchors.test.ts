/**
 * The bench's anchors without a lab: the CONFIG_IP_MROUTE probe, the shape
 * of the nftables ruleset and of the GStreamer pipeline, and the report's
 * treatment of anchors: MCR as a ratio to every anchor in the run, and an
 * anchor the host cannot run named with its reason in the cell, the limit
 * table, the targets and a section of its own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ANCHORS, METHOD_LABELS, METHODS, preset, type MethodName } from '../../bench/config.js';
import { MROUTE_SKIP_REASON, multicastRoutingUnavailableReason } from '../../bench/lab/index.js';
import { gstPipeline } from '../../bench/methods/gstreamer.js';
import { multicastMac, nftRuleset } from '../../bench/methods/nft.js';
import { renderMarkdown } from '../../bench/report-md.js';
import { renderSvg } from '../../bench/report-svg.js';
import type { BenchResults, CellResult } from '../../bench/results.js';
import type { TrialResult } from '../../bench/trial.js';

t.test('CONFIG_IP_MROUTE is read from /proc/net/ip_mr_vif', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-mroute-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ip_mr_vif');
  t.equal(multicastRoutingUnavailableReason(file), MROUTE_SKIP_REASON, 'absent: the reason');
  t.equal(MROUTE_SKIP_REASON, 'kernel multicast forwarding is not available on this kernel (CONFIG_IP_MROUTE)');
  writeFileSync(file, 'Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n');
  t.equal(multicastRoutingUnavailableReason(file), undefined, 'present: available');
});

const OUTS = [
  { ifname: 'out0', mac: '02:00:00:00:00:0a', group: '239.2.2.2', port: 6000 },
  { ifname: 'out1', mac: '02:00:00:00:00:0b', group: '239.2.2.2', port: 6000 },
  { ifname: 'out2', mac: '02:00:00:00:00:0c', group: '239.3.3.3', port: 6001 },
];

t.test('nft ruleset: netdev ingress on the input, dup to all but the last output, fwd to the last', async (t) => {
  t.equal(multicastMac('239.129.2.3'), '01:00:5e:01:02:03', 'low 23 bits of the group');
  const one = nftRuleset('tb', 'in0', '239.1.1.1', 5000, OUTS.slice(0, 1));
  t.match(one, /table netdev tb \{/);
  t.match(one, /type filter hook ingress device "in0" priority 0; policy accept;/);
  const rules = one.split('\n').filter((l) => l.includes('ip daddr 239.1.1.1 udp dport 5000'));
  t.equal(rules.length, 2, 'one rule for datagrams with a UDP checksum, one for those without');
  t.match(rules[0], 'udp checksum != 0 ip daddr set 239.2.2.2 udp dport set 6000 ether saddr set 02:00:00:00:00:0a ether daddr set 01:00:5e:02:02:02 fwd to "out0"');
  t.match(rules[1], 'udp checksum 0 ip daddr set 239.2.2.2 @th,16,16 set 6000 ', 'a zero checksum is never "fixed"');
  t.notMatch(one, /dup to/, 'fan-out 1: fwd only');
  const three = nftRuleset('tb', 'in0', '239.1.1.1', 5000, OUTS);
  for (const rule of three.split('\n').filter((l) => l.includes('ip daddr 239.1.1.1'))) {
    t.same([...rule.matchAll(/(dup|fwd) to "(\w+)"/g)].map((m) => `${m[1]} ${m[2]}`), ['dup out0', 'dup out1', 'fwd out2']);
    t.match(rule, 'ether saddr set 02:00:00:00:00:0c ether daddr set 01:00:5e:03:03:03 fwd to "out2"', 'each output gets its own rewrite');
  }
  t.throws(() => nftRuleset('tb', 'in0', '239.1.1.1', 5000, []), { code: 'ERR_BENCH_ARG' });
});

t.test('GStreamer pipeline: udpsrc joined on the input, one udpsink per output (tee beyond one)', async (t) => {
  const one = gstPipeline('in0', [{ addr: '10.99.1.1', group: '239.2.2.2', port: 6000 }]).join(' ');
  t.equal(one, 'udpsrc address=239.1.1.1 port=5000 multicast-iface=in0 auto-multicast=true ! ' +
    'udpsink host=239.2.2.2 port=6000 bind-address=10.99.1.1 auto-multicast=false loop=false sync=false async=false');
  const two = gstPipeline('in0', [{ addr: '10.99.1.1', group: 'g', port: 1 }, { addr: '10.99.2.1', group: 'g', port: 1 }]).join(' ');
  t.match(two, /! tee name=t t\. ! udpsink [^!]*bind-address=10\.99\.1\.1[^!]* t\. ! udpsink [^!]*bind-address=10\.99\.2\.1/);
});

function trial(pps: number, cpu: number): TrialResult {
  return { gen: { pps }, cpuSecPerMInput: cpu, cpuSecPerMEgress: cpu } as unknown as TrialResult;
}

function measured(method: MethodName, pps: number, cpu: number): CellResult {
  return {
    method, payload: 64, fanout: 1, limit: 'relay core saturated',
    search: { method, payload: 64, fanout: 1, zeroLossPps: pps, generatorLimited: false, verified: true, reported: trial(pps, cpu), trials: [] },
  };
}

function results(cells: CellResult[]): BenchResults {
  return {
    schema: 'mcr-bench/1', startedAt: '2026-12-03T00:00:00Z', finishedAt: '2026-12-03T00:05:00Z',
    config: { ...preset('quick', '/nonexistent'), payloads: [64], fanouts: [1], experiments: undefined }, lossThreshold: 1e-4,
    host: { cpuModel: 'cpu', kernel: '6.18', cores: 2, loadavgAtStart: '0.1 0.1 0.1', backgroundUtil: [0, 0] },
    versions: { node: 'v20', mcrCommit: 'abc', nft: '1.0.6', gstreamer: '1.22.0' }, generatorMax: [], cells, errors: [],
  };
}

t.test('the report gives MCR as a ratio to every anchor and names the ones not measured', async (t) => {
  const cells: CellResult[] = [
    measured('mcr', 400_000, 2.0),
    { method: 'kernel', payload: 64, fanout: 1, skipped: MROUTE_SKIP_REASON },
    measured('nft', 500_000, 1.0),
    measured('c-ring', 200_000, 4.0),
    measured('c-mmsg', 250_000, 3.2),
    measured('socat', 100_000, 8.0),
    measured('gstreamer', 50_000, 10.0),
  ];
  t.same(cells.map((c) => c.method), METHODS, 'every method in the fixture');
  const md = renderMarkdown(results(cells));
  t.match(md, '## MCR as a ratio to each anchor (same run)');
  for (const a of ANCHORS) t.match(md, `MCR ÷ ${METHOD_LABELS[a]}`, `a ratio column for ${a}`);
  const row = (title: string): string => {
    const section = md.slice(md.indexOf(title));
    return section.split('\n').find((l) => l.startsWith('| 64 | 1 |')) ?? '';
  };
  t.equal(row('Zero-loss throughput, MCR ÷ anchor'), '| 64 | 1 | not measured | 0.80× | 2.00× | 1.60× | 4.00× | 8.00× |', 'throughput ratios');
  t.equal(row('Relay-core CPU per million input datagrams, MCR ÷ anchor'), '| 64 | 1 | not measured | 2.00× | 0.50× | 0.63× | 0.25× | 0.20× |', 'CPU ratios');
  t.match(md, `| 64 | 1 | 400 kpps | not measured: ${MROUTE_SKIP_REASON} |`, 'the kernel cell says why');
  t.match(md, `| 64 | 1 | kernel (smcroute) | not measured: ${MROUTE_SKIP_REASON} |`, 'so does the limit table');
  t.match(md, `## Anchors not measured on this host\n\n- kernel (smcroute): ${MROUTE_SKIP_REASON}\n`);
  t.match(md, `MCR ÷ kernel (target ≥ 1.0×): not measured: ${MROUTE_SKIP_REASON}`, 'the target says so too');
  t.notMatch(md, '## Errors', 'a skip is not an error');
  const svg = renderSvg(results(cells));
  for (const m of METHODS) t.match(svg, `>${METHOD_LABELS[m]}<`, `legend entry for ${m}`);
});

t.test('a run with every anchor measured has no "not measured" section', async (t) => {
  const md = renderMarkdown(results([measured('mcr', 1000, 1), measured('kernel', 1000, 1)]));
  t.notMatch(md, 'Anchors not measured');
  t.match(md, '| 64 | 1 | 1.00× | – | – | – | – | – |', 'anchors absent from the cells show no ratio');
});
