/**
 * Resource faults provoked on demand in the namespace lab, under mcrd with
 * one worker per input and the hung-worker watchdog off:
 *
 * - an ENOBUFS storm: out0's root qdisc is a tiny `tbf` (8 Mbit/s, a 10 kB
 *   queue), and rule A sends 80 Mbit/s through it. The qdisc refuses most
 *   sends; with IP_RECVERR on the egress socket each refusal comes back as
 *   ENOBUFS and is counted on A's output (`mcrctl stats --json`,
 *   errorsByErrno). Exact: generator sent = sink received + ENOBUFS.
 * - a full ring: A's worker is SIGSTOPped while its generator sends more
 *   than the AF_PACKET ring holds (defaultBufferCount in worker/relay.ts:
 *   up to 32 768 slots); the kernel drops the rest
 *   and counts them (the worker's kernelDrops). After SIGCONT the worker
 *   forwards what the ring held. Exact up to the frames on in0 that were
 *   not the generator's: sent = received + kernel drops + the sink
 *   socket's own drops (the ring's burst can overflow it; /proc/net/udp).
 *
 * Both times: no crash or restart, the rules on the other output (C, same
 * worker, for ENOBUFS) and on the other input (B, another worker) lose
 * nothing, and afterwards A forwards everything again by itself.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess, type RelayLab } from '../../../bench/lab/index.js';
import { formatConfig, type ConfigRule } from '../../../supervisor/config/index.js';
import { parseProcNetUdp } from '../../../bench/soak/traffic.js';
import type { ListRulesResult, StatsResult } from '../../../proto/index.js';
import { genReport, sinkReport, startSink, TOOL, type GenReport } from '../harness.js';
import { mcrctlJson, mcrdLab, startMcrd, workersOf } from '../mcrd-harness.js';

const RULES: ConfigRule[] = [
  { name: 'A', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5001, outputs: [{ group: '239.2.0.1', port: 6001, interface: 'out0' }] },
  { name: 'B', inputInterface: 'in1', inputGroup: '239.1.2.2', inputPort: 5002, outputs: [{ group: '239.2.1.2', port: 6002, interface: 'out1' }] },
  { name: 'C', inputInterface: 'in0', inputGroup: '239.1.1.3', inputPort: 5003, outputs: [{ group: '239.2.1.3', port: 6003, interface: 'out1' }] },
];
const byName = (n: string): ConfigRule => RULES.find((r) => r.name === n) as ConfigRule;
/** Which lab sink receives each output interface. */
const SINK_OF: Record<string, number> = { out0: 0, out1: 1 };
const SOURCE_OF: Record<string, string> = { in0: 'up0', in1: 'up1' };

function gen(rl: RelayLab, name: string, o: { count: number; rate: number; size: number; stream: number; batch?: number }): LabProcess {
  const r = byName(name);
  return rl.lab.spawn(rl.src.ns, TOOL('mcrgen'), ['--dest', r.inputGroup, '--port', String(r.inputPort), '--interface', SOURCE_OF[r.inputInterface] ?? '',
    '--count', String(o.count), '--rate', String(o.rate), '--size', String(o.size), '--stream', String(o.stream), '--duration', '60',
    '--batch', String(o.batch ?? 64)]);
}

async function sink(rl: RelayLab, name: string, count: number): Promise<LabProcess> {
  const out = byName(name).outputs[0];
  if (out === undefined) throw new Error(`rule ${name} has no output`);
  return startSink(rl, SINK_OF[out.interface] ?? 0, { group: out.group, port: out.port, count, idle: 3, duration: 40 });
}

/** Datagrams the kernel dropped at the sink socket of rule `name` (receive buffer full). */
async function sinkSocketDrops(rl: RelayLab, name: string): Promise<number> {
  const out = byName(name).outputs[0];
  const ns = rl.sinks[SINK_OF[out?.interface ?? ''] ?? 0]?.ns ?? '';
  const r = await rl.lab.exec(ns, 'cat', ['/proc/net/udp'], { timeoutMs: 5000 });
  return parseProcNetUdp(r.stdout).filter((u) => u.port === out?.port).reduce((n, u) => n + u.drops, 0);
}

