/**
 * Which process holds a socket, by the socket's inode: the /proc/PID/fd
 * links of a socket read "socket:[INODE]" (proc(5)). Used by
 * `consumeInputs: "auto"` to leave out mcrd's and its workers' own sockets
 * and to name a local listener's pid in the log. Only the few inodes bound
 * where a rule's datagrams arrive are looked up, and a found owner is kept
 * while its socket lives, so a poll with no new listener walks no fd table.
 *
 * Another user's /proc/PID/fd needs CAP_SYS_PTRACE (ptrace access mode
 * checks, proc(5)); mcrd under the shipped unit lacks it, so a listener of
 * another user is named by inode and uid only, and is never taken for mcrd's.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { socketInode } from './proc-net.js';
import type { SocketOwner } from './consume-decision.js';

/** The procfs reads the policy needs, injected so unit tests run without /proc. */
export interface ProcReader {
  /** A file's text; throws an errno-shaped error. */
  read(path: string): string;
  /** The same, off the event loop (libuv's pool). */
  readAsync(path: string): Promise<string>;
  /** The targets of /proc/PID/fd/*, or undefined when the process is gone or its table is not readable. */
  fdLinks(pid: number): string[] | undefined;
  /** Every process id in /proc. */
  pids(): number[];
}

export const procReader: ProcReader = {
  read: (path) => readFileSync(path, 'utf8'),
  readAsync: (path) => readFile(path, 'utf8'),
  fdLinks: (pid) => {
    let names: string[];
    try {
      names = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return undefined;
    }
    const links: string[] = [];
    for (const name of names) {
      try {
        links.push(readlinkSync(`/proc/${pid}/fd/${name}`));
      } catch {
        // Closed between the listing and the link: nothing to report.
      }
    }
    return links;
  },
  pids: () => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number),
};

/**
 * Finds the owners of `inodes`: first among `ownPids` (mcrd and its
 * workers), then among every other process, stopping as soon as all are
 * found. An inode found nowhere (an unreadable table, a socket closed
 * meanwhile) has no entry.
 */
export function findSocketOwners(inodes: ReadonlySet<number>, ownPids: readonly number[], reader: ProcReader): Map<number, SocketOwner> {
  const found = new Map<number, SocketOwner>();
  if (inodes.size === 0) return found;
  const scan = (pid: number, own: boolean): boolean => {
    for (const link of reader.fdLinks(pid) ?? []) {
      const inode = socketInode(link);
      if (inode !== undefined && inodes.has(inode) && !found.has(inode)) found.set(inode, { pid, own });
    }
    return found.size === inodes.size;
  };
  const own = new Set(ownPids);
  for (const pid of own) if (scan(pid, true)) return found;
  for (const pid of reader.pids()) {
    if (!own.has(pid) && scan(pid, false)) break;
  }
  return found;
}

/**
 * Owners remembered per inode while the socket is still listed: a socket's
 * inode is not given to another socket while it lives, so an owner found
 * once stays right until the inode leaves /proc/net/udp. A socket whose
 * owner was not found is taken for someone else's (so it keeps its
 * listener's datagrams) and not looked for again either.
 */
export class SocketOwnerCache {
  private readonly known = new Map<number, SocketOwner>();

  constructor(private readonly reader: ProcReader) {}

  /**
   * Owners of `inodes`, looking up only the ones not known yet; with
   * `prune` (a lookup for every rule) forgets every other inode.
   */
  lookup(inodes: ReadonlySet<number>, ownPids: readonly number[], prune = true): (inode: number) => SocketOwner | undefined {
    if (prune) for (const inode of [...this.known.keys()]) if (!inodes.has(inode)) this.known.delete(inode);
    const unknown = new Set([...inodes].filter((i) => !this.known.has(i)));
    const found = findSocketOwners(unknown, ownPids, this.reader);
    // Not found (a table mcrd may not read): someone else's, without a pid; not looked for again.
    for (const inode of unknown) this.known.set(inode, found.get(inode) ?? { own: false });
    return (inode) => this.known.get(inode);
  }
}
