/**
 * Misbehaving control clients never stall mcrd or other clients: garbage
 * gets an ERR_MCR_BAD_FRAME answer and a disconnect, a silent client is cut
 * at the idle timeout and one that sends part of a frame at the frame
 * timeout, a client that never reads is dropped without mcrd working on
 * its later requests (while one answer larger than that limit still
 * reaches a client that reads), an unknown request kind is answered without
 * dropping the client, a full server makes room by closing the client idle
 * longest (never one with a request in flight), so 200 idle clients cannot
 * lock out mcrctl, when every client is busy a new one is told to retry,
 * and 200 clients keeping every request place busy do not delay a new
 * client's request behind theirs. Raw net.Sockets play the bad clients; a
 * ControlClient keeps working alongside. Every wait is on an event and
 * bounded; times are reported, never asserted as upper bounds.
 */
import t from 'tap';
import { createConnection, type Socket } from 'node:net';
import { ControlClient } from '../../common/control-client.js';
import type { ControlHandler } from '../../supervisor/control/handler.js';
import type { ControlServer, ControlServerOptions } from '../../supervisor/control/server.js';
import type { RequestScheduler } from '../../supervisor/control/scheduler.js';
import { decodeResponse, encodeRequest, encodeResponse } from '../../proto/control.js';
import type { LogLine, RequestDraft, Response } from '../../proto/types.js';
import { encodeFrame, encodeVarint, FrameDecoder } from '../../proto/framing.js';
import { pollUntil, within } from '../../bench/lab/time.js';
import { deferred, startControlServer, stubHandler, type Cleanup } from './control-fixture.js';

const setup = (t: Cleanup, overrides: Partial<ControlHandler> = {}, options: Partial<ControlServerOptions> = {}) =>
  startControlServer(t, stubHandler(overrides), options);



/** Requests running in the server's scheduler (a private field: read for the test only). */
const runningOf = (server: ControlServer): number => (server as unknown as { scheduler: RequestScheduler }).scheduler.runningCount;

/** A hand-driven client: writes whatever bytes it is told, records every answer. */
class RawClient {
  readonly responses: Response[] = [];
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  private read = 0;
  private wake: (() => void) | null = null;
  isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.decoder.push(chunk)) this.responses.push(decodeResponse(frame));
      this.wake?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static connect(t: Cleanup, path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        t.teardown(() => socket.destroy());
        resolve(new RawClient(socket));
      });
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(request: { id: number; body: RequestDraft }): void {
    this.write(encodeFrame(encodeRequest(request)));
  }

  /** The next answer not yet returned; bounded wait. */
  async next(ms = 5000): Promise<Response> {
    const deadline = Date.now() + ms;
    while (this.read >= this.responses.length) {
      if (this.isClosed) throw new Error('connection closed before the next answer');
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      await within(woken, Math.max(1, deadline - Date.now()), 'the next answer');
    }
    return this.responses[this.read++] as Response;
  }
}


t.test('garbage gets ERR_MCR_BAD_FRAME and a disconnect while another client keeps working', async (t) => {
  const release = deferred();
  const { path, client } = await setup(
    t,
    {
      stats: async () => {
        await release.promise;
        return { rules: [], inputs: [], outputInterfaces: [], workers: [{ worker: 'w', interface: 'eth0', received: 1, kernelDrops: 0, restarts: 0, loop: {} }] };
      },
    },
    { maxFrameBytes: 1024 },
  );
  const good = await client();
  const inFlight = good.request({ kind: 'stats' });
  const garbage: Array<[string, Buffer]> = [
    ['a malformed varint', Buffer.alloc(12, 0xff)],
    ['a frame that is not a Request', Buffer.from([0x03, 0xff, 0xff, 0xff])],
    ['a declared length above the limit', encodeVarint(5000)],
    ['an empty frame', Buffer.from([0x00])],
  ];
  for (const [what, bytes] of garbage) {
    const bad = await RawClient.connect(t, path);
    bad.write(bytes);
    const answer = await bad.next();
    t.equal(answer.id, 0, `${what}: answered on id 0`);
    t.match(answer.body, { kind: 'error', code: 'ERR_MCR_BAD_FRAME' }, `${what}: ERR_MCR_BAD_FRAME`);
    await within(bad.closed, 5000, `${what}: disconnect`);
    t.pass(`${what}: disconnected`);
    t.equal((await good.request({ kind: 'ping' })).pid, process.pid, `${what}: the other client is served`);
  }
  release.resolve();
  t.equal((await inFlight).workers.length, 1, 'its earlier request completes too');
});

