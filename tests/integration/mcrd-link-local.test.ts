/**
 * Link-local discovery streams relayed between two segments in both
 * directions, as an mDNS (224.0.0.251:5353, [ff02::fb]:5353) or SSDP
 * (239.255.255.250:1900) reflector is set up: rule A→B takes the group on
 * in0 and sends it out of out0, rule B→A takes the same group on out0 and
 * sends it out of in0. A relay like that loops if its own sends come back
 * as input (they would match the other direction's rule): MCR's packet
 * sockets drop outgoing frames (PACKET_FANOUT_FLAG_IGNORE_OUTGOING, or the
 * PACKET_OUTGOING filter) and its output sockets have IP_MULTICAST_LOOP /
 * IPV6_MULTICAST_LOOP off. A sender and a receiver on each side prove it:
 * every datagram arrives once on the other side, the receiver beside the
 * sender sees its own stream once (the sender's local loopback) and never
 * a second time through MCR, and each rule counts exactly what its side
 * sent, nothing of what MCR relayed the other way. A host listener on
 * [::]:5353 in the relay namespace (an mDNS responder's socket) keeps the
 * mDNS rules from being consumed and hears each side's datagrams once as
 * they came off the wire, none of what MCR sent. IPv6 is enabled on the
 * four veths of the two segments, and the test waits for their link-local
 * addresses to leave DAD before MCR opens sockets on them. Then, in the
 * same lab, tc mirrors every UDP frame MCR sends back to its interface (a
 * hairpin) and across to the other segment (a loop between them): MCR
 * knows those frames by their Ethernet source and drops them
 * (drop_own_frame), so the same counts hold; without that check the frames
 * circle for ever.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess, type RelayLab } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { ControlClient } from '../../common/control-client.js';
import { genReport, TOOL, type GenReport } from './harness.js';
import { mcrdLab, startMcrd } from './mcrd-harness.js';

interface StreamCounts { received: number; unique: number; duplicated: number; reordered: number }
interface Report { received: number; corrupted: number; streams: Record<string, StreamCounts> }

const COUNT = 2000;
const RATE = 4000;
/** The three streams, each with a stream id per side: A sends the odd one, B the even one. */
const PROTOCOLS = [
  { name: 'mdns', group: '224.0.0.251', port: 5353, streamA: 1, streamB: 2 },
  { name: 'ssdp', group: '239.255.255.250', port: 1900, streamA: 3, streamB: 4 },
  { name: 'mdns6', group: 'ff02::fb', port: 5353, streamA: 5, streamB: 6 },
] as const;

interface Side { ns: string; ifname: string; relayIf: string }

/**
 * IPv6 on (the lab turns it off everywhere) on the four veths, and their
 * link-local addresses out of DAD: a tentative address cannot be a source,
 * and ff02::fb is sent from the link-local one.
 */
