/**
 * The worker restart backoff: how long the fleet waits before restarting a
 * worker that exited (MIN, doubling on each exit up to MAX, back to MIN after
 * a minute of stable running), and the one check of its two bounds shared by
 * `mcrd --restart-backoff MIN_MS[:MAX_MS]` and the config file's
 * `daemon.restartBackoffMinMs` / `restartBackoffMaxMs`.
 *
 * The bounds are limited on purpose: a MIN of 0 would restart a worker that
 * dies at start-up in a tight loop (0 doubled stays 0), and a MAX above an
 * hour would leave an interface without forwarding for longer than anyone
 * would wait for it.
 */

export interface RestartBackoff {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_RESTART_BACKOFF: Readonly<RestartBackoff> = { minMs: 100, maxMs: 10_000 };
export const BACKOFF_MIN_LIMIT_MS = 60_000;
export const BACKOFF_MAX_LIMIT_MS = 3_600_000;

/**
 * Checks a pair of bounds; a missing MAX is the default 10 s, or MIN when MIN
 * is larger. Returns an error message (without a field name) or the pair.
 */
export function checkRestartBackoff(minMs: unknown, maxMs?: unknown): RestartBackoff | string {
  if (typeof minMs !== 'number' || !Number.isInteger(minMs) || minMs < 1 || minMs > BACKOFF_MIN_LIMIT_MS) {
    return `minimum: expected an integer 1..${BACKOFF_MIN_LIMIT_MS} (milliseconds), got ${show(minMs)}`;
  }
  if (maxMs === undefined) return { minMs, maxMs: Math.max(minMs, DEFAULT_RESTART_BACKOFF.maxMs) };
  if (typeof maxMs !== 'number' || !Number.isInteger(maxMs) || maxMs < minMs || maxMs > BACKOFF_MAX_LIMIT_MS) {
    return `maximum: expected an integer ${minMs}..${BACKOFF_MAX_LIMIT_MS} (milliseconds, at least the minimum), got ${show(maxMs)}`;
  }
  return { minMs, maxMs };
}

/** Parses the command line's `MIN_MS[:MAX_MS]`, e.g. `100:10000` or `50`. */
export function parseRestartBackoff(text: string): RestartBackoff | string {
  const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(text);
  if (m === null) return `expected MIN_MS[:MAX_MS] such as 100:10000, got ${JSON.stringify(text)}`;
  return checkRestartBackoff(Number(m[1]), m[2] === undefined ? undefined : Number(m[2]));
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
