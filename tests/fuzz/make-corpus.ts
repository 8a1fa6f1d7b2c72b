/**
 * Writes the seed corpora of the libFuzzer harnesses (native/fuzz) into
 * tests/fuzz/corpus/<harness>/, one small file per seed, named for what it
 * is. The seeds are committed; run this again after changing them:
 *   npx tsc -p tests/fuzz/tsconfig.json && node dist/tests/fuzz/make-corpus.js
 * It rewrites every seed it knows and leaves other files alone (crash
 * reproducers added after a finding, named crash-*, stay).
 * Layouts: a frame is the captured bytes; a netlink seed is one receive
 * buffer (host byte order, as the kernel writes it); the fd_channel and
 * rule_table layouts are described at the top of their harnesses.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './paths.js';

// The sources' corpus, also when this runs compiled from dist/tests/fuzz.
const corpusDir = join(packageRoot(), 'tests', 'fuzz', 'corpus');

let total = 0;
function seed(harness: string, name: string, bytes: Buffer): void {
  const dir = join(corpusDir, harness);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), bytes);
  total += bytes.length;
}

const u8 = (v: number): Buffer => Buffer.from([v & 0xff]);
function be16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v & 0xffff);
  return b;
}
function be32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}
function le16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v & 0xffff);
  return b;
}
function le32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
function le32s(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}
function le64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}
const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const pad4 = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

// ---- frame_parser: captured Ethernet frames --------------------------------

interface Frame {
  tags?: Array<[tpid: number, tci: number]>;
  etherType?: number;
  version?: number;
  ihl?: number; // 32-bit words; options are NOPs
  totalLength?: number;
  flagsFragment?: number;
  protocol?: number;
  src?: number;
  dst?: number;
  srcPort?: number;
  dstPort?: number;
  udpLength?: number;
  payload?: Buffer;
  padTo?: number;
  cutTo?: number; // captured bytes (a short capture)
}

function frame(f: Frame): Buffer {
  const payload = f.payload ?? pattern(32);
  const ihl = f.ihl ?? 5;
  const header = Math.max(ihl, 5) * 4;
  const udp = Buffer.concat([
    be16(f.srcPort ?? 40000),
    be16(f.dstPort ?? 5004),
    be16(f.udpLength ?? 8 + payload.length),
    be16(0),
    payload,
  ]);
  const ipHeader = Buffer.concat([
    u8(((f.version ?? 4) << 4) | (ihl & 0x0f)),
    u8(0),
    be16(f.totalLength ?? header + udp.length),
    be16(0x1234),
    be16(f.flagsFragment ?? 0x4000),
    u8(16),
    u8(f.protocol ?? 17),
    be16(0),
    be32(f.src ?? ip(10, 1, 0, 7)),
    be32(f.dst ?? ip(239, 10, 20, 30)),
    Buffer.alloc(header - 20, 1),
  ]);
  const eth = Buffer.concat([
    Buffer.from([0x01, 0x00, 0x5e, 0x0a, 0x14, 0x1e, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01]),
    ...(f.tags ?? []).map(([tpid, tci]) => Buffer.concat([be16(tpid), be16(tci)])),
    be16(f.etherType ?? 0x0800),
  ]);
  let out = Buffer.concat([eth, ipHeader, udp]);
  if (f.padTo !== undefined && out.length < f.padTo) out = Buffer.concat([out, Buffer.alloc(f.padTo - out.length)]);
  if (f.cutTo !== undefined) out = out.subarray(0, f.cutTo);
  return out;
}

seed('frame_parser', 'udp-untagged', frame({}));
seed('frame_parser', 'udp-8021q-vlan100', frame({ tags: [[0x8100, 100]] }));
seed('frame_parser', 'udp-8021ad-vlan4095-pcp', frame({ tags: [[0x88a8, 0xefff]] }));
seed('frame_parser', 'udp-ip-options', frame({ ihl: 8 }));
seed('frame_parser', 'udp-ip-options-max', frame({ ihl: 15, payload: pattern(4) }));
seed('frame_parser', 'udp-empty-payload-padded60', frame({ payload: Buffer.alloc(0), padTo: 60 }));
seed('frame_parser', 'udp-1316-mpegts', frame({ payload: pattern(1316), src: ip(192, 0, 2, 1), dstPort: 1234 }));
seed('frame_parser', 'udp-broadcast', frame({ dst: ip(255, 255, 255, 255), dstPort: 67, srcPort: 68 }));
seed('frame_parser', 'udp-length-shorter-than-ip', frame({ udpLength: 20 }));
seed('frame_parser', 'drop-fragment-first-mf', frame({ flagsFragment: 0x2000 }));
seed('frame_parser', 'drop-fragment-offset', frame({ flagsFragment: 0x00b9 }));
seed('frame_parser', 'drop-tcp', frame({ protocol: 6 }));
seed('frame_parser', 'drop-arp', Buffer.concat([frame({}).subarray(0, 12), be16(0x0806), Buffer.alloc(28, 0x42)]));
seed('frame_parser', 'drop-ipv6-ethertype', frame({ etherType: 0x86dd }));
seed('frame_parser', 'drop-ipv6-version', frame({ version: 6 }));
seed('frame_parser', 'drop-qinq-inner-tag', frame({ tags: [[0x88a8, 10], [0x8100, 20]] }));
seed('frame_parser', 'drop-ihl4', frame({ ihl: 4 }));
seed('frame_parser', 'drop-ip-total-too-long', frame({ totalLength: 1500 }));
seed('frame_parser', 'drop-udp-length-too-long', frame({ udpLength: 1000 }));
seed('frame_parser', 'drop-udp-length-7', frame({ udpLength: 7 }));
seed('frame_parser', 'drop-cut-in-udp-header', frame({ cutTo: 14 + 20 + 5 }));
seed('frame_parser', 'drop-cut-in-vlan-tag', frame({ tags: [[0x8100, 7]], cutTo: 16 }));
seed('frame_parser', 'drop-short-ethernet', frame({}).subarray(0, 13));

// IPv6 frames: extension headers as [type, bytes] (the builder writes each
// header's next-header byte), then UDP unless `next` says otherwise.
interface Frame6 {
  tags?: Array<[tpid: number, tci: number]>;
  version?: number;
  payloadLength?: number;
  ext?: Array<[type: number, bytes: Buffer]>;
  next?: number;
  udpLength?: number;
  payload?: Buffer;
  padTo?: number;
  cutTo?: number;
}

/** A hop-by-hop / routing / destination-options header of `units` 8-byte units. */
const ext6 = (type: number, units: number): [number, Buffer] => {
  const b = Buffer.alloc(units * 8);
  b[1] = units - 1;
  b[2] = 1; // PadN
  return [type, b];
};
/** A fragment header: offset in 8-byte units, M flag. */
const frag6 = (offset: number, more: boolean): [number, Buffer] => [44, Buffer.concat([Buffer.alloc(2), be16((offset << 3) | (more ? 1 : 0)), be32(0xab)])];

