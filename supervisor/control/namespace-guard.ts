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
 * mcrd from starting. So the holder's credentials (SO_PEERCRED) decide: the
 * name held by mcrd's own user (or root) is another mcrd, and the start is
 * refused; held by anyone else it is a squatter, and mcrd starts without
 * the guard after a warning naming it.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { ControlError, errorCode } from '../../common/control-errors.js';
import { nativePeerLookup, type PeerCredentials, type PeerLookup } from './peer.js';

/** The abstract name (a leading NUL) every mcrd claims in its network namespace. */
export const GUARD_NAME = '\0mcr/mcrd';
const ANSWER_TIMEOUT_MS = 2000;

export interface GuardHolder {
  pid: number;
  controlSocket: string;
}

export interface GuardOptions {
  /** What this mcrd tells a later one: its control socket (the pid is its own). */
  controlSocket: string;
  /** Told when the name is held by another user's process and mcrd starts without the guard. */
  onSquatter: (holder: PeerCredentials) => void;
  /** Tests give their own name, so they do not meet a real mcrd in the namespace. */
  name?: string;
  /** Default SO_PEERCRED through the addon. */
  peerLookup?: PeerLookup;
}

export class NamespaceGuard {
  private constructor(private readonly server: Server | undefined) {}

  /**
   * Claims the namespace: resolves with the guard (close() gives it up), or
   * rejects EADDRINUSE naming the mcrd that holds it.
   */
  static async claim(o: GuardOptions): Promise<NamespaceGuard> {
    const name = o.name ?? GUARD_NAME;
    const me: GuardHolder = { pid: process.pid, controlSocket: o.controlSocket };
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end(`${JSON.stringify(me)}\n`);
    });
    const taken = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (err) => (errorCode(err) === 'EADDRINUSE' ? resolve(true) : reject(err)));
      server.listen(name, () => resolve(false));
    });
    if (!taken) {
      server.unref();
      return new NamespaceGuard(server);
    }
    const { holder, credentials } = await askHolder(name, o.peerLookup ?? nativePeerLookup);
    const uid = process.getuid?.() ?? 0;
    if (credentials !== undefined && credentials.uid !== uid && credentials.uid !== 0) {
      o.onSquatter(credentials);
      return new NamespaceGuard(undefined);
    }
    const who = holder !== undefined ? `another mcrd (pid ${holder.pid}, control socket ${holder.controlSocket})` :
      `another mcrd${credentials !== undefined ? ` (pid ${credentials.pid})` : ''}`;
    throw new ControlError('EADDRINUSE', `${who} runs in this network namespace: one mcrd per network namespace ` +
      '(their workers would share packet fan-out groups and split each other\'s flows, and each would remove the other\'s consume filters); ' +
      'give that mcrd these rules (mcrctl add, or its config and mcrctl reload), or stop it first');
  }

  close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
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