async function enableIpv6(rl: RelayLab, links: Array<[ns: string, ifname: string]>): Promise<boolean> {
  for (const [ns, ifname] of links) await rl.lab.sysctl(ns, `net/ipv6/conf/${ifname}/disable_ipv6`, 0);
  const ready = async ([ns, ifname]: [string, string]): Promise<boolean> => {
    const text = (await rl.lab.exec(ns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', ifname, 'scope', 'link'])).stdout;
    return text.includes('fe80:') && !text.includes('tentative');
  };
  return pollUntil(async () => (await Promise.all(links.map(ready))).every(Boolean), 15_000, 200);
}

t.test('mDNS (IPv4 and IPv6) and SSDP relayed both ways between two segments: each datagram once, nothing echoed', async (t) => {
  if (skipUnlessRoot(t)) return;
  if (!existsSync('/proc/net/snmp6')) {
    t.plan(0, 'IPv6 is disabled in this kernel (no /proc/net/snmp6: booted with ipv6.disable=1?)');
    return;
  }
  const { rl, dir } = await mcrdLab(t, 'linklocal');
  const sideA: Side = { ns: rl.src.ns, ifname: rl.src.ifname, relayIf: rl.relay.input.ifname };
  const b = rl.sinks[0];
  const out0 = rl.relay.outputs[0];
  if (b === undefined || out0 === undefined) throw new Error('the lab has no output 0');
  const sideB: Side = { ns: b.ns, ifname: b.ifname, relayIf: out0.ifname };
  t.ok(await enableIpv6(rl, [[sideA.ns, sideA.ifname], [rl.relay.ns, sideA.relayIf], [rl.relay.ns, sideB.relayIf], [sideB.ns, sideB.ifname]]),
    'the four veths have IPv6 link-local addresses out of DAD');

  // Host listeners in the relay namespace, as an mDNS responder holds
  // them: 0.0.0.0:5353 with no join of its own (mcrd's memberships make the
  // stack accept 224.0.0.251 on both interfaces), and [ff02::fb]:5353 scoped
  // to each interface (a dual-stack [::] socket would not do for both: it
  // gets IPv4 multicast only of groups it joined itself). Started before
  // mcrd, so consume "auto" finds them.
  const hostArgs = ['--count', String(8 * COUNT), '--duration', '30', '--idle', '2'];
  const hostListeners = new Map<string, LabProcess>([
    ['mdns', rl.lab.spawn(rl.relay.ns, TOOL('mcrsink'), ['--port', '5353', ...hostArgs])],
    ['mdns6 A', rl.lab.spawn(rl.relay.ns, TOOL('mcrsink'), ['--port', '5353', '--group', 'ff02::fb', '--interface', sideA.relayIf, ...hostArgs])],
    ['mdns6 B', rl.lab.spawn(rl.relay.ns, TOOL('mcrsink'), ['--port', '5353', '--group', 'ff02::fb', '--interface', sideB.relayIf, ...hostArgs])],
  ]);
  for (const proc of hostListeners.values()) await proc.waitForLine('stderr', /"event":"ready"/, 10_000);

  const socket = join(dir, 'mcrd.sock');
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 20_000));
  const client = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 20_000 });
  await client.connect(socket);
  t.teardown(() => client.close());

  // Link-local groups need TTL / hop limit 255 (mDNS receivers check it,
  // RFC 6762 §11); ff02::fb is sent on the output interface, its scope.
  const ruleIds = new Map<string, number>();
  for (const p of PROTOCOLS) {
    for (const [dirName, from, to] of [['A>B', sideA, sideB], ['B>A', sideB, sideA]] as const) {
      const added = await client.request({ kind: 'addRule', rule: {
        name: `${p.name} ${dirName}`, inputInterface: from.relayIf, inputGroup: p.group, inputPort: p.port,
        outputs: [{ group: p.group, port: p.port, interface: to.relayIf, ttl: 255 }],
      } });
      ruleIds.set(`${p.name} ${dirName}`, added.rule.id);
    }
  }
  // The listener keeps both mDNS pairs from being consumed; SSDP, with
  // nobody on port 1900, is consumed (the tc filter drops it after MCR's
  // packet sockets took it): both paths are in the run.
  const wantConsumed = (id: number): boolean => ![...ruleIds].some(([name, rid]) => rid === id && name.startsWith('mdns'));
  const decided = await pollUntil(async () => {
    const list = await client.request({ kind: 'listRules' });
    const rules = list.consumes?.rules ?? [];
    return rules.length === ruleIds.size && rules.every((r) => r.consumed === wantConsumed(r.ruleId));
  }, 10_000, 200);
  t.ok(decided, 'consume auto: the mDNS rules are not consumed (a host socket listens on 5353), the SSDP ones are');

  const sent = await runStreams(rl, sideA, sideB, COUNT, RATE);
  t.same(sent.gens.map((g) => [g.sent, g.errors]), sent.gens.map(() => [COUNT, 0]), 'every sender sent its datagrams');
  checkSinks(t, sent.reports, COUNT, '');

  // The host listeners hear what came off the wires, once each; a copy of
  // what MCR sent (its outputs' multicast loopback) would add the other
  // side's stream on an interface, or double it on 0.0.0.0.
  const mdns4 = PROTOCOLS[0];
  const mdns6 = PROTOCOLS[2];
  for (const [name, streams] of [['mdns', [mdns4.streamA, mdns4.streamB]], ['mdns6 A', [mdns6.streamA]], ['mdns6 B', [mdns6.streamB]]] as const) {
    const host = JSON.parse(await hostListeners.get(name)?.waitForLine('stdout', /^\{/, 40_000) ?? '{}') as Report;
    const seen = Object.entries(host.streams).map(([id, s]) => [Number(id), s.received, s.duplicated]).sort((x, y) => Number(x[0]) - Number(y[0]));
    t.same(seen, streams.map((id) => [id, COUNT, 0]), `host listener ${name}: stream(s) ${streams.join(', ')} once each, none of MCR's sends`);
  }

  // Each rule matched exactly what its own side sent: a datagram MCR sent
  // that came back as input would match the other direction's rule.
  const stats = await client.request({ kind: 'stats' });
  for (const [name, id] of ruleIds) {
    const rule = stats.rules.find((r) => r.ruleId === id);
    t.same([Number(rule?.packets), Number(rule?.outputs[0]?.packets), Number(rule?.errors)], [COUNT, COUNT, 0],
      `rule ${name}: matched and sent exactly its side's ${COUNT} datagrams`);
  }

  // A hairpin on each segment and a loop between them, as a reflective
  // switch port or a bridge would make: every UDP frame the relay sends out
  // of in0 or out0 comes back in on the same interface and on the other
  // one, as ordinary (not PACKET_OUTGOING) input. MCR knows them by their
  // Ethernet source (its input's MAC, or the MAC of the rule's output) and
  // relays none of them again (frame_forwarder.cc, drop_own_frame).
  await t.test('frames MCR sent, looped back to its inputs, are not relayed again', async (t) => {
    const loops = await loopBack(rl, sideA, sideB);
    if (loops !== undefined) {
      t.plan(0, loops);
      return;
    }
    const before = await client.request({ kind: 'stats' });
    const N = 300;
    const looped = await runStreams(rl, sideA, sideB, N, 2000);
    t.same(looped.gens.map((g) => [g.sent, g.errors]), looped.gens.map(() => [N, 0]), 'looped: every sender sent its datagrams');
    checkSinks(t, looped.reports, N, 'looped: ');
    const after = await client.request({ kind: 'stats' });
    for (const [name, id] of ruleIds) {
      const packets = (stats: typeof after): number => Number(stats.rules.find((r) => r.ruleId === id)?.packets);
      t.equal(packets(after) - packets(before), N, `looped: rule ${name} matched its side's ${N} datagrams, none of the looped ones`);
    }
    // Each interface got back, per stream, what MCR sent out of it
    // (hairpin) and out of the other (the loop between the segments): up to
    // 2 x 3 x N frames the guard knew as its own. Not exactly that many: a
    // looped UDP_SEGMENT batch can come back whole from a veth, as one frame
    // too big to relay (drop_oversize), and mirred may drop under load.
    for (const ifname of [sideA.relayIf, sideB.relayIf]) {
      const own = (stats: typeof after): number => Number(stats.inputs.find((i) => i.interface === ifname)?.malformed.own_frame);
      const dropped = own(after) - own(before);
      t.ok(dropped > 0 && dropped <= 2 * PROTOCOLS.length * N, `looped: ${ifname} dropped ${dropped} of its own frames (at most 2 x ${PROTOCOLS.length} x ${N})`);
    }
  });
});

