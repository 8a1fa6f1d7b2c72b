/**
 * One worker process as the supervisor sees it: opens the worker's AF_PACKET
 * socket deferred (unbound, in no fan-out group: it receives nothing yet;
 * the worker binds it and joins the interface's group, --fanout-group, once
 * it has its rules, so no flow is hashed to a socket nobody reads during the
 * ~1.3 s a worker takes to start) and its heartbeat block, spawns
 * worker/fleet-worker.js with a SOCK_SEQPACKET pair as its fd 3, hands over
 * the packet socket, its end of a command stream and the heartbeat memfd
 * with SCM_RIGHTS, then sends length-delimited Commands and matches Replies
 * by seq. The parent's copies of the handed-over fds are closed at once, so
 * a dead worker's socket leaves the fan-out group; mcrd keeps only its
 * mapping of the heartbeat block, which the fleet's watchdog reads
 * (fleet.ts).
 *
 * The addon calls, the spawn and the stream over the command fd come in as
 * WorkerProcessDeps (production defaults below), so the unit tests run
 * this class, and the fleet's state machine on top of it, with fakes.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Duplex, Readable } from 'node:stream';
import { native } from '../../native/index.js';
import { loopSettingArgs, type LoopSettings } from '../../common/loop-settings.js';
import { FrameDecoder, decodeReply, encodeCommand, encodeFrame, type CommandDraft, type Reply } from '../../proto/index.js';
import { workerFrameBytes, type WorkerSlots } from '../../common/rule-limits.js';

/** How long an exit waits for the worker's last stdout/stderr lines (see `exited`). */
export const STDIO_DRAIN_MS = 250;

export const WORKER_ENTRY = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'worker', 'fleet-worker.js');

export interface WorkerSpec {
  id: string;
  interface: string;
  fanoutGroup: number;
  cpu?: number;
  /** With `cpu`: the CPUs for the worker's threads other than its loop (--aux-cpus); the loop thread alone gets `cpu`. */
  auxCpus?: number[];
  user?: string;
  logLevel?: string;
  /** The loop's throughput settings (docs/mcrd.md, "Throughput settings"). */
  loop?: LoopSettings;
  /**
   * Counter slots for the worker's loop (--rule-slots, --output-slots),
   * sized from mcrd's rule limits; they also bound the command stream's
   * frames (workerFrameBytes). Default: the loop's own 1024 and 4096.
   */
  slots?: WorkerSlots;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What the fleet (fleet.ts, slot.ts) uses of a worker: WorkerProcess, or a fake in the unit tests. */
export interface FleetWorker {
  readonly pid: number | undefined;
  /** Settles when the process exited. */
  readonly exited: Promise<WorkerExit>;
  /** The process has not exited and its command stream is open: commands can be answered. */
  readonly connected: boolean;
  /** Sends one command and resolves with its reply (rejects after timeoutMs, or at once when not connected). */
  send(body: CommandDraft, timeoutMs?: number): Promise<Reply>;
  /** Signals the process, unless it has exited or never had a pid. */
  kill(signal: NodeJS.Signals): void;
  /** The worker loop's heartbeat (word 0 of the shared block): 0 until the loop runs, then changing while it turns. */
  heartbeat(): bigint;
  close(): void;
}

/** The part of a ChildProcess the worker uses (a fake in the unit tests). */
export interface WorkerChild {
  readonly pid?: number | undefined;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal: NodeJS.Signals): boolean;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** The addon calls, the spawn and the command stream a WorkerProcess uses. */
export interface WorkerProcessDeps {
  /** A deferred packet socket: the worker activates it (native.activatePacketSocket). */
  openPacketSocket(iface: string): number;
  socketPair(type: 'seqpacket' | 'stream'): [number, number];
  sendFds(socket: number, fds: number[], data: Buffer): void;
  createHeartbeat(): { fd: number; words: BigUint64Array };
  closeFd(fd: number): void;
  spawn(command: string, args: string[], options: SpawnOptions): WorkerChild;
  /** The parent's end of the command stream, as a stream. */
  openStream(fd: number): Duplex;
}

/** Production: the addon (loaded on first call), child_process.spawn, a net.Socket over the fd. */
export const WORKER_PROCESS_DEPS: Readonly<WorkerProcessDeps> = {
  openPacketSocket: (iface) => native.openPacketSocket(iface, 0, { deferred: true }),
  socketPair: (type) => native.socketPair(type),
  sendFds: (socket, fds, data) => native.sendFds(socket, fds, data),
  createHeartbeat: () => native.createHeartbeat(),
  closeFd: (fd) => closeSync(fd),
  spawn: (command, args, options) => spawn(command, args, options),
  openStream: (fd) => new Socket({ fd, readable: true, writable: true }),
};

export class WorkerProcess implements FleetWorker {
  readonly child: WorkerChild;
  private readonly stream: Duplex;
  private readonly decoder: FrameDecoder;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  /** mcrd's mapping of the heartbeat block; it outlives the fd, closed after the handover. */
  private readonly beat: BigUint64Array;
  private nextSeq = 1;
  private hasExited = false;
  private streamClosed = false;
  readonly exited: Promise<WorkerExit>;

