/**
 * `mcrctl events` against the real mcrd in the namespace lab (issue 13,
 * Events): the config's rule and a rule added and removed with mcrctl show
 * as rule events; a worker killed with SIGKILL shows as exited (with the
 * signal and the pid) and restarted; an address added to the output
 * interface shows with the addresses before and after; a reload of a broken config shows as
 * refused with its error code; `events --follow --json` (started first)
 * receives those events as they happen, one JSON object per line; and a
 * follower that never reads is dropped with a counted notice while the
 * stream keeps being forwarded and mcrctl keeps being answered.
 */
import t from 'tap';
import { createConnection } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { skipUnlessRoot } from '../../bench/lab/index.js';
import { pollUntil } from '../../bench/lab/time.js';
import { encodeFrame, FrameDecoder } from '../../proto/framing.js';
import { decodeResponse, encodeRequest } from '../../proto/control.js';
import type { Response, StatsResult } from '../../proto/index.js';
import { sinkReport, startGen, startSink } from './harness.js';
import { MCRCTL, mcrctl, mcrctlJson, mcrdLab, startMcrd, workersOf, connectClient } from './mcrd-harness.js';

interface EventJson { seq: number; timeMs: number; time: string; kind: string; fields: Record<string, unknown> }

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const RULE_A = { name: 'a', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] };

async function events(socket: string): Promise<EventJson[]> {
  return (await mcrctlJson<{ events: EventJson[] }>(socket, ['events'])).events;
}

t.test('events: rule changes, a worker killed and restarted, a refused reload, followed as they happen', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'events');
  const file = join(dir, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(file, JSON.stringify({ rules: [RULE_A] }));
  const mcrd = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1', '--restart-backoff', '100:1000']);
  t.teardown(() => mcrd.stop('SIGTERM', 10_000).catch(() => undefined));
  t.ok(await pollUntil(async () => (await workersOf(socket)).every((w) => w.state === 'running' && w.pid > 0), 15_000), 'the worker runs');

  // The follower starts before anything below happens.
  const follower = execa(process.execPath, [MCRCTL, '--socket', socket, '--json', 'events', '--follow'], { reject: false, timeout: 60_000 });
  t.teardown(() => void follower.kill('SIGTERM'));
  const followed: EventJson[] = [];
  let partial = '';
  follower.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') followed.push(JSON.parse(line) as EventJson);
  });
  t.ok(await pollUntil(async () => followed.some((e) => e.kind === 'worker.started'), 10_000), 'the follower printed the recent events first');
  const startedWith = followed.length;

  const added = await mcrctl(socket, ['add', '--name', 'b', '--input-interface', 'in0', '--input-group', '239.1.1.2', '--input-port', '5002', '--outputs', '239.2.2.3:6002:out0']);
  t.equal(added.exitCode, 0, added.stderr);
  t.equal((await mcrctl(socket, ['remove', '--name', 'b'])).exitCode, 0);

  const [worker] = await workersOf(socket);
  const pid = worker?.pid ?? 0;
  t.ok(pid > 0, `worker pid ${pid}`);
  if (pid > 0) process.kill(pid, 'SIGKILL');
  t.ok(await pollUntil(async () => (await events(socket)).some((e) => e.kind === 'worker.restarted'), 15_000), 'the worker was restarted');

  // An address added to the output interface: netlink, debounced, then the event.
  await rl.lab.exec(rl.relay.ns, 'ip', ['addr', 'add', '10.250.77.1/24', 'dev', 'out0']);
  t.ok(await pollUntil(async () => (await events(socket)).some((e) => e.kind === 'interface.address-changed'), 10_000), 'the address change was recorded');

  writeFileSync(file, '{ rules: [ { name: "a", inputInterface: "in0" ');
  const reload = await mcrctl(socket, ['reload']);
  t.equal(reload.exitCode, 1, 'the broken config is refused');

  const all = await events(socket);
  const one = (kind: string, match: Record<string, unknown> = {}): EventJson | undefined =>
    all.find((e) => e.kind === kind && Object.entries(match).every(([k, v]) => e.fields[k] === v));
  t.match(one('rule.added', { name: 'a' })?.fields, { by: 'config', match: 'in0 239.1.1.1:5000', outputs: ['239.2.2.2:6000:out0'] }, 'the config rule');
  t.match(one('rule.added', { name: 'b' })?.fields, { by: 'control', match: 'in0 239.1.1.2:5002' }, 'the added rule');
  t.match(one('rule.removed', { name: 'b' })?.fields, { by: 'control' }, 'the removed rule');
  t.match(one('worker.exited', { pid })?.fields, { worker: 'in0/0', signal: 'SIGKILL', code: null, reason: 'killed by SIGKILL', next: 'restart' }, 'the kill, with the signal');
  const restarted = one('worker.restarted');
  t.match(restarted?.fields, { worker: 'in0/0', restarts: 1, after: 'killed by SIGKILL' });
  t.not(restarted?.fields.pid, pid, 'under a new pid');
  const address = one('interface.address-changed', { interface: 'out0' });
  t.ok((address?.fields.after as string[] | undefined)?.includes('10.250.77.1') && !(address?.fields.before as string[] | undefined)?.includes('10.250.77.1'),
    `out0's addresses before and after (${JSON.stringify(address?.fields)})`);
  const refused = one('reload.refused');
  t.match(refused?.fields, { file, code: /^ERR_MCR_/, message: /./ }, 'the refused reload with its error');
  t.match(reload.stderr, String(refused?.fields.code), 'the same code mcrctl reported');
  const seqs = all.map((e) => e.seq);
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'in order');
  t.ok(all.every((e) => Math.abs(e.timeMs - Date.now()) < 120_000 && e.time === new Date(e.timeMs).toISOString()), 'each has its time');

  t.ok(await pollUntil(async () => followed.some((e) => e.kind === 'reload.refused'), 5_000), 'the follower received the refused reload');
  const later = followed.slice(startedWith).map((e) => e.kind);
  for (const kind of ['rule.added', 'rule.removed', 'worker.exited', 'worker.restarted', 'interface.address-changed', 'reload.refused']) {
    t.ok(later.includes(kind), `the follower received ${kind} after it started`);
  }
  const seqsFollowed = followed.map((e) => e.seq);
  t.ok(seqsFollowed.slice(startedWith).every((seq, i) => seq === (seqsFollowed[startedWith + i - 1] ?? 0) + 1), 'the follower missed none: consecutive numbers');
  const text = await mcrctl(socket, ['events', '--last', '2']);
  t.equal(text.stdout.split('\n').length, 2, 'readable: one line per event');
  t.match(text.stdout, /Z {2}reload\.refused +file=\S+ code=ERR_MCR_\S+ message=/);
});

