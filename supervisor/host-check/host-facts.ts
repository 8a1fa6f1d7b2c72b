/**
 * What the host check reads, behind one interface (HostFacts) so the checks
 * (checks-*.ts) are pure and unit-tested with made-up hosts. The production
 * reader (readHostFacts) uses procfs and sysfs, `ethtool` for ring sizes and
 * offloads (absent or unsupported: undefined, said as such), the addon
 * for capabilities and the io_uring, scheduler-slice and SCHED_FIFO probes, and sysfs
 * for DAMON (damon.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { native } from '../../native/index.js';
import { processSoftLimit, realtimePriorityLimit } from '../../common/process-limits.js';
import { readDamonState, type DamonState } from './damon.js';

export interface RingSizes {
  rxMax: number;
  rx: number;
}

/** ethtool's answer: the value, 'unsupported' (the driver has none: veth, many virtual NICs), or 'no-ethtool'. */
export type EthtoolAnswer<T> = T | 'unsupported' | 'no-ethtool';

export interface HostFacts {
  /** A sysctl's value through /proc/sys ("net.core.rmem_max"), or undefined when the kernel has none. */
  sysctl(key: string): string | undefined;
  /** Interface flags (IFF_*), or undefined when it does not exist. */
  interfaceFlags(name: string): number | undefined;
  ringSizes(name: string): EthtoolAnswer<RingSizes>;
  /** ethtool -k features ("rx-udp-gro-forwarding" -> true). */
  offloads(name: string): EthtoolAnswer<Map<string, boolean>>;
  /** CPUs RPS steers the interface's receive queues to (union over queues; empty when off). */
  rpsCpus(name: string): number[];
  /** The interface's IRQs (from /proc/interrupts) and the CPUs each may run on. */
  irqs(name: string): Array<{ irq: number; cpus: number[] }>;
  /** The devices it is stacked on (a VLAN's or macvlan's parent, a bond's members): /sys/class/net/NAME/lower_*. */
  lowerDevices(name: string): string[];
  /** This process's effective capability mask. */
  capabilities(): bigint;
  /** RLIMIT_MEMLOCK soft limit in bytes (Infinity: unlimited). */
  memlockLimit(): number;
  /** RLIMIT_RTPRIO soft limit (0..99): the SCHED_FIFO priority this process, and the workers it starts, may take without CAP_SYS_NICE. */
  rtprioLimit(): number;
  /** Creating a ring like a worker loop's (same sizes and flags): what the kernel lacks, or the errno it refused with. */
  ioUring(): { ok: true; missingOps: string[]; deferTaskrun: boolean; noIowait: boolean } | { ok: false; code: string; message: string };
  /** Giving a thread a scheduler slice of `us` (as a worker's loop thread gets): ok, or the errno the kernel refused with. */
  threadSlice(us: number): { ok: true } | { ok: false; code: string; message: string };
  /** Putting a thread under SCHED_FIFO at `priority` (as a worker's loop thread is): ok, or the errno the kernel refused with. */
  threadFifo(priority: number): { ok: true } | { ok: false; code: string; message: string };
  /** Whether the kernel's DAMON memory monitoring runs (damon.ts). */
  damon(): DamonState;
}

/**
 * A worker loop's ring with the default settings (native loop_options.h:
 * ring depth 1024; relay_loop.cc sizes the CQ for 8192 sends in flight plus
 * the ring, rounded up to a power of two).
 */
export const LOOP_SQ_ENTRIES = 1024;
export const LOOP_CQ_ENTRIES = 16384;

export const IFF_UP = 0x1;
export const IFF_MULTICAST = 0x1000;

/** "0-3,8,10-11" -> [0,1,2,3,8,10,11] */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi && c - lo < 4096; c++) out.push(c);
  }
  return out;
}

/** A hex CPU mask as sysfs writes it ("00000000,00000003") -> [0, 1]. */
export function parseCpuMask(text: string): number[] {
  const hex = text.trim().replace(/,/g, '');
  const out: number[] = [];
  let bit = 0;
  for (let i = hex.length - 1; i >= 0; i--, bit += 4) {
    const nibble = parseInt(hex[i] ?? '0', 16);
    for (let b = 0; b < 4; b++) if ((nibble >> b) & 1) out.push(bit + b);
  }
  return out;
}

/** `ethtool -g` output -> sizes (RX only: what MCR's input depends on). */
export function parseRingSizes(text: string): RingSizes | undefined {
  const max = /Pre-set maximums:[\s\S]*?^RX:\s+(\d+)/m.exec(text);
  const cur = /Current hardware settings:[\s\S]*?^RX:\s+(\d+)/m.exec(text);
  if (max === null || cur === null) return undefined;
  return { rxMax: Number(max[1]), rx: Number(cur[1]) };
}

/** `ethtool -k` output -> feature states ("[fixed]" kept as the state it is in). */
export function parseOffloads(text: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const m of text.matchAll(/^\s*([a-z0-9-]+):\s+(on|off)\b/gm)) out.set(m[1] ?? '', m[2] === 'on');
  return out;
}

