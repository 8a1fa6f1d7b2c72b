/**
 * The control socket's bind, never more open than its final mode: bind()
 * creates the file with 0777 & ~umask, and a client that connects before
 * the server's chmod keeps its connection, so under a loose umask (000)
 * anyone could get in during that window. Apart from server.ts so that
 * tests/unit/control-server.test.ts can look at the file between the bind
 * and the chmod.
 */
import type { Server } from 'node:net';
import { isMainThread } from 'node:worker_threads';

/**
 * Listens on `path`, the socket file never more open than `mode` (it does
 * not chmod: the caller does, after). The umask is narrowed for the bind only:
 * Node binds synchronously inside server.listen() (net.js
 * setupListenHandle), so restoring it right after the call is exact.
 */
export function listenOn(server: Server, path: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const previous = narrowUmask(0o777 & ~mode);
    try {
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
  });
}

/** Adds `bits` to the umask and returns the old one; undefined where it cannot be set (worker threads). */
function narrowUmask(bits: number): number | undefined {
  if (!isMainThread) return undefined;
  const previous = process.umask(0o777);
  process.umask(previous | bits);
  return previous;
}
