/**
 * The benchmark's lab: the standard relay topology (bench/lab) with as many
 * outputs as the largest fan-out, receive processing steered with RPS so the
 * relay core pays for its own receive path, and the counter snapshot taken
 * around every trial.
 *
 * Steering (Documentation/networking/scaling.rst): a veth has no hardware
 * queues and its transmit calls netif_rx() on the peer, which honours RPS.
 * So in0's rps_cpus = core 1 moves the relay's input processing off the
 * generator's core onto the relay's; each dnN's rps_cpus = core 0 keeps the
 * sinks' receive work (every egress copy) off the relay core. One lab serves
 * every fan-out: fan-out N uses out0..out{N-1} and leaves the rest idle.
 *
 * Arrivals are counted from each sink interface's rx_packets, not by sink
 * processes: free, and it scales to ten outputs without ten receivers
 * competing with the generator for core 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ipv6Addresses } from './bench-lab-ipv6.js';
import { createRelayLab, type RelayLab } from './lab/index.js';
import { OTHER_CPU, RELAY_CPU } from './config.js';
import { BenchError } from './errors.js';
import { readCpuTimes, readSoftnet, readTasks, type CpuTimes, type SoftnetRow, type TaskRuntime } from './host-counters.js';

export interface BenchLab {
  rl: RelayLab;
  /** Per-run scratch directory (smcroute's config and socket); removed by destroy(). */
  tmpDir: string;
  maxFanout: number;
  /** The lab's IPv6 addresses once enableIpv6 (bench-lab-ipv6.ts) turned IPv6 on for the IPv6 cells. */
  ipv6?: Ipv6Addresses;
  destroy(): Promise<void>;
  /** Synchronous teardown for signal handlers. */
  destroySync(): void;
}

export interface LabSnapshot {
  /** rx_packets of dn0..dn{fanout-1}. */
  sinkRx: number[];
  /** The relay namespace's /proc/net/snmp as "Proto.Field" → value. */
  snmp: Record<string, number>;
  cpu: CpuTimes[];
  /** Every task with its last CPU and exact run time (trial.ts: other load on the relay core). */
  tasks: Map<number, TaskRuntime>;
  softnet: SoftnetRow[];
  /** process.hrtime, ns. */
  atNs: bigint;
}

export async function createBenchLab(maxFanout: number, opts: { sinkRps: boolean }): Promise<BenchLab> {
  const tmpDir = mkdtempSync(join(tmpdir(), 'mcr-bench-'));
  let rl: RelayLab;
  try {
    rl = await createRelayLab({ outputs: maxFanout, tag: 'bench' });
  } catch (err) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  }
  const bl: BenchLab = {
    rl,
    tmpDir,
    maxFanout,
    async destroy() {
      await rl.lab.destroy();
      rmSync(tmpDir, { recursive: true, force: true });
    },
    destroySync() {
      rl.lab.destroySync();
      rmSync(tmpDir, { recursive: true, force: true });
    },
  };
  try {
    await steer(rl, rl.relay.ns, rl.relay.input.ifname, RELAY_CPU);
    await Promise.all(rl.relay.outputs.map((o) => segmentInSoftware(rl, rl.relay.ns, o.ifname)));
    // The generator's UDP_SEGMENT batches must leave as single datagrams too.
    await segmentInSoftware(rl, rl.src.ns, rl.src.ifname);
    if (opts.sinkRps) await Promise.all(rl.sinks.map((s) => steer(rl, s.ns, s.ifname, OTHER_CPU)));
  } catch (err) {
    await bl.destroy();
    throw err;
  }
  return bl;
}

