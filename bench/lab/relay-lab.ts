/**
 * The standard relay topology used by integration tests and benchmarks.
 *
 *   src  up0[.V] 10.99.0.1/24 ── in0[.V] 10.99.0.2/24  relay
 *   relay  outN 10.99.(N+1).1/24 ── dnN 10.99.(N+1).2/24  sinkN   (N = 0..outputs-1)
 *
 * With `vlan` set, the src↔relay link carries 802.1Q: the addresses sit on
 * the sub-interfaces `up0.V` / `in0.V` and the parents keep none. Every
 * namespace has lo up, IPv6 off (no router solicitations or MLD reports to
 * show up as noise in captures or counters) and rp_filter off (the relay
 * receives traffic from sources it has no route back to). Multicast
 * (224.0.0.0/4) is routed out of the link toward the next hop in src and
 * relay, and out of dnN in each sink so sinks can join groups there.
 */

import { LabError } from './errors.js';
import type { LabBatch } from './batch.js';
import { Lab } from './lab.js';

export interface RelayLabOptions {
  /** Number of relay outputs, each with its own sink namespace (default 1). */
  outputs?: number;
  /** MTU of every veth (default: the kernel's, 1500). */
  mtu?: number;
  /** 802.1Q id on the src↔relay link (default: untagged). */
  vlan?: number;
  /** Tag used in namespace names (default 'relay'). */
  tag?: string;
}

/** One interface and its IPv4 address (without prefix length; all are /24). */
export interface LabInterface {
  ifname: string;
  addr: string;
}

export interface LabHost extends LabInterface {
  ns: string;
}

export interface RelayLab {
  lab: Lab;
  /** The sender: `ifname` is the interface facing the relay (up0 or up0.V). */
  src: LabHost;
  relay: {
    ns: string;
    /** in0, or in0.V with `vlan`. */
    input: LabInterface;
    /** outN, index N. */
    outputs: LabInterface[];
  };
  /** sinkN, facing relay outN through dnN. */
  sinks: LabHost[];
  /** 802.1Q id of the input link, if any. */
  vlan: number | undefined;
}

const MAX_OUTPUTS = 200;
const MCAST = '224.0.0.0/4';

export async function createRelayLab(opts: RelayLabOptions = {}): Promise<RelayLab> {
  const outputs = opts.outputs ?? 1;
  if (!Number.isInteger(outputs) || outputs < 1 || outputs > MAX_OUTPUTS) {
    throw new LabError('ERR_LAB_ARG', `outputs ${outputs} must be an integer in 1..${MAX_OUTPUTS}`);
  }
  const lab = await Lab.create(opts.tag ?? 'relay');
  try {
    return await build(lab, outputs, opts);
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

async function build(lab: Lab, outputs: number, opts: RelayLabOptions): Promise<RelayLab> {
  const vlan = opts.vlan;
  const linkOpts = opts.mtu === undefined ? {} : { mtu: opts.mtu };
  const srcNs = await lab.addNamespace('src');
  const relayNs = await lab.addNamespace('relay');
  const sinkNs: string[] = [];
  for (let n = 0; n < outputs; n++) sinkNs.push(await lab.addNamespace(`sink${n}`));

  // The rest in one shell (Lab.batch: one process started, not ~35), in
  // order; the VLAN variant runs its VLAN steps on their own in between.
  let steps = lab.batch();
  // Before any interface exists, so new interfaces inherit 'default'.
  for (const ns of [srcNs, relayNs, ...sinkNs]) quiet(steps, ns);

  // src ↔ relay input, optionally through a VLAN on both ends.
  steps.addVeth(srcNs, 'up0', relayNs, 'in0', linkOpts);
  let srcIf = 'up0';
  let inIf = 'in0';
  if (vlan !== undefined) {
    await steps.run();
    srcIf = `up0.${vlan}`;
    inIf = `in0.${vlan}`;
    // One by one: addVlan tells a kernel without 802.1Q (ERR_LAB_UNSUPPORTED) from other failures.
    await lab.addVlan(srcNs, 'up0', vlan, srcIf);
    await lab.addVlan(relayNs, 'in0', vlan, inIf);
    steps = lab.batch();
    steps.sysctl(srcNs, { 'net/ipv4/conf/up0/rp_filter': 0 });
    steps.sysctl(relayNs, { 'net/ipv4/conf/in0/rp_filter': 0 });
    steps.setUp(srcNs, 'up0');
    steps.setUp(relayNs, 'in0');
  }
  const src: LabHost = { ns: srcNs, ifname: srcIf, addr: '10.99.0.1' };
  const input: LabInterface = { ifname: inIf, addr: '10.99.0.2' };
  configure(steps, srcNs, srcIf, `${src.addr}/24`);
  configure(steps, relayNs, inIf, `${input.addr}/24`);
  steps.addRoute(srcNs, MCAST, 'dev', srcIf);

  // relay outN ↔ sinkN dnN.
  const relayOutputs: LabInterface[] = [];
  const sinks: LabHost[] = [];
  for (let n = 0; n < outputs; n++) {
    const out: LabInterface = { ifname: `out${n}`, addr: `10.99.${n + 1}.1` };
    const sink: LabHost = { ns: sinkNs[n] ?? '', ifname: `dn${n}`, addr: `10.99.${n + 1}.2` };
    relayOutputs.push(out);
    sinks.push(sink);
    steps.addVeth(relayNs, out.ifname, sink.ns, sink.ifname, linkOpts);
    configure(steps, relayNs, out.ifname, `${out.addr}/24`);
    configure(steps, sink.ns, sink.ifname, `${sink.addr}/24`);
    steps.addRoute(sink.ns, MCAST, 'dev', sink.ifname);
  }
  steps.addRoute(relayNs, MCAST, 'dev', 'out0');
  await steps.run();

  return { lab, src, relay: { ns: relayNs, input, outputs: relayOutputs }, sinks, vlan };
}

/** IPv6 off and rp_filter off namespace-wide (all + default). */
function quiet(steps: LabBatch, ns: string): void {
  // Optional: a kernel booted with ipv6.disable=1 has no net/ipv6 at all.
  steps.sysctl(ns, { 'net/ipv6/conf/all/disable_ipv6': 1, 'net/ipv6/conf/default/disable_ipv6': 1 }, { optional: true });
  // The effective value is max(all, interface) (Documentation/networking/ip-sysctl.rst).
  steps.sysctl(ns, { 'net/ipv4/conf/all/rp_filter': 0, 'net/ipv4/conf/default/rp_filter': 0 });
}

/** rp_filter off, address, up. */
function configure(steps: LabBatch, ns: string, ifname: string, cidr: string): void {
  // '/' separators, because VLAN interface names contain a dot.
  steps.sysctl(ns, { [`net/ipv4/conf/${ifname}/rp_filter`]: 0 });
  steps.addAddress(ns, ifname, cidr);
  steps.setUp(ns, ifname);
}
