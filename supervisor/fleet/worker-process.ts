/**
 * One worker process as the supervisor sees it: opens the worker's AF_PACKET
 * socket (fan-out group per interface), spawns worker/fleet-worker.js with a
 * SOCK_SEQPACKET pair as its fd 3, hands over the packet socket and its end of
 * a command stream with SCM_RIGHTS, then sends length-delimited Commands and
 * matches Replies by seq. The parent's copies of the handed-over fds are
 * closed at once, so a dead worker's socket leaves the fan-out group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { native } from '../../native/index.js';
import { loopSettingArgs, type LoopSettings } from '../../common/loop-settings.js';
import { FrameDecoder, decodeReply, encodeCommand, encodeFrame, type CommandDraft, type Reply } from '../../proto/index.js';
import { workerFrameBytes, type WorkerSlots } from '../../common/rule-limits.js';

const WORKER_ENTRY = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'worker', 'fleet-worker.js');

export interface WorkerSpec {
  id: string;
  interface: string;
  fanoutGroup: number;
  cpu?: number;
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

export class WorkerProcess {
  readonly child: ChildProcess;
  private readonly stream: Socket;
  private readonly decoder: FrameDecoder;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextSeq = 1;
  /** Settles when the process exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly spec: WorkerSpec, onLine: (line: string, stream: 'stdout' | 'stderr') => void) {
    // Every fd opened here is closed on any failure before the worker owns it.
    const opened: number[] = [];
    const open = <T extends number | [number, number]>(fds: T): T => {
      opened.push(...(Array.isArray(fds) ? fds : [fds]));
      return fds;
    };
    let packetFd: number, handParent: number, handChild: number, cmdParent: number, cmdChild: number;
    try {
      packetFd = open(native.openPacketSocket(spec.interface, spec.fanoutGroup));
      [handParent, handChild] = open(native.socketPair('seqpacket'));
      [cmdParent, cmdChild] = open(native.socketPair('stream'));
    } catch (err) {
      for (const fd of opened) closeSync(fd);
      throw err;
    }
    const args = [WORKER_ENTRY, '--worker-id', spec.id, '--interface', spec.interface];
    if (spec.cpu !== undefined) args.push('--cpu', String(spec.cpu));
    if (spec.user !== undefined) args.push('--user', spec.user);
    if (spec.logLevel !== undefined) args.push('--log-level', spec.logLevel);
    args.push(...loopSettingArgs(spec.loop ?? {}));
    if (spec.slots !== undefined) args.push('--rule-slots', String(spec.slots.ruleSlots), '--output-slots', String(spec.slots.outputSlots));
    // The counters of a full interface can exceed the default 1 MiB frame.
    this.decoder = new FrameDecoder({ maxFrameBytes: workerFrameBytes(spec.slots ?? { ruleSlots: 1024, outputSlots: 4096 }) });
    try {
      // The child's end becomes its fd 3; Node dups it without CLOEXEC there.
      this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', handChild] });
      native.sendFds(handParent, [packetFd, cmdChild], Buffer.from('mcr-handover-v1'));
    } catch (err) {
      closeSync(cmdParent);
      throw err;
    } finally {
      for (const fd of [packetFd, handParent, handChild, cmdChild]) closeSync(fd);
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    for (const name of ['stdout', 'stderr'] as const) {
      const readable = this.child[name];
      if (readable) createInterface({ input: readable }).on('line', (line) => onLine(line, name));
    }
    this.stream = new Socket({ fd: cmdParent, readable: true, writable: true });
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

  /** Sends one command and resolves with its reply (rejects after timeoutMs). */
  send(body: CommandDraft, timeoutMs = 10_000): Promise<Reply> {
    const seq = this.nextSeq++;
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
