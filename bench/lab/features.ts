/**
 * Probes for kernel features some lab topologies need, so tests that need
 * them skip with a reason naming the feature instead of failing.
 *
 * A probe builds the feature in a throwaway lab rather than reading
 * /proc/config.gz (often absent) or module lists (built-in features have
 * none): the kernel's own answer is the only reliable one. Results are
 * cached for the process. Multicast routing is the exception: the kernel
 * creates /proc/net/ip_mr_vif (net/ipv4/ipmr.c) in every namespace exactly
 * when it is built with CONFIG_IP_MROUTE, so its presence is the answer
 * (and /proc/net/ip6_mr_vif for CONFIG_IPV6_MROUTE, net/ipv6/ip6mr.c).
 */

import { existsSync } from 'node:fs';
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

export const MROUTE_SKIP_REASON = 'kernel multicast forwarding is not available on this kernel (CONFIG_IP_MROUTE)';

/**
 * Why the kernel cannot forward multicast here (no CONFIG_IP_MROUTE), or
 * undefined when it can. `procFile` is for tests.
 */
export function multicastRoutingUnavailableReason(procFile = '/proc/net/ip_mr_vif'): string | undefined {
  return existsSync(procFile) ? undefined : MROUTE_SKIP_REASON;
}

export const MROUTE6_SKIP_REASON = 'kernel IPv6 multicast forwarding is not available on this kernel (CONFIG_IPV6_MROUTE)';

/**
 * The IPv6 twin of multicastRoutingUnavailableReason: net/ipv6/ip6mr.c
 * creates /proc/net/ip6_mr_vif in every namespace exactly when the kernel
 * is built with CONFIG_IPV6_MROUTE. `procFile` is for tests.
 */
export function multicastRouting6UnavailableReason(procFile = '/proc/net/ip6_mr_vif'): string | undefined {
  return existsSync(procFile) ? undefined : MROUTE6_SKIP_REASON;
}

/** The nftables pieces the bench's nft anchor needs, each probed on its own so the reason names the missing one. */
const NFT_PROBES: ReadonlyArray<{ config: string; what: string; rule: string }> = [
  { config: 'CONFIG_NF_TABLES_NETDEV, CONFIG_NETFILTER_INGRESS', what: 'an nftables netdev ingress chain', rule: '' },
  { config: 'CONFIG_NFT_FWD_NETDEV', what: 'nftables `fwd to` (nft_fwd_netdev)', rule: 'udp dport 9 ip daddr set 239.9.9.9 fwd to "pv1"' },
  { config: 'CONFIG_NFT_DUP_NETDEV', what: 'nftables `dup to` (nft_dup_netdev)', rule: 'udp dport 9 ether saddr set 02:00:00:00:00:01 dup to "pv1"' },
];

let nftReason: Promise<string | undefined> | undefined;

/**
 * Why the nftables anchor cannot run here (no `nft` command, or a kernel
 * without netdev ingress chains, `fwd` or `dup`), or undefined when it can.
 * Loads each piece into a throwaway namespace; the kernel refuses an
 * expression it lacks when the rule is added, so a refusal names the option.
 */
export function nftNetdevUnavailableReason(): Promise<string | undefined> {
  nftReason ??= probeNft();
  return nftReason;
}

async function probeNft(): Promise<string | undefined> {
  const base = labUnavailableReason();
  if (base !== undefined) return base;
  return withLab('probe', async (lab) => {
    const ns = await lab.addNamespace('nft');
    const found = await lab.exec(ns, 'sh', ['-c', 'command -v nft'], { reject: false, timeoutMs: 5000 });
    if (found.exitCode !== 0) return 'the nft command is missing (Debian package nftables)';
    await lab.addVeth(ns, 'pv0', ns, 'pv1');
    for (const p of NFT_PROBES) {
      const chain = 'type filter hook ingress device "pv0" priority 0; policy accept;';
      const ruleset = `table netdev mcr_probe {\n chain c {\n  ${chain}\n  ${p.rule}\n }\n}\n`;
      const r = await lab.exec(ns, 'nft', ['-f', '-'], { input: ruleset, reject: false, timeoutMs: 10_000 });
      await lab.exec(ns, 'nft', ['delete', 'table', 'netdev', 'mcr_probe'], { reject: false, timeoutMs: 10_000 });
      if (r.exitCode !== 0) {
        const said = r.stderr.split('\n').find((l) => l.startsWith('Error')) ?? r.stderr.trim().split('\n')[0] ?? '';
        return `${p.what} is not available on this kernel (${p.config}): nft said: ${said}`;
      }
    }
    return undefined;
  });
}
