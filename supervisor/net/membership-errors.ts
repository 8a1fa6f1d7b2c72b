/**
 * A failed group join as GroupMemberships reports it: the errno code the
 * addon threw and one sentence of what to do about it (a sysctl to raise,
 * an interface to check), by code and address family, since the kernel's
 * limits differ between IGMP (IPv4) and MLD (IPv6) sockets.
 */

export interface MembershipError {
  interface: string;
  group: string;
  /** The source of a failed source join; absent for (*,G). */
  source?: string;
  code: string;
  message: string;
}

/** The address family of a group, and so of the sockets that can hold it. */
export type Family = 4 | 6;

/** The errno name an addon error carries; ERR_MCR_INTERNAL if it has none. */
export const codeOf = (err: unknown): string => (err as { code?: string }).code ?? 'ERR_MCR_INTERNAL';

/** What to do about a failed join, by errno name. */
function advice(code: string, iface: string, what: string, source: boolean, family: Family): string {
  switch (code) {
    case 'ENODEV':
      return `interface ${iface} is gone: ${what} is joined again when it returns`;
    case 'ENOBUFS':
      if (family === 6) return `the kernel refused ${what} on ${iface} even on a new socket: raise net.ipv6.mld_max_msf or net.core.optmem_max`;
      return source
        ? `the kernel refused ${what} on ${iface} even on a new socket: raise net.ipv4.igmp_max_msf, net.ipv4.igmp_max_memberships or net.core.optmem_max`
        : `the kernel refused another membership on ${iface}: raise net.ipv4.igmp_max_memberships or use fewer groups`;
    case 'ENOMEM':
      return `the kernel has no socket option memory left for ${what} on ${iface}: raise net.core.optmem_max`;
    case 'EINVAL':
      // IPv6: the interface has no IPv6 state while its MTU is under 1280
      // or IPv6 is disabled on it, and MLD joins are refused then.
      if (family === 6) {
        return `${what} cannot be joined on ${iface}: IPv6 needs an MTU of at least 1280 and IPv6 enabled on the interface ` +
          `(ip link show ${iface}; sysctl net.ipv6.conf.${iface}.disable_ipv6); mcrd tries again (backing off to every 60 s)`;
      }
      return `${what} cannot be joined on ${iface}: check that it is a multicast group and the interface supports multicast`;
    case 'EAFNOSUPPORT':
      return `${what} cannot be joined on ${iface}: this kernel has no IPv6 (booted with ipv6.disable=1?)`;
    case 'EMFILE':
    case 'ENFILE':
      return 'out of file descriptors: raise the open files limit (ulimit -n, LimitNOFILE=) of mcrd';
    default:
      return `joining ${what} on ${iface} failed: check the interface (ip link show ${iface}) and mcrd's log`;
  }
}

/** The error for a failed join of `group` (or of `source` in it) on `iface`, its message `CODE: advice`. */
export function membershipError(iface: string, group: string, source: string | undefined, family: Family, err: unknown): MembershipError {
  const code = codeOf(err);
  const what = source === undefined ? group : `${group} from ${source}`;
  const message = `${code}: ${advice(code, iface, what, source !== undefined, family)}`;
  return source === undefined ? { interface: iface, group, code, message } : { interface: iface, group, source, code, message };
}
