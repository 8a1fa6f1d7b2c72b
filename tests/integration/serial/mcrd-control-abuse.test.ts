/**
 * Misbehaving control clients against a running mcrd (not only a
 * ControlServer with a fake handler): each kind of garbage gets one
 * ERR_MCR_BAD_FRAME answer on id 0 and a disconnect; clients that connect
 * and stay silent, or send half a frame and stop, do not delay anyone else
 * (mcrctl ping and list are answered while they hang on); and afterwards mcrd
 * is healthy: same pid, same worker, still forwarding. 300 clients that
 * connect, ping once and stay idle (more than mcrd's 256 places) do not
 * lock mcrctl out: mcrd evicts the one idle longest for each newcomer, and
 * logs it. Then, under traffic, each abuse of bench/control-abusers.ts in
 * turn (200 clients sending requests back to back, 200 sending one byte
 * per second, oversized frames, garbage frames, clients that never read
 * large rule lists, reloads of a config of 1000 rules back to back): a
 * well-behaved client asking list and stats every 100 ms is always
 * answered, mcrctl list and stats succeed, and not one datagram is lost.
 * How fast the answers come is measured by bench/control-abuse.ts, not
 * asserted here: the bounds below (5 s) only say that they come.
 * Raw net.Sockets play the bad clients; every wait is on an event and
 * bounded.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelayLab, skipUnlessRoot } from '../../../bench/lab/index.js';
import { ControlClient } from '../../../common/control-client.js';
import { decodeResponse, encodeRequest } from '../../../proto/control.js';
import type { Response } from '../../../proto/types.js';
import { encodeFrame, encodeVarint, FrameDecoder } from '../../../proto/framing.js';
import { runGen, sinkReport, startSink } from '../harness.js';
import { ABUSE_KINDS } from '../../../bench/control-abusers.js';
import { PROBE_TIMEOUT_MS, runControlAbuse, type ScenarioResult } from '../../../bench/control-abuse.js';
import { DEFAULT_MAX_REQUEST_BYTES } from '../../../supervisor/control/server.js';
import { mcrctl, mcrdLab, startMcrd, workersOf } from '../mcrd-harness.js';
import { within } from '../../../bench/lab/time.js';

/** A client that writes raw bytes and records the answers and the close. */
interface Raw {
  socket: Socket;
  responses: Response[];
  closed: Promise<void>;
  isClosed(): boolean;
  /** Resolves when the first answer arrives, or the connection closes without one. */
  answered: Promise<void>;
}

function connectRaw(path: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 * 1024 });
    const responses: Response[] = [];
    let closed = false;
    let onAnswer = (): void => undefined;
    const answered = new Promise<void>((r) => (onAnswer = r));
    const closedPromise = new Promise<void>((r) => socket.on('close', () => {
      closed = true;
      onAnswer();
      r();
    }));
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) responses.push(decodeResponse(frame));
      if (responses.length > 0) onAnswer();
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve({ socket, responses, closed: closedPromise, isClosed: () => closed, answered });
    });
  });
}


