/**
 * The exit statuses a worker process uses to tell mcrd why it ended, beyond
 * 0 (asked to stop) and 1 (failed at run time, restart it with backoff).
 * Shared by worker/fleet-worker.ts, which exits with them, and the fleet,
 * which decides from them whether a restart can help.
 */

/**
 * The worker could not start its relay loop for a reason a restart will
 * not change (sysexits' EX_CONFIG): the host refuses what the loop needs,
 * such as locked memory for its io_uring (ENOMEM under RLIMIT_MEMLOCK) or a
 * permission (EPERM, EACCES). Its last log line (level fatal) carries the
 * errno code and what to raise.
 */
export const WORKER_EXIT_START_REFUSED = 78;

/** Start errors a restart cannot cure: the host's limits or permissions must change first. */
export const START_REFUSED_CODES: ReadonlySet<string> = new Set(['ENOMEM', 'EPERM', 'EACCES']);