t.test('an unknown request kind is answered and the client stays', async (t) => {
  const { path } = await setup(t);
  const raw = await RawClient.connect(t, path);
  // id = 7, then field 99, which no Request kind uses: a newer mcrctl.
  raw.write(encodeFrame(Buffer.from([0x08, 0x07, 0x98, 0x06, 0x01])));
  const answer = await raw.next();
  t.equal(answer.id, 7);
  t.match(answer.body, { kind: 'error', code: 'ERR_MCR_UNKNOWN_REQUEST', message: /same version/ });
  raw.send({ id: 8, body: { kind: 'ping' } });
  t.match(await raw.next(), { id: 8, body: { kind: 'ping' } });
  raw.send({ id: 0, body: { kind: 'ping' } });
  t.match(await raw.next(), { id: 0, body: { kind: 'error', code: 'ERR_MCR_BAD_REQUEST', message: /number requests from 1/ } });
});

t.test('a reused id in flight is refused, the first request still answered', async (t) => {
  const release = deferred();
  const { path } = await setup(t, {
    stats: async () => {
      await release.promise;
      return { rules: [], workers: [], inputs: [], outputInterfaces: [] };
    },
  });
  const raw = await RawClient.connect(t, path);
  raw.send({ id: 5, body: { kind: 'stats' } });
  raw.send({ id: 5, body: { kind: 'ping' } });
  t.match(await raw.next(), { id: 5, body: { kind: 'error', code: 'ERR_MCR_BAD_REQUEST', message: /already in use/ } });
  release.resolve();
  t.match(await raw.next(), { id: 5, body: { kind: 'stats' } });
});

t.test('a silent client is cut at the idle timeout while another client is served', async (t) => {
  const idleTimeoutMs = 200;
  // The half-frame client below is cut by whichever comes first; here, the idle timeout.
  const frameTimeoutMs = 60_000;
  const silentGone = deferred();
  const { path, client } = await setup(
    t,
    {
      // Answers only once the silent client was cut: this request stays in
      // flight past the idle timeout, and its client must not be cut.
      stats: async () => {
        await silentGone.promise;
        return { rules: [], workers: [], inputs: [], outputInterfaces: [] };
      },
    },
    { idleTimeoutMs, frameTimeoutMs },
  );
  const busy = await client();
  const answer = busy.request({ kind: 'stats' });
  const started = Date.now();
  const silent = await RawClient.connect(t, path);
  const halfFrame = await RawClient.connect(t, path);
  halfFrame.write(Buffer.from([0x0a, 0x08, 0x01])); // 10 bytes announced, 2 sent
  await within(Promise.all([silent.closed, halfFrame.closed]), 5000, 'idle clients to be cut');
  const elapsed = Date.now() - started;
  silentGone.resolve();
  t.ok(elapsed >= idleTimeoutMs - 20, `cut after ${elapsed} ms, not before the ${idleTimeoutMs} ms timeout`);
  t.match(silent.responses, [{ id: 0, body: { kind: 'error', code: 'ETIMEDOUT', message: /no request for 0.2 s: .*reconnect/ } }]);
  t.match(halfFrame.responses, [{ id: 0, body: { kind: 'error', code: 'ETIMEDOUT' } }]);
  t.same(await within(answer, 5000, 'the busy client'), { kind: 'stats', rules: [], workers: [], inputs: [], outputInterfaces: [] }, 'the busy client was served');
  t.equal((await busy.request({ kind: 'ping' })).pid, process.pid, 'and is still connected');
});

