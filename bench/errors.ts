/**
 * Errors raised by the benchmark suite.
 *
 * Every failure carries a `code`, like Node's system errors and the lab's
 * LabError, so the runner can record a failed cell (and carry on with the
 * next) or stop, without parsing messages. Lab errors pass through with
 * their own codes.
 */

export type BenchErrorCode =
  | 'ERR_BENCH_ARG' // a bad command-line argument
  | 'ERR_BENCH_ENV' // the machine cannot run the suite (not root, < 2 CPUs, no build)
  | 'ERR_BENCH_DEPENDENCY' // a tool the run needs is missing and could not be installed
  | 'ERR_BENCH_START' // a forwarding method did not start or become ready
  | 'ERR_BENCH_UNAVAILABLE' // this host cannot run the method (e.g. no CONFIG_IP_MROUTE for the kernel's)
  | 'ERR_BENCH_NOT_FORWARDING' // a method started but warm-up traffic did not arrive
  | 'ERR_BENCH_TOOL_OUTPUT' // a tool printed something we could not parse
  | 'ERR_BENCH_INTERRUPTED'; // the run was stopped by a signal

export class BenchError extends Error {
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchError';
    this.code = code;
  }
}

/** `{code, message}` of any thrown value, for the results file. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : 'ERR_BENCH_UNEXPECTED', message: err.message };
  }
  return { code: 'ERR_BENCH_UNEXPECTED', message: String(err) };
}
