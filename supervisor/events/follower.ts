/**
 * One `mcrctl events --follow` client as the event log sees it: a queue of
 * the events recorded since it last took some, iterated in batches by the
 * control connection (connection.ts sends each batch with more = true).
 *
 * A follower that does not read must neither slow mcrd nor grow without
 * bound. The connection only takes the next batch once the client has read
 * the previous one (the socket drained), so a client that stops reading
 * shows here as a queue that stops emptying. It is dropped when its oldest
 * queued event has waited stallMs (default 5 s: far longer than any
 * reading client takes, whose queue empties on every drain), or at once
 * when maxQueued events wait (default 10 000: a burst of that size, a
 * reload of thousands of rules, arrives in one turn of the event loop, so
 * this bound must not be smaller than a legitimate burst; the queue holds
 * references to events shared with the ring, 80 KB at most). The stall is
 * judged after the event loop's poll phase (setImmediate from the timer),
 * so a busy mcrd whose sockets had no chance to drain does not count
 * against the client.
 *
 * A dropped follower unsubscribes, forgets its queue, records an
 * `events.follower-dropped` event (so `mcrctl events` shows it), resolves
 * `dropped` (the connection stops waiting for the client to read), and its
 * next batch is the error ERR_MCR_SLOW_FOLLOWER, the notice the client gets
 * after what it had not read yet, saying how many events it missed.
 */
import { performance } from 'node:perf_hooks';
import { ControlError } from '../../common/control-errors.js';
import type { Event, EventsResult } from '../../proto/index.js';
import type { EventFields } from './event-kinds.js';

export interface FollowerLimits {
  stallMs: number;
  maxQueued: number;
}

/** Events per answer of a follow stream (about 300 KB of typical events). */
export const MAX_BATCH = 1000;

export const DEFAULT_FOLLOWER_LIMITS: Readonly<FollowerLimits> = { stallMs: 5000, maxQueued: 10_000 };

export interface FollowerOwner {
  unsubscribe(follower: Follower): void;
  dropped(drop: EventFields['events.follower-dropped']): void;
}

export class Follower implements AsyncIterable<EventsResult>, AsyncIterator<EventsResult> {
  /** Resolves when the follower is dropped for not reading; never rejects. */
  readonly dropped: Promise<void>;
  private resolveDropped!: () => void;
  private first: Event[] | undefined;
  private queue: Event[] = [];
  // performance.now() when the oldest queued event was queued.
  private queuedSince = 0;
  private drop: ControlError | undefined;
  private ended = false;
  private wake: (() => void) | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private readonly limits: FollowerLimits;
  private readonly onAbort = (): void => this.end();

  constructor(first: Event[], readonly client: number, private readonly signal: AbortSignal, limits: Partial<FollowerLimits>,
    private readonly owner: FollowerOwner) {
    this.first = first;
    this.limits = { ...DEFAULT_FOLLOWER_LIMITS, ...limits };
    this.dropped = new Promise<void>((resolve) => (this.resolveDropped = resolve));
    if (signal.aborted) this.ended = true;
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Events waiting to be taken. */
  get queued(): number {
    return this.queue.length;
  }

  /** Called by the log for each new event; `at` is performance.now(). */
  push(event: Event, at: number): void {
    if (this.ended || this.drop !== undefined) return;
    if (this.queue.length === 0) this.queuedSince = at;
    this.queue.push(event);
    if (this.queue.length > this.limits.maxQueued) {
      this.dropNow(at);
      return;
    }
    this.armStall(at);
    this.wakeUp();
  }

  async next(): Promise<IteratorResult<EventsResult>> {
    for (;;) {
      if (this.drop !== undefined && !this.ended) {
        // The notice, once; after it the follower is over.
        this.end();
        throw this.drop;
      }
      if (this.ended) return { done: true, value: undefined };
      if (this.first !== undefined) {
        const events = this.first;
        this.first = undefined;
        return { done: false, value: { events } };
      }
      if (this.queue.length > 0) {
        // At most MAX_BATCH at a time: one answer stays far below the connection's unread limit (4 MiB).
        const events = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
        this.queue = this.queue.length <= MAX_BATCH ? [] : this.queue.slice(MAX_BATCH);
        // What is left waits from now: the stall is the client's time to read this batch.
        if (this.queue.length === 0) this.disarmStall();
        else this.queuedSince = performance.now();
        return { done: false, value: { events } };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  async return(): Promise<IteratorResult<EventsResult>> {
    this.end();
    return { done: true, value: undefined };
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    this.disarmStall();
    this.signal.removeEventListener('abort', this.onAbort);
    this.owner.unsubscribe(this);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private armStall(at: number): void {
    if (this.stallTimer !== undefined) return;
    const wait = Math.max(0, this.queuedSince + this.limits.stallMs - at);
    this.stallTimer = setTimeout(() => {
      // After this turn's poll phase: a drain that is due is seen first.
      setImmediate(() => {
        this.stallTimer = undefined;
        if (this.ended || this.drop !== undefined || this.queue.length === 0) return;
        const now = performance.now();
        if (now - this.queuedSince >= this.limits.stallMs) this.dropNow(now);
        else this.armStall(now);
      });
    }, wait);
    this.stallTimer.unref();
  }

  private disarmStall(): void {
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private dropNow(at: number): void {
    const missed = this.queue.length;
    const firstMissedSeq = this.queue[0]?.seq ?? 0;
    const lastMissedSeq = this.queue[missed - 1]?.seq ?? 0;
    const stalledMs = Math.round(at - this.queuedSince);
    const why = missed > this.limits.maxQueued ? `${missed} events waited unread` : `it read nothing for ${(stalledMs / 1000).toFixed(1)} s`;
    this.drop = new ControlError('ERR_MCR_SLOW_FOLLOWER',
      `mcrd dropped this events stream because ${why}: ${missed} event${missed === 1 ? '' : 's'} (seq ${firstMissedSeq}..${lastMissedSeq}) ` +
      'were not sent; mcrd keeps the last 1000: see them with `mcrctl events`, and follow again with a reader that keeps up');
    this.queue = [];
    this.disarmStall();
    this.owner.unsubscribe(this);
    this.resolveDropped();
    this.wakeUp();
    this.owner.dropped({ client: this.client, missed, firstMissedSeq, lastMissedSeq, stalledMs });
  }
}
