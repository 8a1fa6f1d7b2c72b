/**
 * Names for everything a lab creates, and the checks on names it is given.
 *
 * Namespaces get `mcr-<pid>-<rand4>-<tag>-<role>`: the pid and a random
 * suffix keep concurrent test processes (and two labs in one process) apart,
 * and the `mcr-` prefix makes any leak easy to spot in `ip netns list`.
 * Interface names live inside the lab's own namespaces, so they can be short
 * fixed names (`up0`, `in0`, ...); they only have to fit IFNAMSIZ.
 */

import { randomBytes } from 'node:crypto';
import { LabError } from './errors.js';

/** IFNAMSIZ is 16 including the NUL (include/uapi/linux/if.h). */
export const IFNAME_MAX = 15;

const TAG_RE = /^[a-z0-9][a-z0-9_]{0,15}$/;
// dev_valid_name() (net/core/dev.c) rejects '/', ':' and whitespace, "." and "..".
const IFNAME_RE = /^[A-Za-z0-9_.-]+$/;

/** A fresh lab id: this process's pid plus 4 random hex digits. */
export function newLabId(): string {
  return `${process.pid}-${randomBytes(2).toString('hex')}`;
}

export function namespaceName(labId: string, tag: string, role: string): string {
  return `mcr-${labId}-${tag}-${role}`;
}

/** Tags and roles become part of namespace names: keep them short and plain. */
export function checkTag(what: 'tag' | 'role', value: string): void {
  if (!TAG_RE.test(value)) {
    throw new LabError('ERR_LAB_ARG', `lab ${what} ${JSON.stringify(value)} must match ${TAG_RE}`);
  }
}

export function checkIfname(name: string): void {
  if (name.length > IFNAME_MAX || !IFNAME_RE.test(name) || name === '.' || name === '..') {
    throw new LabError(
      'ERR_LAB_ARG',
      `interface name ${JSON.stringify(name)} must be 1..${IFNAME_MAX} characters of [A-Za-z0-9_.-]`,
    );
  }
  // Lab interfaces never share a name with the host's usual uplinks, so a
  // command that lands in the wrong namespace by mistake fails instead of
  // touching a real interface.
  if (/^eth\d*$/.test(name) || name === 'lo') {
    throw new LabError('ERR_LAB_ARG', `interface name ${JSON.stringify(name)} is reserved`);
  }
}

export function checkVlanId(vlanId: number): void {
  // 0 and 4095 are reserved by IEEE 802.1Q.
  if (!Number.isInteger(vlanId) || vlanId < 1 || vlanId > 4094) {
    throw new LabError('ERR_LAB_ARG', `VLAN id ${vlanId} must be an integer in 1..4094`);
  }
}
