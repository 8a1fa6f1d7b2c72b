/**
 * Which control request runs next, across every client of the socket.
 *
 * Some requests cost mcrd real time: a stats answer sums and encodes the
 * counters of every rule (tens of ms at a few thousand rules), a list
 * encodes the whole table. Started all at once, as many as clients send,
 * their results arrive together and the event loop works through all of
 * them before it reads anything else, so one new client waits for every
 * request the others made before it (measured: 64 clients each asking
 * stats in a loop kept a new client's list unanswered for over 5 s). So at
 * most `maxRunning` requests run at once; the others wait here, and the
 * next to start is the first waiting request of the client with the fewest
 * running, then the one whose last start is oldest: a client that has just
 * connected (mcrctl) goes before clients that keep the server busy, and
 * busy clients take turns. Each client's requests still start in the order
 * they arrived.
 *
 * Requests that are answered at once from memory (ping, version, workers,
 * log level) skip the queue unless their client already has requests
 * waiting (that would reorder them). A request leaves its place when it
 * settles, is answered ETIMEDOUT, or its client goes, and at the latest
 * `leaseMs` (1 s) after it started: one still running then is waiting for
 * something (a worker that hangs, a long reload's sync), so it keeps
 * running but no longer holds back the requests behind it. Not much less:
 * a stats request at 5000 rules waits 150-800 ms for the worker's counters
 * on a busy host and then takes about 100 ms of CPU; with a 100 ms lease
 * such requests left their places while waiting, many more went to the
 * worker, and their answers came back together, blocking mcrd's event loop
 * for up to 1.3 s (measured; 0.14-0.23 s with 1 s).
 */
import type { RequestKind } from '../../proto/types.js';

/** Answered from memory, in a few microseconds whatever the table's size. */
const IMMEDIATE: ReadonlySet<RequestKind> = new Set<RequestKind>(['ping', 'version', 'workers', 'logLevelGet']);

/** One client, as the scheduler sees it. */
export interface Ticketholder {
  /** Requests of this client running now. */
  running: number;
  /** When a request of this client last started (performance.now()); -Infinity before the first. */
  lastStartMs: number;
  /** Its requests waiting to start, oldest first. */
  waiting: Array<() => void>;
}

export function newTicketholder(): Ticketholder {
  return { running: 0, lastStartMs: -Infinity, waiting: [] };
}

export class RequestScheduler {
  private running = 0;
  private readonly holders = new Set<Ticketholder>();

  /** `leaseMs`: how long a started request holds its place at most. */
  constructor(readonly maxRunning: number, readonly leaseMs = 1000) {}

  /** Requests running now, over every client. */
  get runningCount(): number {
    return this.running;
  }

  /**
   * Runs `start` for `holder` now or when its turn comes. Returns a release
   * function to call exactly when the request stops counting (settled, timed
   * out, or abandoned): before it started, it removes the request from the
   * queue; after, it frees its place. Calling it again does nothing. `start`
   * gets the same function (it may run before submit returns).
   */
  submit(holder: Ticketholder, kind: RequestKind, start: (release: () => void) => void): () => void {
    let state: 'waiting' | 'running' | 'released' = 'waiting';
    let lease: NodeJS.Timeout | undefined;
    const begin = (): void => {
      state = 'running';
      this.running++;
      holder.running++;
      holder.lastStartMs = performance.now();
      lease = setTimeout(release, this.leaseMs);
      start(release);
    };
    // Called by the caller when the request ends, or by the lease: the
    // place is given back once (the request itself is the caller's).
    const release = (): void => {
      if (state === 'released') return;
      if (state === 'waiting') {
        const i = holder.waiting.indexOf(begin);
        if (i >= 0) holder.waiting.splice(i, 1);
        if (holder.waiting.length === 0) this.holders.delete(holder);
      } else {
        clearTimeout(lease);
        this.running--;
        holder.running--;
      }
      state = 'released';
      this.pump();
    };
    if (holder.waiting.length === 0 && IMMEDIATE.has(kind)) {
      // Immediate kinds run outside the count (they take no time to answer):
      // never counted, so nothing to give back, whenever `start` calls
      // release (synchronously too: a connection with unread answers does).
      state = 'released';
      holder.lastStartMs = performance.now();
      start(release);
      return release;
    }
    if (holder.waiting.length === 0 && this.running < this.maxRunning) {
      begin();
      return release;
    }
    holder.waiting.push(begin);
    this.holders.add(holder);
    return release;
  }

  /** Starts waiting requests while there is room, fairest first. */
  private pump(): void {
    while (this.running < this.maxRunning && this.holders.size > 0) {
      let next: Ticketholder | undefined;
      for (const h of this.holders) {
        if (next === undefined || h.running < next.running || (h.running === next.running && h.lastStartMs < next.lastStartMs)) next = h;
      }
      if (next === undefined) return;
      const begin = next.waiting.shift();
      if (next.waiting.length === 0) this.holders.delete(next);
      begin?.();
    }
  }
}
