/**
 * Loss of signal per rule: a rule's stream is `up` while some worker of its
 * input matched a datagram for it within its signalTimeoutMs (default 1000),
 * `down` otherwise, and before its first datagram; `off` when the timeout is
 * 0. The workers' loops note each rule's last arrival at their 100 ms stats
 * tick (native/core/loop_rules.cc, nothing per datagram); this module polls
 * those times (Fleet.arrivals(): a few bytes per rule) every
 * min(smallest timeout / 2, 500 ms), at least every 100 ms, so a change is
 * noticed without a client asking. Each change is logged once (warn when a
 * stream goes down, info when it comes up) and handed to the onChange
 * listeners (the events log).
 *
 * The state is judged here, not in the loops, so several workers of one
 * input combine simply (the latest arrival of any of them) and a restarted
 * worker, which starts with no arrivals, does not turn a stream down before
 * its timeout: the watch keeps the latest arrival it has seen per rule.
 * Arrivals are judged on CLOCK_MONOTONIC, which the workers' loops stamp
 * beside the wall time (native/core/counters.h) and mcrd reads with
 * process.hrtime: a step of the wall clock (NTP at boot, an operator) flips
 * no state; before, a step back of an hour kept a stopped stream `up` for
 * that hour. The wall times are what is shown (lastRxMs, changedAtMs).
 */
import type { Logger } from 'pino';
import { DEFAULT_SIGNAL_TIMEOUT_MS, hostPort } from '../../common/rule-spec.js';
import type { Rule, RuleArrivals } from '../../proto/index.js';

export type StreamState = 'up' | 'down' | 'off';

/** What a rule's stream looks like now (stats, list, metrics). */
export interface StreamView {
  state: StreamState;
  /** When the state last changed (Unix ms); when mcrd took the rule on, if it never did. */
  changedAtMs: number;
  /** The latest arrival any worker reported (Unix ms); 0 = none yet. */
  lastRxMs: number;
}

/** One change of a rule's stream state, as logged and handed to onChange listeners. */
export interface StreamChange {
  ruleId: number;
  name?: string;
  inputInterface: string;
  match: string;
  state: 'up' | 'down';
  previous: StreamState;
  atMs: number;
  lastRxMs: number;
  signalTimeoutMs: number;
  /** An up change after a reported down: how long the stream was down (ms). Absent for a rule's first up. */
  downMs?: number;
}

export interface StreamWatchOptions {
  rules: () => readonly Rule[];
  /** Each running worker's arrivals (Fleet.arrivals()). */
  poll: () => Promise<RuleArrivals[]>;
  logger: Logger;
  /** Unix ms, for what is shown (tests give their own clock). */
  now?: () => number;
  /** CLOCK_MONOTONIC ms, the clock of the workers' lastRxMonoMs, for what is judged (tests give their own). */
  monoNow?: () => number;
}

/** CLOCK_MONOTONIC in ms: libuv's hrtime reads it, as the workers' loops do. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

interface Tracked extends StreamView {
  timeoutMs: number;
  /** The latest arrival any worker reported, CLOCK_MONOTONIC ms; 0 = none yet. lastRxMs is the same arrival's wall time. */
  lastRxMonoMs: number;
  /** When its down change was reported (CLOCK_MONOTONIC ms); a rule taken on is down without one. */
  downSinceMonoMs?: number;
}

export const MAX_POLL_MS = 500;
export const MIN_POLL_MS = 100;

export function signalTimeoutOf(rule: Pick<Rule, 'signalTimeoutMs'>): number {
  return rule.signalTimeoutMs ?? DEFAULT_SIGNAL_TIMEOUT_MS;
}

/** How often to poll for these rules: half the smallest timeout, within 100..500 ms; undefined when none is watched. */
export function pollIntervalMs(rules: readonly Pick<Rule, 'signalTimeoutMs'>[]): number | undefined {
  let smallest = Infinity;
  for (const r of rules) {
    const t = signalTimeoutOf(r);
    if (t > 0 && t < smallest) smallest = t;
  }
  if (smallest === Infinity) return undefined;
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, Math.floor(smallest / 2)));
}

function describeMatch(r: Rule): string {
  return `${r.inputInterface} ${hostPort(r.inputGroup, r.inputPort)}${r.source !== undefined ? ` from ${r.source}` : ''}`;
}

export class StreamWatch {
  readonly #o: StreamWatchOptions;
  readonly #now: () => number;
  readonly #monoNow: () => number;
  readonly #rules = new Map<number, Tracked>();
  readonly #listeners = new Set<(change: StreamChange) => void>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Bumped by stop(): a poll begun before it drops its answers, one begun after a new start() does not. */
  #generation = 0;

  constructor(o: StreamWatchOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#monoNow = o.monoNow ?? monotonicMs;
  }

