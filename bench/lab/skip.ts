/**
 * Decides whether this machine can run lab tests, and skips them with a
 * reason when it cannot.
 *
 * Creating namespaces and links needs CAP_SYS_ADMIN and CAP_NET_ADMIN, which
 * in practice means root; some containers run as uid 0 without them, so the
 * effective capability set is read too. `ip netns` must exist (iproute2).
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const LAB_SKIP_REASON = 'needs root and `ip netns` (CAP_SYS_ADMIN, CAP_NET_ADMIN)';

// include/uapi/linux/capability.h
const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

let cached: string | undefined | null = null;

/** Why lab tests cannot run here, or undefined when they can. */
export function labUnavailableReason(): string | undefined {
  if (cached !== null) return cached;
  cached = probe();
  return cached;
}

function probe(): string | undefined {
  if (process.getuid?.() !== 0) return `${LAB_SKIP_REASON}: not running as root`;
  const caps = effectiveCaps();
  if (caps !== undefined && ((caps >> CAP_NET_ADMIN) & 1n) === 0n) return `${LAB_SKIP_REASON}: no CAP_NET_ADMIN`;
  if (caps !== undefined && ((caps >> CAP_SYS_ADMIN) & 1n) === 0n) return `${LAB_SKIP_REASON}: no CAP_SYS_ADMIN`;
  const r = spawnSync('ip', ['netns', 'list'], { timeout: 5000, stdio: 'ignore' });
  if (r.error !== undefined || r.status !== 0) return `${LAB_SKIP_REASON}: \`ip netns list\` failed`;
  return undefined;
}

function effectiveCaps(): bigint | undefined {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] === undefined ? undefined : BigInt(`0x${m[1]}`);
  } catch {
    return undefined;
  }
}

/** The part of a tap Test that skipping needs (tap's Test satisfies it). */
export interface SkippableTest {
  plan(n: number, comment?: string): void;
}

/**
 * Returns true, after marking `t` skipped with the reason, when lab tests
 * cannot run here. Call first thing: `if (skipUnlessRoot(t)) return;`
 */
export function skipUnlessRoot(t: SkippableTest): boolean {
  const reason = labUnavailableReason();
  if (reason === undefined) return false;
  // tap reports a test planned for 0 assertions as skipped, with the comment.
  t.plan(0, reason);
  return true;
}