t.test('a client that never reads its answers is dropped; others are unaffected', async (t) => {
  const bigLine: LogLine = { worker: 'eth0/0', timeMs: 1, level: 'info', message: 'x'.repeat(500), json: 'y'.repeat(500) };
  const { path, client } = await setup(t, { logs: async () => ({ lines: Array.from({ length: 64 }, () => bigLine) }) }, { maxPendingWriteBytes: 64 * 1024 });
  const reader = await client();
  const hog = await RawClient.connect(t, path);
  hog.socket.pause();
  const requests = 100; // about 6 MB of answers: far beyond the socket buffers
  for (let id = 1; id <= requests; id++) hog.send({ id, body: { kind: 'logs' } });
  // The hog's requests are handled and its answers pile up meanwhile.
  for (let i = 0; i < 5; i++) t.equal((await reader.request({ kind: 'logs' })).lines.length, 64, `reader served (${i})`);
  hog.socket.resume();
  await within(hog.closed, 10_000, 'the hog to be dropped');
  t.ok(hog.responses.length < requests, `dropped after ${hog.responses.length} of ${requests} answers`);
  t.equal((await reader.request({ kind: 'ping' })).pid, process.pid);
});

t.test('a frame not complete within the frame timeout is cut; whole frames sent slowly byte by byte are served', async (t) => {
  const frameTimeoutMs = 1000;
  const { path, client } = await setup(t, {}, { frameTimeoutMs, idleTimeoutMs: 60_000 });
  const good = await client();
  const stuck = await RawClient.connect(t, path);
  const started = Date.now();
  stuck.write(Buffer.from([0x0a, 0x08, 0x01])); // 10 bytes announced, 2 sent
  // A ping frame is 5 bytes: at one byte per 50 ms each frame is whole
  // well within the timeout, which starts again with every frame.
  const trickler = await RawClient.connect(t, path);
  for (let id = 1; id <= 3; id++) {
    const frame = encodeFrame(encodeRequest({ id, body: { kind: 'ping' } }));
    for (const byte of frame) {
      trickler.write(Buffer.from([byte]));
      await new Promise((r) => setTimeout(r, 50));
    }
    t.match(await trickler.next(), { id, body: { kind: 'ping' } }, `trickled ping ${id} answered`);
  }
  await within(stuck.closed, 10_000, 'the unfinished frame to be cut');
  const elapsed = Date.now() - started;
  t.ok(elapsed >= frameTimeoutMs - 20, `cut after ${elapsed} ms, not before the ${frameTimeoutMs} ms frame timeout`);
  t.match(stuck.responses, [{ id: 0, body: { kind: 'error', code: 'ETIMEDOUT', message: /not complete 1 s after its first byte \(2 bytes arrived\).*send each request whole/ } }]);
  t.notOk(trickler.isClosed, 'the slow but whole-frame client stays');
  t.equal((await good.request({ kind: 'ping' })).pid, process.pid, 'others are served');
});

