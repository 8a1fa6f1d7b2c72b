/**
 * What the demo sends and where it listens, derived from the config so the
 * two cannot drift apart: one mcrgen stream per rule (to its input group and
 * port, from its source address if the rule names one), and one mcrsink per
 * output, in the sink namespace behind the relay interface the output
 * leaves from. Multicast outputs are joined on the sink's interface; unicast
 * ones are received on the port.
 */
import type { Config } from '../../supervisor/config/index.js';
import { DemoError } from './errors.js';

export interface StreamPlan {
  rule: string;
  /** mcrgen --stream: the sinks count loss and order per stream id. */
  stream: number;
  dest: string;
  port: number;
}

export interface SinkPlan {
  /** "cam-1 -> 239.10.1.1:5000:out0" */
  label: string;
  /** Index of the lab sink namespace. */
  sink: number;
  /** mcrsink arguments, without the time bounds. */
  args: string[];
}

export interface DemoPlan {
  streams: StreamPlan[];
  sinks: SinkPlan[];
}

/** The lab as the plan sees it: relay output N faces sink N. */
export interface LabShape {
  inputIfname: string;
  relayOutputs: ReadonlyArray<{ ifname: string }>;
  sinks: ReadonlyArray<{ ifname: string }>;
}

const isMulticast = (addr: string): boolean => {
  const first = Number(addr.split('.')[0]);
  return first >= 224 && first <= 239;
};

export function planDemo(config: Config, lab: LabShape, file: string): DemoPlan {
  if (config.rules.length === 0) throw new DemoError('ERR_MCR_DEMO_CONFIG', `${file} has no rules: give it at least one (docs/config.md)`);
  const streams: StreamPlan[] = [];
  const sinks: SinkPlan[] = [];
  config.rules.forEach((rule, i) => {
    const name = rule.name ?? `rule ${i + 1}`;
    if (rule.source !== undefined) {
      throw new DemoError('ERR_MCR_DEMO_CONFIG', `${file}: rule ${name} has a source; the demo's sender is 10.99.0.1 only: remove the source`);
    }
    if (rule.inputInterface !== lab.inputIfname) {
      throw new DemoError('ERR_MCR_DEMO_CONFIG', `${file}: rule ${name} listens on ${rule.inputInterface}; the lab's input is ${lab.inputIfname}: use that`);
    }
    streams.push({ rule: name, stream: i + 1, dest: rule.inputGroup, port: rule.inputPort });
    for (const out of rule.outputs) {
      const sink = lab.relayOutputs.findIndex((o) => o.ifname === out.interface);
      const sinkIf = lab.sinks[sink]?.ifname;
      if (sink === -1 || sinkIf === undefined) {
        const have = lab.relayOutputs.map((o) => o.ifname).join(', ');
        throw new DemoError('ERR_MCR_DEMO_CONFIG', `${file}: rule ${name} sends out of ${out.interface}, which the lab does not have: use one of ${have}`);
      }
      const args = ['--port', String(out.port)];
      if (isMulticast(out.group)) args.push('--group', out.group, '--interface', sinkIf);
      sinks.push({ label: `${name} -> ${out.group}:${out.port}:${out.interface}`, sink, args });
    }
  });
  return { streams, sinks };
}
