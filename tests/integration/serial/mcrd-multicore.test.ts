/**
 * mcrd's promise of one worker per core, on one input: with `--workers 2`
 * both workers' packet sockets are in one PACKET_FANOUT_HASH group, so 16
 * flows (one mcrgen each, its own source port) spread over both workers,
 * each flow stays on one worker and arrives in order, and a kill -9 of one
 * worker leaves the other's flows untouched (no loss, no reordering, never
 * forwarded by another worker) while the killed worker's flows go to the
 * survivor and come back to the replacement.
 *
 * Which worker forwards a datagram is read at the sink: every worker sends
 * from its own output socket (bound to out0's address, kernel-chosen port),
 * whose port the test finds in /proc (the worker's fds and its namespace's
 * /proc/PID/net/udp). The workers' own counters (`stats`, received per
 * worker) are checked against the flows the sink attributes to each.
 *
 * The kernel keeps a fan-out group's members in an array and hashes a flow
 * to an index (net/packet/af_packet.c, fanout_demux_hash); a leaving socket
 * is replaced in its slot by the last member, a joining one is appended.
 * So a restart puts each flow back where it was only when the killed
 * worker's socket was the last to join. The test makes that so (it kills
 * worker in0/0 once before the traffic, so its replacement joins last) and
 * then kills that worker under traffic. Killing an earlier member instead
 * swaps the workers' flow sets at the replacement's join (flows that
 * shared a worker still share one): docs/mcrd.md, "Several workers".
 */
import t from 'tap';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnlessRoot, type LabProcess } from '../../../bench/lab/index.js';
import { pollUntil } from '../../../bench/lab/time.js';
import { ROOT, TOOL } from '../harness.js';
import { mcrctlJson, mcrdLab, startMcrd, workersOf, connectClient } from '../mcrd-harness.js';

const SINK = join(ROOT, 'dist', 'tests', 'fixtures', 'sender-flow-sink.js');
const RULE = { inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] };
const FLOWS = 16;
const RATE = 300; // per flow: 4800 datagrams/s in all, far below one worker's rate
/** One second of all flows: the window each per-worker share is measured over. */
const WINDOW = FLOWS * RATE;

interface Flow { unique: number; maxSeq: number; duplicated: number; reordered: number; senders: Array<[number, number, number, number, number]> }
interface StatsJson { workers: Array<{ worker: string; received: number; restarts: number }> }

/** The parent PID of a process, from /proc/PID/status. */
function ppidOf(pid: number): number {
  return Number(/^PPid:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? -1);
}

/**
 * The local port of the one UDP socket `pid` holds bound to `addr`: its
 * output socket. /proc/PID/net/udp lists the sockets of the process's own
 * network namespace; its fds say which of them are the process's.
 */
function udpPortOf(pid: number, addr: string): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // An fd closed while listing is not the output socket.
    }
  }
  // /proc/net/udp writes the address as the hex of its in-memory u32 (host order).
  const hexAddr = Buffer.from(addr.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
  const ports = readFileSync(`/proc/${pid}/net/udp`, 'utf8').split('\n').slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1]?.startsWith(`${hexAddr}:`) === true && inodes.has(f[9] ?? ''))
    .map((f) => parseInt(f[1]?.split(':')[1] ?? '', 16));
  if (ports.length !== 1) throw new Error(`worker ${pid} holds ${ports.length} UDP sockets on ${addr}, expected its one output socket`);
  return ports[0] ?? 0;
}

