/**
 * What `consumeInputs: "auto"` costs mcrd per poll at scale: in a relay
 * lab's relay namespace, a child process holds what mcrd and one worker
 * hold for `--rules` rules (each rule's group joined on in0 through
 * membership sockets, as supervisor/net/group-memberships.ts does; one UDP
 * socket per rule bound to out0's address and an ephemeral port, as a
 * worker's outputs are) and times ConsumePolicy.refresh() (read and parse
 * /proc/net/igmp and /proc/net/udp, decide every rule) over `--rounds`
 * rounds with the real /proc. With `--listener`, one socket bound to
 * 0.0.0.0 on the first rule's port is a local listener, so its owner is
 * looked up once (the first round) and then taken from the cache.
 *
 * `node dist/bench/consume-poll.js [--rules 1000] [--rounds 200] [--listener]`.
 * Needs root (network namespaces). Prints one JSON line: the CPU ms per
 * refresh (user + system, and system alone: the kernel's walk of its
 * tables) and the share of one core that a poll every 2 s costs; wall-clock
 * mean, p50, p99 and max ms per refresh; and the parts (each file's read and
 * parse, wall clock).
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createRelayLab, labUnavailableReason } from './lab/index.js';
import { native } from '../native/index.js';
import { ConsumePolicy, POLL_MS } from '../supervisor/net/consume-policy.js';
import { parseProcIgmp, parseProcUdp } from '../supervisor/net/proc-net.js';

const { values } = parseArgs({ options: {
  rules: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '200' }, listener: { type: 'boolean', default: false },
  inside: { type: 'string' },
} });
const RULES = Number(values.rules);
const ROUNDS = Number(values.rounds);

const group = (i: number): string => `239.10.${Math.floor(i / 250)}.${(i % 250) + 1}`;

function bind(s: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => resolve());
  });
}

/** In the relay namespace: hold the sockets, time the refreshes. */
async function inside(outAddr: string): Promise<void> {
  const ifindex = Number(readFileSync('/sys/class/net/in0/ifindex', 'utf8'));
  const held = new Set<string>();
  let fd = native.openMembershipSocket();
  for (let i = 0; i < RULES; i++) {
    try {
      native.changeMembership(fd, ifindex, group(i), true);
    } catch {
      fd = native.openMembershipSocket();  // ENOBUFS: igmp_max_memberships per socket
      native.changeMembership(fd, ifindex, group(i), true);
    }
    held.add(group(i));
  }
  const outputs: Socket[] = [];
  for (let i = 0; i < RULES; i++) {
    const s = createSocket('udp4');
    await bind(s, 0, outAddr);
    outputs.push(s);
  }
  if (values.listener) await bind(createSocket({ type: 'udp4', reuseAddr: true }), 5000, '0.0.0.0');
  const rules = Array.from({ length: RULES }, (_, i) => ({ id: i + 1, inputInterface: 'in0', inputGroup: group(i), inputPort: 5000 + i }));
  const policy = new ConsumePolicy({ mode: 'auto', logger: pino({ level: 'silent' }), rules: () => rules, ownGroupSockets: (_iface, g) => (held.has(g) ? 1 : 0),
    // With --listener the listener is this process's own socket: no own pids, so it counts as a listener and its owner is searched for.
    ownPids: () => (values.listener ? [] : [process.pid]), onChange: () => {} });
  // The parts of a refresh: reading each file (the kernel walks its tables) and parsing it.
  const part = (f: () => unknown): number => {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) f();
    return +((performance.now() - t0) / 20).toFixed(2);
  };
  const udpText = readFileSync('/proc/net/udp', 'utf8');
  const igmpText = readFileSync('/proc/net/igmp', 'utf8');
  const parts = { readUdpMs: part(() => readFileSync('/proc/net/udp', 'utf8')), readIgmpMs: part(() => readFileSync('/proc/net/igmp', 'utf8')),
    parseUdpMs: part(() => parseProcUdp(udpText, undefined, new Set(Array.from({ length: RULES }, (_, i) => 5000 + i)))), parseIgmpMs: part(() => parseProcIgmp(igmpText)) };
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    policy.refresh();
    ms.push(performance.now() - t0);
  }
  // CPU time, not wall time, is what a poll takes from the host (and it is
  // far less inflated than wall time on a loaded machine).
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / ROUNDS;
  const first = ms[0]!;
  const sorted = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const consumed = policy.list().filter((c) => c.consumed).length;
  process.stdout.write(JSON.stringify({
    rules: RULES, rounds: ROUNDS, listener: values.listener, consumed, ...parts,
    udpLines: readFileSync('/proc/net/udp', 'utf8').split('\n').length - 2, igmpBytes: readFileSync('/proc/net/igmp').length,
    firstMs: +first.toFixed(2), meanMs: +mean.toFixed(2), p50Ms: +sorted[Math.floor(ROUNDS / 2)]!.toFixed(2),
    p99Ms: +sorted[Math.floor(ROUNDS * 0.99)]!.toFixed(2), maxMs: +sorted.at(-1)!.toFixed(2),
    cpuMsPerRefresh: +cpuMs.toFixed(2), sysMsPerRefresh: +(cpu.system / 1000 / ROUNDS).toFixed(2),
    coreShareAtPoll: `${((cpuMs / POLL_MS) * 100).toFixed(3)} %`,
  }) + '\n');
  process.exit(0);
}

async function main(): Promise<void> {
  if (values.inside !== undefined) return inside(values.inside);
  const why = labUnavailableReason();
  if (why !== undefined) throw new Error(why);
  const rl = await createRelayLab({ tag: 'cpoll' });
  try {
    const r = await rl.lab.exec(rl.relay.ns, process.execPath, [fileURLToPath(import.meta.url), '--inside', rl.relay.outputs[0]!.addr,
      '--rules', String(RULES), '--rounds', String(ROUNDS), ...(values.listener ? ['--listener'] : [])], { timeoutMs: 300_000 });
    process.stdout.write(r.stdout);
  } finally {
    await rl.lab.destroy();
  }
}

void main();
