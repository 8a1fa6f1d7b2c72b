/**
 * The kinds of event mcrd records (`mcrctl events`) and the fields each one
 * carries. One map from kind to fields type makes EventLog.record() typed:
 * recording a kind with the wrong fields does not compile. The fields go on
 * the wire as JSON (Event.fields in proto/control.proto), so they are plain
 * values only; docs/mcrctl.md lists them for users and must follow this file.
 */

/** Who made a rule change. */
export type RuleChangeSource = 'control' | 'config' | 'reload';

export interface FieldDiff {
  /** Path in the rule, e.g. "outputs[1].port". */
  field: string;
  /** JSON text of the old and new value; "" when absent. */
  before: string;
  after: string;
}

export interface ReloadChange {
  kind: string;
  rule: number;
  /** The id before a change; absent otherwise. */
  previous?: number;
  match: string;
  name?: string;
  fields?: FieldDiff[];
}

export interface EventFields {
  'rule.added': { rule: number; name?: string; match: string; outputs: string[]; by: RuleChangeSource };
  'rule.removed': { rule: number; name?: string; match: string; by: RuleChangeSource };
  /** A reload edited a rule: it is replaced under a new id (previous is the old one). */
  'rule.changed': { rule: number; previous: number; name?: string; match: string; fields: FieldDiff[]; by: RuleChangeSource };
  'worker.started': { worker: string; interface: string; pid: number; core: number };
  /**
   * A worker process ended. `code` or `signal` say how; `reason` in words
   * (the watchdog's verdict for a hung worker); `next` what the fleet does:
   * restart it (after restartInMs), wait for its interface, or nothing
   * (it was stopped on purpose).
   */
  'worker.exited': { worker: string; interface: string; pid: number; code: number | null; signal: string | null; reason: string;
    next: 'restart' | 'wait' | 'none'; restartInMs?: number };
  /** The replacement of a worker that exited is running. */
  'worker.restarted': { worker: string; interface: string; pid: number; restarts: number; after: string };
  'interface.appeared': { interface: string; ifindex: number; up: boolean; addresses: string[] };
  'interface.vanished': { interface: string; ifindex: number };
  'interface.up': { interface: string; ifindex: number };
  'interface.down': { interface: string; ifindex: number };
  /** Deleted and created again under the same name (a new index). */
  'interface.recreated': { interface: string; ifindex: number; previousIfindex: number };
  'interface.address-changed': { interface: string; before: string[]; after: string[] };
  /** changes: at most MAX_RELOAD_CHANGES; `more` counts the rest. */
  'reload.applied': { file: string; added: number; removed: number; changed: number; unchanged: number; changes: ReloadChange[]; more?: number };
  'reload.refused': { file: string; code: string; message: string };
  /** `mcrctl clear`: the rules (and, for all, input interfaces) whose counters were zeroed; caller as the client said. */
  'counters.cleared': { all: boolean; rules: number[]; inputs: string[]; caller: string };
  /** No datagram matched the rule for its signal timeout. */
  'stream.down': { rule: number; name?: string; timeoutMs: number };
  /** A datagram matched again; downMs: how long it was down. */
  'stream.up': { rule: number; name?: string; downMs?: number };
  /** An `events --follow` client that did not read was dropped; `missed` events were not sent to it. */
  'events.follower-dropped': { client: number; missed: number; firstMissedSeq: number; lastMissedSeq: number; stalledMs: number };
}

export type EventKind = keyof EventFields;

/** Every kind, in the order docs/mcrctl.md lists them. */
export const EVENT_KINDS: readonly EventKind[] = [
  'rule.added', 'rule.removed', 'rule.changed',
  'worker.started', 'worker.exited', 'worker.restarted',
  'interface.appeared', 'interface.vanished', 'interface.up', 'interface.down', 'interface.recreated', 'interface.address-changed',
  'reload.applied', 'reload.refused', 'counters.cleared', 'stream.down', 'stream.up', 'events.follower-dropped',
];

/** A reload of thousands of rules would make one event of megabytes: the rest is counted, and each rule has its own event. */
export const MAX_RELOAD_CHANGES = 100;

/** What any part of mcrd needs to record events; EventLog implements it, tests pass a recorder. */
export interface EventSink {
  record<K extends EventKind>(kind: K, fields: EventFields[K]): void;
}

/** An EventSink that keeps nothing, for components run without an event log (unit tests, tools). */
export const NO_EVENTS: EventSink = { record() {} };