function frame6(f: Frame6): Buffer {
  const payload = f.payload ?? pattern(32);
  const ext = f.ext ?? [];
  const udp = Buffer.concat([be16(40000), be16(5004), be16(f.udpLength ?? 8 + payload.length), be16(0), payload]);
  const headers = ext.map(([, bytes], i) => Buffer.concat([u8(i + 1 < ext.length ? ext[i + 1]![0] : f.next ?? 17), bytes.subarray(1)]));
  const body = Buffer.concat([...headers, udp]);
  const ipHeader = Buffer.concat([
    u8((f.version ?? 6) << 4), Buffer.alloc(3),
    be16(f.payloadLength ?? body.length),
    u8(ext.length > 0 ? ext[0]![0] : f.next ?? 17), u8(16),
    Buffer.from('fd000000000000000000000000000007', 'hex'),
    Buffer.from('ff3e0000000000000000000000001234', 'hex'),
  ]);
  const eth = Buffer.concat([
    Buffer.from([0x33, 0x33, 0x00, 0x00, 0x12, 0x34, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01]),
    ...(f.tags ?? []).map(([tpid, tci]) => Buffer.concat([be16(tpid), be16(tci)])),
    be16(0x86dd),
  ]);
  let out = Buffer.concat([eth, ipHeader, body]);
  if (f.padTo !== undefined && out.length < f.padTo) out = Buffer.concat([out, Buffer.alloc(f.padTo - out.length)]);
  if (f.cutTo !== undefined) out = out.subarray(0, f.cutTo);
  return out;
}

