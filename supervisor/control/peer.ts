/**
 * Who is on the other end of a control connection, and the audit line for
 * requests that change mcrd. Members of the socket's group (`mcr` in the
 * package, docs/deploy.md) may all drive mcrd, so each mutating request is
 * logged with the caller's uid, gid and pid, taken from SO_PEERCRED (the
 * kernel's record of who called connect(); unix(7)), which a client cannot
 * forge. Node's net.Socket has no API for it: the addon reads it from the
 * socket's descriptor.
 */
import type { Socket } from 'node:net';
import { isMutating } from '../../common/mutating-requests.js';
import { native } from '../../native/index.js';
import type { ControlHandler, ControlLogger } from './handler.js';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Reads a connected client's credentials; throws an errno-shaped error. */
export type PeerLookup = (socket: Socket) => PeerCredentials;


/**
 * SO_PEERCRED through the addon. The descriptor is libuv's (net.Socket's
 * `_handle.fd`, set for Unix sockets); ENOTSOCK when the socket has none.
 */
export const nativePeerLookup: PeerLookup = (socket) => {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw Object.assign(new Error('ENOTSOCK: the control connection has no descriptor to read SO_PEERCRED from'), { code: 'ENOTSOCK' });
  }
  return native.peerCredentials(fd);
};

/** The caller as logged: its credentials, or why they could not be read. */
export type Caller = PeerCredentials | { peerError: string };

export function callerOf(socket: Socket, lookup: PeerLookup): Caller {
  try {
    return lookup(socket);
  } catch (err) {
    return { peerError: (err as { code?: string }).code ?? 'EIO' };
  }
}

/**
 * The handler one client sees: the same methods, but each mutating request
 * is first logged (info) with the client's number, the caller and the kind,
 * so that `journalctl -u mcrd` says who changed what.
 */
export function auditedHandler(handler: ControlHandler, clientId: number, caller: Caller, log: ControlLogger): ControlHandler {
  return new Proxy(handler, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !isMutating(prop) || typeof value !== 'function') return value;
      return (request: unknown, context: unknown) => {
        const who = 'uid' in caller ? `uid ${caller.uid}` : `an unknown uid (${caller.peerError})`;
        log.info({ client: clientId, request: prop, ...caller }, `control request ${prop} from ${who}`);
        return (value as (r: unknown, c: unknown) => unknown).call(target, request, context);
      };
    },
  });
}
