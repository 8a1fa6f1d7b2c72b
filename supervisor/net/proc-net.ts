/**
 * Parsers for the procfs tables behind `consumeInputs: "auto"`
 * (supervisor/net/consume-decision.ts): /proc/net/igmp and /proc/net/igmp6,
 * the IPv4 and IPv6 multicast groups each interface has joined and how many
 * sockets joined each, and /proc/net/udp and /proc/net/udp6, the UDP
 * sockets bound to a port, with their inodes. They describe the network
 * namespace of the process that reads them. Pure functions over the text;
 * supervisor/net/consume-policy.ts reads the files.
 *
 * The kernel prints an IPv4 address as the %08X of its network-order 32-bit
 * value (net/ipv4/igmp.c igmp_mc_seq_show, net/ipv4/udp.c udp4_format_sock),
 * so on a little-endian host 239.1.1.1 reads "010101EF"; ports are printed
 * after ntohs, as plain hex. An IPv6 address in udp6 is its four 32-bit
 * words, each %08X the same way (net/ipv6/datagram.c
 * __ip6_dgram_sock_seq_show), in igmp6 its 16 bytes in order (%pi6,
 * net/ipv6/mcast.c igmp6_mc_seq_show). IPv6 addresses come out in the
 * canonical text of RFC 5952 (canonicalIpv6), as rules are compared in.
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

/** An IPv6 address in RFC 5952 text (lower case, longest zero run as "::"), or undefined when it is none. */
export function canonicalIpv6(addr: string): string | undefined {
  try {
    // The WHATWG URL parser applies exactly RFC 5952's serialisation to an IPv6 host.
    const host = new URL(`http://[${addr}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** 32 hex digits as bytes in order → canonical IPv6 text. */
function hexBytesToIpv6(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
  return canonicalIpv6(hex.match(/.{4}/g)!.join(':'));
}

/** udp6's four host-order words → canonical IPv6 text (each word's bytes reversed on a little-endian host). */
export function procHexToIpv6(hex: string, littleEndian = HOST_LITTLE_ENDIAN): string | undefined {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
  if (!littleEndian) return hexBytesToIpv6(hex);
  const words = hex.match(/.{8}/g)!;
  return hexBytesToIpv6(words.map((w) => w.match(/../g)!.reverse().join('')).join(''));
}

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
 * /proc/net/igmp6: one line per group and interface, no header:
 * "IFINDEX DEVICE GROUP(32 hex) USERS FLAGS TIMER". Groups of one device are
 * gathered into one entry, in the order the devices first appear.
 */
export function parseProcIgmp6(text: string): IgmpInterface[] {
  const byDevice = new Map<string, IgmpInterface>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const group = hexBytesToIpv6(f[2]!);
    const users = Number(f[3]);
    if (!/^\d+$/.test(f[0]!) || group === undefined || !Number.isInteger(users)) continue;
    let entry = byDevice.get(f[1]!);
    if (entry === undefined) byDevice.set(f[1]!, entry = { ifindex: Number(f[0]), device: f[1]!, groups: [] });
    entry.groups.push({ group, users });
  }
  return [...byDevice.values()];
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
export function parseProcUdp(text: string, littleEndian = HOST_LITTLE_ENDIAN, ports?: ReadonlySet<number>, portAt = 11): UdpSocket[] {
  const out: UdpSocket[] = [];
  for (const line of text.split('\n')) {
    if (ports !== undefined) {
      const at = line.indexOf(': ');
      const port = at < 0 ? Number.NaN : Number(`0x${line.slice(at + portAt, at + portAt + 4)}`);
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

/**
 * /proc/net/udp6: the same columns as /proc/net/udp, with 32-digit
 * addresses (a socket bound to :: is listed here only, though unless it is
 * IPV6_V6ONLY it receives IPv4 datagrams to its port too). The local port
 * sits after "sl: " and 33 characters of address.
 */
export function parseProcUdp6(text: string, littleEndian = HOST_LITTLE_ENDIAN, ports?: ReadonlySet<number>): UdpSocket[] {
  return parseProcUdp(text, littleEndian, ports, 35);
}

function splitEndpoint(field: string, littleEndian: boolean): { address: string; port: number } | undefined {
  const [hex, portHex] = field.split(':');
  const address = hex === undefined ? undefined : hex.length === 32 ? procHexToIpv6(hex, littleEndian) : procHexToIpv4(hex, littleEndian);
  const port = portHex !== undefined && /^[0-9A-Fa-f]{4}$/.test(portHex) ? parseInt(portHex, 16) : undefined;
  return address === undefined || port === undefined ? undefined : { address, port };
}

/** The inode of a /proc/PID/fd link's target "socket:[12345]", or undefined for anything else. */
export function socketInode(link: string): number | undefined {
  const m = /^socket:\[(\d+)\]$/.exec(link);
  return m === null ? undefined : Number(m[1]);
}
