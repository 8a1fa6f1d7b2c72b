/**
 * mcrd's control socket: a Unix stream socket (default /run/mcr/mcrd.sock)
 * where mcrctl and other clients send length-delimited protobuf requests
 * (proto/control.proto). This file owns the socket file's life cycle; each
 * client is a ControlConnection (connection.ts) that dispatches to the
 * caller's ControlHandler.
 *
 * Start-up is careful about the path because it outlives crashes: a socket
 * file left by a dead mcrd is replaced, but only after a connect() to it is
 * refused (ECONNREFUSED, see unix(7)); if something answers, another mcrd is
 * running and this one refuses to start (EADDRINUSE) rather than steal its
 * socket. The probe and the removal happen under the path's lock
 * (`<path>.lock`, socket-lock.ts), so two mcrds started at once cannot both
 * find the file stale and the second remove the first's new socket. A path
 * that is not a socket is never deleted. The socket is
 * chmod 0660 so that access is granted by group, not to everyone, and is
 * created no more open than that whatever mcrd's umask (see listenOn).
 * With socketGroup the file is also handed to that group (chown), so that
 * its members can run mcrctl without root (the package's group `mcr`).
 * Each mutating request is logged with the caller's uid from SO_PEERCRED
 * (peer.ts).
 *
 * Clients are capped (maxClients, 256: more than the 200 busy clients the
 * abuse test runs, so that they leave room for mcrctl), but idle ones cannot
 * lock mcrctl out: when the server is full, a new client takes the place of
 * the client idle longest (nothing in flight; a `logs --follow` stream
 * counts as in flight), which is told ERR_MCR_EVICTED and closed. Only when
 * every client has a request in flight is the new one refused
 * (ERR_MCR_TOO_MANY_CLIENTS). A busy client is not evicted for a new one:
 * clients that reconnect at once would then evict each other, and the new
 * one, before anyone is answered. Clients are not capped per uid.
 *
 * Requests of all clients share one RequestScheduler (scheduler.ts): at
 * most maxRunningRequests run at once, and a client that keeps mcrd busy
 * does not delay a new one.
 */
import { chmod, chown, lstat, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeFrame } from '../../proto/framing.js';
import { encodeResponse } from '../../proto/control.js';
import { ControlConnection, type ConnectionLimits } from './connection.js';
import { ControlError, errorCode, errorReason } from '../../common/control-errors.js';
import { silentLogger, type ControlHandler, type ControlLogger } from './handler.js';
import { RequestScheduler } from './scheduler.js';
import { auditedHandler, callerOf, nativePeerLookup, type PeerLookup } from './peer.js';
import { SocketLock } from './socket-lock.js';
import { listenOn } from './socket-listen.js';


export interface ControlServerOptions {
  /** Socket path; its directory is created (mode dirMode) when missing. */
  path: string;
  handler: ControlHandler;
  /** Close clients with nothing in flight after this long without a request. Default 30 000. */
  idleTimeoutMs?: number;
  /** Close clients whose request frame is not complete this long after its first byte. Default 10 000. */
  frameTimeoutMs?: number;
  /** Answer ETIMEDOUT when a handler takes longer. Default 10 000. */
  requestTimeoutMs?: number;
  /** Largest request frame accepted. Default DEFAULT_MAX_REQUEST_BYTES (64 KiB). */
  maxFrameBytes?: number;
  /** Requests one client may have in flight before reading from it pauses. Default 32. */
  maxInFlight?: number;
  /**
   * Requests running at once over all clients (ping, version, workers and
   * log level reads excepted); the others wait their turn, the client with
   * the fewest running first (scheduler.ts). A request still running 1 s
   * after it started (waiting for a hung worker, a long reload) gives its
   * place up. Default 2: with 4, a new client's answer took 2 to 3
   * times longer under 200 busy clients (more results to work through per
   * loop turn) than with 1.
   */
  maxRunningRequests?: number;
  /** Unread answer bytes after which a client is dropped. Default 4 MiB. */
  maxPendingWriteBytes?: number;
  /**
   * Concurrent clients. When full, a new client evicts the one idle longest;
   * if every client has a request in flight it is told
   * ERR_MCR_TOO_MANY_CLIENTS. Default 256.
   */
  maxClients?: number;
  /** Default 0o660. */
  socketMode?: number;
  /** Group id the socket file is given to (chown); unset: mcrd's own group. */
  socketGroup?: number;
  /** Reads a client's credentials for the audit log; default SO_PEERCRED through the addon. */
  peerLookup?: PeerLookup;
  /** Mode of directories created for the socket. Default 0o755. */
  dirMode?: number;
  /** The path's lock, taken before (mcrd takes it first thing); released by close(). Unset: listen() takes it. */
  lock?: SocketLock;
  log?: ControlLogger;
}