seed('frame_parser', 'ipv6-udp', frame6({}));
seed('frame_parser', 'ipv6-udp-8021q', frame6({ tags: [[0x8100, 42]] }));
seed('frame_parser', 'ipv6-ext-hop-dest-routing', frame6({ ext: [ext6(0, 1), ext6(60, 2), ext6(43, 3)] }));
seed('frame_parser', 'ipv6-atomic-fragment', frame6({ ext: [frag6(0, false)] }));
seed('frame_parser', 'ipv6-padded', frame6({ payload: Buffer.alloc(0), padTo: 90 }));
seed('frame_parser', 'drop-ipv6-fragment-first', frame6({ ext: [frag6(0, true)] }));
seed('frame_parser', 'drop-ipv6-fragment-offset', frame6({ ext: [ext6(0, 1), frag6(185, false)] }));
seed('frame_parser', 'drop-ipv6-esp', frame6({ next: 50 }));
seed('frame_parser', 'drop-ipv6-no-next-after-dest', frame6({ ext: [ext6(60, 1)], next: 59 }));
seed('frame_parser', 'drop-ipv6-ext-past-payload', frame6({ ext: [ext6(60, 1)], payloadLength: 12 }));
seed('frame_parser', 'drop-ipv6-payload-too-long', frame6({ payloadLength: 1400 }));
seed('frame_parser', 'drop-ipv6-jumbogram', frame6({ payloadLength: 0 }));
seed('frame_parser', 'drop-ipv6-cut-in-header', frame6({ cutTo: 14 + 30 }));
seed('frame_parser', 'drop-ipv6-cut-in-ext', frame6({ ext: [ext6(0, 4)], cutTo: 14 + 40 + 20 }));
seed('frame_parser', 'drop-ipv6-udp-length-too-long', frame6({ udpLength: 500 }));

// ---- netlink_parser: NETLINK_ROUTE receive buffers -------------------------

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_MULTI = 0x2;
const NLM_F_DUMP_INTR = 0x10;
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
const IFF_MULTICAST = 0x1000;

function rtattr(type: number, data: Buffer): Buffer {
  return pad4(Buffer.concat([le16(4 + data.length), le16(type), data]));
}
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);
function nlmsg(type: number, body: Buffer, flags = 0, seq = 0): Buffer {
  const b = pad4(body);
  return Buffer.concat([le32(16 + b.length), le16(type), le16(flags), le32(seq), le32(0), b]);
}
function link(type: number, index: number, flags: number, name: string | null, mtu = 1500): Buffer {
  const ifinfo = Buffer.concat([u8(0), u8(0), le16(1), le32s(index), le32(flags), le32(0xffffffff)]);
  const attrs = [...(name === null ? [] : [rtattr(3 /* IFLA_IFNAME */, cstr(name))]), rtattr(4 /* IFLA_MTU */, le32(mtu))];
  return nlmsg(type, Buffer.concat([ifinfo, ...attrs]), NLM_F_MULTI, 7);
}
function addr(type: number, family: number, index: number, prefix: number, local: Buffer | null, address: Buffer | null, label?: string): Buffer {
  const ifaddr = Buffer.concat([u8(family), u8(prefix), u8(0x80), u8(0), le32(index)]);
  const attrs = [
    ...(address === null ? [] : [rtattr(1 /* IFA_ADDRESS */, address)]),
    ...(local === null ? [] : [rtattr(2 /* IFA_LOCAL */, local)]),
    ...(label === undefined ? [] : [rtattr(3 /* IFA_LABEL */, cstr(label))]),
  ];
  return nlmsg(type, Buffer.concat([ifaddr, ...attrs]));
}
const v4 = (a: number, b: number, c: number, d: number): Buffer => Buffer.from([a, b, c, d]);
const done = (seq: number, flags = NLM_F_MULTI): Buffer => nlmsg(NLMSG_DONE, le32(0), flags, seq);
// NLMSG_ERROR: the errno, then the header of the request it answers.
const nlerror = (errno: number, seq: number): Buffer =>
  nlmsg(NLMSG_ERROR, Buffer.concat([le32s(errno), le32(20), le16(RTM_NEWLINK), le16(0x301), le32(seq), le32(0)]), 0, seq);

