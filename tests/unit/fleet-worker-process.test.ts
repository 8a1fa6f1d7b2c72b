/**
 * WorkerProcess with injected fakes for the addon calls, the spawn and the
 * command stream (no fd, socket or process is real): the handover sends the
 * packet socket, the command stream's end and the heartbeat memfd, in that
 * order, and closes every parent copy but the stream's own; a failure half
 * way closes everything it opened (and kills a child that never got its
 * fds); replies are matched by seq, a reply that does not decode fails what
 * waits without an exception; a worker that is gone fails a command at
 * once; heartbeat() reads the shared word; kill() never signals a process
 * that has exited or has no pid.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import { Duplex, PassThrough } from 'node:stream';
import { WorkerProcess, type WorkerChild, type WorkerProcessDeps } from '../../supervisor/fleet/worker-process.js';
import { FrameDecoder, decodeCommand, encodeFrame, encodeReply, type Command, type Reply } from '../../proto/index.js';

class FakeChild extends EventEmitter implements WorkerChild {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly signals: NodeJS.Signals[] = [];
  constructor(readonly pid: number | undefined) {
    super();
  }
  kill(signal: NodeJS.Signals): boolean {
    this.signals.push(signal);
    return true;
  }
}

/** The parent's end of the command stream: decodes the commands written, lets the test push replies. */
class FakeStream extends Duplex {
  readonly commands: Command[] = [];
  private readonly decoder = new FrameDecoder();
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    for (const frame of this.decoder.push(chunk)) this.commands.push(decodeCommand(frame));
    done();
  }
  override _read(): void {}
  reply(reply: Reply): void {
    this.push(encodeFrame(encodeReply(reply)));
  }
}

interface Fakes {
  deps: WorkerProcessDeps;
  closed: number[];
  handed: { socket: number; fds: number[] }[];
  spawned: { args: string[]; stdio: unknown }[];
  child: FakeChild;
  stream: FakeStream;
  words: BigUint64Array;
  streamFd: number[];
}

/** Fds 100 (packet), 101/102 (handover pair), 103/104 (command pair), 105 (heartbeat). */
/** pid null: a child that was never spawned (no pid). */
function fakes(fail: Partial<Record<'createHeartbeat' | 'sendFds' | 'spawn', Error>> = {}, pid: number | null = 4242): Fakes {
  const f: Fakes = {
    closed: [], handed: [], spawned: [], child: new FakeChild(pid ?? undefined), stream: new FakeStream(), words: new BigUint64Array(8), streamFd: [],
    deps: undefined as unknown as WorkerProcessDeps,
  };
  const pairs: [number, number][] = [[101, 102], [103, 104]];
  f.deps = {
    openPacketSocket: () => 100,
    socketPair: () => pairs.shift() ?? [0, 0],
    createHeartbeat: () => {
      if (fail.createHeartbeat) throw fail.createHeartbeat;
      return { fd: 105, words: f.words };
    },
    sendFds: (socket, fds) => {
      if (fail.sendFds) throw fail.sendFds;
      f.handed.push({ socket, fds: [...fds] });
    },
    closeFd: (fd) => void f.closed.push(fd),
    spawn: (_command, args, options) => {
      if (fail.spawn) throw fail.spawn;
      f.spawned.push({ args, stdio: options.stdio });
      return f.child;
    },
    openStream: (fd) => {
      f.streamFd.push(fd);
      return f.stream;
    },
  };
  return f;
}

const spec = { id: 'in0/0', interface: 'in0', fanoutGroup: 0x4d00, cpu: 1 };
const reply = (seq: number, generation = 3): Reply => ({ seq, generation, hash: new Uint8Array([1, 2]), refused: [] });

t.test('the handover: packet socket, command stream end, heartbeat memfd; parent copies closed', async (t) => {
  const f = fakes();
  const w = new WorkerProcess(spec, () => undefined, f.deps);
  t.same(f.handed, [{ socket: 101, fds: [100, 104, 105] }], 'three fds over the seqpacket end, the heartbeat third');
  t.same(f.spawned[0]?.stdio, ['ignore', 'pipe', 'pipe', 102], 'the child gets the pair\'s other end as fd 3');
  t.match(f.spawned[0]?.args.join(' '), /--worker-id in0\/0 --interface in0 --cpu 1/);
  t.same([...f.closed].sort(), [100, 101, 102, 104, 105], 'every copy closed but the command stream\'s');
  t.same(f.streamFd, [103], 'the command stream is the parent\'s end');
  t.equal(w.pid, 4242);
  t.ok(w.connected);

  t.equal(w.heartbeat(), 0n, '0 until the loop runs');
  f.words[0] = 17n;
  t.equal(w.heartbeat(), 17n, 'reads word 0 of the shared block');
  w.close();
});

