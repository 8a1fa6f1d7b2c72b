/**
 * Misbehaving control clients never stall mcrd or other clients: garbage
 * gets an ERR_MCR_BAD_FRAME answer and a disconnect, a silent or half-frame
 * client is cut at the idle timeout, a client that never reads is dropped,
 * an unknown request kind is answered without dropping the client, and
 * clients beyond the limit are told so. Raw net.Sockets play the bad
 * clients; a ControlClient keeps working alongside. Every wait is on an
 * event and bounded.
 */
import t from 'tap';
import { createConnection, type Socket } from 'node:net';
import type { ControlHandler } from '../../supervisor/control/handler.js';
import type { ControlServerOptions } from '../../supervisor/control/server.js';
import { decodeResponse, encodeRequest } from '../../supervisor/wire/control.js';
import type { LogLine, Request, Response } from '../../supervisor/wire/control-types.js';
import { encodeFrame, encodeVarint, FrameDecoder } from '../../supervisor/wire/framing.js';
import { within } from '../../tools/lab/time.js';
import { deferred, startControlServer, stubHandler, type Cleanup } from './control-fixture.js';

const setup = (t: Cleanup, overrides: Partial<ControlHandler> = {}, options: Partial<ControlServerOptions> = {}) =>
  startControlServer(t, stubHandler(overrides), options);



/** A hand-driven client: writes whatever bytes it is told, records every answer. */
class RawClient {
  readonly responses: Response[] = [];
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  private read = 0;
  private wake: (() => void) | null = null;
  private isClosed = false;

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

  send(request: Request): void {
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
        return { rules: [], workers: [{ worker: 'w', interface: 'eth0', received: 1, kernelDrops: 0, restarts: 0 }] };
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
      return { rules: [], workers: [] };
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
  const silentGone = deferred();
  const { path, client } = await setup(
    t,
    {
      // Answers only once the silent client was cut: this request stays in
      // flight past the idle timeout, and its client must not be cut.
      stats: async () => {
        await silentGone.promise;
        return { rules: [], workers: [] };
      },
    },
    { idleTimeoutMs },
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
  t.same(await within(answer, 5000, 'the busy client'), { kind: 'stats', rules: [], workers: [] }, 'the busy client was served');
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

t.test('clients beyond maxClients are told to retry later', async (t) => {
  const { client } = await setup(t, {}, { maxClients: 1 });
  const first = await client();
  t.equal((await first.request({ kind: 'ping' })).pid, process.pid);
  const second = await client();
  await t.rejects(second.request({ kind: 'ping' }), { code: 'ERR_MCR_TOO_MANY_CLIENTS', message: /retry when some have finished/ });
  t.equal((await first.request({ kind: 'ping' })).pid, process.pid, 'the first is unaffected');
});