t.test('one answer larger than the unread limit reaches a client that reads; a client that does not read is dropped before mcrd works on the rest', async (t) => {
  const rules = Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, name: `rule-${i}`, inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 1 + i,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'eth1' }] }));
  const calls = new Map<number, number>();
  const { server, path, client } = await setup(t, {
    listRules: async (_r, context) => {
      calls.set(context.clientId, (calls.get(context.clientId) ?? 0) + 1);
      return { rules, generation: 1, problems: [] };
    },
  }, { maxPendingWriteBytes: 64 * 1024 });
  const reader = await client();
  const list = await reader.request({ kind: 'listRules' });
  t.ok(encodeResponse({ id: 1, more: false, body: list }).length > 2 * 64 * 1024, 'the answer is over twice the limit');
  t.equal(list.rules.length, rules.length, 'the whole list arrived');
  const hog = await RawClient.connect(t, path);
  hog.socket.pause();
  const requests = 50;
  for (let id = 1; id <= requests; id++) hog.send({ id, body: { kind: 'listRules' } });
  // A paused socket does not see its close: watch the server's side.
  const dropped = await pollUntil(async () => server.clientCount === 1, 20_000, 20);
  t.ok(dropped, 'the client that does not read was dropped');
  hog.socket.resume();
  await within(hog.closed, 5000, 'the dropped client to see its close');
  const hogCalls = [...calls.values()].reduce((a, b) => a + b, 0) - 1;
  t.ok(hogCalls < requests / 2, `mcrd built ${hogCalls} of its ${requests} lists before dropping it`);
  t.equal(runningOf(server), 0, 'none of its requests holds a place in the scheduler');
  t.equal((await reader.request({ kind: 'listRules' })).rules.length, rules.length, 'the reader is served again');
});

t.test('a client that does not read gets no more requests started, counts as idle and is cut at the idle timeout', async (t) => {
  const rules = Array.from({ length: 500 }, (_, i) => ({ id: i + 1, name: `rule-${i}`, inputInterface: 'eth0', inputGroup: '239.1.1.1', inputPort: 1 + i,
    outputs: [{ group: '239.2.2.2', port: 6000, interface: 'eth1' }] }));
  let calls = 0;
  const { server, path, client } = await setup(t, {
    listRules: async () => {
      calls++;
      return { rules, generation: 1, problems: [] };
    },
  }, { idleTimeoutMs: 500 }); // the unread limit stays at its 4 MiB: never reached here
  const first = await client();
  const answer = encodeResponse({ id: 1, more: false, body: await first.request({ kind: 'listRules' }) }).length;
  await first.close();
  const hog = await RawClient.connect(t, path);
  hog.socket.pause();
  const requests = 100;
  hog.write(Buffer.concat(Array.from({ length: requests }, (_, i) => encodeFrame(encodeRequest({ id: i + 1, body: { kind: 'listRules' } })))));
  const cut = await pollUntil(async () => server.clientCount === 0, 20_000, 20);
  t.ok(cut, 'the client that does not read was closed');
  const hogCalls = calls - 1;
  t.equal(runningOf(server), 0, 'none of its requests holds a place in the scheduler');
  t.ok(hogCalls <= 48, `mcrd built ${hogCalls} of its ${requests} answers (${answer} bytes each, ${(hogCalls * answer / 1024 / 1024).toFixed(1)} MiB, under the 4 MiB limit)`);
  hog.socket.resume();
  await within(hog.closed, 5000, 'the hog to see its close');
  t.match(hog.responses.at(-1), { id: 0, body: { kind: 'error', code: 'ETIMEDOUT', message: /no request for 0.5 s/ } }, 'its last answer says why');
  // (A client of its own: an earlier one would have been cut as idle meanwhile.)
  t.equal((await (await client()).request({ kind: 'listRules' })).rules.length, rules.length, 'another client is served');
});