seed('netlink_parser', 'newlink-up', link(RTM_NEWLINK, 2, IFF_UP | IFF_RUNNING | IFF_MULTICAST, 'eth0'));
seed('netlink_parser', 'newlink-down-no-name', link(RTM_NEWLINK, 3, 0, null));
seed('netlink_parser', 'dellink', link(RTM_DELLINK, 2, 0, 'eth0'));
seed('netlink_parser', 'newaddr-local-label', addr(RTM_NEWADDR, 2, 2, 24, v4(192, 0, 2, 10), v4(192, 0, 2, 10), 'eth0'));
seed('netlink_parser', 'newaddr-ptp-peer', addr(RTM_NEWADDR, 2, 9, 32, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 'tun0'));
seed('netlink_parser', 'deladdr-address-only', addr(RTM_DELADDR, 2, 2, 24, null, v4(192, 0, 2, 10)));
seed('netlink_parser', 'newaddr-ipv6-ignored', addr(RTM_NEWADDR, 10, 2, 64, null, Buffer.alloc(16, 0xfe)));
seed('netlink_parser', 'error-ebusy', nlerror(-16, 42));
seed('netlink_parser', 'ack', nlerror(0, 43));
seed(
  'netlink_parser',
  'dump-links-addrs-done',
  Buffer.concat([
    link(RTM_NEWLINK, 1, IFF_UP | IFF_RUNNING, 'lo', 65536),
    link(RTM_NEWLINK, 2, IFF_UP | IFF_RUNNING | IFF_MULTICAST, 'eth0'),
    addr(RTM_NEWADDR, 2, 1, 8, v4(127, 0, 0, 1), v4(127, 0, 0, 1), 'lo'),
    addr(RTM_NEWADDR, 2, 2, 24, v4(192, 0, 2, 10), v4(192, 0, 2, 10), 'eth0'),
    done(7),
  ]),
);
seed('netlink_parser', 'dump-interrupted', Buffer.concat([link(RTM_NEWLINK, 4, IFF_UP, 'veth1'), done(8, NLM_F_MULTI | NLM_F_DUMP_INTR)]));
{
  // A message whose attribute claims more than the message holds.
  const m = link(RTM_NEWLINK, 5, IFF_UP, 'br0');
  m.writeUInt16LE(200, 16 + 16);
  seed('netlink_parser', 'attr-too-long', m);
}
seed('netlink_parser', 'truncated-message', link(RTM_NEWLINK, 6, IFF_UP, 'eth1').subarray(0, 30));

// ---- interface_drops: RTM_GETQDISC dump replies -------------------------------