/** Writes the RPS mask of `cpu` to every receive queue of `ifname` inside `ns`, then reads it back. */
async function steer(rl: RelayLab, ns: string, ifname: string, cpu: number): Promise<void> {
  const mask = (1 << cpu).toString(16);
  // `ip netns exec` mounts the namespace's own sysfs, so /sys/class/net is the namespace's view.
  const script = `for q in /sys/class/net/${ifname}/queues/rx-*; do echo ${mask} > "$q/rps_cpus"; done; cat /sys/class/net/${ifname}/queues/rx-*/rps_cpus`;
  const r = await rl.lab.exec(ns, 'sh', ['-c', script], { timeoutMs: 5000 });
  for (const line of r.stdout.trim().split('\n')) {
    if (parseInt(line.replace(/,/g, ''), 16) !== 1 << cpu) {
      throw new BenchError('ERR_BENCH_ENV', `RPS mask of ${ifname} in ${ns} reads back as ${line}, wanted ${mask} (kernel without CONFIG_RPS?)`);
    }
  }
}

/**
 * Turns off UDP segmentation offload on an interface, so it behaves like a
 * NIC without USO: a UDP_SEGMENT send is cut into datagrams by the sending
 * namespace's kernel, on the sending core, and each one crosses the veth
 * and is counted by the peer's rx_packets. With the offload on, a veth
 * passes the batch on as one packet. On the relay's outputs this keeps MCR's
 * batches honest (the relay core pays for the cutting; forwarding by the
 * kernel and by socat never makes such packets, so nothing changes for
 * them); on the source it makes the generator's batches arrive at the relay
 * as the single datagrams every method expects.
 */
async function segmentInSoftware(rl: RelayLab, ns: string, ifname: string): Promise<void> {
  await rl.lab.exec(ns, 'ethtool', ['-K', ifname, 'tx-udp-segmentation', 'off'], { timeoutMs: 5000 });
  const r = await rl.lab.exec(ns, 'ethtool', ['-k', ifname], { timeoutMs: 5000 });
  if (!/^tx-udp-segmentation: off/m.test(r.stdout)) {
    throw new BenchError('ERR_BENCH_ENV', `could not turn tx-udp-segmentation off on ${ifname}: ${r.stdout.match(/^tx-udp-segmentation:.*$/m)?.[0] ?? 'no such feature'}`);
  }
}

/** Counters of the lab and host, taken right before and after a trial. */
export async function snapshot(bl: BenchLab, fanout: number): Promise<LabSnapshot> {
  const { rl } = bl;
  const [sinkRx, snmpText] = await Promise.all([
    readSinkRx(bl, fanout),
    rl.lab.exec(rl.relay.ns, 'cat', ['/proc/net/snmp'], { timeoutMs: 5000 }).then((r) => r.stdout),
  ]);
  const tasks = readTasks();
  return { sinkRx, snmp: parseSnmp(snmpText), cpu: readCpuTimes(), tasks, softnet: readSoftnet(), atNs: process.hrtime.bigint() };
}

/** rx_packets of dn0..dn{fanout-1}, each read inside its sink namespace. */
export function readSinkRx(bl: BenchLab, fanout: number): Promise<number[]> {
  const { rl } = bl;
  return Promise.all(
    rl.sinks.slice(0, fanout).map(async (s) => {
      const r = await rl.lab.exec(s.ns, 'cat', [`/sys/class/net/${s.ifname}/statistics/rx_packets`], { timeoutMs: 5000 });
      return Number(r.stdout.trim());
    }),
  );
}

/** /proc/net/snmp comes in pairs of lines: "Ip: Forwarding DefaultTTL ..." then "Ip: 1 64 ...". */
export function parseSnmp(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = text.trim().split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = (lines[i] ?? '').split(/\s+/);
    const values = (lines[i + 1] ?? '').split(/\s+/);
    const proto = (names[0] ?? '').replace(/:$/, '');
    for (let j = 1; j < names.length; j++) out[`${proto}.${names[j]}`] = Number(values[j]);
  }
  return out;
}

/** Reads a sysctl of the relay namespace (through procfs, which is per namespace for net.*). */
export async function relaySysctl(bl: BenchLab, key: string): Promise<string> {
  const r = await bl.rl.lab.exec(bl.rl.relay.ns, 'cat', [`/proc/sys/${key.replace(/\./g, '/')}`], { timeoutMs: 5000 });
  return r.stdout.trim();
}
