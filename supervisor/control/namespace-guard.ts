/**
 * One mcrd per network namespace. Two would collide where the kernel keys
 * things by namespace, not by mcrd: their workers' PACKET_FANOUT groups
 * (each mcrd numbers its own from the same base, so workers on the same
 * input would share a group and split each other's flows, and on another
 * input fail to join it), and the consume filters each removes at start as
 * left by a killed mcrd. The control socket's lock (socket-lock.ts) stops a
 * second mcrd on the same socket path; this stops one started with another.
 *
 * The guard is an abstract Unix socket (unix(7): a name, no file, scoped to
 * the network namespace, gone with its process however it ends), which
 * answers whoever connects with the holder's pid and control socket, so a
 * refused start can say which mcrd to look at. Abstract names have no
 * permissions: a process of another user could take the name first to keep
 * mcrd from starting. So only a holder proven to be another mcrd refuses
 * the start: one that answers as mcrd does, from mcrd's own user or root
 * (SO_PEERCRED). Anything else holding the name (another user's process,
 * a socket bound but not listening, one that does not answer) is a
 * squatter: mcrd starts without the guard after a warning. A name that
 * was held by a process just ending is tried again first.
 *
 * The guard serves at most a few connections at once and closes each as
 * soon as its answer is written, so no client can hold mcrd's descriptors
 * or its stop.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { ControlError, errorCode } from '../../common/control-errors.js';
import { nativePeerLookup, type PeerCredentials, type PeerLookup } from './peer.js';

/** The abstract name (a leading NUL) every mcrd claims in its network namespace. */
export const GUARD_NAME = '\0mcr/mcrd';
const ANSWER_TIMEOUT_MS = 2000;
/** Connections the guard serves at once; more are refused by the kernel's listen backlog and node. */
const MAX_CONNECTIONS = 4;
/** How often a name whose holder did not answer is tried again (a holder ending just then frees it). */
const LISTEN_ATTEMPTS = 3;
const LISTEN_RETRY_MS = 100;

export interface GuardHolder {
  pid: number;
  controlSocket: string;
}

export interface GuardOptions {
  /** What this mcrd tells a later one: its control socket (the pid is its own). */
  controlSocket: string;
  /**
   * Told when mcrd starts without the guard: the name is held by something
   * that is not an mcrd (its credentials when known), or cannot be taken;
   * `why` completes "the abstract socket mcr/mcrd ...".
   */
  onSquatter: (holder: PeerCredentials | undefined, why: string) => void;
  /** Told of a connection error while holding the name (accept failing: EMFILE, ...). */
  onError?: (err: Error) => void;
  /** Tests give their own name, so they do not meet a real mcrd in the namespace. */
  name?: string;
  /** Default SO_PEERCRED through the addon. */
  peerLookup?: PeerLookup;
}

export class NamespaceGuard {
  private constructor(private readonly server: Server | undefined, private readonly connections: Set<Socket>) {}

  /**
   * Claims the namespace: resolves with the guard (close() gives it up), or
   * rejects EADDRINUSE naming the mcrd that holds it.
   */
  static async claim(o: GuardOptions): Promise<NamespaceGuard> {
    const name = o.name ?? GUARD_NAME;
    const me: GuardHolder = { pid: process.pid, controlSocket: o.controlSocket };
    const uid = process.getuid?.() ?? 0;
    let last: { holder?: GuardHolder; credentials?: PeerCredentials } = {};
    for (let attempt = 1; attempt <= LISTEN_ATTEMPTS; attempt++) {
      const connections = new Set<Socket>();
      const server = serve(me, connections);
      let listening: boolean;
      try {
        listening = await listens(server, name);
      } catch (err) {
        // Not a holder but the host refusing the name (a sandbox, a policy): the
        // check is lost, not the start.
        o.onSquatter(undefined, `cannot be taken (${errorCode(err) ?? 'EIO'}: ${(err as Error).message})`);
        return new NamespaceGuard(undefined, new Set());
      }
      if (listening) {
        // Accept errors from now on (EMFILE, ...): logged, never an unhandled 'error' event.
        server.on('error', (err) => o.onError?.(err));
        return new NamespaceGuard(server, connections);
      }
      last = await askHolder(name, o.peerLookup ?? nativePeerLookup);
      const { holder, credentials } = last;
      const mcrdsUser = credentials !== undefined && (credentials.uid === uid || credentials.uid === 0);
      if (holder !== undefined && mcrdsUser) {
        throw new ControlError('EADDRINUSE', `another mcrd (pid ${holder.pid}, control socket ${holder.controlSocket}) runs in this network namespace: ` +
          'one mcrd per network namespace (their workers would share packet fan-out groups and split each other\'s flows, ' +
          'and each would remove the other\'s consume filters); give that mcrd these rules (mcrctl add, or its config and mcrctl reload), or stop it first');
      }
      // Known and not an mcrd (another user's, or no answer as mcrd gives): no use waiting.
      if (credentials !== undefined) break;
      // Not even a connection (a holder ending just now, or a socket that does not listen): try the name again.
      await new Promise((r) => setTimeout(r, LISTEN_RETRY_MS));
    }
    o.onSquatter(last.credentials, last.credentials !== undefined ? `is held by pid ${last.credentials.pid} (uid ${last.credentials.uid}), which does not answer as mcrd does` :
      'is held by a socket that takes no connection');
    return new NamespaceGuard(undefined, new Set());
  }

  /** Gives the name up; connections still open are cut (their answer was written). */
  close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return Promise.resolve();
    for (const c of this.connections) c.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

/** The guard's server: answers each connection with `me` and closes it; at most MAX_CONNECTIONS at once. */
function serve(me: GuardHolder, connections: Set<Socket>): Server {
  const server = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => undefined);
    // Written, then closed at once: a client that never reads or closes holds nothing.
    socket.end(`${JSON.stringify(me)}\n`, () => socket.destroy());
    setTimeout(() => socket.destroy(), ANSWER_TIMEOUT_MS).unref();
  });
  server.maxConnections = MAX_CONNECTIONS;
  return server;
}

/** Listens on `name`: true once it does, false when the name is taken; other errors reject. */
function listens(server: Server, name: string): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const onError = (err: Error): void => (errorCode(err) === 'EADDRINUSE' ? resolve(false) : reject(err));
    server.once('error', onError);
    server.listen(name, () => {
      server.off('error', onError);
      server.unref();
      resolve(true);
    });
  });
}

/** Connects to the holder of `name`: its answer (pid, control socket) and its credentials, each undefined when not to be had. */
function askHolder(name: string, peerLookup: PeerLookup): Promise<{ holder?: GuardHolder; credentials?: PeerCredentials }> {
  return new Promise((resolve) => {
    const socket: Socket = createConnection({ path: name });
    let credentials: PeerCredentials | undefined;
    let text = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      let holder: GuardHolder | undefined;
      try {
        const parsed = JSON.parse(text.split('\n')[0] ?? '') as Partial<GuardHolder>;
        if (typeof parsed.pid === 'number' && typeof parsed.controlSocket === 'string') holder = { pid: parsed.pid, controlSocket: parsed.controlSocket };
      } catch {
        holder = undefined;
      }
      resolve({ ...(holder !== undefined ? { holder } : {}), ...(credentials !== undefined ? { credentials } : {}) });
    };
    const timer = setTimeout(done, ANSWER_TIMEOUT_MS);
    socket.on('connect', () => {
      try {
        credentials = peerLookup(socket);
      } catch {
        credentials = undefined;
      }
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) done();
    });
    socket.on('error', done);
    socket.on('end', done);
  });
}
