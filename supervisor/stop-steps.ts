/**
 * mcrd's stop, step by step: each part of the daemon is closed in order
 * (stream watch, consume policy, workers, interface watcher, memberships,
 * consume filters, metrics, control socket, namespace guard), and a step that throws is
 * logged with its code and does not keep the steps after it from running:
 * a failed worker stop must not leave the consume filters in place or the
 * control socket open. The exit code says whether every step succeeded.
 */
import type { Logger } from 'pino';
import { errorCode } from '../common/control-errors.js';

export interface StopStep {
  /** What the step closes, for the log ("consume filters"). */
  what: string;
  run: () => unknown;
}

/** Runs every step in order whatever the earlier ones did; resolves with the names of those that failed. */
export async function runStopSteps(steps: readonly StopStep[], logger: Pick<Logger, 'error'>): Promise<string[]> {
  const failed: string[] = [];
  for (const step of steps) {
    try {
      await step.run();
    } catch (err) {
      failed.push(step.what);
      logger.error({ code: errorCode(err) ?? 'ERR_MCR_STOP', err: (err as Error).message, step: step.what },
        `stopping: closing the ${step.what} failed; the other steps still run`);
    }
  }
  return failed;
}
