/**
 * Errors of the control channel. A ControlError is what handlers throw to
 * refuse a request (the server sends its code and message to the client
 * verbatim) and what ControlClient rejects with when mcrd answers with an
 * error or cannot be reached. Messages are one line: what is wrong, then
 * what to do.
 *
 * Codes used here besides the handlers' own: ETIMEDOUT, ENOENT,
 * ECONNREFUSED, EACCES, EADDRINUSE, ENOTSOCK (system-shaped, as Node reports
 * them), ERR_MCR_BAD_FRAME, ERR_MCR_UNKNOWN_REQUEST, ERR_MCR_BAD_REQUEST,
 * ERR_MCR_BAD_RESPONSE, ERR_MCR_INTERNAL, ERR_MCR_UNSUPPORTED,
 * ERR_MCR_TOO_MANY_CLIENTS, ERR_MCR_EVICTED, ERR_MCR_DISCONNECTED,
 * ERR_MCR_NOT_CONNECTED.
 *
 * Also the two readers every part of mcrd and mcrctl uses on any error:
 * errorCode (its code, if it has one) and errorReason (its message without
 * the leading code, for a line that names the code already).
 */
import type { ErrorInfo } from '../proto/types.js';

export class ControlError extends Error {
  override readonly name = 'ControlError';
  /**
   * True when the client stopped waiting at its own deadline (mcrctl's
   * --timeout), false for what mcrd answered, its own ETIMEDOUT included:
   * only the first is helped by a longer client deadline.
   */
  readonly ownDeadline: boolean;

  constructor(readonly code: string, message: string, options: { cause?: unknown; ownDeadline?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.ownDeadline = options.ownDeadline === true;
  }
}

/** The code of an error-like value, if it has a string one. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.length > 0 ? code : undefined;
}

/**
 * A message for a line that names its code already: Node's system errors
 * (and the addon's) start their message with "CODE: ", which would
 * otherwise read twice ("ENOTDIR: ...: ENOTDIR: not a directory").
 */
export function withoutCodePrefix(code: string, message: string): string {
  return message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
}

/** An error's message without its leading "CODE: " (see withoutCodePrefix). */
export function errorReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = errorCode(err);
  return code === undefined ? message : withoutCodePrefix(code, message);
}

/**
 * What a client is told about a failed handler: the handler's own code and
 * message when it gave a code (a deliberate refusal), otherwise a generic
 * internal error, since an uncoded error is a bug whose details belong in
 * mcrd's log rather than in the client's face.
 */
export function toErrorInfo(err: unknown, kind: string): ErrorInfo {
  const code = errorCode(err);
  if (code !== undefined) {
    const message = err instanceof Error ? err.message : String((err as { message?: unknown }).message ?? code);
    return { code, message };
  }
  return {
    code: 'ERR_MCR_INTERNAL',
    message: `mcrd failed while handling ${kind}: this is a bug; see mcrd's log for details and report it`,
  };
}
