/**
 * The soak's network and rules. The standard relay lab (bench/lab) with
 * three outputs plus a second input link (src up1 ↔ relay in1), and five
 * base rules: three of fan-out 1 on in0 and two of fan-out 2 on in1, one
 * output unicast. All rules of one input interface have the same fan-out
 * on purpose: the workers' loop counters (the only MCR counters that no
 * resync resets, see accounting.ts) are per worker, not per rule, and a
 * kernel ring drop of one datagram then costs a known number of output
 * datagrams. Every output interface carries rules of both inputs, so an
 * output fault touches some pairs and leaves others on the same worker
 * that must lose nothing.
 */
import { createRelayLab, type RelayLab } from '../lab/index.js';

export interface SoakOutput {
  group: string;
  port: number;
  interface: string;
  ttl?: number;
}

export interface SoakRule {
  name: string;
  inputInterface: string;
  inputGroup: string;
  inputPort: number;
  outputs: SoakOutput[];
}

/** One output of one rule: the unit of accounting (a sink receives exactly it). */
export interface Pair {
  id: string;
  rule: string;
  output: number;
  inputInterface: string;
  outputInterface: string;
  group: string;
  port: number;
}

export const INPUTS = ['in0', 'in1'] as const;
export const OUTPUT_IFS = ['out0', 'out1', 'out2'] as const;
/** Where each input link starts in the src namespace. */
export const SOURCE_IF: Record<string, string> = { in0: 'up0', in1: 'up1' };
/** relay outN ↔ sinkN dnN, 10.99.(N+1).0/24 (bench/lab/relay-lab.ts). */
export const OUTPUT_ADDR: Record<string, string> = { out0: '10.99.1.1/24', out1: '10.99.2.1/24', out2: '10.99.3.1/24' };

export const BASE_RULES: readonly SoakRule[] = [
  { name: 'a', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5001, outputs: [{ group: '239.2.0.1', port: 6001, interface: 'out0' }] },
  { name: 'b', inputInterface: 'in0', inputGroup: '239.1.1.2', inputPort: 5002, outputs: [{ group: '239.2.1.2', port: 6002, interface: 'out1' }] },
  // Unicast to sink2's own address.
  { name: 'c', inputInterface: 'in0', inputGroup: '239.1.1.3', inputPort: 5003, outputs: [{ group: '10.99.3.2', port: 6003, interface: 'out2' }] },
  { name: 'd', inputInterface: 'in1', inputGroup: '239.1.2.4', inputPort: 5004,
    outputs: [{ group: '239.2.0.4', port: 6004, interface: 'out0' }, { group: '239.2.1.4', port: 6104, interface: 'out1' }] },
  { name: 'e', inputInterface: 'in1', inputGroup: '239.1.2.5', inputPort: 5005,
    outputs: [{ group: '239.2.2.5', port: 6005, interface: 'out2', ttl: 8 }, { group: '239.2.1.5', port: 6105, interface: 'out1' }] },
];

/** The rule the config reload adds and removes (no traffic: its coming and going must disturb nobody). */
export const RELOAD_RULE: SoakRule = {
  name: 'z', inputInterface: 'in0', inputGroup: '239.1.1.9', inputPort: 5009, outputs: [{ group: '239.2.0.9', port: 6009, interface: 'out0' }],
};

export function pairsOf(rule: SoakRule): Pair[] {
  return rule.outputs.map((o, i) => ({
    id: `${rule.name}#${i}`, rule: rule.name, output: i, inputInterface: rule.inputInterface,
    outputInterface: o.interface, group: o.group, port: o.port,
  }));
}

/** Fan-out of the rules of each input interface (the same for all of them, see the header). */
export function fanoutOf(rules: readonly SoakRule[], iface: string): number {
  const fanouts = new Set(rules.filter((r) => r.inputInterface === iface).map((r) => r.outputs.length));
  if (fanouts.size !== 1) throw new RangeError(`rules of ${iface} have fan-outs ${[...fanouts].join(', ')}: the soak needs one per input`);
  return [...fanouts][0] as number;
}

/** The config file mcrd starts with and reloads: the base rules, optionally with `z` and rule e's first TTL changed. */
export function configText(o: { withReloadRule: boolean; eTtl: number }): string {
  const rules = BASE_RULES.map((r) => (r.name === 'e' ? { ...r, outputs: r.outputs.map((out, i) => (i === 0 ? { ...out, ttl: o.eTtl } : out)) } : r));
  if (o.withReloadRule) rules.push(RELOAD_RULE);
  return `// Written by the soak (bench/soak); rewritten by its config-reload fault.\n${JSON.stringify({ rules }, null, 2)}\n`;
}

/** The relay lab with 3 outputs and the second input link in1 (10.98.0.0/24). */
export async function createSoakLab(): Promise<RelayLab> {
  const rl = await createRelayLab({ tag: 'soak', outputs: OUTPUT_IFS.length });
  try {
    await rl.lab.addVeth(rl.src.ns, 'up1', rl.relay.ns, 'in1');
    await rl.lab.addAddress(rl.src.ns, 'up1', '10.98.0.1/24');
    await rl.lab.addAddress(rl.relay.ns, 'in1', '10.98.0.2/24');
    await rl.lab.setUp(rl.src.ns, 'up1');
    await rl.lab.setUp(rl.relay.ns, 'in1');
  } catch (err) {
    await rl.lab.destroy();
    throw err;
  }
  return rl;
}