async function rxPackets(rl: RelayLab, ifname: string): Promise<number> {
  const r = await rl.lab.exec(rl.relay.ns, 'cat', [`/sys/class/net/${ifname}/statistics/rx_packets`], { timeoutMs: 5000 });
  return Number(r.stdout.trim());
}

interface Snapshot { enobufs: number; errors: number; kernelDrops: number; restarts: number }

async function snapshot(socket: string, ids: Map<string, number>): Promise<Snapshot> {
  const st = await mcrctlJson<StatsResult>(socket, ['stats']);
  const a = st.rules.find((r) => r.ruleId === ids.get('A'))?.outputs[0];
  const w = st.workers.find((x) => x.worker === 'in0/0');
  return { enobufs: a?.errorsByErrno?.ENOBUFS ?? 0, errors: a?.errors ?? 0, kernelDrops: w?.kernelDrops ?? 0,
    restarts: (await workersOf(socket)).reduce((n, x) => n + x.restarts, 0) };
}

t.test('ENOBUFS storms and a full ring: counted, contained, over by themselves', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'overload', { outputs: 2 });
  await rl.lab.addVeth(rl.src.ns, 'up1', rl.relay.ns, 'in1');
  await rl.lab.addAddress(rl.src.ns, 'up1', '10.98.0.1/24');
  await rl.lab.addAddress(rl.relay.ns, 'in1', '10.98.0.2/24');
  await rl.lab.setUp(rl.src.ns, 'up1');
  await rl.lab.setUp(rl.relay.ns, 'in1');
  const config = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(config, formatConfig({ daemon: {}, rules: RULES }));
  const mcrd = await startMcrd(rl, ['--config', config, '--control-socket', socket, '--workers', '1', '--hung-worker-ms', '0']);
  t.teardown(() => mcrd.stop('SIGKILL', 5_000).catch(() => undefined));
  const ids = new Map((await mcrctlJson<ListRulesResult>(socket, ['list'])).rules.map((r) => [r.name ?? '', r.id]));
  for (let i = 0; i < 100 && (await workersOf(socket)).some((w) => w.state !== 'running'); i++) await new Promise((r) => setTimeout(r, 100));

  await t.test('an ENOBUFS storm on out0', async (t) => {
    await rl.lab.exec(rl.relay.ns, 'tc', ['qdisc', 'replace', 'dev', 'out0', 'root', 'tbf', 'rate', '8mbit', 'burst', '64kb', 'limit', '10kb']);
    const before = await snapshot(socket, ids);
    const sinks = { A: await sink(rl, 'A', 20_000), B: await sink(rl, 'B', 10_000), C: await sink(rl, 'C', 10_000) };
    const gens = { A: gen(rl, 'A', { count: 20_000, rate: 20_000, size: 512, stream: 1 }),
      B: gen(rl, 'B', { count: 10_000, rate: 10_000, size: 512, stream: 1 }), C: gen(rl, 'C', { count: 10_000, rate: 10_000, size: 512, stream: 1 }) };
    const sent: Record<string, GenReport> = { A: await genReport(gens.A), B: await genReport(gens.B), C: await genReport(gens.C) };
    const got = { A: await sinkReport(sinks.A), B: await sinkReport(sinks.B), C: await sinkReport(sinks.C) };
    await new Promise((r) => setTimeout(r, 400)); // one stats interval of the loop (100 ms) and then some
    const after = await snapshot(socket, ids);
    const enobufs = after.enobufs - before.enobufs;
    const drops = await sinkSocketDrops(rl, 'A');
    t.comment(`A: sent ${sent.A?.sent}, received ${got.A.received}, ENOBUFS ${enobufs}, errors ${after.errors - before.errors}, sink socket drops ${drops}`);
    t.ok(enobufs > 1000, 'the qdisc refused many sends, counted as ENOBUFS on A\'s output');
    t.equal(after.errors - before.errors, enobufs, 'every error on A\'s output was ENOBUFS');
    t.equal(got.A.received + enobufs + drops, sent.A?.sent, 'exact: A sent = received + ENOBUFS (+ sink socket drops)');
    t.equal(got.B.received, sent.B?.sent, 'B (other input, other output) lost nothing');
    t.equal(got.C.received, sent.C?.sent, 'C (same worker, other output) lost nothing');
    // Under the qdisc's rate everything passes again: nothing to reset. One datagram per
    // send (1.3 Mbit/s, no bursts): a 64-datagram burst can exceed the 10 kB queue by itself.
    const s2 = await sink(rl, 'A', 600);
    const g2 = gen(rl, 'A', { count: 600, rate: 300, size: 512, stream: 2, batch: 1 });
    const sent2 = (await genReport(g2)).sent;
    const got2 = (await sinkReport(s2)).received;
    t.equal(got2, sent2, `afterwards, under the qdisc's rate, A forwards every datagram (${got2} of ${sent2})`);
    t.equal(after.restarts, 0, 'no worker restarted');
    await rl.lab.exec(rl.relay.ns, 'tc', ['qdisc', 'del', 'dev', 'out0', 'root']);
  });

  await t.test('a full AF_PACKET ring while the worker of in0 is stopped', async (t) => {
    const worker = (await workersOf(socket)).find((w) => w.id === 'in0/0');
    const pid = worker?.pid ?? 0;
    t.ok(pid > 0, 'in0\'s worker runs');
    if (pid <= 0) return;
    const before = await snapshot(socket, ids);
    const rx0 = await rxPackets(rl, 'in0');
    const drops0 = await sinkSocketDrops(rl, 'A');
    const sinks = { A: await sink(rl, 'A', 50_000), B: await sink(rl, 'B', 8_000) };
    const gB = gen(rl, 'B', { count: 8_000, rate: 8_000, size: 64, stream: 3 });
    let stopped = false;
    t.teardown(() => {
      if (stopped) process.kill(pid, 'SIGCONT');
    });
    process.kill(pid, 'SIGSTOP');
    stopped = true;
    const gA = gen(rl, 'A', { count: 50_000, rate: 50_000, size: 64, stream: 3 });
    const sentA = await genReport(gA);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid, 'SIGCONT');
    stopped = false;
    const sentB = await genReport(gB);
    const got = { A: await sinkReport(sinks.A), B: await sinkReport(sinks.B) };
    await new Promise((r) => setTimeout(r, 400));
    const after = await snapshot(socket, ids);
    const ringDrops = after.kernelDrops - before.kernelDrops;
    const sinkDrops = (await sinkSocketDrops(rl, 'A')) - drops0;
    const strays = (await rxPackets(rl, 'in0')) - rx0 - sentA.sent;
    t.comment(`A: sent ${sentA.sent}, received ${got.A.received}, kernel ring drops ${ringDrops}, sink socket drops ${sinkDrops}, other frames on in0 ${strays}`);
    t.ok(ringDrops > 0, 'the ring filled and the kernel counted what it dropped (kernelDrops)');
    t.ok(got.A.received >= 1000, 'what the ring held was forwarded after SIGCONT');
    const accounted = got.A.received + ringDrops + sinkDrops;
    t.ok(accounted >= sentA.sent && accounted <= sentA.sent + Math.max(0, strays),
      `exact up to other frames on in0: sent ${sentA.sent} = received + ring drops + sink drops (${accounted}; ${strays} other frames)`);
    t.equal(got.B.received, sentB.sent, 'B (the other worker) lost nothing');
    const s2 = await sink(rl, 'A', 2000);
    const g2 = gen(rl, 'A', { count: 2000, rate: 2000, size: 64, stream: 4 });
    t.equal((await sinkReport(s2)).received, (await genReport(g2)).sent, 'afterwards A forwards every datagram');
    t.equal((await workersOf(socket)).find((w) => w.id === 'in0/0')?.pid, pid, 'the same worker process (watchdog off)');
    t.equal(after.restarts, 0, 'no worker restarted');
  });

  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd stops cleanly');
});
