/**
 * TypeScript shapes of proto/worker.proto (mcrd <-> worker command stream).
 * Hand-written to match the .proto; the round-trip tests encode and decode
 * every kind. As in the control protocol, the command's oneof body is a
 * tagged union keyed by `kind` ({ kind: 'ping', stats: true }).
 */
import type { ErrorInfo, Rule, RuleRefusal, RuleStats } from './common-types.js';

export interface SyncRulesCommand {
  generation: number;
  hash: Uint8Array;
  rules: Rule[];
}
export interface AddRuleCommand {
  generation: number;
  hash: Uint8Array;
  rule: Rule;
}
export interface RemoveRuleCommand {
  generation: number;
  hash: Uint8Array;
  id: number;
}
export interface SetLogLevelCommand {
  level: string;
}
export interface StopCommand {
  /** 0 or absent means the worker's default. */
  drainTimeoutMs?: number;
}
export interface PingCommand {
  /** Ask for the worker's counters in the reply. */
  stats?: boolean;
}

export interface CommandBodies {
  syncRules: SyncRulesCommand;
  addRule: AddRuleCommand;
  removeRule: RemoveRuleCommand;
  setLogLevel: SetLogLevelCommand;
  stop: StopCommand;
  ping: PingCommand;
}

export type CommandKind = keyof CommandBodies;

/** Every command kind, in .proto order. */
export const COMMAND_KINDS: readonly CommandKind[] = ['syncRules', 'addRule', 'removeRule', 'setLogLevel', 'stop', 'ping'];

export type CommandBody<K extends CommandKind = CommandKind> = { [P in K]: { kind: P } & CommandBodies[P] }[K];

/** mcr.worker.Command. */
export interface Command {
  /** Increasing, chosen by mcrd; echoed in the Reply. */
  seq: number;
  body: CommandBody;
}

/** mcr.worker.WorkerCounters. */
export interface WorkerCounters {
  received: number;
  kernelDrops: number;
  malformed: number;
  unmatched: number;
  rules: RuleStats[];
  /** The relay loop's counters by name. */
  loop?: Record<string, number>;
}

/** mcr.worker.Reply. */
export interface Reply {
  seq: number;
  /** Generation and hash of the rule table the worker holds now. */
  generation: number;
  hash: Uint8Array;
  /** Present when the command failed (the table is then unchanged). */
  error?: ErrorInfo;
  /** Present when the command asked for counters. */
  stats?: WorkerCounters;
  /** Every rule of the worker's table it could not apply, after this command. */
  refused: RuleRefusal[];
}