t.test('bad frames and silent clients against a running mcrd', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rl = await createRelayLab({ tag: 'ctlabuse' });
  const dir = mkdtempSync(join(tmpdir(), 'mcrd-abuse-'));
  const raws: Raw[] = [];
  t.teardown(async () => {
    for (const raw of raws) raw.socket.destroy();
    await rl.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const socket = join(dir, 'mcrd.sock');
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '1']);
  const good = new ControlClient({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 });
  await good.connect(socket);
  t.teardown(() => good.close());
  await good.request({ kind: 'addRule', rule: { inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }] } });
  const worker = (await workersOf(socket))[0];

  // Silent and half-frame clients connect first and stay for the whole test.
  const silent = await connectRaw(socket);
  const half = await connectRaw(socket);
  raws.push(silent, half);
  half.socket.write(Buffer.from([0x0a, 0x08, 0x01])); // 10 bytes announced, 2 sent

  const garbage: Array<[string, Buffer]> = [
    ['a malformed varint', Buffer.alloc(12, 0xff)],
    ['a frame that is not a Request', Buffer.from([0x03, 0xff, 0xff, 0xff])],
    ['a declared length above the 64 KiB request limit', encodeVarint(2 * DEFAULT_MAX_REQUEST_BYTES)],
    ['an empty frame', Buffer.from([0x00])],
  ];
  for (const [what, bytes] of garbage) {
    const bad = await connectRaw(socket);
    raws.push(bad);
    bad.socket.write(bytes);
    await within(bad.closed, 5000, `${what}: the disconnect`);
    t.match(bad.responses, [{ id: 0, body: { kind: 'error', code: 'ERR_MCR_BAD_FRAME' } }], `${what}: one ERR_MCR_BAD_FRAME answer, then disconnected`);
  }

  // While the silent clients hang on, others are served. The bounds are
  // generous (a loaded machine must pass): they prove an answer, not a speed.
  // mcrctl's --timeout bounds the connect and the answer, not its own start.
  for (let i = 0; i < 3; i++) {
    const ping = await mcrctl(socket, ['--timeout', '5000', 'ping']);
    t.equal(ping.exitCode, 0, `mcrctl ping answered (${ping.stderr})`);
    t.match(ping.stdout, new RegExp(`^mcrd is running: pid ${mcrd.pid}, up `));
    const begin = performance.now();
    const list = await within(good.request({ kind: 'listRules' }), 5000, 'list');
    t.equal(list.rules.length, 1, `list answered on a long-lived connection (${(performance.now() - begin).toFixed(1)} ms)`);
  }
  t.notOk(silent.isClosed() || half.isClosed(), 'the silent clients were not cut early (idle limit 30 s)');
  t.same([silent.responses, half.responses], [[], []], 'and got nothing');
  t.equal(mcrd.stdoutLines.filter((l) => l.includes('"msg":"control client sent a bad frame; disconnecting"')).length, garbage.length,
    'mcrd logged each bad frame');

  // mcrd is healthy: the same process, the same worker, still forwarding.
  t.notOk(mcrd.exited, 'mcrd is still running');
  const now = (await workersOf(socket))[0];
  t.same([now?.pid, now?.state, now?.restarts], [worker?.pid, 'running', 0], 'its worker was not disturbed');
  const sink = await startSink(rl, 0, { group: '239.2.2.2', port: 6000, count: 2000, idle: 2 });
  await runGen(rl, { dest: '239.1.1.1', port: 5000, count: 2000, rate: 20_000, size: 100 });
  t.equal((await sinkReport(sink)).received, 2000, 'and forwarding everything');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd stops cleanly with the silent clients still connected');
  await within(Promise.all([silent.closed, half.closed]), 5000, 'the silent clients to be closed by the stop');
});

t.test('300 idle clients do not lock mcrctl out of a running mcrd', async (t) => {
  if (skipUnlessRoot(t)) return;
  const { rl, dir } = await mcrdLab(t, 'ctlfull');
  const raws: Raw[] = [];
  t.teardown(() => {
    for (const raw of raws) raw.socket.destroy();
  });
  const socket = join(dir, 'mcrd.sock');
  const mcrd = await startMcrd(rl, ['--control-socket', socket, '--workers', '1']);
  const abusers = 300;
  const places = 256; // mcrd's limit (supervisor/control/server.ts)
  // Each connects, pings once and stays.
  await within(Promise.all(Array.from({ length: abusers }, async () => {
    const raw = await connectRaw(socket);
    raws.push(raw);
    raw.socket.write(encodeFrame(encodeRequest({ id: 1, body: { kind: 'ping' } })));
    await raw.answered;
  })), 20_000, `${abusers} idle clients to connect and ping`);
  const evicted = raws.filter((r) => r.responses.some((x) => x.body.kind === 'error' && x.body.code === 'ERR_MCR_EVICTED')).length;
  t.ok(evicted >= abusers - places, `mcrd evicted the idle clients beyond its ${places} (${evicted})`);

  for (let i = 0; i < 3; i++) {
    const good = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 5000 });
    const begin = process.hrtime.bigint();
    try {
      await good.connect(socket);
      const ping = await good.request({ kind: 'ping' });
      t.equal(ping.pid, mcrd.pid, `a new client is answered (${i}, ${(Number(process.hrtime.bigint() - begin) / 1e6).toFixed(1)} ms)`);
    } finally {
      await good.close();
    }
  }
  // mcrctl's --timeout bounds the connect and the answer, not its own start.
  const ping = await mcrctl(socket, ['--timeout', '5000', 'ping']);
  t.equal(ping.exitCode, 0, `mcrctl ping answered (${ping.stderr})`);
  t.ok(mcrd.stdoutLines.some((l) => l.includes('"msg":"control socket full: evicting the client idle longest"') && /"client":\d+/.test(l) && l.includes('"level":30')),
    'mcrd logged the evictions at info, with the client id');
  t.equal((await mcrd.stop('SIGTERM', 20_000)).exitCode, 0, 'mcrd stops cleanly with the idle clients still connected');
});