/**
 * Largest request frame mcrd reads: 64 KiB, over ten times the largest
 * valid request (a rule of 64 outputs with a 64-character name is under
 * 4 KB; a file path at most 4 KB), so that 256 clients each holding a frame
 * half sent hold 16 MiB at most.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024;

/** How long the start-up probe of an existing socket waits for an answer. */
const PROBE_TIMEOUT_MS = 1000;

export class ControlServer {
  readonly path: string;
  private readonly handler: ControlHandler;
  private readonly limits: ConnectionLimits;
  private readonly maxClients: number;
  private readonly scheduler: RequestScheduler;
  private readonly socketMode: number;
  private readonly socketGroup: number | undefined;
  private readonly peerLookup: PeerLookup;
  private readonly dirMode: number;
  private readonly log: ControlLogger;
  private readonly clients = new Set<ControlConnection>();
  // Sockets refused for maxClients, closing; close() must not wait for them.
  private readonly refused = new Set<Socket>();
  private server: Server | null = null;
  private nextClientId = 1;
  private state: 'new' | 'listening' | 'closed' = 'new';
  // The claim on the path (socket-lock.ts), from listen() (or mcrd's start) to close().
  private lock: SocketLock | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ControlServerOptions) {
    this.path = options.path;
    this.handler = options.handler;
    this.limits = {
      idleTimeoutMs: positive(options.idleTimeoutMs, 30_000, 'idleTimeoutMs'),
      frameTimeoutMs: positive(options.frameTimeoutMs, 10_000, 'frameTimeoutMs'),
      requestTimeoutMs: positive(options.requestTimeoutMs, 10_000, 'requestTimeoutMs'),
      maxFrameBytes: positive(options.maxFrameBytes, DEFAULT_MAX_REQUEST_BYTES, 'maxFrameBytes'),
      maxInFlight: positive(options.maxInFlight, 32, 'maxInFlight'),
      maxPendingWriteBytes: positive(options.maxPendingWriteBytes, 4 * 1024 * 1024, 'maxPendingWriteBytes'),
      closeGraceMs: 1000,
    };
    this.maxClients = positive(options.maxClients, 256, 'maxClients');
    this.scheduler = new RequestScheduler(positive(options.maxRunningRequests, 2, 'maxRunningRequests'));
    this.socketMode = options.socketMode ?? 0o660;
    this.socketGroup = options.socketGroup;
    this.peerLookup = options.peerLookup ?? nativePeerLookup;
    this.dirMode = options.dirMode ?? 0o755;
    this.lock = options.lock;
    this.log = options.log ?? silentLogger;
  }

  get listening(): boolean {
    return this.state === 'listening';
  }

  /** Connected clients, not counting evicted or timed-out ones still closing. */
  get clientCount(): number {
    let n = 0;
    for (const client of this.clients) if (!client.isClosing) n++;
    return n;
  }

  /** Creates the socket and starts accepting clients. */
  async listen(): Promise<void> {
    if (this.state !== 'new') throw new ControlError('ERR_MCR_BAD_STATE', 'this ControlServer was already started: create a new one');
    // mcrd takes it first thing (socket-lock.ts); a server on its own takes it here.
    this.lock ??= await SocketLock.take(this.path, this.dirMode);
    const server = createServer((socket) => this.accept(socket));
    try {
      try {
        await listenOn(server, this.path, this.socketMode);
      } catch (err) {
        if (errorCode(err) !== 'EADDRINUSE') throw this.listenError(err);
        await this.removeStaleSocket();
        try {
          await listenOn(server, this.path, this.socketMode);
        } catch (again) {
          throw this.listenError(again);
        }
      }
    } catch (err) {
      this.releaseLock();
      throw err;
    }
    this.server = server;
    this.state = 'listening';
    server.on('error', (err) => this.log.error({ err, path: this.path }, 'control socket error'));
    try {
      await chmod(this.path, this.socketMode);
    } catch (err) {
      await this.close();
      throw new ControlError(errorCode(err) ?? 'EPERM', `cannot chmod ${this.path} to ${this.socketMode.toString(8)}: ${errorReason(err)}`, { cause: err });
    }
    if (this.socketGroup !== undefined) {
      try {
        // -1: the owner stays. Without CAP_CHOWN this works only for a group mcrd is in (chown(2)).
        await chown(this.path, -1, this.socketGroup);
      } catch (err) {
        await this.close();
        throw new ControlError(errorCode(err) ?? 'EPERM', `cannot give ${this.path} to group ${this.socketGroup}: ${errorReason(err)}; ` +
          'run mcrd as root, or in that group (Group= in the unit), or leave out --socket-group', { cause: err });
      }
    }
    this.log.info({ path: this.path, mode: this.socketMode.toString(8), ...(this.socketGroup !== undefined ? { gid: this.socketGroup } : {}) }, 'control socket listening');
  }

  /** Stops listening, closes every client and removes the socket file. */
  close(): Promise<void> {
    // A second call waits for the first: the lock goes only after the socket file.
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    const server = this.server;
    const wasListening = this.state === 'listening';
    this.state = 'closed';
    this.server = null;
    if (!server) {
      this.releaseLock();
      return;
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const client of this.clients) client.shutdown('mcrd is shutting down', true);
    for (const socket of this.refused) socket.destroy();
    await closed;
    // Node unlinks the path when the listening handle closes; removing it
    // again covers platforms or versions that do not.
    if (wasListening) await rm(this.path, { force: true });
    this.releaseLock();
  }

  private releaseLock(): void {
    this.lock?.release();
    this.lock = undefined;
  }

  private accept(socket: Socket): void {
    if (this.state !== 'listening') {
      socket.destroy();
      return;
    }
    const id = this.nextClientId++;
    if (this.clientCount >= this.maxClients && !this.evictIdlest(id)) {
      this.log.warn({ client: id, clients: this.clientCount }, 'too many control clients, all with a request in flight; refusing one');
      const message = `mcrd already serves ${this.maxClients} control clients, all with a request in flight: retry when some have finished`;
      socket.on('error', () => undefined);
      // Read and discard: the socket only closes once the client's EOF is read.
      socket.resume();
      socket.end(encodeFrame(encodeResponse({ id: 0, more: false, body: { kind: 'error', code: 'ERR_MCR_TOO_MANY_CLIENTS', message } })));
      const timer = setTimeout(() => socket.destroy(), this.limits.closeGraceMs);
      this.refused.add(socket);
      socket.on('close', () => {
        clearTimeout(timer);
        this.refused.delete(socket);
      });
      return;
    }
    const handler = auditedHandler(this.handler, id, callerOf(socket, this.peerLookup), this.log);
    const connection = new ControlConnection(id, socket, handler, this.limits, this.log, this.scheduler, (c) => this.clients.delete(c));
    this.clients.add(connection);
    this.log.debug({ client: id }, 'control client connected');
  }

  /**
   * Makes room for client `newId` by evicting the client idle longest.
   * False when every client has something in flight (none may be evicted).
   */
  private evictIdlest(newId: number): boolean {
    let idlest: ControlConnection | undefined;
    let since = Infinity;
    for (const client of this.clients) {
      const s = client.idleSinceMs;
      if (s !== undefined && s < since) {
        idlest = client;
        since = s;
      }
    }
    if (!idlest) return false;
    const idleMs = Math.round(performance.now() - since);
    this.log.info({ client: idlest.id, idleMs, for: newId }, 'control socket full: evicting the client idle longest');
    idlest.evict(`mcrd serves at most ${this.maxClients} control clients and closed this idle connection (no request for ${idleMs} ms) to let a new client in: reconnect to send more`);
    return true;
  }

  /** Unlinks the path if it is a socket nobody answers on; throws otherwise. */
  private async removeStaleSocket(): Promise<void> {
    let isSocket: boolean;
    try {
      isSocket = (await lstat(this.path)).isSocket();
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return; // vanished meanwhile: just retry
      throw this.listenError(err);
    }
    if (!isSocket) {
      throw new ControlError('ENOTSOCK', `${this.path} exists and is not a socket: move it away or pass another --control-socket`);
    }
    const probe = await probeSocket(this.path);
    if (probe === 'refused') {
      this.log.info({ path: this.path }, 'removing stale control socket left by a previous mcrd');
      await rm(this.path, { force: true });
      return;
    }
    if (probe === 'gone') return;
    throw new ControlError(
      'EADDRINUSE',
      `another mcrd is already running on ${this.path}${probe === 'silent' ? ' (it accepts but is slow to answer)' : ''}: stop it first, or start this one with another --control-socket`,
    );
  }

  private listenError(err: unknown): ControlError {
    const code = errorCode(err) ?? 'EIO';
    const hint = code === 'EACCES' ? 'run mcrd as root or choose a writable --control-socket' : 'choose another --control-socket';
    return new ControlError(code, `cannot listen on ${this.path}: ${errorReason(err)}; ${hint}`, { cause: err });
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number, got ${v}`);
  return v;
}

/**
 * Connects to an existing socket file: 'refused' means nobody listens (a
 * stale file), 'answers' that a server accepted, 'gone' that the file
 * disappeared, 'silent' that the connect did not finish in time.
 */
function probeSocket(path: string): Promise<'refused' | 'answers' | 'gone' | 'silent'> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const done = (result: 'refused' | 'answers' | 'gone' | 'silent' | Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(() => done('silent'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('answers'));
    socket.once('error', (err) => {
      const code = errorCode(err);
      if (code === 'ECONNREFUSED') done('refused');
      else if (code === 'ENOENT') done('gone');
      else done(new ControlError(code ?? 'EIO', `cannot check whether ${path} is in use: ${errorReason(err)}; remove it if no mcrd runs, or pass another --control-socket`, { cause: err }));
    });
  });
}
