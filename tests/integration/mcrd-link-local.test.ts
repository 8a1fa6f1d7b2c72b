/**
 * Link-local discovery streams relayed between two segments in both
 * directions, as an mDNS (224.0.0.251:5353) or SSDP (239.255.255.250:1900)
 * reflector is set up: rule A→B takes the group on in0 and sends it out of
 * out0, rule B→A takes the same group on out0 and sends it out of in0. A
 * relay like that loops if its own sends come back as input (they would
 * match the other direction's rule): MCR's packet sockets drop outgoing
 * frames (the PACKET_OUTGOING filter) and its output sockets have
 * IP_MULTICAST_LOOP off. A sender and a receiver on each side prove it:
 * every datagram arrives once on the other side, the receiver beside the
 * sender sees its own stream once (the sender's local loopback) and never
 * a second time through MCR, and each rule counts exactly what its side
 * sent, nothing of what MCR relayed the other way.
 */
import t from 'tap';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess } from '../../bench/lab/index.js';
import { ControlClient } from '../../common/control-client.js';
import { genReport, TOOL, type GenReport } from './harness.js';
import { mcrdLab, startMcrd } from './mcrd-harness.js';

interface StreamCounts { received: number; unique: number; duplicated: number; reordered: number }
interface Report { received: number; corrupted: number; streams: Record<string, StreamCounts> }

const COUNT = 2000;
const RATE = 4000;
/** The two protocols, each with a stream id per side: A sends the odd one, B the even one. */
const PROTOCOLS = [
  { name: 'mdns', group: '224.0.0.251', port: 5353, streamA: 1, streamB: 2 },
  { name: 'ssdp', group: '239.255.255.250', port: 1900, streamA: 3, streamB: 4 },
] as const;

t.test('mDNS and SSDP relayed both ways between two segments: each datagram once, nothing echoed', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'linklocal');
  const sideA = { ns: rl.src.ns, ifname: rl.src.ifname, relayIf: rl.relay.input.ifname };
  const b = rl.sinks[0];
  const out0 = rl.relay.outputs[0];
  if (b === undefined || out0 === undefined) throw new Error('the lab has no output 0');
  const sideB = { ns: b.ns, ifname: b.ifname, relayIf: out0.ifname };

  const socket = join(dir, 'mcrd.sock');
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 20_000));
  const client = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 20_000 });
  await client.connect(socket);
  t.teardown(() => client.close());

  // Link-local groups need TTL 255 (mDNS receivers check it, RFC 6762 §11).
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

  // One receiver per protocol and side, beside that side's sender.
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

  // Each rule matched exactly what its own side sent: a datagram MCR sent
  // that came back as input would match the other direction's rule.
  const stats = await client.request({ kind: 'stats' });
  for (const [name, id] of ruleIds) {
    const rule = stats.rules.find((r) => r.ruleId === id);
    t.same([Number(rule?.packets), Number(rule?.outputs[0]?.packets), Number(rule?.errors)], [COUNT, COUNT, 0],
      `rule ${name}: matched and sent exactly its side's ${COUNT} datagrams`);
  }
});
