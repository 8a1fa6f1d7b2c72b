/**
 * Probes for kernel features some lab topologies need, so tests that need
 * them skip with a reason naming the feature instead of failing.
 *
 * A probe builds the feature in a throwaway lab rather than reading
 * /proc/config.gz (often absent) or module lists (built-in features have
 * none): the kernel's own answer is the only reliable one. Results are
 * cached for the process.
 */

import { LabError } from './errors.js';
import { withLab } from './lab.js';
import { labUnavailableReason, type SkippableTest } from './skip.js';

export const VLAN_SKIP_REASON = 'needs 802.1Q VLAN support in the kernel (CONFIG_VLAN_8021Q)';

let vlanReason: Promise<string | undefined> | undefined;

/** Why VLAN labs cannot be built here, or undefined when they can. */
export function vlanUnavailableReason(): Promise<string | undefined> {
  vlanReason ??= probeVlan();
  return vlanReason;
}

async function probeVlan(): Promise<string | undefined> {
  const base = labUnavailableReason();
  if (base !== undefined) return base;
  try {
    await withLab('probe', async (lab) => {
      const ns = await lab.addNamespace('vlan');
      await lab.addVeth(ns, 'pv0', ns, 'pv1');
      await lab.addVlan(ns, 'pv0', 2, 'pv0.2');
    });
    return undefined;
  } catch (err) {
    if (err instanceof LabError && err.code === 'ERR_LAB_UNSUPPORTED') return VLAN_SKIP_REASON;
    // Anything else is a real failure the caller should see, not a skip.
    throw err;
  }
}

/** Like skipUnlessRoot, for tests that also need VLANs. */
export async function skipUnlessVlan(t: SkippableTest): Promise<boolean> {
  const reason = await vlanUnavailableReason();
  if (reason === undefined) return false;
  t.plan(0, reason);
  return true;
}