t.test('--aux-cpus only with a cpu and a set: the loop thread alone on its core', async (t) => {
  const withAux = fakes();
  new WorkerProcess({ ...spec, auxCpus: [0, 2] }, () => undefined, withAux.deps).close();
  t.match(withAux.spawned[0]?.args.join(' '), /--cpu 1 --aux-cpus 0,2/);
  const noCpu = fakes();
  const { cpu: _cpu, ...unpinned } = spec;
  new WorkerProcess({ ...unpinned, auxCpus: [0] }, () => undefined, noCpu.deps).close();
  t.notMatch(noCpu.spawned[0]?.args.join(' '), /--aux-cpus|--cpu/, 'no core, no aux CPUs');
  const plain = fakes();
  new WorkerProcess(spec, () => undefined, plain.deps).close();
  t.notMatch(plain.spawned[0]?.args.join(' '), /--aux-cpus/, 'none given, none passed');
});

t.test('a failure half way closes every fd opened so far', async (t) => {
  const heartbeatFails = fakes({ createHeartbeat: Object.assign(new Error('memfd_create'), { code: 'EMFILE' }) });
  t.throws(() => new WorkerProcess(spec, () => undefined, heartbeatFails.deps), { code: 'EMFILE' });
  t.same([...heartbeatFails.closed].sort(), [100, 101, 102, 103, 104], 'the packet socket and both pairs closed');
  t.equal(heartbeatFails.spawned.length, 0, 'nothing spawned');

  const sendFails = fakes({ sendFds: Object.assign(new Error('sendmsg'), { code: 'EPIPE' }) });
  t.throws(() => new WorkerProcess(spec, () => undefined, sendFails.deps), { code: 'EPIPE' });
  t.same([...sendFails.closed].sort(), [100, 101, 102, 103, 104, 105], 'every fd closed, the command stream\'s too');
  t.same(sendFails.child.signals, ['SIGKILL'], 'the child that never got its fds is killed');

  const spawnFails = fakes({ spawn: Object.assign(new Error('spawn'), { code: 'EAGAIN' }) });
  t.throws(() => new WorkerProcess(spec, () => undefined, spawnFails.deps), { code: 'EAGAIN' });
  t.same([...spawnFails.closed].sort(), [100, 101, 102, 103, 104, 105]);
});

t.test('replies matched by seq; a reply that does not decode fails what waits, quietly', async (t) => {
  const f = fakes();
  const w = new WorkerProcess(spec, () => undefined, f.deps);
  const first = w.send({ kind: 'ping', stats: false }, 1_000);
  const second = w.send({ kind: 'setLogLevel', level: 'debug' }, 1_000);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(f.stream.commands.map((c) => [c.seq, c.body.kind]), [[1, 'ping'], [2, 'setLogLevel']]);
  f.stream.reply(reply(2, 9));
  f.stream.reply(reply(1, 8));
  t.equal((await second).generation, 9, 'seq 2 answered');
  t.equal((await first).generation, 8, 'seq 1 answered');

  const waiting = w.send({ kind: 'ping', stats: true }, 5_000);
  // A frame whose body does not decode: field 1 (seq) as a varint cut short.
  f.stream.push(encodeFrame(Buffer.from([0x08, 0xff])));
  await t.rejects(waiting, { code: /^(ERR_MCR_|E)[A-Z_]+$/, message: /does not decode/ }, 'fails with a code, not after the timeout');
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(w.connected, 'the stream is closed');
  const started = Date.now();
  await t.rejects(w.send({ kind: 'ping', stats: false }, 5_000), { code: 'ECONNRESET' });
  t.ok(Date.now() - started < 1_000, 'a command to a closed stream fails at once');
});

t.test('exit: exited settles, commands fail at once, kill signals nothing', async (t) => {
  const f = fakes();
  const w = new WorkerProcess(spec, () => undefined, f.deps);
  w.kill('SIGTERM');
  t.same(f.child.signals, ['SIGTERM'], 'a live worker is signalled');
  f.child.emit('exit', null, 'SIGTERM');
  t.same(await w.exited, { code: null, signal: 'SIGTERM' });
  t.notOk(w.connected, 'not connected once exited');
  await t.rejects(w.send({ kind: 'ping', stats: false }, 5_000), { code: 'ECONNRESET' });
  w.kill('SIGKILL');
  t.same(f.child.signals, ['SIGTERM'], 'an exited worker is never signalled (its pid may be another process now)');
  w.close();
});

t.test('no pid: never signalled; a spawn error is an exit, not an uncaught error', async (t) => {
  const f = fakes({}, null);
  const w = new WorkerProcess(spec, () => undefined, f.deps);
  w.kill('SIGKILL');
  t.same(f.child.signals, [], 'no pid, no signal');
  f.child.emit('error', Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' }));
  t.same(await w.exited, { code: null, signal: null }, 'settles as an exit');
  w.close();
});

t.test('stdout and stderr lines reach onLine', async (t) => {
  const f = fakes();
  const lines: string[] = [];
  const w = new WorkerProcess(spec, (line, stream) => lines.push(`${stream}: ${line}`), f.deps);
  f.child.stdout.write('{"msg":"worker ready"}\n');
  f.child.stderr.write('oops\n');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(lines.sort(), ['stderr: oops', 'stdout: {"msg":"worker ready"}']);
  w.close();
});