t.test('200 clients keeping every request place busy do not delay a new client behind them', async (t) => {
  const maxRunningRequests = 4;
  const busyClients = 200;
  const order: string[] = [];
  const spin = (ms: number): void => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  const { path, client } = await setup(t, {
    // Each stats waits a loop turn and takes 1 ms of CPU, like a real one
    // that waits for the workers' counters, then sums them. (A timer here
    // would starve the sockets: timers that expire while the timer phase
    // runs are run in the same phase.)
    stats: async (_r, context) => {
      order.push(`busy ${context.clientId}`);
      await new Promise((r) => setImmediate(r));
      spin(1);
      return { rules: [], workers: [], inputs: [], outputInterfaces: [] };
    },
    listRules: async () => {
      order.push('new');
      return { rules: [], generation: 0, problems: [] };
    },
  }, { maxRunningRequests });
  let stopped = false;
  const served = new Set<number>();
  const loops = Array.from({ length: busyClients }, async (_, n) => {
    const raw = await RawClient.connect(t, path);
    for (let id = 1; !stopped; id++) {
      raw.send({ id, body: { kind: 'stats' } });
      await raw.next(30_000);
      served.add(n);
    }
  });
  try {
    // All connected and answered once: the new client's connection is not
    // queued behind theirs in the listen backlog, only its request behind
    // their requests.
    await within((async () => {
      while (served.size < busyClients) await new Promise((r) => setTimeout(r, 10));
    })(), 60_000, 'every busy client to be answered once');
    const good = await client();
    const before = order.length;
    const begin = performance.now();
    const list = await good.request({ kind: 'listRules' });
    const ms = performance.now() - begin;
    const ahead = order.slice(before, order.indexOf('new', before)).length;
    t.same(list.rules, [], 'the new client is answered');
    // In arrival order it would wait for the ~200 stats queued before it.
    t.ok(ahead <= 2 * maxRunningRequests, `${ahead} busy requests started between its request and its start (${busyClients} were waiting)`);
    t.comment(`answered in ${ms.toFixed(1)} ms while ${busyClients} clients kept ${maxRunningRequests} places busy`);
  } finally {
    stopped = true;
    await within(Promise.all(loops), 30_000, 'the busy clients to stop');
  }
});

t.test('a full server evicts the client idle longest; one with a request in flight or a log stream is never evicted', async (t) => {
  const release = deferred();
  const statsStarted = deferred();
  const followStarted = deferred();
  const logged: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const log = { debug() {}, warn() {}, error() {}, info: (fields: object, msg: string) => void logged.push({ fields: fields as Record<string, unknown>, msg }) };
  const { path, client } = await setup(
    t,
    {
      stats: async () => {
        statsStarted.resolve();
        await release.promise;
        return { rules: [], workers: [], inputs: [], outputInterfaces: [] };
      },
      // A follow stream that sends nothing until its client goes away.
      logs: async (_request, context) => (async function* () {
        followStarted.resolve();
        await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
        yield* [];
      })(),
    },
    { maxClients: 4, log },
  );
  const busy = await client();
  const waiting = busy.request({ kind: 'stats' });
  const follower = await RawClient.connect(t, path);
  follower.send({ id: 1, body: { kind: 'logs', follow: true } });
  const oldest = await RawClient.connect(t, path);
  oldest.send({ id: 1, body: { kind: 'ping' } });
  t.match(await oldest.next(), { id: 1, body: { kind: 'ping' } });
  const recent = await RawClient.connect(t, path);
  recent.send({ id: 1, body: { kind: 'ping' } });
  t.match(await recent.next(), { id: 1, body: { kind: 'ping' } });
  await within(Promise.all([statsStarted.promise, followStarted.promise]), 5000, 'the stats request and the log stream to start');
  oldest.send({ id: 2, body: { kind: 'ping' } }); // now `recent` is the one idle longest
  t.match(await oldest.next(), { id: 2, body: { kind: 'ping' } });

  const newcomer = await client();
  t.equal((await newcomer.request({ kind: 'ping' })).pid, process.pid, 'the new client is served');
  await within(recent.closed, 5000, 'the client idle longest to be closed');
  t.match(recent.responses.at(-1), { id: 0, body: { kind: 'error', code: 'ERR_MCR_EVICTED', message: /closed this idle connection .*: reconnect/ } },
    'it was told why');
  t.ok(logged.some((l) => /evict/.test(l.msg) && typeof l.fields.client === 'number'), 'the eviction is logged at info with the client id');

  const next = await client();
  t.equal((await next.request({ kind: 'ping' })).pid, process.pid, 'another newcomer is served too');
  await within(oldest.closed, 5000, 'the next idle one to be closed');
  t.notOk(follower.isClosed, 'the log stream was not evicted');

  // Now busy and follower have requests in flight, newcomer and next are idle.
  const third = await client();
  t.equal((await third.request({ kind: 'ping' })).pid, process.pid);
  await t.rejects(newcomer.request({ kind: 'ping' }), { code: 'ERR_MCR_EVICTED' }, 'the idle newcomer made room');
  release.resolve();
  t.same(await waiting, { kind: 'stats', rules: [], workers: [], inputs: [], outputInterfaces: [] }, 'the request in flight was answered');
});

