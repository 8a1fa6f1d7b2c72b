/**
 * The claim on a control socket path: its directory made if missing, then
 * an flock on `<path>.lock` beside it (native/core/file_lock.h), held from
 * before mcrd touches anything another mcrd on the same path owns (the
 * socket file, the consume filters it finds on the interfaces) until the
 * socket is closed. Without it, two mcrds started at once over a socket
 * file left by a killed one could both find it stale, and the second
 * remove the first's new socket and listen too; and an mcrd started by
 * hand beside a running one removed the running one's consume filters as
 * stale before it found the socket taken.
 *
 * A clean stop removes the lock file while it still holds the lock (so a
 * new mcrd never locks a file about to vanish: file_lock.cc checks the
 * path still names the file it locked). A crash or a failed start leaves
 * it, which is no obstacle: the kernel released the lock with the process.
 * The file is mcrd's: whatever is at `<path>.lock` is opened (never
 * followed through a symlink) and, at a clean stop, removed.
 */
import { closeSync, unlinkSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ControlError, errorCode, errorReason } from '../../common/control-errors.js';
import { native } from '../../native/index.js';

export class SocketLock {
  #fd: number | undefined;

  private constructor(readonly socketPath: string, fd: number) {
    this.#fd = fd;
  }

  get file(): string {
    return `${this.socketPath}.lock`;
  }

  /** Makes the socket's directory (mode `dirMode`) and takes the lock; EADDRINUSE when another mcrd holds it. */
  static async take(socketPath: string, dirMode = 0o755): Promise<SocketLock> {
    await ensureDirectory(dirname(socketPath), dirMode);
    const file = `${socketPath}.lock`;
    try {
      return new SocketLock(socketPath, native.lockFile(file));
    } catch (err) {
      const code = errorCode(err);
      if (code === 'EWOULDBLOCK' || code === 'EAGAIN') {
        throw new ControlError('EADDRINUSE', `another mcrd is starting or running on ${socketPath} (it holds ${file}): stop it first, or start this one with another --control-socket`, { cause: err });
      }
      const hint = code === 'EACCES' || code === 'EROFS' ? 'run mcrd as root or choose a writable --control-socket' : 'choose another --control-socket';
      throw new ControlError(code ?? 'EIO', `cannot lock ${file} beside the control socket: ${errorReason(err)}; ${hint}`, { cause: err });
    }
  }

  /** Removes the lock file, then gives the lock up; once. */
  release(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    try {
      unlinkSync(this.file);
    } catch {
      // Already gone (removed by hand): the lock is still given up below.
    }
    closeSync(fd);
  }
}

/** Creates `dir` when missing, each directory it creates with `mode` (mkdir's mode is filtered by the umask). */
async function ensureDirectory(dir: string, mode: number): Promise<void> {
  let first: string | undefined;
  try {
    first = await mkdir(dir, { recursive: true, mode });
  } catch (err) {
    throw new ControlError(errorCode(err) ?? 'EIO', `cannot create ${dir} for the control socket: ${errorReason(err)}; create it or pass another --control-socket`, { cause: err });
  }
  if (first === undefined) return;
  // From `dir` up to `first`, the highest directory this call created.
  for (let d = dir; ; d = dirname(d)) {
    await chmod(d, mode);
    if (d === first || dirname(d) === d) break;
  }
}