  constructor(readonly spec: WorkerSpec, onLine: (line: string, stream: 'stdout' | 'stderr') => void,
    deps: Readonly<WorkerProcessDeps> = WORKER_PROCESS_DEPS) {
    // Every fd opened here is closed on any failure before the worker owns it.
    const opened: number[] = [];
    const open = <T extends number | [number, number]>(fds: T): T => {
      opened.push(...(Array.isArray(fds) ? fds : [fds]));
      return fds;
    };
    let packetFd: number, handParent: number, handChild: number, cmdParent: number, cmdChild: number, heartbeatFd: number;
    try {
      packetFd = open(deps.openPacketSocket(spec.interface));
      [handParent, handChild] = open(deps.socketPair('seqpacket'));
      [cmdParent, cmdChild] = open(deps.socketPair('stream'));
      const heartbeat = deps.createHeartbeat();
      heartbeatFd = open(heartbeat.fd);
      this.beat = heartbeat.words;
    } catch (err) {
      for (const fd of opened) deps.closeFd(fd);
      throw err;
    }
    const args = [WORKER_ENTRY, '--worker-id', spec.id, '--interface', spec.interface];
    if (spec.cpu !== undefined) args.push('--cpu', String(spec.cpu));
    if (spec.cpu !== undefined && spec.auxCpus !== undefined) args.push('--aux-cpus', spec.auxCpus.join(','));
    if (spec.user !== undefined) args.push('--user', spec.user);
    if (spec.logLevel !== undefined) args.push('--log-level', spec.logLevel);
    args.push(...loopSettingArgs(spec.loop ?? {}));
    if (spec.slots !== undefined) args.push('--rule-slots', String(spec.slots.ruleSlots), '--output-slots', String(spec.slots.outputSlots));
    // The handed-over socket is deferred: this tells the worker to activate
    // it, in this group, once its first rule sync is applied.
    args.push('--fanout-group', String(spec.fanoutGroup));
    // The counters of a full interface can exceed the default 1 MiB frame.
    this.decoder = new FrameDecoder({ maxFrameBytes: workerFrameBytes(spec.slots ?? { ruleSlots: 1024, outputSlots: 4096 }) });
    let child: WorkerChild | undefined;
    try {
      // The child's end becomes its fd 3; Node dups it without CLOEXEC there.
      // detached: a session and process group of its own (setsid), so what a
      // terminal sends mcrd's foreground group (Ctrl-C's SIGINT, a hangup's
      // SIGHUP, Ctrl-Z) reaches mcrd alone, which drains its workers; in
      // mcrd's group they died at once instead, mid-send, and were logged as
      // crashes to restart. PR_SET_PDEATHSIG still ends them with mcrd.
      child = deps.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', handChild], detached: true });
      // Packet socket, command stream, heartbeat: the worker takes 2 or 3 fds.
      deps.sendFds(handParent, [packetFd, cmdChild, heartbeatFd], Buffer.from('mcr-handover-v1'));
    } catch (err) {
      deps.closeFd(cmdParent);
      // A child that never got its fds would wait out its handover timeout.
      if (child?.pid !== undefined && child.pid > 0) child.kill('SIGKILL');
      throw err;
    } finally {
      for (const fd of [packetFd, handParent, handChild, cmdChild, heartbeatFd]) deps.closeFd(fd);
    }
    this.child = child;
    // The last lines a dying worker wrote (its reason) may still be in the
    // pipes when 'exit' fires: the exit settles once both have been read to
    // their end, or STDIO_DRAIN_MS after the exit at the latest.
    const drained: Promise<void>[] = [];
    for (const name of ['stdout', 'stderr'] as const) {
      const readable = child[name];
      if (!readable) continue;
      const lines = createInterface({ input: readable });
      lines.on('line', (line) => onLine(line, name));
      drained.push(new Promise((resolve) => lines.once('close', () => resolve())));
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.hasExited = true;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((r) => { timer = setTimeout(r, STDIO_DRAIN_MS); });
        void Promise.race([Promise.all(drained), late]).then(() => {
          clearTimeout(timer);
          resolve({ code, signal });
        });
      });
      // A process that could not be spawned has no pid and emits no 'exit';
      // other errors (a failed kill) are not an exit. Never an uncaught 'error'.
      child.on('error', () => {
        if (child.pid !== undefined) return;
        this.hasExited = true;
        resolve({ code: null, signal: null });
      });
    });
    this.stream = deps.openStream(cmdParent);
    this.stream.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      let replies: Reply[];
      try {
        frames = this.decoder.push(chunk);
        replies = frames.map((frame) => decodeReply(frame));
      } catch (err) {
        // A worker whose replies do not decode is broken: fail what waits
        // on it and close its stream (the worker exits when it closes, and
        // the fleet restarts it). Never an exception in mcrd's event loop.
        const e = err as Error & { code?: string };
        this.failWaiting(Object.assign(new Error(`worker ${spec.id} sent a reply that does not decode (${e.message}): restarting it`), { code: e.code ?? 'ERR_MCR_BAD_FRAME' }));
        this.stream.destroy();
        return;
      }
      for (const reply of replies) {
        this.waiting.get(reply.seq)?.resolve(reply);
        this.waiting.delete(reply.seq);
      }
    });
    this.stream.on('close', () => {
      this.streamClosed = true;
      this.failWaiting(Object.assign(new Error(`worker ${spec.id} closed its command stream`), { code: 'ECONNRESET' }));
    });
    this.stream.on('error', () => undefined);
  }

  private failWaiting(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get connected(): boolean {
    return !this.hasExited && !this.streamClosed && !this.stream.destroyed;
  }

  heartbeat(): bigint {
    return this.beat[0] ?? 0n;
  }

  /**
   * Signals the worker through its child handle (its own pid, never 0 or
   * a group), and not at all once it has exited: its pid may belong to
   * another process by then.
   */
  kill(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (this.hasExited || pid === undefined || pid <= 0) return;
    this.child.kill(signal);
  }

  /** Sends one command and resolves with its reply (rejects after timeoutMs). */
  send(body: CommandDraft, timeoutMs = 10_000): Promise<Reply> {
    const seq = this.nextSeq++;
    // Nothing would ever answer (its stream's close already failed what
    // was waiting): fail now rather than after the timeout.
    if (!this.connected) {
      return Promise.reject(Object.assign(new Error(`worker ${this.spec.id} is gone (${this.hasExited ? 'exited' : 'command stream closed'}): it is restarted`), { code: 'ECONNRESET' }));
    }
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(Object.assign(new Error(`worker ${this.spec.id} did not answer command ${seq} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      this.waiting.set(seq, {
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.stream.write(encodeFrame(encodeCommand({ seq, body })));
    });
  }

  close(): void {
    this.stream.destroy();
  }
}
