/**
 * Errors raised by the network-namespace lab.
 *
 * Every failure carries a `code` (as Node's own system errors do) so tests
 * and benchmarks can branch on what went wrong without parsing messages.
 * Timeouts use Node's own 'ETIMEDOUT'; everything lab-specific is 'ERR_LAB_*'.
 */

export type LabErrorCode =
  | 'ETIMEDOUT' // a bounded wait ran out
  | 'ERR_LAB_ARG' // a bad argument (tag, role, interface name, VLAN id, ...)
  | 'ERR_LAB_EXISTS' // a role or name already used in this lab
  | 'ERR_LAB_NOT_OWNED' // a namespace that this lab did not create
  | 'ERR_LAB_DESTROYED' // the lab was already destroyed
  | 'ERR_LAB_IP' // an `ip` command failed
  | 'ERR_LAB_UNSUPPORTED' // the kernel lacks a feature (e.g. CONFIG_VLAN_8021Q)
  | 'ERR_LAB_EXEC' // a command run inside a namespace failed
  | 'ERR_LAB_EXITED' // a process ended before the awaited output appeared
  | 'ERR_LAB_UNREACHABLE'; // a reachability probe got no answer

export interface LabErrorDetails {
  cause?: unknown;
  /** What the failed command wrote to stderr, when there was one. */
  stderr?: string;
  /** The command line, for the report. */
  command?: string;
}

export class LabError extends Error {
  readonly code: LabErrorCode;
  readonly stderr: string | undefined;
  readonly command: string | undefined;

  constructor(code: LabErrorCode, message: string, details: LabErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LabError';
    this.code = code;
    this.stderr = details.stderr;
    this.command = details.command;
  }
}
