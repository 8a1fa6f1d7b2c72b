/**
 * mcrd's event log: a ring of the last 1000 events (rule, worker, interface,
 * reload, counter and stream changes; event-kinds.ts), numbered in order,
 * each with its time, kind and fields, for a late `mcrctl events`; and the
 * followers of `mcrctl events --follow` (follower.ts), each given every new
 * event as it is recorded.
 *
 * Recording costs one object, one JSON.stringify of the fields and a push to
 * each follower's queue: the fields go on the wire as JSON text anyway, and
 * turning them into it once serves the ring and every follower. Nothing here
 * waits on a client: a follower that does not read is dropped by its own
 * queue's limits, never blocks record(). Every follower gets the events in
 * the order they were numbered, also the drop an event's delivery records.
 */
import { performance } from 'node:perf_hooks';
import type { Event } from '../../proto/index.js';
import type { EventFields, EventKind, EventSink } from './event-kinds.js';
import { Follower, type FollowerLimits } from './follower.js';

export const EVENT_LOG_CAPACITY = 1000;

export interface EventLogOptions {
  /** Events kept; default EVENT_LOG_CAPACITY. */
  capacity?: number;
  /** Wall clock for the events' time (ms since the epoch); default Date.now. */
  now?: () => number;
  /** Followers' limits; default DEFAULT_FOLLOWER_LIMITS (follower.ts). */
  followers?: Partial<FollowerLimits>;
  /** Told about each dropped follower, beside its event (mcrd logs it). */
  onDrop?: (drop: EventFields['events.follower-dropped']) => void;
}

export class EventLog implements EventSink {
  readonly capacity: number;
  private readonly ring: Event[] = [];
  // Index in `ring` of the oldest event once the ring is full.
  private head = 0;
  private seq = 0;
  private readonly followers = new Set<Follower>();
  private readonly now: () => number;
  // Events recorded but not yet handed to the followers, oldest first, and
  // whether a record() up the stack is handing them out (deliver()).
  private readonly undelivered: Event[] = [];
  private delivering = false;

  constructor(private readonly o: EventLogOptions = {}) {
    this.capacity = o.capacity ?? EVENT_LOG_CAPACITY;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new RangeError(`event log capacity must be a positive integer, not ${this.capacity}`);
    this.now = o.now ?? Date.now;
  }

  /** Records one event and hands it to every follower. */
  record<K extends EventKind>(kind: K, fields: EventFields[K]): Event {
    const event: Event = { seq: ++this.seq, timeMs: this.now(), kind, fields: JSON.stringify(fields) };
    if (this.ring.length < this.capacity) this.ring.push(event);
    else {
      this.ring[this.head] = event;
      this.head = (this.head + 1) % this.capacity;
    }
    this.undelivered.push(event);
    if (!this.delivering) this.deliver();
    return event;
  }

  /**
   * Hands the undelivered events to every follower, in the order they were
   * numbered. A follower that overflows while one is handed out records its
   * drop from inside this loop: that event waits in `undelivered` for the
   * current one to reach every follower, or the followers after the dropped
   * one would get it before the event being delivered.
   */
  private deliver(): void {
    this.delivering = true;
    try {
      for (let event = this.undelivered.shift(); event !== undefined; event = this.undelivered.shift()) {
        const at = performance.now();
        // A follower that overflows now unsubscribes while this loop runs: iterate over a copy.
        for (const f of [...this.followers]) f.push(event, at);
      }
    } finally {
      this.delivering = false;
    }
  }

  /** The `last` most recent events (all kept when last is 0 or more than kept), oldest first. */
  recent(last = 0): Event[] {
    const ordered = this.ring.length < this.capacity ? this.ring.slice() : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
    return last > 0 && last < ordered.length ? ordered.slice(ordered.length - last) : ordered;
  }

  /** Number of the last event recorded (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Followers now subscribed. */
  get followerCount(): number {
    return this.followers.size;
  }

  /**
   * A follower that first yields `first` (the recent events the client asked
   * for), then every event recorded from now on, in batches, until `signal`
   * aborts, the iteration is ended, or it is dropped for not reading.
   */
  follow(first: Event[], client: number, signal: AbortSignal): Follower {
    const follower = new Follower(first, client, signal, this.o.followers ?? {}, {
      unsubscribe: (f) => this.followers.delete(f),
      dropped: (drop) => {
        this.record('events.follower-dropped', drop);
        this.o.onDrop?.(drop);
      },
    });
    if (!signal.aborted) this.followers.add(follower);
    return follower;
  }
}