t.test('when every client has a request in flight, a new one is told to retry later', async (t) => {
  const release = deferred();
  const { client } = await setup(t, {
    stats: async () => {
      await release.promise;
      return { rules: [], workers: [], inputs: [], outputInterfaces: [] };
    },
  }, { maxClients: 1 });
  const first = await client();
  const waiting = first.request({ kind: 'stats' });
  t.equal((await first.request({ kind: 'ping' })).pid, process.pid, 'stats reached the server');
  const second = await client();
  await t.rejects(second.request({ kind: 'ping' }), { code: 'ERR_MCR_TOO_MANY_CLIENTS', message: /retry when some have finished/ });
  release.resolve();
  t.same(await waiting, { kind: 'stats', rules: [], workers: [], inputs: [], outputInterfaces: [] }, 'the first is unaffected');
});

t.test('200 idle clients do not lock out a well-behaved one', async (t) => {
  const abusers = 200;
  const maxClients = 64; // fewer than the abusers, so that the server is full
  const maxReconnects = 5; // per abuser: bounds the churn an evicted abuser's reconnects cause
  const { path } = await setup(t, {}, { maxClients });
  let stopped = false;
  let reconnects = 0;
  const reconnecting = new Set<Promise<unknown>>();
  // Connects, pings once (answered, or evicted by a later client) and stays;
  // an abuser that gets evicted comes back, up to maxReconnects times.
  const abuse = async (left: number): Promise<RawClient> => {
    const raw = await RawClient.connect(t, path);
    raw.send({ id: 1, body: { kind: 'ping' } });
    void raw.closed.then(() => {
      if (stopped || left === 0) return;
      reconnects++;
      const again = abuse(left - 1).catch(() => undefined);
      reconnecting.add(again);
      void again.finally(() => reconnecting.delete(again));
    });
    await raw.next(10_000).catch(() => undefined);
    return raw;
  };
  const started = Date.now();
  const clients = await within(Promise.all(Array.from({ length: abusers }, () => abuse(maxReconnects))), 20_000,
    `${abusers} abusive clients to connect and ping`);
  const held = clients.filter((c) => !c.isClosed).length;
  t.ok(held >= maxClients, `the abusers hold every slot (${held} still connected after ${Date.now() - started} ms)`);

  const times: number[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      // Generous bounds: this proves the client gets in, not how fast (bench/control-abuse.ts measures that).
      const good = new ControlClient({ connectTimeoutMs: 5000, requestTimeoutMs: 5000 });
      t.teardown(() => good.close());
      const begin = process.hrtime.bigint();
      await good.connect(path);
      const ping = await good.request({ kind: 'ping' });
      const ms = Number(process.hrtime.bigint() - begin) / 1e6;
      times.push(ms);
      t.equal(ping.pid, process.pid, `well-behaved client ${i} answered (${ms.toFixed(1)} ms; ${reconnects} abuser reconnects so far)`);
      await good.close();
    }
  } finally {
    // Evictions go on among the abusers; let the reconnects under way
    // finish so that none starts after the test, pass or fail.
    stopped = true;
    await within(Promise.all([...reconnecting]), 15_000, 'the abusers\' reconnects under way');
  }
  t.comment(`answer times ${times.map((ms) => ms.toFixed(1)).join(', ')} ms; ${reconnects} abuser reconnects`);
});
