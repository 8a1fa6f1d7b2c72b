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
 * addresses to leave DAD before MCR opens sockets on them.
 */
import t from 'tap';
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

  // One receiver per stream and side, beside that side's sender.
  const sinks = new Map<string, LabProcess>();
  for (const p of PROTOCOLS) {
    for (const [side, host] of [['A', sideA], ['B', sideB]] as const) {
      const proc = rl.lab.spawn(host.ns, TOOL('mcrsink'), ['--port', String(p.port), '--group', p.group,
        '--interface', host.ifname, '--count', String(4 * COUNT), '--duration', '30', '--idle', '2']);
      await proc.waitForLine('stderr', /"event":"ready"/, 10_000);
      sinks.set(`${p.name} ${side}`, proc);
    }
  }

  const gens: Array<Promise<GenReport>> = [];
  for (const p of PROTOCOLS) {
    for (const [host, stream] of [[sideA, p.streamA], [sideB, p.streamB]] as const) {
      const proc = rl.lab.spawn(host.ns, TOOL('mcrgen'), ['--dest', p.group, '--port', String(p.port), '--interface', host.ifname,
        '--ttl', '255', '--count', String(COUNT), '--rate', String(RATE), '--size', '100', '--stream', String(stream), '--duration', '30']);
      gens.push(genReport(proc));
    }
  }
  const sent = await Promise.all(gens);
  t.same(sent.map((g) => [g.sent, g.errors]), sent.map(() => [COUNT, 0]), 'every sender sent its datagrams');

  for (const p of PROTOCOLS) {
    const reports = new Map<string, Report>();
    for (const side of ['A', 'B']) {
      const line = await sinks.get(`${p.name} ${side}`)?.waitForLine('stdout', /^\{/, 40_000);
      reports.set(side, JSON.parse(line ?? '{}') as Report);
    }
    for (const [side, own, other] of [['A', p.streamA, p.streamB], ['B', p.streamB, p.streamA]] as const) {
      const r = reports.get(side);
      const relayed = r?.streams[String(other)];
      const local = r?.streams[String(own)];
      t.same([relayed?.unique, relayed?.duplicated, relayed?.reordered], [COUNT, 0, 0],
        `${p.name}: side ${side} received every datagram of the other side once, in order`);
      // Its own stream arrives once through the sender's local loopback; an
      // echo through MCR would be a second copy of each.
      t.same([local?.received, local?.duplicated], [COUNT, 0], `${p.name}: side ${side} never got its own datagrams back`);
      t.equal(r?.corrupted, 0, `${p.name}: side ${side}: nothing corrupted`);
    }
  }

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
});
