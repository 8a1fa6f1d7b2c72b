/**
 * Defaults and limits that more than one program needs: mcrd, mcrctl, the
 * config schema and the docs' tables all take them from here, so a number
 * is written once. Limits of a rule are beside its validation
 * (rule-spec.ts, RULE_LIMITS); rules and outputs per input interface are in
 * rule-limits.ts.
 */

/** Where mcrd listens and mcrctl connects unless told otherwise. */
export const DEFAULT_CONTROL_SOCKET = '/run/mcr/mcrd.sock';

/** Most worker processes per input interface (`--workers`, `daemon.workers`). */
export const MAX_WORKERS = 256;

/**
 * Shortest interval mcrd computes a packet rate over: packets counted over
 * less are too few to be a rate (supervisor/stats/rate-tracker.ts), and
 * mcrctl says to ask again after this long.
 */
export const MIN_RATE_INTERVAL_MS = 500;