const RTM_NEWQDISC = 36;
const TC_H_ROOT = 0xffffffff;
const TCA_KIND = 1;
const TCA_STATS = 3;
const TCA_STATS2 = 7;
const TCA_STATS_BASIC = 1;
const TCA_STATS_QUEUE = 3;
// struct gnet_stats_queue: qlen, backlog, drops, requeues, overlimits.
const queueStats = (drops: number, qlen = 0, overlimits = 0): Buffer => Buffer.concat([le32(qlen), le32(0), le32(drops), le32(0), le32(overlimits)]);
function qdisc(index: number, parent: number, kind: string, stats: Buffer[]): Buffer {
  const tcmsg = Buffer.concat([u8(0), u8(0), le16(0), le32s(index), le32(0x80010000), le32(parent), le32(1)]);
  return nlmsg(RTM_NEWQDISC, Buffer.concat([tcmsg, rtattr(TCA_KIND, cstr(kind)), ...stats]), NLM_F_MULTI, 1);
}
const stats2 = (drops: number, qlen = 0): Buffer =>
  rtattr(TCA_STATS2, Buffer.concat([rtattr(TCA_STATS_BASIC, Buffer.alloc(16)), rtattr(TCA_STATS_QUEUE, queueStats(drops, qlen, 3))]));
// struct tc_stats: bytes (64 bits), packets, drops, overlimits, bps, pps, qlen, backlog.
const legacyStats = (drops: number): Buffer => rtattr(TCA_STATS, Buffer.concat([Buffer.alloc(8), le32(10), le32(drops), le32(0), le32(0), le32(0), le32(1), le32(0)]));

seed('interface_drops', 'fq-codel-root', qdisc(2, TC_H_ROOT, 'fq_codel', [stats2(17, 2)]));
seed('interface_drops', 'noqueue-no-stats', qdisc(3, TC_H_ROOT, 'noqueue', []));
seed('interface_drops', 'pfifo-legacy-stats', qdisc(4, TC_H_ROOT, 'pfifo_fast', [legacyStats(5)]));
seed('interface_drops', 'error-einval', nlerror(-22, 1));
seed(
  'interface_drops',
  'dump-mq-children-ingress-done',
  Buffer.concat([
    qdisc(2, TC_H_ROOT, 'mq', [stats2(40)]),
    qdisc(2, 0x80010001, 'fq_codel', [stats2(25)]),
    qdisc(2, 0x80010002, 'fq_codel', [stats2(15)]),
    qdisc(2, 0xfffffff1, 'ingress', []),
    qdisc(5, TC_H_ROOT, 'tbf', [stats2(198, 0), legacyStats(198)]),
    done(1),
  ]),
);
// RTM_NEWLINK with IFLA_STATS64 (struct rtnl_link_stats64: 25 u64 counters since Linux 5.19, 24 before; tx_dropped is the 8th) or the 32-bit IFLA_STATS.
function linkStats(index: number, txDropped: number, wide: boolean): Buffer {
  const ifinfo = Buffer.concat([u8(0), u8(0), le16(1), le32s(index), le32(IFF_UP), le32(0xffffffff)]);
  const counters = Array.from({ length: 25 }, (_, i) => (i === 7 ? txDropped : i));
  const stats = wide ? rtattr(23 /* IFLA_STATS64 */, Buffer.concat(counters.map((c) => Buffer.concat([le32(c), le32(0)]))))
    : rtattr(7 /* IFLA_STATS */, Buffer.concat(counters.map((c) => le32(c))));
  return nlmsg(RTM_NEWLINK, Buffer.concat([ifinfo, rtattr(3 /* IFLA_IFNAME */, cstr(`eth${index}`)), stats]), NLM_F_MULTI, 2);
}
seed('interface_drops', 'links-stats64-stats-done', Buffer.concat([linkStats(2, 40, true), linkStats(3, 7, false), link(RTM_NEWLINK, 4, IFF_UP, 'lo'), done(2)]));
seed('interface_drops', 'links-short-stats', Buffer.concat([
  nlmsg(RTM_NEWLINK, Buffer.concat([u8(0), u8(0), le16(1), le32s(5), le32(IFF_UP), le32(0xffffffff), rtattr(7 /* IFLA_STATS */, Buffer.alloc(8))]), NLM_F_MULTI, 2),
  nlmsg(RTM_NEWLINK, Buffer.concat([u8(0), u8(0), le16(1), le32s(6), le32(IFF_UP), le32(0xffffffff), rtattr(23 /* IFLA_STATS64 */, Buffer.alloc(16))]), NLM_F_MULTI, 2),
]));
// A VLAN on eth2 (IFLA_LINK 2, IFLA_LINKINFO { IFLA_INFO_KIND "vlan" }), and a macvlan whose parent is in another namespace (IFLA_LINK_NETNSID).
function stackedLink(index: number, name: string, kind: string, parent: number, otherNetns: boolean): Buffer {
  const ifinfo = Buffer.concat([u8(0), u8(0), le16(1), le32s(index), le32(IFF_UP), le32(0xffffffff)]);
  const counters = Array.from({ length: 25 }, (_, i) => (i === 7 ? index : 0));
  return nlmsg(RTM_NEWLINK, Buffer.concat([ifinfo, rtattr(3 /* IFLA_IFNAME */, cstr(name)), rtattr(5 /* IFLA_LINK */, le32(parent)),
    ...(otherNetns ? [rtattr(37 /* IFLA_LINK_NETNSID */, le32s(0))] : []),
    rtattr(18 /* IFLA_LINKINFO */, rtattr(1 /* IFLA_INFO_KIND */, cstr(kind))),
    rtattr(23 /* IFLA_STATS64 */, Buffer.concat(counters.map((c) => Buffer.concat([le32(c), le32(0)]))))]), NLM_F_MULTI, 2);
}
// A bridge port: IFLA_MASTER (10) instead of IFLA_LINK.
function portLink(index: number, name: string, master: number): Buffer {
  const ifinfo = Buffer.concat([u8(0), u8(0), le16(1), le32s(index), le32(IFF_UP), le32(0xffffffff)]);
  return nlmsg(RTM_NEWLINK, Buffer.concat([ifinfo, rtattr(3 /* IFLA_IFNAME */, cstr(name)), rtattr(10 /* IFLA_MASTER */, le32(master)),
    rtattr(23 /* IFLA_STATS64 */, Buffer.alloc(25 * 8))]), NLM_F_MULTI, 2);
}
seed('interface_drops', 'links-stacked', Buffer.concat([linkStats(2, 3, true), stackedLink(7, 'eth2.100', 'vlan', 2, false),
  stackedLink(8, 'mv0', 'macvlan', 4, true), stackedLink(9, 'br0', 'bridge', 0, false), portLink(10, 'p0', 9), done(2)]));
