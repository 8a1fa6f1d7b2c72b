/**
 * Group joins that failed are tried again on their own, with backoff (1 s,
 * doubling, at most 60 s), not only at the next change of rules or
 * interfaces: a join refused for a passing reason (EMFILE or ENOMEM at a
 * busy moment, a full net.ipv4.igmp_max_memberships raised later) would
 * otherwise leave its group unjoined, and an IGMP-snooping switch would
 * deliver nothing, until something else changed, perhaps weeks later. The
 * memberships keep what failed unsettled (group-memberships.ts), so the
 * next apply() tries exactly that again. Each retry is logged with how many
 * joins failed; the joins' own errors are logged where they happen.
 */
import type { Logger } from 'pino';

export const FIRST_RETRY_MS = 1000;
export const MAX_RETRY_MS = 60_000;

export class JoinRetry {
  #timer: NodeJS.Timeout | undefined;
  #delayMs = FIRST_RETRY_MS;
  #stopped = false;
  #failing = false;

  /** `sync` applies the memberships and returns how many joins failed. */
  constructor(private readonly sync: () => number, private readonly logger: Pick<Logger, 'warn' | 'info'>) {}

  /** Applies now; schedules a retry when joins failed, forgets any retry when none did. */
  run(): void {
    if (this.#stopped) return;
    const failed = this.sync();
    if (failed === 0) {
      // After a failure: the joins are in place, or the rules no longer want them.
      if (this.#failing) this.logger.info('no group join fails any more (joined, or no longer wanted)');
      this.#failing = false;
      this.#delayMs = FIRST_RETRY_MS;
      this.cancel();
      return;
    }
    this.#failing = true;
    if (this.#timer !== undefined) return;
    const delayMs = this.#delayMs;
    this.logger.warn({ failed, retryInMs: delayMs }, 'group joins failed (see above): trying again');
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#delayMs = Math.min(MAX_RETRY_MS, delayMs * 2);
      this.run();
    }, delayMs);
    this.#timer.unref();
  }

  /** No more retries (mcrd stops). */
  stop(): void {
    this.#stopped = true;
    this.cancel();
  }

  /** The delay before the next retry (for tests and logs). */
  get nextDelayMs(): number {
    return this.#delayMs;
  }

  private cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