t.test('a follower that never reads is dropped with a counted notice; forwarding and mcrctl go on', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'evdrop');
  // A config path of about 2000 characters makes each refused reload an
  // event of about 4 KB (the path, and the message naming it): a few dozen
  // fill the socket buffers of a client that does not read, in well under a
  // second, without the cost of real rule changes.
  const deep = join(dir, ...Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(200, 'd')));
  mkdirSync(deep, { recursive: true });
  const file = join(deep, 'mcrd.json5');
  const socket = join(dir, 'mcrd.sock');
  writeFileSync(file, JSON.stringify({ rules: [RULE_A] }));
  const mcrd = await startMcrd(rl, ['--config', file, '--control-socket', socket, '--workers', '1']);
  t.teardown(() => mcrd.stop('SIGTERM', 10_000).catch(() => undefined));
  t.ok(await pollUntil(async () => (await workersOf(socket)).every((w) => w.state === 'running'), 15_000), 'the worker runs');

  const raw = createConnection(socket);
  t.teardown(() => raw.destroy());
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  raw.write(encodeFrame(encodeRequest({ id: 1, body: { kind: 'events', follow: true, last: 0 } })));
  raw.pause();

  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 1_000_000, duration: 70, idle: 2 });
  await sink.waitForLine('stderr', /ready/, 5000);
  // Longer than the loop below can take; stopped once the checks are done.
  const gen = startGen(rl, { dest: '239.1.1.1', port: 5000, count: 60_000, rate: 1_000, size: 200 });
  const start = Date.now();
  writeFileSync(file, '{ rules: [ broken');
  const client = await connectClient(t, socket);
  let rounds = 0;
  let refused = 0;
  let pings = 0;
  const dropped = async (): Promise<EventJson | undefined> => (await events(socket)).find((e) => e.kind === 'events.follower-dropped');
  let drop: EventJson | undefined;
  // Bounded in count and time: the buffers fill in the first rounds, then 5 s without reading drop the follower.
  while (drop === undefined && rounds < 40 && Date.now() - start < 30_000) {
    for (let i = 0; i < 20; i++) await client.request({ kind: 'reload' }).catch(() => refused++);
    rounds++;
    if ((await mcrctl(socket, ['ping'])).exitCode === 0) pings++;
    drop = await dropped();
    if (drop === undefined) await sleep(500);
  }
  t.equal(refused, rounds * 20, 'every reload was refused (and recorded)');
  t.ok(drop !== undefined, `dropped after ${refused} events, ${Date.now() - start} ms`);
  t.equal(pings, rounds, '`mcrctl ping` was answered in every round while the follower did not read');
  const missed = Number(drop?.fields.missed ?? 0);
  t.ok(missed > 0, `${missed} events missed`);
  t.ok(Number(drop?.fields.stalledMs) >= 5000, `after ${String(drop?.fields.stalledMs)} ms without reading`);

  const forwarded = async (): Promise<number> =>
    (await mcrctlJson<StatsResult>(socket, ['stats'])).rules.find((r) => r.outputs.length === 1 && r.packets > 0)?.packets ?? 0;
  const before = await forwarded();
  let after = before;
  // Until the count grows (bounded), not a fixed pause.
  await pollUntil(async () => (after = await forwarded()) > before, 10_000, 200);
  t.ok(after > before, `rule a still forwards after the drop (${before} -> ${after} packets)`);

  // What the client finds when it reads at last: its batches, then the notice.
  const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  const responses: Response[] = [];
  raw.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) responses.push(decodeResponse(frame));
  });
  raw.resume();
  t.ok(await pollUntil(async () => responses.some((r) => r.body.kind === 'error'), 10_000), 'the notice arrives');
  const notice = responses.at(-1);
  t.match(notice?.body, { kind: 'error', code: 'ERR_MCR_SLOW_FOLLOWER', message: new RegExp(`: ${missed} events \\(seq ${String(drop?.fields.firstMissedSeq)}\\.\\.`) });
  const got = responses.flatMap((r) => (r.body.kind === 'events' ? r.body.events.map((e) => e.seq) : []));
  t.equal(got.at(-1), Number(drop?.fields.firstMissedSeq) - 1, 'every event before the missed ones was sent, then the notice');

  await gen.stop('SIGTERM', 5000).catch(() => undefined);
  const ranMs = Date.now() - start;
  const received = (await sinkReport(sink, 30_000)).received;
  t.ok(received >= (ranMs / 1000 - 2) * 1000 * 0.5, `the stream was forwarded throughout (${received} datagrams received in ${ranMs} ms at 1000/s)`);
});
