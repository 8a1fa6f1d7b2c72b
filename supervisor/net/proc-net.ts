/**
 * Parsers for the two procfs tables behind `consumeInputs: "auto"`
 * (supervisor/net/consume-decision.ts): /proc/net/igmp, the IPv4 multicast
 * groups each interface has joined and how many sockets joined each, and
 * /proc/net/udp, the UDP sockets bound to a port, with their inodes. Both
 * describe the network namespace of the process that reads them. Pure
 * functions over the text; supervisor/net/consume-policy.ts reads the files.
 *
 * The kernel prints an IPv4 address as the %08X of its network-order 32-bit
 * value (net/ipv4/igmp.c igmp_mc_seq_show, net/ipv4/udp.c udp4_format_sock),
 * so on a little-endian host 239.1.1.1 reads "010101EF"; ports are printed
 * after ntohs, as plain hex.
 */
import { endianness } from 'node:os';

/** A group joined on an interface, and how many sockets joined it there (the kernel's `users`). */
export interface IgmpGroup {
  group: string;
  users: number;
}

export interface IgmpInterface {
  ifindex: number;
  device: string;
  groups: IgmpGroup[];
}

/** A bound UDP socket of /proc/net/udp. */
export interface UdpSocket {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  uid: number;
  inode: number;
}

const HOST_LITTLE_ENDIAN = endianness() === 'LE';

/** "010101EF" → "239.1.1.1" (on a little-endian host; the bytes as they are on a big-endian one). */
export function procHexToIpv4(hex: string, littleEndian = HOST_LITTLE_ENDIAN): string | undefined {
  const v = hex.length === 8 ? Number(`0x${hex}`) : Number.NaN;
  if (!Number.isInteger(v)) return undefined;
  const b0 = v >>> 24, b1 = (v >>> 16) & 0xff, b2 = (v >>> 8) & 0xff, b3 = v & 0xff;
  return littleEndian ? `${b3}.${b2}.${b1}.${b0}` : `${b0}.${b1}.${b2}.${b3}`;
}

/**
 * /proc/net/igmp: a header line, then per interface a line
 * "Idx\tDevice    : Count Querier" followed by one indented line per group
 * "\t\t\t\tGROUP USERS TIMER\t\tREPORTER". Lines that fit neither shape are
 * skipped (a later kernel adding columns keeps the ones read here).
 */
export function parseProcIgmp(text: string, littleEndian = HOST_LITTLE_ENDIAN): IgmpInterface[] {
  const out: IgmpInterface[] = [];
  let current: IgmpInterface | undefined;
  for (const line of text.split('\n')) {
    if (line.charCodeAt(0) === 9 /* \t */) {
      // Sliced, not split: a host with thousands of groups has as many lines.
      const start = line.search(/[^\t]/);
      const group = start < 0 ? undefined : procHexToIpv4(line.slice(start, start + 8), littleEndian);
      const n = start < 0 ? Number.NaN : parseInt(line.slice(start + 8), 10);
      if (current !== undefined && group !== undefined && Number.isInteger(n)) current.groups.push({ group, users: n });
      continue;
    }
    const m = /^(\d+)\s+(\S+)\s*:/.exec(line);
    if (m === null) { current = undefined; continue; }
    current = { ifindex: Number(m[1]), device: m[2]!, groups: [] };
    out.push(current);
  }
  return out;
}

/**
 * /proc/net/udp: a header line, then one line per socket
 * "sl: LOCAL:PORT REMOTE:PORT st tx:rx tr:when retrnsmt uid timeout inode ...".
 * Only bound sockets are listed (an unbound socket is not in the hash table
 * the file walks). With `ports`, only the sockets bound to one of them: the
 * local port is read first (fixed width after "sl: ") and the rest of a
 * line is parsed only when it matters (a worker's thousand output sockets
 * are on other ports).
 */
export function parseProcUdp(text: string, littleEndian = HOST_LITTLE_ENDIAN, ports?: ReadonlySet<number>): UdpSocket[] {
  const out: UdpSocket[] = [];
  for (const line of text.split('\n')) {
    if (ports !== undefined) {
      const at = line.indexOf(': ');
      const port = at < 0 ? Number.NaN : Number(`0x${line.slice(at + 11, at + 15)}`);
      if (!ports.has(port)) continue;
    }
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0]!)) continue;
    const local = splitEndpoint(f[1]!, littleEndian);
    const remote = splitEndpoint(f[2]!, littleEndian);
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    if (local === undefined || remote === undefined || !Number.isInteger(uid) || !Number.isInteger(inode)) continue;
    out.push({ localAddress: local.address, localPort: local.port, remoteAddress: remote.address, remotePort: remote.port, uid, inode });
  }
  return out;
}

function splitEndpoint(field: string, littleEndian: boolean): { address: string; port: number } | undefined {
  const [hex, portHex] = field.split(':');
  const address = hex === undefined ? undefined : procHexToIpv4(hex, littleEndian);
  const port = portHex !== undefined && /^[0-9A-Fa-f]{4}$/.test(portHex) ? parseInt(portHex, 16) : undefined;
  return address === undefined || port === undefined ? undefined : { address, port };
}

/** The inode of a /proc/PID/fd link's target "socket:[12345]", or undefined for anything else. */
export function socketInode(link: string): number | undefined {
  const m = /^socket:\[(\d+)\]$/.exec(link);
  return m === null ? undefined : Number(m[1]);
}