function ethtool(args: string[]): EthtoolAnswer<string> {
  try {
    return execFileSync('ethtool', args, { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string };
    return e.code === 'ENOENT' ? 'no-ethtool' : 'unsupported';
  }
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** An addon probe's answer: ok with what it returned, or the error's code (`fallbackCode` when it has none) and message. */
type ProbeAnswer<T extends object> = ({ ok: true } & T) | { ok: false; code: string; message: string };

function probe<T extends object>(run: () => T, fallbackCode: string): ProbeAnswer<T> {
  try {
    return { ok: true, ...run() };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ok: false, code: e.code ?? fallbackCode, message: e.message };
  }
}

/**
 * The host's facts. `root` is prepended to every procfs and sysfs path (a
 * test's made-up tree); ethtool, the addon's probes and DAMON always read
 * the host itself.
 */
export function readHostFacts(root = ''): HostFacts {
  return {
    sysctl: (key) => readText(`${root}/proc/sys/${key.replace(/\./g, '/')}`)?.trim(),
    interfaceFlags: (name) => {
      const text = readText(`${root}/sys/class/net/${name}/flags`);
      return text === undefined ? undefined : Number.parseInt(text.trim(), 16);
    },
    ringSizes: (name) => {
      const out = ethtool(['-g', name]);
      if (out === 'no-ethtool' || out === 'unsupported') return out;
      return parseRingSizes(out) ?? 'unsupported';
    },
    offloads: (name) => {
      const out = ethtool(['-k', name]);
      return out === 'no-ethtool' || out === 'unsupported' ? out : parseOffloads(out);
    },
    rpsCpus: (name) => {
      const dir = `${root}/sys/class/net/${name}/queues`;
      if (!existsSync(dir)) return [];
      const cpus = new Set<number>();
      for (const q of readdirSync(dir).filter((d) => d.startsWith('rx-'))) {
        for (const c of parseCpuMask(readText(`${dir}/${q}/rps_cpus`) ?? '0')) cpus.add(c);
      }
      return [...cpus].sort((a, b) => a - b);
    },
    irqs: (name) => {
      const vectors: Array<{ irq: number; name: string }> = [];
      for (const line of (readText(`${root}/proc/interrupts`) ?? '').split('\n')) {
        const m = /^\s*(\d+):/.exec(line);
        if (m !== null) vectors.push({ irq: Number(m[1]), name: line.slice(line.lastIndexOf(' ') + 1).trim() });
      }
      let own = vectors.filter((v) => vectorOfInterface(v.name, name));
      if (own.length === 0) {
        // Named after the device, not the interface: the device's MSI
        // vectors, from its PCI function (sysfs msi_irqs: under the device
        // itself; for a virtio device, under the virtio-pci function above
        // it, read only then: above a PCI NIC is a bridge, not its own).
        const mine = listDir(`${root}/sys/class/net/${name}/device/msi_irqs`);
        const msi = new Set((mine.length > 0 ? mine : listDir(`${root}/sys/class/net/${name}/device/../msi_irqs`)).map(Number));
        own = vectors.filter((v) => msi.has(v.irq) && isReceiveVector(v.name));
      }
      return own.map(({ irq }) => {
        // Where the IRQ is delivered, not where it may be: on x86 an IRQ
        // whose mask allows every core is delivered to one of them
        // (effective_affinity_list, Linux 4.13); older kernels lack it.
        const effective = readText(`${root}/proc/irq/${irq}/effective_affinity_list`);
        return { irq, cpus: parseCpuList(effective ?? readText(`${root}/proc/irq/${irq}/smp_affinity_list`) ?? '') };
      });
    },
    lowerDevices: (name) => {
      try {
        return readdirSync(`${root}/sys/class/net/${name}`).filter((e) => e.startsWith('lower_')).map((e) => e.slice('lower_'.length)).sort();
      } catch {
        return [];
      }
    },
    capabilities: () => native.effectiveCapabilities(),
    memlockLimit: () => processSoftLimit('Max locked memory') ?? Infinity,
    rtprioLimit: () => realtimePriorityLimit(),
    ioUring: () => probe(() => native.probeIoUring(LOOP_SQ_ENTRIES, LOOP_CQ_ENTRIES), 'ERR_MCR_IO_URING'),
    threadSlice: (us) => probe(() => (native.probeThreadSlice(us), {}), 'ERR_MCR_SLICE'),
    threadFifo: (priority) => probe(() => (native.probeThreadFifo(priority), {}), 'ERR_MCR_REALTIME'),
    damon: () => readDamonState(),
  };
}

/**
 * Whether a vector of the interface's device, named after the device,
 * takes receive completions: virtio-net's "virtio2-input.0", mlx5's
 * "mlx5_comp3@pci:..." (a channel's completions, receive among them),
 * gve's "gve-ntfy-blk0@pci:...", "...-rx-N" and "...-TxRx-N". Transmit-only
 * ("virtio2-output.0", "...-tx-0"), configuration, control, admin and
 * asynchronous-event vectors do not: they say nothing of where frames are
 * received, and counting them would misplace the receive processing.
 */
export function isReceiveVector(vector: string): boolean {
  if (/output|config|ctrl|control|async|admin|mgmnt|mbox|event|inflate|deflate|stats/i.test(vector)) return false;
  return /input|rx|comp|ntfy/i.test(vector);
}

/**
 * Whether an IRQ vector's name (the last column of /proc/interrupts) is
 * one of the interface's. A NIC names its vectors after the interface
 * ("eth0-TxRx-0", "eth0-rx-1"), some drivers after a prefix
 * ("i40e-eth0-TxRx-0", as ice and iavf do). Drivers that name them after
 * the device ("mlx5_comp0@pci:...", "virtio2-input.0") are found through
 * the device's MSI vectors instead (readHostFacts, isReceiveVector).
 */
export function vectorOfInterface(vector: string, ifname: string): boolean {
  return new RegExp(`(^|[\\s-])${ifname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(-|$|\\s)`).test(vector);
}
