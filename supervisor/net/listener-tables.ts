/**
 * Reads the four /proc files in which local listeners show (`/proc/net/igmp`
 * and `igmp6`: each interface's groups and how many sockets joined each;
 * `/proc/net/udp` and `udp6`: bound sockets), for `consumeInputs: "auto"`
 * (consume-policy.ts), and chooses how: on the event loop while the last
 * such read was quick (SYNC_READ_MS), through libuv's pool on a host whose
 * tables take longer, trying the event loop again now and then
 * (SYNC_RETRY_POLLS). The two IPv6 files are missing when the kernel runs
 * without IPv6 (ipv6.disable=1): then no socket can listen on IPv6, and
 * they read as empty. A file that cannot be read otherwise throws a
 * ReadFailure naming it.
 */
import type { ProcReader } from './socket-owners.js';

/**
 * A poll reads the four files on the event loop while the last such read
 * took less than this (ms), and through libuv's pool otherwise. A
 * read through the pool is five round trips per file (open, stat, read,
 * read, close), each a wake-up of mcrd's main thread and of a pool thread:
 * on a host with few sockets that was a third of an idle mcrd's CPU, for
 * a read that takes about 0.1 ms on the event loop. The kernel's walk grows
 * faster than the socket count (measured: 0.15 ms at 100 UDP sockets,
 * 1.2 ms at 1 000, 6 ms at 3 000, 52 ms at 10 000), so a host past about
 * 1 500 sockets is read off the event loop, as before.
 */
export const SYNC_READ_MS = 2;
/**
 * Reading through the pool, a poll tries the event loop again after this
 * many polls (about 30 s), and after twice as many each time that read is
 * slow again, up to SYNC_RETRY_MAX_POLLS: the pool's own time (its round
 * trips, a busy event loop) says nothing about the kernel's walk, so one
 * slow read (a stall of the host, a burst of sockets) must not leave the
 * poll on the pool for good.
 */
export const SYNC_RETRY_POLLS = 16;
export const SYNC_RETRY_MAX_POLLS = 256;
const IGMP_FILE = '/proc/net/igmp';
const UDP_FILE = '/proc/net/udp';
const IGMP6_FILE = '/proc/net/igmp6';
const UDP6_FILE = '/proc/net/udp6';
const FILES = [['igmp', IGMP_FILE], ['udp', UDP_FILE], ['igmp6', IGMP6_FILE], ['udp6', UDP6_FILE]] as const;
const IPV6_FILES: ReadonlySet<string> = new Set([IGMP6_FILE, UDP6_FILE]);

/** The file that could not be read, and why. */
export interface ReadFailure { file: string; err: unknown }
export interface ProcTexts { igmp: string; udp: string; igmp6: string; udp6: string }
export const NO_TEXTS: ProcTexts = Object.freeze({ igmp: '', udp: '', igmp6: '', udp6: '' });

export class ListenerTables {
  /** How long the last read on the event loop took (ms): readForPoll() picks its way by it. */
  private lastReadMs: number | undefined;
  /** Polls read through the pool since the last read on the event loop, and how many make it try the event loop again. */
  private poolPolls = 0;
  private retryAfter = SYNC_RETRY_POLLS;

  constructor(private readonly reader: ProcReader) {}

  /** The texts now, read on the event loop (a rule change wants them at once). */
  readNow(): ProcTexts {
    const retrying = this.lastReadMs !== undefined && this.lastReadMs >= SYNC_READ_MS;
    const started = performance.now();
    try {
      return this.readSync();
    } finally {
      // Kept also when the read failed: a failed read is quick, and the next one may be too.
      this.lastReadMs = performance.now() - started;
      this.poolPolls = 0;
      if (this.lastReadMs < SYNC_READ_MS) this.retryAfter = SYNC_RETRY_POLLS;
      else if (retrying) this.retryAfter = Math.min(this.retryAfter * 2, SYNC_RETRY_MAX_POLLS);
    }
  }

  /** The texts for a timer's poll: on the event loop while that is quick (or time to try again), else through the pool. */
  async readForPoll(): Promise<ProcTexts> {
    return this.onEventLoop() ? this.readNow() : this.readThroughPool();
  }

  /** How long the last read on the event loop took (ms), for tests. */
  get lastReadDurationMs(): number | undefined {
    return this.lastReadMs;
  }

  private onEventLoop(): boolean {
    if (this.lastReadMs === undefined) return false;
    return this.lastReadMs < SYNC_READ_MS || ++this.poolPolls >= this.retryAfter;
  }

  private readSync(): ProcTexts {
    const out = { ...NO_TEXTS };
    for (const [key, file] of FILES) {
      try {
        out[key] = this.reader.read(file);
      } catch (err) {
        if (!noIpv6(file, err)) throw { file, err } satisfies ReadFailure;
      }
    }
    return out;
  }

  private async readThroughPool(): Promise<ProcTexts> {
    const out = { ...NO_TEXTS };
    for (const [key, file] of FILES) {
      try {
        out[key] = await this.reader.readAsync(file);
      } catch (err) {
        if (!noIpv6(file, err)) throw { file, err } satisfies ReadFailure;
      }
    }
    return out;
  }
}

/** A missing IPv6 file: the kernel has no IPv6 (ipv6.disable=1), so no IPv6 listener exists. */
function noIpv6(file: string, err: unknown): boolean {
  return IPV6_FILES.has(file) && (err as { code?: string }).code === 'ENOENT';
}