t.test('under each abuse in turn, mcrd answers a well-behaved client and forwards every datagram', async (t) => {
  if (skipUnlessRoot(t)) return;
  const rules = 1000;
  const mcrctlRuns: Array<{ abuse: string; args: string; exitCode: number | undefined; stderr: string }> = [];
  const results = await runControlAbuse({
    // 2 s of traffic under each abuse (10 000 datagrams, about 20 probes of
    // each kind): every one must arrive and every probe be answered, so a
    // shorter window proves the same; the bench runs 10 s for the figures.
    scenarios: ABUSE_KINDS, seconds: 2, rate: 5000, rules, tag: 'ctlabuse2',
    // mcrctl itself, as an operator would run it while the abuse goes on.
    whileAbused: async (socket, abuse) => {
      for (const args of [['list'], ['stats']]) {
        const r = await mcrctl(socket, ['--timeout', String(PROBE_TIMEOUT_MS), ...args]);
        mcrctlRuns.push({ abuse, args: args.join(' '), exitCode: r.exitCode, stderr: r.stderr });
      }
    },
  });
  t.same(results.scenarios.map((r) => r.abuse), [...ABUSE_KINDS], 'every abuse ran');
  for (const r of results.scenarios) checkScenario(t, r);
  t.same(mcrctlRuns.filter((r) => r.exitCode !== 0), [], 'mcrctl list and stats succeeded under every abuse');
  t.comment(`well-behaved client, ms p50/p99/max: ${results.scenarios.map((r) => `${r.abuse} list ${r.probes.listRules.p50}/${r.probes.listRules.p99}/${r.probes.listRules.max} stats ${r.probes.stats.p50}/${r.probes.stats.p99}/${r.probes.stats.max}`).join('; ')}`);
});

function checkScenario(t: Test, r: ScenarioResult): void {
  const what = `${r.abuse} (${r.abusers} clients)`;
  for (const kind of ['listRules', 'stats'] as const) {
    const p = r.probes[kind];
    t.same(p.failures, {}, `${what}: every ${kind} of the well-behaved client was answered within ${PROBE_TIMEOUT_MS} ms`);
    t.ok(p.samples >= 1, `${what}: ${p.samples} ${kind} probes answered`);
  }
  t.equal(r.traffic.sent, r.traffic.received, `${what}: all ${r.traffic.sent} datagrams forwarded`);
  t.same([r.traffic.duplicated, r.traffic.reordered], [0, 0], `${what}: none duplicated or reordered`);
  t.same([r.mcrd.samePid, r.mcrd.workerRestarts], [true, 0], `${what}: mcrd and its worker were not restarted`);
  const a = r.abuser;
  if (a === null) {
    t.fail(`${what}: the abusers' report is missing`);
    return;
  }
  const answers = (code: string): number => a.answers[code] ?? 0;
  switch (a.kind) {
    case 'concurrent':
      t.ok(answers('listRules') > 0 && answers('stats') > 0, `${what}: the abusers were answered too (${JSON.stringify(a.answers)})`);
      t.equal(answers('ERR_MCR_TOO_MANY_CLIENTS') + a.closedByServer, 0, `${what}: each had a place (mcrd takes 256)`);
      break;
    case 'oversized':
    case 'garbage':
      t.ok(answers('ERR_MCR_BAD_FRAME') > 0, `${what}: ${answers('ERR_MCR_BAD_FRAME')} bad frames answered ERR_MCR_BAD_FRAME`);
      t.equal(a.closedWithoutBadFrameAnswer, 0, `${what}: each closed only after its ERR_MCR_BAD_FRAME answer`);
      break;
    case 'unread':
      // mcrd stops working for them once their answers back up, and closes
      // them at the idle timeout (30 s) or the 4 MiB limit: the unit tests
      // check both; here they only must not disturb anyone.
      t.ok(a.requests > a.clients * 32, `${what}: ${a.requests} requests sent, answers never read`);
      break;
    case 'reload':
      t.ok(answers('reload') > 0, `${what}: ${answers('reload')} reloads of 1000 rules answered`);
      break;
    case 'slowloris':
      // Cut only once a frame is 10 s old: the unit tests check that.
      t.ok(a.bytesWritten > 0, `${what}: ${a.bytesWritten} bytes trickled`);
      break;
  }
}
