/**
 * The control requests that change mcrd (rules, files, log levels,
 * counters), in one place for both ends of the control socket: mcrd logs
 * each with its caller (supervisor/control/peer.ts), and both mcrd and the
 * client word a timeout of one differently from that of a read, since the
 * change goes on after the answer's deadline and may still take effect.
 */
import type { RequestKind } from '../proto/types.js';

/** Requests that change rules, files, log levels or counters. */
export const MUTATING_REQUESTS = ['addRule', 'removeRule', 'reload', 'save', 'logLevelSet', 'clear'] as const satisfies readonly RequestKind[];
const MUTATING = new Set<string>(MUTATING_REQUESTS);

/** True for a request kind that changes mcrd. */
export function isMutating(kind: string): boolean {
  return MUTATING.has(kind);
}

/**
 * What a mutating request mcrd had started when its answer's deadline
 * passed leaves the caller to do: mcrd does not undo a change it has
 * started (a reload half applied would be worse), so the change may land
 * after the deadline.
 */
export const MUTATION_TIMEOUT_ADVICE = 'the change goes on in mcrd and may still take effect: see `mcrctl list` and `mcrctl events` before retrying';

/**
 * The same for the client's own deadline, which cannot tell whether mcrd
 * had started the change or still had it waiting for its turn.
 */
export const MUTATION_NO_ANSWER_ADVICE = 'the change may or may not have been made: see `mcrctl list` and `mcrctl events` before retrying';
