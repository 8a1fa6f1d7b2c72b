/**
 * Writes a config file for `mcrctl save`: atomically (a temporary file,
 * fsync, rename over the path: a crash or a full disk mid-write leaves the
 * old file whole, never a truncated config mcrd could not start from), an
 * existing file keeping its mode and a symlink its target (write-file-atomic).
 * Its owner is kept where the process may give the temporary file that
 * owner: the packaged unit runs mcrd as root with group mcr and without
 * CAP_CHOWN, and the package's /etc/mcr/mcrd.json5 is root:root, so
 * keeping the owner there fails with EPERM. Then the file is written as
 * this process's own user and group instead, which the caller is told, so
 * that a save does not fail for the sake of a group.
 */
import writeFileAtomic from 'write-file-atomic';
import { existsSync, statSync } from 'node:fs';

export interface WrittenFile {
  /** Set when the file had another owner that could not be kept: the owner it had. */
  ownerChanged?: { uid: number; gid: number };
}

export function writeConfigFile(path: string, text: string): WrittenFile {
  const exists = existsSync(path);
  try {
    writeFileAtomic.sync(path, text, { mode: exists ? undefined : 0o644 });
    return {};
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!exists || e.code !== 'EPERM' || e.syscall !== 'chown' || process.geteuid === undefined || process.getegid === undefined) throw err;
    const before = statSync(path);
    writeFileAtomic.sync(path, text, { chown: { uid: process.geteuid(), gid: process.getegid() } });
    return { ownerChanged: { uid: before.uid, gid: before.gid } };
  }
}
