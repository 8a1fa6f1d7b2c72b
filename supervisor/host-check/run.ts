/**
 * `mcrd --check-host`: every check for the interfaces a config names (its
 * rules' inputs and outputs; the host-wide checks alone without a config),
 * as findings, and how they are printed: one line per finding with its
 * fix, or JSON. mcrd also runs it at start and logs each failure, and each
 * fallback marked warnAtStart, as a warning (mcrd.ts).
 */
import type { ConfigRule } from '../config/index.js';
import type { LoopSettings } from '../../common/loop-settings.js';
import { checkBuffers, checkDamon, checkIoUring, checkLoopRealtime, checkLoopSlice, checkMemlock, loopRealtime } from './checks-host.js';
import { checkOffloads, checkPlacement, checkPresence, checkRing } from './checks-interface.js';
import type { Finding } from './finding.js';
import type { HostFacts } from './host-facts.js';

export interface HostPlan {
  rules: readonly Pick<ConfigRule, 'inputInterface' | 'outputs'>[];
  workersPerInterface: number;
  /** The CPUs workers are pinned to, in order (worker i of an interface: cpus[i mod length]). */
  cpus: readonly number[];
  /** The loop settings the workers get (the slice check asks the kernel for theirs; "auto" priorities are resolved with the facts' RLIMIT_RTPRIO, which the workers inherit). */
  loop: Pick<LoopSettings, 'loopSliceUs' | 'loopRtPriority' | 'busyPollUs'>;
}

export function checkHost(facts: HostFacts, plan: HostPlan): Finding[] {
  const inputs = [...new Set(plan.rules.map((r) => r.inputInterface))];
  const outputs = [...new Set(plan.rules.flatMap((r) => r.outputs.map((o) => o.interface)))].filter((o) => !inputs.includes(o));
  const workerCores = [...new Set(Array.from({ length: plan.workersPerInterface }, (_, i) => plan.cpus[i % plan.cpus.length] ?? 0))];
  const rt = loopRealtime(facts, plan.loop);
  const findings = [...checkBuffers(facts), ...checkIoUring(facts), ...checkMemlock(facts, inputs.length * plan.workersPerInterface),
    checkLoopRealtime(rt, plan.loop), checkLoopSlice(facts, plan.loop, rt), checkDamon(facts, rt)];
  for (const name of inputs) {
    const presence = checkPresence(facts, name, 'input');
    findings.push(...presence);
    if (presence[0]?.check === 'exists') continue;
    findings.push(checkRing(facts, name), checkOffloads(facts, name), checkPlacement(facts, name, workerCores));
    // A VLAN, macvlan or bond input: the NIC's ring, offloads and IRQs are
    // its lower devices' (a VLAN on a bond: the bond's members).
    for (const lower of lowerDevicesOf(facts, name)) {
      findings.push(checkRing(facts, lower, name), checkOffloads(facts, lower, name), checkPlacement(facts, lower, workerCores, name));
    }
  }
  for (const name of outputs) findings.push(...checkPresence(facts, name, 'output'));
  return findings;
}

/** Every device under `name`, nearest first, each once (stacks are a few deep; bounded all the same). */
function lowerDevicesOf(facts: HostFacts, name: string): string[] {
  const found: string[] = [];
  const queue = facts.lowerDevices(name);
  while (queue.length > 0 && found.length < 32) {
    const next = queue.shift() as string;
    if (next === name || found.includes(next)) continue;
    found.push(next);
    queue.push(...facts.lowerDevices(next));
  }
  return found;
}

export const failures = (findings: readonly Finding[]): Finding[] => findings.filter((f) => f.verdict === 'fail');

/** What mcrd logs as warnings at start: the failures and the fallbacks marked warnAtStart. */
export const startWarnings = (findings: readonly Finding[]): Finding[] => findings.filter((f) => f.verdict === 'fail' || f.warnAtStart === true);

/** Text: one line per finding ("FAIL  net.core.wmem_max  host: ... fix: ..."), failures first, then a summary line. */
export function renderFindings(findings: readonly Finding[]): string {
  const order = { fail: 0, info: 1, pass: 2 } as const;
  const sorted = [...findings].sort((a, b) => order[a.verdict] - order[b.verdict]);
  const lines = sorted.map((f) => `${f.verdict.toUpperCase().padEnd(4)}  ${f.subject}: ${f.check}: ${f.detail}${f.fix !== undefined ? `; fix: ${f.fix}` : ''}`);
  const failed = failures(findings).length;
  lines.push(failed === 0 ? `all ${findings.length} checks pass` : `${failed} of ${findings.length} checks fail`);
  return lines.join('\n') + '\n';
}