seed('interface_drops', 'done-with-errno', nlmsg(NLMSG_DONE, le32s(-16), NLM_F_MULTI, 2));
seed('interface_drops', 'dump-interrupted', Buffer.concat([qdisc(2, TC_H_ROOT, 'noqueue', [stats2(0)]), done(1, NLM_F_MULTI | NLM_F_DUMP_INTR)]));

// ---- fd_channel: see native/fuzz/fd_channel_fuzz.cc --------------------------

const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
function cmsg(level: number, type: number, data: Buffer): Buffer {
  const len = 16 + data.length;
  return Buffer.concat([le64(len), le32s(level), le32s(type), data, Buffer.alloc((8 - (len % 8)) % 8)]);
}
function fdInput(mode: number, got: number, control: Buffer, payload: Buffer): Buffer {
  return Buffer.concat([u8(mode), be16(got), be16(control.length), control, payload]);
}
const handover = Buffer.from('mcr-handover-v1');
const fds = (...list: number[]): Buffer => Buffer.concat(list.map(le32s));

seed('fd_channel', 'handover-two-fds', fdInput(0, handover.length, cmsg(SOL_SOCKET, SCM_RIGHTS, fds(21, 22)), handover));
seed('fd_channel', 'sixteen-fds', fdInput(0, 1, cmsg(SOL_SOCKET, SCM_RIGHTS, fds(...Array.from({ length: 16 }, (_, i) => 30 + i))), Buffer.from('x')));
seed('fd_channel', 'payload-only', fdInput(0, handover.length, Buffer.alloc(0), handover));
seed('fd_channel', 'peer-closed', fdInput(0, 0, Buffer.alloc(0), Buffer.alloc(64)));
seed('fd_channel', 'ctrunc', fdInput(1, handover.length, cmsg(SOL_SOCKET, SCM_RIGHTS, fds(5)), handover));
seed('fd_channel', 'msg-trunc', fdInput(2, 8, Buffer.alloc(0), Buffer.from('12345678')));
seed(
  'fd_channel',
  'creds-then-rights',
  fdInput(0, 4, Buffer.concat([cmsg(SOL_SOCKET, 2 /* SCM_CREDENTIALS */, Buffer.alloc(12, 1)), cmsg(SOL_SOCKET, SCM_RIGHTS, fds(7, 8, 9))]), Buffer.from('data')),
);
seed('fd_channel', 'other-level', fdInput(0, 4, cmsg(41 /* IPPROTO_IPV6 */, SCM_RIGHTS, fds(3)), Buffer.from('data')));
// Recipes (mode bit 4): kind 0 = SCM_RIGHTS (count, u32 fds), 1 = credentials, 2 = other level (length).
seed('fd_channel', 'recipe-rights-creds-other', fdInput(0x10, 3, Buffer.concat([u8(0), u8(2), be32(10), be32(11), u8(1), u8(2), u8(5)]), Buffer.from('abc')));

