/**
 * How mcrctl fails: every error ends as exactly one stderr line,
 * `mcrctl: CODE: message`, saying what is wrong and what to do, and an exit
 * status of 2 for a usage error (bad flags or values, caught before mcrd is
 * contacted) or 1 for everything else (mcrd not running, mcrd refusing the
 * request, timeouts).
 *
 * mcrd's own messages already say what to do in most cases; the hints below
 * add the mcrctl-side next step for codes whose daemon message cannot know
 * it (which command shows the conflicting rule, which flag to raise).
 */
import { ControlError, errorCode } from '../../common/control-errors.js';
import type { RuleApplication } from '../../proto/index.js';

/** Exit status for bad command lines, as most Unix tools use. */
export const EXIT_USAGE = 2;
/** Exit status for every other failure. */
export const EXIT_FAILURE = 1;

/** A failure detected by mcrctl itself, with the exit status it deserves. */
export class McrctlError extends Error {
  override readonly name = 'McrctlError';

  constructor(readonly code: string, message: string, readonly exitCode: number = EXIT_FAILURE) {
    super(message);
  }
}

/** A bad command line: exit 2, pointing at --help. */
export function usageError(message: string, code = 'ERR_MCR_USAGE'): McrctlError {
  return new McrctlError(code, `${message} (see mcrctl --help)`, EXIT_USAGE);
}

/**
 * Next steps by code, appended when mcrd's message does not already contain
 * them. ENODEV and EADDRNOTAVAIL come from workers opening sockets on mcrd's
 * host, so the hint names that host rather than the one mcrctl runs on.
 */
const HINTS: Readonly<Record<string, string>> = {
  EEXIST: 'see the current rules with `mcrctl list`',
  ENODEV: 'check the interface name with `ip link` on the host mcrd runs on',
  EADDRNOTAVAIL: 'give the output interface an address of the output\'s family (IPv4, or IPv6 with IPv6 enabled on it), or set the output source in the config',
  ESRCH: 'see the worker states with `mcrctl workers`',
  ERR_MCR_WORKER_START: 'see why with `mcrctl logs --level warn`',
  ERR_MCR_BAD_RULE: 'fix the rule and retry',
  ERR_MCR_NO_CONFIG: 'save takes --file; reload needs mcrd started with --config',
  ERR_MCR_BAD_RESPONSE: 'compare `mcrctl version` with the daemon\'s',
  ERR_MCR_SLOW_FOLLOWER: 'read the stream as it comes (a pipe into something that keeps up)',
};

export interface Failure {
  /** The whole stderr line, with its newline. */
  line: string;
  exitCode: number;
}

/**
 * The failure for rules that are in mcrd's table but not forwarded by every
 * worker (refused, or not confirmed in time); undefined when all is well.
 * The answer was printed first, so --json users have the details; this is
 * the non-zero exit and the one stderr line that says what to do.
 */
export function notAppliedError(problems: readonly RuleApplication[]): McrctlError | undefined {
  const first = problems[0];
  if (first === undefined) return undefined;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more rule${problems.length === 2 ? '' : 's'}: see \`mcrctl list\`)` : '';
  const refusal = first.refused[0];
  if (refusal !== undefined) {
    return new McrctlError(refusal.error.code,
      `rule ${first.ruleId} is in mcrd's rule table but worker ${refusal.worker} refused it (${refusal.error.message}), so it is not forwarded there; ` +
      `the other rules forward. Fix the rule and add it again after \`mcrctl remove --id ${first.ruleId}\`, or fix the host (mcrd retries it on reload and when an interface changes)${more}`);
  }
  const applied = first.applied.length > 0 ? `applied by ${first.applied.join(', ')}, ` : '';
  return new McrctlError('ETIMEDOUT',
    `rule ${first.ruleId} is in mcrd's rule table, ${applied}not confirmed by ${first.unconfirmed.join(', ')} (no answer in time); ` +
    `mcrd sends that worker its whole table again with the next change: see \`mcrctl workers\`${more}`);
}

/** Turns anything thrown while running a command into its stderr line and exit status. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof McrctlError) return failure(err.code, err.message, err.exitCode);
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code !== undefined) return failure(code, withHint(code, message, err), EXIT_FAILURE);
  // An uncoded error is a bug in mcrctl, not something the user did.
  return failure('ERR_MCR_INTERNAL', `${message}: this is a bug in mcrctl; please report it with the command line used`, EXIT_FAILURE);
}

/**
 * A longer --timeout helps only where mcrctl itself stopped waiting: mcrd's
 * own ETIMEDOUT (its 10 s per request) comes whatever the client allows.
 */
const OWN_DEADLINE_HINT = 'raise --timeout if mcrd is only busy';

function withHint(code: string, message: string, err: unknown): string {
  const hint = code === 'ETIMEDOUT' ? (err instanceof ControlError && err.ownDeadline ? OWN_DEADLINE_HINT : undefined) : HINTS[code];
  return hint === undefined || message.includes(hint) ? message : `${message}; ${hint}`;
}

function failure(code: string, message: string, exitCode: number): Failure {
  // One line, whatever the message carried (config errors may quote a line).
  const flat = message.replace(/\s*\r?\n\s*/g, ' ').trim();
  return { line: `mcrctl: ${code}: ${flat}\n`, exitCode };
}
