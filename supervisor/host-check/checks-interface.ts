/**
 * Per-interface checks for the interfaces a config names: every input and
 * output must exist, be up and have MULTICAST (without it the kernel neither
 * programs the NIC's multicast filter for mcrd's joins nor sends multicast
 * out of it); an input's receive ring should be at its maximum (a small
 * ring drops bursts before MCR sees them), must not merge UDP datagrams
 * before MCR's packet socket sees them (LRO, UDP GRO forwarding, GRO
 * lists), and its receive processing (IRQs, RPS) should not pile onto one
 * of several worker cores.
 */
import { fail, info, pass, type Finding } from './finding.js';
import { IFF_MULTICAST, IFF_UP, type HostFacts } from './host-facts.js';

/** Offloads that hand MCR merged frames instead of the datagrams on the wire. */
const MERGING_OFFLOADS = ['large-receive-offload', 'rx-udp-gro-forwarding', 'rx-gro-list'] as const;
const OFFLOAD_FLAG: Record<(typeof MERGING_OFFLOADS)[number], string> = {
  'large-receive-offload': 'lro', 'rx-udp-gro-forwarding': 'rx-udp-gro-forwarding', 'rx-gro-list': 'rx-gro-list',
};

export function checkPresence(facts: HostFacts, name: string, role: 'input' | 'output'): Finding[] {
  const subject = `${name} (${role})`;
  const flags = facts.interfaceFlags(name);
  if (flags === undefined) {
    return [info('exists', subject, role === 'input'
      ? 'does not exist now: mcrd waits for it (its rules start when it appears); nothing else could be checked'
      : 'does not exist now: the rules that send out of it run, and count each datagram for it as an ENODEV error until it appears; nothing else could be checked',
    `check the name with \`ip link\`; create it before traffic is expected`)];
  }
  const findings: Finding[] = [];
  if ((flags & IFF_UP) === 0) {
    findings.push(fail('up', subject, role === 'input'
      ? 'administratively down: its workers wait, and nothing arriving on it is relayed'
      : 'administratively down: every datagram for it fails (ENETDOWN or ENETUNREACH, counted on the output)', `ip link set ${name} up`));
  }
  if ((flags & IFF_MULTICAST) === 0) {
    findings.push(fail('multicast flag', subject, role === 'input' ? 'MULTICAST is off: the kernel does not program the NIC to accept the joined groups'
      : 'MULTICAST is off: multicast outputs cannot send out of it', `ip link set ${name} multicast on`));
  } else {
    findings.push(pass('multicast flag', subject, 'MULTICAST is on'));
  }
  return findings;
}

/** How a finding names an input, or a device an input is stacked on (`under`: the input's name). */
const inputSubject = (name: string, under?: string): string => (under === undefined ? `${name} (input)` : `${name} (under input ${under})`);

export function checkRing(facts: HostFacts, name: string, under?: string): Finding {
  const subject = inputSubject(name, under);
  const ring = facts.ringSizes(name);
  if (ring === 'no-ethtool') return info('ring size', subject, 'ethtool is not installed: the receive ring size is unknown', 'apt-get install ethtool');
  if (ring === 'unsupported') return info('ring size', subject, 'the driver reports no ring size (a virtual interface such as a veth has none): nothing to tune');
  if (ring.rx < ring.rxMax) {
    return fail('ring size', subject, `RX ring ${ring.rx} of at most ${ring.rxMax}: a burst larger than the ring is dropped by the NIC before MCR sees it`,
      `ethtool -G ${name} rx ${ring.rxMax}`);
  }
  return pass('ring size', subject, `RX ring at its maximum, ${ring.rx}`);
}

export function checkOffloads(facts: HostFacts, name: string, under?: string): Finding {
  const subject = inputSubject(name, under);
  const features = facts.offloads(name);
  if (features === 'no-ethtool') return info('receive offloads', subject, 'ethtool is not installed: GRO/LRO settings unknown', 'apt-get install ethtool');
  if (features === 'unsupported') return info('receive offloads', subject, 'the driver reports no offload settings');
  const merging = MERGING_OFFLOADS.filter((f) => features.get(f) === true);
  if (merging.length > 0) {
    return fail('receive offloads', subject, `${merging.join(', ')} on: the kernel merges UDP datagrams into larger frames before MCR's packet socket sees them`,
      `ethtool -K ${name} ${merging.map((f) => `${OFFLOAD_FLAG[f]} off`).join(' ')}`);
  }
  const gro = features.get('generic-receive-offload');
  return pass('receive offloads', subject, `no LRO, UDP GRO forwarding or GRO lists${gro === true ? ' (plain GRO is on: it does not merge UDP datagrams that are forwarded)' : ''}`);
}

/** "0x3" for CPUs [0, 1], as rps_cpus takes it. */
export function cpuMask(cpus: readonly number[]): string {
  let mask = 0n;
  for (const c of cpus) mask |= 1n << BigInt(c);
  return mask.toString(16);
}

/**
 * Where the input's receive processing runs, against the workers' cores.
 * Every worker's frames pass through that processing first: when it all
 * lands on one core while several workers share the input, that core
 * saturates first (docs/performance-history.md, "Profiles: what is in the
 * way at fan-out 1": the receive path was about 40 % of the relay core's
 * time).
 */
export function checkPlacement(facts: HostFacts, name: string, workerCores: readonly number[], under?: string): Finding {
  const subject = inputSubject(name, under);
  const rps = facts.rpsCpus(name);
  const irqs = facts.irqs(name);
  const irqCpus = [...new Set(irqs.flatMap((i) => i.cpus))].sort((a, b) => a - b);
  const cores = `workers on core${workerCores.length === 1 ? '' : 's'} ${workerCores.join(',')}`;
  const rpsFix = `echo ${cpuMask(workerCores)} > /sys/class/net/${name}/queues/rx-0/rps_cpus (each rx-N queue), or spread the NIC's IRQs over those cores (/proc/irq/N/smp_affinity_list)`;
  if (rps.length > 0) {
    if (workerCores.length > 1 && rps.length === 1) {
      return fail('receive placement', subject, `RPS steers all receive processing to core ${rps[0]} while ${cores} share the input`, rpsFix);
    }
    return pass('receive placement', subject, `RPS to core${rps.length === 1 ? '' : 's'} ${rps.join(',')}; ${cores}`);
  }
  if (irqs.length === 0) {
    return info('receive placement', subject, `no IRQ of its own and no RPS: receive processing runs on the core that delivers the frames (for a veth, the sender's); ${cores}`);
  }
  if (workerCores.length > 1 && irqCpus.length === 1) {
    return fail('receive placement', subject, `its IRQs (${irqs.map((i) => i.irq).join(', ')}) all run on core ${irqCpus[0]} and RPS is off while ${cores} share the input`, rpsFix);
  }
  if (workerCores.length > 1 && irqs.length === 1) {
    // One queue's IRQ runs on one core at a time, whatever its mask allows.
    return fail('receive placement', subject, `one receive IRQ (${irqs[0]?.irq}), delivered to one core at a time, and RPS is off while ${cores} share the input`, rpsFix);
  }
  return pass('receive placement', subject, `IRQs ${irqs.map((i) => i.irq).join(', ')} on cores ${irqCpus.join(',')}; ${cores}`);
}