// ---- rule_table: see native/fuzz/rule_table_fuzz.cc --------------------------

// Small-domain indexes: addresses 0 = 0.0.0.0 (any source), 1 = 239.1.1.1,
// 2 = 239.1.1.2, 3 = 255.255.255.255; ports 0 = 0, 1 = 5004, 2 = 5005, 3 = 65535.
const add = (id: number, dst: number, port: number, src: number, outputs = 1): Buffer => Buffer.from([0, id, dst, port, src, outputs]);
const remove = (id: number): Buffer => Buffer.from([1, id]);
const match = (dst: number, port: number, src: number): Buffer => Buffer.from([2, dst, port, src]);
const find = (id: number): Buffer => Buffer.from([3, id]);
const takeAll = Buffer.from([4]);
const verify = Buffer.from([5]);
// IPv6 rules and lookups (ops 6, 7): the same small domains widened to ff3e::/96 and fd00::/96.
const add6 = (id: number, dst: number, port: number, src: number, outputs = 1): Buffer => Buffer.from([6, id, dst, port, src, outputs]);
const match6 = (dst: number, port: number, src: number): Buffer => Buffer.from([7, dst, port, src]);

seed('rule_table', 'add-match-remove', Buffer.concat([add(1, 1, 1, 0), match(1, 1, 2), match(1, 2, 2), find(1), remove(1), match(1, 1, 2), verify]));
seed(
  'rule_table',
  'source-specific-wins',
  Buffer.concat([add(1, 1, 1, 0), add(2, 1, 1, 2), match(1, 1, 2), match(1, 1, 3), remove(2), match(1, 1, 2), verify]),
);
seed('rule_table', 'ipv6-source-specific-wins', Buffer.concat([add6(1, 1, 1, 0), add6(2, 1, 1, 2), match6(1, 1, 2), match6(1, 1, 3), remove(2), match6(1, 1, 2), verify]));
seed('rule_table', 'ipv4-and-ipv6-same-key', Buffer.concat([add(1, 1, 1, 0), add6(2, 1, 1, 0), add6(3, 1, 1, 0), match(1, 1, 2), match6(1, 1, 2), remove(1), match6(1, 1, 2), takeAll, verify]));
seed('rule_table', 'duplicate-id-and-key', Buffer.concat([add(3, 1, 1, 0), add(3, 2, 2, 0), add(4, 1, 1, 0), add(4, 1, 1, 2, 2), verify]));
seed('rule_table', 'take-all-then-reuse', Buffer.concat([add(1, 1, 1, 0), add(2, 2, 2, 0, 2), add(5, 1, 1, 3), takeAll, find(1), add(1, 1, 1, 0), verify]));
// Port 0 is "any port" (a wildcard rule): the exact source first, then the exact port.
seed('rule_table', 'any-port-precedence', Buffer.concat([add(1, 1, 0, 0), add(2, 1, 1, 0), add(3, 1, 0, 2), add(4, 1, 0, 0), match(1, 1, 3), match(1, 2, 3),
  match(1, 2, 2), match(1, 1, 2), remove(3), match(1, 2, 2), add6(5, 1, 0, 2), match6(1, 3, 2), takeAll, verify]));
