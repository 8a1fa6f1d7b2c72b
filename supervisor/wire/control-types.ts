/**
 * TypeScript shapes of proto/control.proto (mcrctl <-> mcrd). Hand-written
 * to match the .proto; the round-trip tests encode and decode every kind.
 *
 * A request's oneof body is a tagged union keyed by `kind`, the camelCase
 * name of the oneof field: { kind: 'removeRule', name: 'feed-a' }. The
 * answer to a request of kind K is a result of the same kind K, or an error.
 * RequestBodies and ResultBodies map each kind to its fields, so callers get
 * the right result type from the request they send.
 */
import type { ErrorInfo, Rule, RuleStats } from './common-types.js';

/** A rule as sent in an add request: mcrd assigns the id. */
export type RuleInput = Omit<Rule, 'id'> & { id?: number };

// ---- requests ----

export interface AddRuleRequest {
  rule: RuleInput;
}
/** Exactly one of id or name. */
export interface RemoveRuleRequest {
  id?: number;
  name?: string;
}
export type ListRulesRequest = Record<never, never>;
export type StatsRequest = Record<never, never>;
export type WorkersRequest = Record<never, never>;
export interface LogsRequest {
  /** Only this worker's lines; absent means all. */
  worker?: string;
  /** Minimum level; '' means all. */
  level?: string;
  /** Most recent lines to send; 0 or absent means mcrd's default. */
  lines?: number;
  follow?: boolean;
}
export type LogLevelGetRequest = Record<never, never>;
export interface LogLevelSetRequest {
  level: string;
  /** Only this worker; absent means mcrd and every worker. */
  worker?: string;
}
export type ReloadRequest = Record<never, never>;
export interface SaveRequest {
  /** Absent means the file mcrd was started with. */
  file?: string;
}
export interface CheckRequest {
  file: string;
}
export type PingRequest = Record<never, never>;
export type VersionRequest = Record<never, never>;

export interface RequestBodies {
  addRule: AddRuleRequest;
  removeRule: RemoveRuleRequest;
  listRules: ListRulesRequest;
  stats: StatsRequest;
  workers: WorkersRequest;
  logs: LogsRequest;
  logLevelGet: LogLevelGetRequest;
  logLevelSet: LogLevelSetRequest;
  reload: ReloadRequest;
  save: SaveRequest;
  check: CheckRequest;
  ping: PingRequest;
  version: VersionRequest;
}

export type RequestKind = keyof RequestBodies;

/** Every request kind, in .proto order. */
export const REQUEST_KINDS: readonly RequestKind[] = [
  'addRule', 'removeRule', 'listRules', 'stats', 'workers', 'logs', 'logLevelGet',
  'logLevelSet', 'reload', 'save', 'check', 'ping', 'version',
];

// ---- results ----

export interface AddRuleResult {
  rule: Rule;
  application: RuleApplication;
  warnings: string[];
}
/** How the workers of a rule's input interface hold it (mcr.control.RuleApplication). */
export interface RuleApplication {
  ruleId: number;
  applied: string[];
  refused: WorkerRefusal[];
  unconfirmed: string[];
  pending: string[];
}
export interface WorkerRefusal {
  worker: string;
  error: ErrorInfo;
}
export interface RemoveRuleResult {
  rule: Rule;
}
export interface ListRulesResult {
  rules: Rule[];
  generation: number;
  /** Only rules some worker refused or did not confirm. */
  problems: RuleApplication[];
}
export interface WorkerStats {
  worker: string;
  interface: string;
  received: number;
  kernelDrops: number;
  restarts: number;
  /** The worker's relay-loop counters by name; empty while it is not running. */
  loop?: Record<string, number>;
}
export interface StatsResult {
  rules: RuleStats[];
  workers: WorkerStats[];
  /** What the pps values are measured over; absent when none has one. */
  rateIntervalMs?: number;
}
export interface WorkerInfo {
  id: string;
  interface: string;
  core: number;
  /** 0 while the slot waits to restart. */
  pid: number;
  state: string;
  restarts: number;
  generation: number;
  logLevel: string;
  /** Milliseconds since the Unix epoch. */
  startedAtMs: number;
  /** Why a 'waiting' slot waits, or why a worker holds no rules; absent otherwise. */
  reason?: string;
}
export interface WorkersResult {
  workers: WorkerInfo[];
}
export interface LogLine {
  worker: string;
  timeMs: number;
  level: string;
  message: string;
  /** The complete pino JSON line. */
  json: string;
}
export interface LogsResult {
  lines: LogLine[];
}
export interface WorkerLogLevel {
  worker: string;
  level: string;
}
export interface LogLevelGetResult {
  level: string;
  workers: WorkerLogLevel[];
}
export interface LogLevelSetResult {
  level: string;
  workers: number;
}
export interface ReloadResult {
  file: string;
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
  changes: RuleChange[];
  problems: RuleApplication[];
}
/** One rule a reload touched (mcr.control.RuleChange). */
export interface RuleChange {
  kind: 'added' | 'removed' | 'changed';
  ruleId: number;
  /** The id before a change; 0 otherwise. */
  previousId: number;
  match: string;
  name?: string;
  fields: FieldChange[];
}
/** One differing field: JSON text of each value, '' when absent. */
export interface FieldChange {
  field: string;
  before: string;
  after: string;
}
export interface SaveResult {
  file: string;
  rules: number;
}
export interface CheckResult {
  file: string;
  rules: number;
}
export interface PingResult {
  pid: number;
  uptimeMs: number;
}
export interface VersionResult {
  version: string;
  node: string;
  protocol: number;
}

export interface ResultBodies {
  addRule: AddRuleResult;
  removeRule: RemoveRuleResult;
  listRules: ListRulesResult;
  stats: StatsResult;
  workers: WorkersResult;
  logs: LogsResult;
  logLevelGet: LogLevelGetResult;
  logLevelSet: LogLevelSetResult;
  reload: ReloadResult;
  save: SaveResult;
  check: CheckResult;
  ping: PingResult;
  version: VersionResult;
}

// ---- envelopes ----

/** The body of a request of kind K (all kinds when K is left out). */
export type RequestBody<K extends RequestKind = RequestKind> = { [P in K]: { kind: P } & RequestBodies[P] }[K];

/** The successful answer to a request of kind K. */
export type ResultBody<K extends RequestKind = RequestKind> = { [P in K]: { kind: P } & ResultBodies[P] }[K];

export type ErrorBody = { kind: 'error' } & ErrorInfo;

export type ResponseBody = ResultBody | ErrorBody;

/** mcr.control.Request. */
export interface Request {
  /** 1..2^32-1, chosen by the client. */
  id: number;
  body: RequestBody;
}

/** mcr.control.Response. */
export interface Response {
  /** The request's id; 0 for errors about the connection itself. */
  id: number;
  /** More responses with this id follow (logs --follow). */
  more: boolean;
  body: ResponseBody;
}

/** Revision of the control protocol; bump on incompatible changes. */
export const CONTROL_PROTOCOL = 1;