t.test('two workers on one input: flows spread over both, stay on one each, in order; a kill moves nothing else', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'mcore');
  const socket = join(dir, 'mcrd.sock');
  const outAddr = rl.relay.outputs[0]?.addr ?? '';
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '2']);
  t.teardown(() => mcrd.stop('SIGKILL', 5000).catch(() => undefined));
  const client = await connectClient(t, socket);
  await client.request({ kind: 'addRule', rule: RULE });
  const received = async (): Promise<Map<string, number>> =>
    new Map(((await client.request({ kind: 'stats' })) as StatsJson).workers.map((w) => [w.worker, w.received]));

  // Kill in0/0 before any traffic: its replacement then joins the fan-out
  // group last, so the kill under traffic below is of its last member.
  const first = await workersOf(socket);
  t.same(first.map((w) => [w.id, w.state]), [['in0/0', 'running'], ['in0/1', 'running']], 'two workers run on in0');
  for (const w of first) t.equal(ppidOf(w.pid), mcrd.pid, `worker ${w.id} (pid ${w.pid}) is a child of mcrd`);
  const firstPid = first[0]?.pid ?? 0;
  if (firstPid <= 0 || ppidOf(firstPid) !== mcrd.pid) throw new Error('in0/0 is not a running child of mcrd');
  process.kill(firstPid, 'SIGKILL');
  await mcrd.waitForLine('stdout', /"worker":"in0\/0".*"restarts":1,.*"msg":"worker running"/, 20_000);

  const ws = await workersOf(socket);
  const victim = ws.find((w) => w.id === 'in0/0');
  const survivor = ws.find((w) => w.id === 'in0/1');
  if (victim === undefined || survivor === undefined || victim.pid <= 0 || survivor.pid <= 0) throw new Error(`workers: ${JSON.stringify(ws)}`);
  t.equal(ppidOf(victim.pid), mcrd.pid, 'the restarted in0/0 is a child of mcrd');
  const victimPort = udpPortOf(victim.pid, outAddr);
  const survivorPort = udpPortOf(survivor.pid, outAddr);

  const sink = rl.lab.spawn(rl.sinks[0]?.ns ?? '', process.execPath, [SINK, '--group', '239.2.2.2', '--port', '6000',
    '--address', rl.sinks[0]?.addr ?? '', '--mark', String(WINDOW), '--idle', '1500', '--duration', '60000']);
  await sink.waitForLine('stderr', /"event":"ready"/, 10_000);
  // Small batches: the share of a one-second window is then close to the
  // flows' share (a batch of 64 at 300/s would be a fifth of a second).
  const gens: LabProcess[] = Array.from({ length: FLOWS }, (_, i) => rl.lab.spawn(rl.src.ns, TOOL('mcrgen'), ['--dest', '239.1.1.1',
    '--port', '5000', '--interface', rl.src.ifname, '--rate', String(RATE), '--size', '100', '--stream', String(i),
    '--batch', '4', '--duration', '60']));
  t.teardown(() => Promise.all(gens.map((g) => g.stop('SIGKILL', 5000).catch(() => undefined))));
  await sink.waitForLine('stderr', /"event":"mark"/, 20_000);

  // Per-worker counters over about one second of every flow.
  const share = async (): Promise<Map<string, number>> => {
    const a = await received();
    const total = (m: Map<string, number>): number => [...m.values()].reduce((x, y) => x + y, 0);
    let b = a;
    const grew = await pollUntil(async () => total(b = await received()) - total(a) >= WINDOW, 20_000, 100);
    if (!grew) throw new Error(`the workers' received counters grew by less than ${WINDOW} in 20 s`);
    const d = new Map([...b].map(([w, n]) => [w, n - (a.get(w) ?? 0)]));
    const sum = total(d);
    return new Map([...d].map(([w, n]) => [w, n / sum]));
  };
  // `mcrctl stats --json` is what users read: each worker carries a share.
  const cli = await mcrctlJson<StatsJson>(socket, ['stats']);
  t.ok(cli.workers.every((w) => w.received > 0), `mcrctl stats: both workers received (${cli.workers.map((w) => `${w.worker} ${w.received}`).join(', ')})`);
  const before = await share();

  t.equal(ppidOf(victim.pid), mcrd.pid, `the worker to kill (pid ${victim.pid}) is still a child of mcrd`);
  process.kill(victim.pid, 'SIGKILL');
  const running = JSON.parse(await mcrd.waitForLine('stdout', /"worker":"in0\/0".*"restarts":2,.*"msg":"worker running"/, 20_000)) as { pid: number };
  t.not(running.pid, victim.pid, 'a new process took the killed worker\'s slot');
  const replacementPort = udpPortOf(running.pid, outAddr);
  const after = await share();

  await Promise.all(gens.map((g) => g.stop('SIGINT', 10_000)));
  const sent = gens.map((g) => {
    const line = g.stdoutLines.filter((l) => l.startsWith('{')).pop();
    if (line === undefined) throw new Error(`mcrgen printed no report: ${g.stderrLines.slice(-3).join(' ')}`);
    return (JSON.parse(line) as { sent: number }).sent;
  });
  const { flows } = JSON.parse(await sink.waitForLine('stdout', /^\{/, 30_000)) as { flows: Record<string, Flow> };

  // Which worker carried each flow before the kill: the port of its first datagram.
  const victimFlows: number[] = [];
  const survivorFlows: number[] = [];
  for (let i = 0; i < FLOWS; i++) {
    const port = flows[i]?.senders[0]?.[0];
    if (port === victimPort) victimFlows.push(i);
    else if (port === survivorPort) survivorFlows.push(i);
  }
  const describe = `${survivorFlows.length} flows on in0/1 (port ${survivorPort}), ${victimFlows.length} on in0/0 (port ${victimPort}, ` +
    `replacement ${replacementPort}); received share of in0/0 ${before.get('in0/0')?.toFixed(3)} before the kill, ` +
    `${after.get('in0/0')?.toFixed(3)} after its restart`;
  t.comment(describe);
  t.equal(victimFlows.length + survivorFlows.length, FLOWS, `every flow was first forwarded by one of the two workers (${describe})`);
  t.ok(victimFlows.length > 0 && survivorFlows.length > 0, `the hash spread the flows over both workers (${describe})`);
  // The workers' own counters agree with what the sink saw (equal-rate
  // flows: a worker's share of the datagrams is its share of the flows).
  const flowShare = victimFlows.length / FLOWS;
  t.ok(Math.abs((before.get('in0/0') ?? 0) - flowShare) <= 0.1, `in0/0's share of received ${before.get('in0/0')?.toFixed(3)} ~ its flows' ${flowShare.toFixed(3)}`);
  t.ok(Math.abs((after.get('in0/0') ?? 0) - flowShare) <= 0.1, `after the restart in0/0's share ${after.get('in0/0')?.toFixed(3)} ~ its flows' ${flowShare.toFixed(3)}`);

  // The survivor's flows: one sender from first to last, nothing lost,
  // duplicated or reordered, through the kill and the replacement's join.
  for (const i of survivorFlows) {
    const f = flows[i];
    t.same({ senders: f?.senders.map((r) => r[0]), unique: f?.unique, duplicated: f?.duplicated, reordered: f?.reordered },
      { senders: [survivorPort], unique: sent[i], duplicated: 0, reordered: 0 }, `flow ${i} (in0/1's): untouched by the kill`);
  }
  // The killed worker's flows: forwarded by no other worker before the kill,
  // by the survivor meanwhile, back on the replacement at the end.
  const moves: string[] = [];
  for (const i of victimFlows) {
    const f = flows[i];
    const ports = f?.senders.map((r) => r[0]) ?? [];
    const last = f?.senders[f.senders.length - 1];
    moves.push(`${i}: lost ${(sent[i] ?? 0) - (f?.unique ?? 0)}, reordered ${f?.reordered}, runs ${ports.map((p) => p === victimPort ? 'V' : p === survivorPort ? 'S' : p === replacementPort ? 'R' : p).join('')}`);
    t.ok(ports.every((p) => p === victimPort || p === survivorPort || p === replacementPort), `flow ${i}: only in0/0, in0/1 and the replacement sent it`);
    t.equal(last?.[0], replacementPort, `flow ${i} (in0/0's) returned to the replacement`);
    t.ok((last?.[2] ?? 0) >= RATE / 2, `flow ${i}: the replacement forwarded it for half a second or more (${last?.[2]} datagrams)`);
    t.equal(f?.duplicated, 0, `flow ${i}: no duplicates`);
    // The kill loses what the dead worker held until its socket left the
    // group at its exit: 23 to 170 ms of each flow in runs at load 18-22; a
    // second is the bound (the exit's ring teardown may wait for a CPU).
    t.ok((sent[i] ?? 0) - (f?.unique ?? 0) <= RATE, `flow ${i}: the kill cost under a second of it (${(sent[i] ?? 0) - (f?.unique ?? 0)})`);
  }
  t.comment(`in0/0's flows (V killed worker, S survivor, R replacement): ${moves.join('; ')}`);
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd stops cleanly');
});