// Raw values (bit 7): id 0x80000001, destination 232.1.2.3 port 0x8000 (bit 7 of the port byte), source 192.0.2.1.
seed(
  'rule_table',
  'raw-values',
  Buffer.concat([
    Buffer.from([0, 0x80]),
    be32(0x80000001),
    Buffer.from([0x80]),
    be32(ip(232, 1, 2, 3)),
    Buffer.from([0x80]),
    be16(0x8000),
    Buffer.from([0x80]),
    be32(ip(192, 0, 2, 1)),
    u8(1),
    Buffer.from([2, 0x80]),
    be32(ip(232, 1, 2, 3)),
    Buffer.from([0x80]),
    be16(0x8000),
    Buffer.from([0x80]),
    be32(ip(192, 0, 2, 1)),
    verify,
  ]),
);

// ---- stream_monitor: see native/fuzz/stream_monitor_fuzz.cc -------------------
// A mode byte (0 rtp, 1 mpegts, 2 rtp+mpegts), then datagrams: 16-bit length,
// 32-bit arrival step (ns), payload.
const datagram = (payload: Buffer, stepNs = 1_000_000): Buffer => Buffer.concat([be16(payload.length), be32(stepNs), payload]);
function rtp(seq: number, ts: number, payload: Buffer, ssrc = 0x11223344): Buffer {
  return Buffer.concat([Buffer.from([0x80, 33]), be16(seq), be32(ts), be32(ssrc), payload]);
}
function tsPackets(pid: number, firstCc: number, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => {
    const p = Buffer.alloc(188, 0xff);
    p[0] = 0x47;
    p[1] = (pid >> 8) & 0x1f;
    p[2] = pid & 0xff;
    p[3] = 0x10 | ((firstCc + i) & 0x0f);
    return p;
  }));
}
const rtpSeqs = [1, 2, 3, 5, 4, 4, 9, 3500];
seed('stream_monitor', 'rtp-gap-reorder-dup-jump', Buffer.concat([u8(0), ...rtpSeqs.map((q, i) => datagram(rtp(q, q * 3000 + (i % 2) * 40, pattern(12))))]));
seed('stream_monitor', 'rtp-ssrc-change-invalid', Buffer.concat([u8(0), datagram(rtp(10, 0, pattern(4))), datagram(rtp(11, 3000, pattern(4), 0x55667788)),
  datagram(Buffer.from([0x40, 0, 0, 1])), datagram(Buffer.from([0xb0, 0x21, 0, 12, 0, 0, 0, 0, 0, 0, 0, 1]))]));
seed('stream_monitor', 'ts-cc-error-sync-loss', Buffer.concat([u8(1), datagram(tsPackets(0x100, 0, 7)), datagram(tsPackets(0x100, 9, 7)),
  datagram(Buffer.concat([Buffer.alloc(188 * 2, 0x00), tsPackets(0x101, 0, 5)])), datagram(tsPackets(0x100, 0, 1).subarray(0, 100))]));
seed('stream_monitor', 'ts-in-rtp', Buffer.concat([u8(2), datagram(rtp(1, 0, tsPackets(0x44, 0, 7))), datagram(rtp(3, 6000, tsPackets(0x44, 14, 7)))]));

console.log(`seeds written under ${corpusDir} (${total} bytes)`);