/** What the receivers of one round reported, by stream name and side, and what the generators sent. */
interface Round { gens: GenReport[]; reports: Map<string, Report> }

/** One round: a receiver per stream and side, then each side sends `count` datagrams of each stream. */
async function runStreams(rl: RelayLab, sideA: Side, sideB: Side, count: number, rate: number): Promise<Round> {
  const sinks = new Map<string, LabProcess>();
  for (const p of PROTOCOLS) {
    for (const [side, host] of [['A', sideA], ['B', sideB]] as const) {
      const proc = rl.lab.spawn(host.ns, TOOL('mcrsink'), ['--port', String(p.port), '--group', p.group,
        '--interface', host.ifname, '--count', String(4 * count), '--duration', '30', '--idle', '2']);
      await proc.waitForLine('stderr', /"event":"ready"/, 10_000);
      sinks.set(`${p.name} ${side}`, proc);
    }
  }
  const gens: Array<Promise<GenReport>> = [];
  for (const p of PROTOCOLS) {
    for (const [host, stream] of [[sideA, p.streamA], [sideB, p.streamB]] as const) {
      const proc = rl.lab.spawn(host.ns, TOOL('mcrgen'), ['--dest', p.group, '--port', String(p.port), '--interface', host.ifname,
        '--ttl', '255', '--count', String(count), '--rate', String(rate), '--size', '100', '--stream', String(stream), '--duration', '30']);
      gens.push(genReport(proc));
    }
  }
  const sent = await Promise.all(gens);
  const reports = new Map<string, Report>();
  for (const [key, proc] of sinks) reports.set(key, JSON.parse(await proc.waitForLine('stdout', /^\{/, 40_000)) as Report);
  return { gens: sent, reports };
}

/** Every datagram of the other side once, in order; its own once (the sender's local loopback), never back through MCR. */
function checkSinks(t: Test, reports: Map<string, Report>, count: number, prefix: string): void {
  for (const p of PROTOCOLS) {
    for (const [side, own, other] of [['A', p.streamA, p.streamB], ['B', p.streamB, p.streamA]] as const) {
      const r = reports.get(`${p.name} ${side}`);
      const relayed = r?.streams[String(other)];
      const local = r?.streams[String(own)];
      t.same([relayed?.unique, relayed?.duplicated, relayed?.reordered], [count, 0, 0],
        `${prefix}${p.name}: side ${side} received every datagram of the other side once, in order`);
      // An echo through MCR would be a second copy of each.
      t.same([local?.received, local?.duplicated], [count, 0], `${prefix}${p.name}: side ${side} never got its own datagrams back`);
      t.equal(r?.corrupted, 0, `${prefix}${p.name}: side ${side}: nothing corrupted`);
    }
  }
}

/**
 * In each side's namespace, UDP frames arriving from the relay are mirrored
 * back to it (a hairpin) and across a veth pair to the other side, which
 * sends them on to the relay (a loop between the segments). Undefined when
 * built, else why not (tc's clsact, u32 or mirred missing).
 */
async function loopBack(rl: RelayLab, sideA: Side, sideB: Side): Promise<string | undefined> {
  await rl.lab.addVeth(sideA.ns, 'lpa', sideB.ns, 'lpb');
  for (const [host, lp] of [[sideA, 'lpa'], [sideB, 'lpb']] as const) await rl.lab.setUp(host.ns, lp);
  try {
    for (const [host, lp] of [[sideA, 'lpa'], [sideB, 'lpb']] as const) {
      for (const dev of [host.ifname, lp]) await rl.lab.exec(host.ns, 'tc', ['qdisc', 'add', 'dev', dev, 'clsact']);
      // u32, not flower or matchall: those classifiers are optional and
      // missing from some kernels (this project's CI among them).
      for (const [proto, field] of [['ip', 'ip'], ['ipv6', 'ip6']] as const) {
        await rl.lab.exec(host.ns, 'tc', ['filter', 'add', 'dev', host.ifname, 'ingress', 'protocol', proto, 'u32', 'match', field, 'protocol', '17', '0xff',
          'action', 'mirred', 'egress', 'mirror', 'dev', host.ifname, 'action', 'mirred', 'egress', 'mirror', 'dev', lp]);
      }
      await rl.lab.exec(host.ns, 'tc', ['filter', 'add', 'dev', lp, 'ingress', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0',
        'action', 'mirred', 'egress', 'redirect', 'dev', host.ifname]);
    }
    return undefined;
  } catch (err) {
    // Only what a kernel without these modules answers is a skip; any other
    // failure (a tc syntax error, a timeout) is the test's to report.
    const e = err as Error & { stderr?: string };
    const text = `${e.message} ${e.stderr ?? ''}`;
    if (!/kind is unknown|classifier not found|Failed to load TC action|Unknown (filter|action|qdisc)|Operation not supported/i.test(text)) throw err;
    return `needs tc clsact, u32 and mirred (CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_U32, CONFIG_NET_ACT_MIRRED): ${e.message}`;
  }
}
