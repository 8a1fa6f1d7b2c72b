/**
 * The message types of both protocols: the interfaces generated from the
 * .proto files (proto/generated/messages.ts, by proto/generate-types.mjs),
 * plus the few shapes the code needs beside them: what a sender may leave
 * out (Draft), the result that answers each request kind, and the control
 * protocol's revision.
 */
import type {
  CommandBodies, CommandKind, ErrorInfo, RequestBodies, RequestKind, ResponseBodies, Rule,
} from './generated/messages.js';

export * from './generated/messages.js';

/** A rule as sent in an add request: mcrd assigns the id. */
export type RuleInput = Omit<Rule, 'id'> & { id?: number };

/**
 * What a sender may leave out. Decoded messages always carry every
 * non-`optional` field (proto3 zero values fill the gaps), so the generated
 * interfaces make them required; on the way out the encoder writes the same
 * zero value for a field left out, so every field may be omitted.
 */
export type Draft<T> = T extends Uint8Array
  ? T
  : T extends ReadonlyArray<infer U>
    ? Array<Draft<U>>
    : T extends object
      ? { [K in keyof T]?: Draft<T[K]> }
      : T;

/** A request body as a client may write it: its kind, and any fields. */
export type RequestDraft<K extends RequestKind = RequestKind> = { [P in K]: { kind: P } & Draft<RequestBodies[P]> }[K];

/** A worker command body as mcrd may write it. */
export type CommandDraft<K extends CommandKind = CommandKind> = { [P in K]: { kind: P } & Draft<CommandBodies[P]> }[K];

/** The result that answers a request of each kind (the Response body's members other than `error`). */
export type ResultBodies = Omit<ResponseBodies, 'error'>;

/** The successful answer to a request of kind K. */
export type ResultBody<K extends RequestKind = RequestKind> = { [P in K]: { kind: P } & ResultBodies[P] }[K];

export type ErrorBody = { kind: 'error' } & ErrorInfo;

/** Revision of the control protocol; bump on incompatible changes. */
export const CONTROL_PROTOCOL = 1;