  /** Calls `listener` for every change from now on; returns the function that stops it. */
  onChange(listener: (change: StreamChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Polls from now on, at the interval the rules ask for (re-read after every poll). */
  start(): void {
    this.#running = true;
    this.#schedule();
  }

  /**
   * Stops polling at once. A poll still waiting for the workers' answers
   * (up to 3 s for a hung one) is not waited for: mcrd's stop would carry
   * that wait on top of its own 10 s (docs/mcrd.md). Its answers are
   * dropped when they come, so the stop reports no stream change.
   */
  stop(): void {
    this.#running = false;
    this.#generation++;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * A reload changed a rule, which gets a new id (rule-table.ts): the new
   * one goes on from the old one's stream (its state, last arrival and the
   * time of its last change), as its counters do (stats carry), so a
   * stream that stopped just before the reload is still reported down,
   * and one that flows is not reported up again. Its timeout is the new
   * rule's (0: off).
   */
  carry(previousId: number, rule: Rule): void {
    const old = this.#rules.get(previousId);
    if (old === undefined || this.#rules.has(rule.id)) return;
    this.#rules.delete(previousId);
    const timeoutMs = signalTimeoutOf(rule);
    const state: StreamState = timeoutMs === 0 ? 'off' : old.state === 'off' ? 'down' : old.state;
    this.#rules.set(rule.id, { ...old, state, timeoutMs });
  }

  /** A rule's stream now, as the last poll left it (a rule the watch has not seen yet is taken on now). */
  view(rule: Rule): StreamView {
    const t = this.#track(rule, this.#now());
    return { state: t.state, changedAtMs: t.changedAtMs, lastRxMs: t.lastRxMs };
  }

  /** One poll: the workers' arrivals, then every rule's state; changes are logged and reported. Also what start() runs. */
  async poll(): Promise<void> {
    // No rule watched: no worker is asked anything.
    const generation = this.#generation;
    const reports = pollIntervalMs(this.#o.rules()) === undefined ? [] : await this.#o.poll();
    // Stopped meanwhile: workers stopping answer late or not at all, which is no loss of signal.
    if (this.#generation !== generation) return;
    // Read after the answers: a rule removed meanwhile is forgotten, one added is taken on.
    const now = this.#now();
    const mono = this.#monoNow();
    const rules = this.#o.rules();
    for (const rule of rules) this.#track(rule, now);
    // The latest arrival any worker reported, kept across polls (a restarted worker reports none).
    for (const a of reports) {
      const ids = a.ruleIds;
      for (let i = 0; i < ids.length; i++) {
        const t = this.#rules.get(ids[i] as number);
        const when = a.lastRxMonoMs[i] ?? 0;
        if (t === undefined || when <= t.lastRxMonoMs) continue;
        t.lastRxMonoMs = when;
        t.lastRxMs = a.lastRxMs[i] ?? 0;
      }
    }
    const present = new Set<number>();
    for (const rule of rules) {
      present.add(rule.id);
      const t = this.#track(rule, now);
      if (t.timeoutMs === 0) continue;
      const next: StreamState = t.lastRxMonoMs > 0 && mono - t.lastRxMonoMs < t.timeoutMs ? 'up' : 'down';
      if (next !== t.state) this.#change(rule, t, next, now, mono);
    }
    for (const id of this.#rules.keys()) if (!present.has(id)) this.#rules.delete(id);
  }

  #track(rule: Rule, now: number): Tracked {
    const timeoutMs = signalTimeoutOf(rule);
    let t = this.#rules.get(rule.id);
    if (t === undefined) {
      // A new rule starts down (nothing arrived yet) without a change to report.
      t = { state: timeoutMs === 0 ? 'off' : 'down', changedAtMs: now, lastRxMs: 0, lastRxMonoMs: 0, timeoutMs };
      this.#rules.set(rule.id, t);
    }
    return t;
  }

  #change(rule: Rule, t: Tracked, state: 'up' | 'down', now: number, mono: number): void {
    const downMs = state === 'up' && t.downSinceMonoMs !== undefined ? mono - t.downSinceMonoMs : undefined;
    const change: StreamChange = { ruleId: rule.id, ...(rule.name !== undefined ? { name: rule.name } : {}), inputInterface: rule.inputInterface,
      match: describeMatch(rule), state, previous: t.state, atMs: now, lastRxMs: t.lastRxMs, signalTimeoutMs: t.timeoutMs,
      ...(downMs !== undefined ? { downMs } : {}) };
    t.state = state;
    t.changedAtMs = now;
    t.downSinceMonoMs = state === 'down' ? mono : undefined;
    const fields = { rule: rule.id, name: rule.name, match: change.match, lastRxMs: t.lastRxMs || undefined, signalTimeoutMs: t.timeoutMs };
    if (state === 'down') {
      this.#o.logger.warn({ ...fields, silentMs: t.lastRxMonoMs > 0 ? mono - t.lastRxMonoMs : undefined }, 'stream down: no datagram within the signal timeout');
    } else {
      this.#o.logger.info({ ...fields, downMs }, 'stream up');
    }
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#o.logger.error({ err: (err as Error).message }, 'a stream change listener failed');
      }
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    const interval = pollIntervalMs(this.#o.rules()) ?? MAX_POLL_MS;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.poll()
        .catch((err: Error & { code?: string }) => this.#o.logger.error({ code: err.code, err: err.message }, 'stream watch poll failed'))
        .finally(() => this.#schedule());
    }, interval);
    this.#timer.unref();
  }
}
