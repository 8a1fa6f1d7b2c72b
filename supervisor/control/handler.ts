/**
 * The contract between the control server and the rest of mcrd: one async
 * method per request kind, supplied by whoever owns the rule table and the
 * fleet. The server decodes, times out and answers; the handler only
 * decides. A handler refuses a request by throwing an error with a string
 * `code` (a ControlError, or any errno-shaped error): the client receives
 * that code and message. Any other throw is reported as ERR_MCR_INTERNAL.
 *
 * Handlers receive the request's fields without its `kind`, and a context
 * whose signal aborts when the answer is no longer wanted (request timeout,
 * client gone, server closing): long work and log streams should stop then.
 * invoke() makes the call from a decoded request to its method.
 */
import { ControlError } from '../../common/control-errors.js';
import type {
  AddRuleRequest, AddRuleResult, CheckRequest, CheckResult, ClearRequest, ClearResult, EventsRequest, EventsResult, ListRulesRequest, ListRulesResult,
  LogLevelGetRequest, LogLevelGetResult, LogLevelSetRequest, LogLevelSetResult, LogsRequest, LogsResult,
  PingRequest, PingResult, ReloadRequest, ReloadResult, RemoveRuleRequest, RemoveRuleResult, RequestKind,
  Request, SaveRequest, SaveResult, StatsRequest, StatsResult, VersionRequest, VersionResult, WorkersRequest, WorkersResult,
} from '../../proto/types.js';

export interface RequestContext {
  /** Aborted when the request times out, its client disconnects or the server closes. */
  readonly signal: AbortSignal;
  /** Number of the client connection, unique while the server runs (for logs). */
  readonly clientId: number;
  /** The request's id as the client chose it. */
  readonly requestId: number;
}

export interface ControlHandler {
  addRule(request: AddRuleRequest, context: RequestContext): Promise<AddRuleResult>;
  removeRule(request: RemoveRuleRequest, context: RequestContext): Promise<RemoveRuleResult>;
  listRules(request: ListRulesRequest, context: RequestContext): Promise<ListRulesResult>;
  stats(request: StatsRequest, context: RequestContext): Promise<StatsResult>;
  workers(request: WorkersRequest, context: RequestContext): Promise<WorkersResult>;
  /**
   * Without follow: one batch. With follow: an async iterable of batches,
   * sent as they come (Response.more = true), ended by a last empty batch
   * with more = false when the iterable finishes. The request timeout only
   * bounds the time until this promise resolves, not the stream.
   */
  logs(request: LogsRequest, context: RequestContext): Promise<LogsResult | AsyncIterable<LogsResult>>;
  /**
   * Recent events; with follow, an async iterable of batches as for logs,
   * which may have a `dropped` promise: resolved when the producer gives up
   * on a client that does not read (its next batch is then an error).
   */
  events(request: EventsRequest, context: RequestContext): Promise<EventsResult | (AsyncIterable<EventsResult> & { readonly dropped?: Promise<unknown> })>;
  logLevelGet(request: LogLevelGetRequest, context: RequestContext): Promise<LogLevelGetResult>;
  logLevelSet(request: LogLevelSetRequest, context: RequestContext): Promise<LogLevelSetResult>;
  reload(request: ReloadRequest, context: RequestContext): Promise<ReloadResult>;
  save(request: SaveRequest, context: RequestContext): Promise<SaveResult>;
  check(request: CheckRequest, context: RequestContext): Promise<CheckResult>;
  ping(request: PingRequest, context: RequestContext): Promise<PingResult>;
  version(request: VersionRequest, context: RequestContext): Promise<VersionResult>;
  /** Zeroes counters on purpose (mcrctl clear); mcrd logs it at info with the caller. */
  clear(request: ClearRequest, context: RequestContext): Promise<ClearResult>;
}

// Compile-time check that the handler has exactly one method per request
// kind: adding a kind to control.proto without a method here fails to build.
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const handlerCoversEveryKind: Exactly<keyof ControlHandler, RequestKind> = true;
void handlerCoversEveryKind;

/** Minimal logger the server writes to; a pino Logger fits. */
export interface ControlLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: ControlLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Calls the handler method named by the request's kind, with the kind stripped. */
export function invoke(handler: ControlHandler, body: Request['body'], context: RequestContext): Promise<unknown> {
  const { kind, ...request } = body;
  const method: unknown = (handler as unknown as Record<string, unknown>)[kind];
  if (typeof method !== 'function') {
    return Promise.reject(new ControlError('ERR_MCR_UNSUPPORTED', `this mcrd does not implement ${kind}: upgrade mcrd to match mcrctl`));
  }
  // Through a promise so that a handler throwing synchronously is answered too.
  return Promise.resolve().then(() => (method as (r: unknown, c: RequestContext) => unknown).call(handler, request, context));
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}
