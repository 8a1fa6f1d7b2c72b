/**
 * Hand-built Ethernet frames for injection tests: a valid multicast UDP frame
 * and the malformed variants the relay must count and drop by reason.
 * Returned as hex strings, the format mcrinject reads.
 */

export interface FrameOptions {
  group?: string;
  /** IPv4 source address (default 10.99.0.1, the lab's src host). */
  source?: string;
  port?: number;
  payload?: Buffer;
}

function ipBytes(addr: string): number[] {
  return addr.split('.').map(Number);
}

function multicastMac(group: string): number[] {
  const [, b, c, d] = ipBytes(group);
  return [0x01, 0x00, 0x5e, (b ?? 0) & 0x7f, c ?? 0, d ?? 0];
}

interface Parts {
  etherType?: number;
  vlan?: number;
  ihl?: number;
  totalLength?: number;
  flagsFragment?: number;
  protocol?: number;
  udpLength?: number;
  truncateTo?: number;
}

/** Ethernet + IPv4 + UDP from `source` (10.99.0.1) to `group`:`port`, with overrides. */
export function frame(o: FrameOptions = {}, p: Parts = {}): string {
  const group = o.group ?? '239.1.1.1';
  const payload = o.payload ?? Buffer.alloc(32, 0xab);
  const ihl = p.ihl ?? 5;
  const ipHeaderLen = Math.max(ihl, 5) * 4;
  const udpLen = 8 + payload.length;
  const eth = [...multicastMac(group), 0x02, 0, 0, 0, 0, 1];
  if (p.vlan !== undefined) eth.push(0x81, 0x00, (p.vlan >> 8) & 0x0f, p.vlan & 0xff);
  const etherType = p.etherType ?? 0x0800;
  eth.push(etherType >> 8, etherType & 0xff);
  const total = p.totalLength ?? ipHeaderLen + udpLen;
  const ff = p.flagsFragment ?? 0;
  const ip = [0x40 | (ihl & 0x0f), 0, total >> 8, total & 0xff, 0, 1, ff >> 8, ff & 0xff, 8, p.protocol ?? 17, 0, 0,
    ...ipBytes(o.source ?? '10.99.0.1'), ...ipBytes(group)];
  while (ip.length < ipHeaderLen) ip.push(1); // IP options: NOPs
  const port = o.port ?? 5000;
  const ul = p.udpLength ?? udpLen;
  const udp = [0x13, 0x88, port >> 8, port & 0xff, ul >> 8, ul & 0xff, 0, 0];
  let bytes = Buffer.concat([Buffer.from(eth), Buffer.from(ip), Buffer.from(udp), payload]);
  if (p.truncateTo !== undefined) bytes = bytes.subarray(0, p.truncateTo);
  return bytes.toString('hex');
}

/**
 * Ethernet + IPv6 + extension headers + UDP, fd99::1 → ff3e::1234 port 5000:
 * `ext` are whole extension headers as [type, bytes] (their next-header
 * byte is filled in), `payloadLength` overrides the IPv6 one.
 */
export function frame6(ext: Array<[number, number[]]> = [], payloadLength?: number): string {
  const payload = Buffer.alloc(32, 0xab);
  const headers = ext.map(([, bytes], i) => [ext[i + 1]?.[0] ?? 17, ...bytes.slice(1)]).flat();
  const udp = [0x13, 0x88, 0x13, 0x88, 0, 8 + payload.length, 0, 0];
  const plen = payloadLength ?? headers.length + udp.length + payload.length;
  const ip = [0x60, 0, 0, 0, plen >> 8, plen & 0xff, ext[0]?.[0] ?? 17, 8,
    0xfd, 0x99, ...Array<number>(13).fill(0), 1, 0xff, 0x3e, ...Array<number>(12).fill(0), 0x12, 0x34];
  const eth = [0x33, 0x33, 0, 0, 0x12, 0x34, 0x02, 0, 0, 0, 0, 1, 0x86, 0xdd];
  return Buffer.concat([Buffer.from(eth), Buffer.from(ip), Buffer.from(headers), Buffer.from(udp), payload]).toString('hex');
}

/** One malformed frame per drop reason the relay counts, keyed by counter. */
export function malformedFrames(group: string, port: number): Record<string, string> {
  const o = { group, port };
  return {
    drop_not_ipv4: frame(o, { etherType: 0x86dd }),
    drop_bad_ihl: frame(o, { ihl: 4 }),
    drop_bad_ip_length: frame(o, { totalLength: 1400 }),
    drop_fragment: frame(o, { flagsFragment: 0x2000 }),
    drop_not_udp: frame(o, { protocol: 6 }),
    drop_bad_udp_length: frame(o, { udpLength: 4 }),
    // The first fragment of a fragmented IPv6 datagram (M set).
    drop_ipv6_fragment: frame6([[44, [0, 0, 0, 1, 0, 0, 0, 0xab]]]),
    // A destination-options header of 16 bytes in a payload that leaves it 12.
    drop_bad_ipv6_header: frame6([[60, [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]], 12),
  };
}
