/**
 * Encode and decode the worker command stream's envelopes
 * (proto/worker.proto) to and from frame bodies: Commands from mcrd, Replies
 * from the worker. Framing is the same as the control socket's (framing.ts).
 *
 * A Command of a kind this worker build does not know is ERR_MCR_UNKNOWN_KIND
 * carrying its seq, so the worker can reply with an error for that seq.
 */
import type { Type } from 'protobufjs';
import { decodeEnvelope, decodeMessage, encodeMessage, putOneof } from './codec.js';
import type { ErrorInfo, RuleRefusal } from './types.js';
import { messageType } from './schema.js';
import type { Command, CommandBody, CommandDraft, LoopState, Reply, RuleArrivals, WorkerCounters } from './types.js';

let commandType: Type | null = null;
let replyType: Type | null = null;

function types(): { command: Type; reply: Type } {
  commandType ??= messageType('mcr.worker.Command');
  replyType ??= messageType('mcr.worker.Reply');
  return { command: commandType, reply: replyType };
}

/** Encodes a command; fields left out of the body go on the wire as their proto3 zero value. */
export function encodeCommand(command: { seq: number; body: CommandDraft }): Uint8Array {
  return encodeMessage(types().command, { seq: command.seq, ...putOneof(command.body) });
}

export function decodeCommand(bytes: Uint8Array): Command {
  const { id: seq, body } = decodeEnvelope(types().command, bytes, 'seq',
    (n) => `command ${n} has no kind this worker knows: mcrd and the worker are from different builds; reinstall mcr`);
  return { seq, body: body as unknown as CommandBody };
}

export function encodeReply(reply: Reply): Uint8Array {
  return encodeMessage(types().reply, { ...reply });
}

export function decodeReply(bytes: Uint8Array): Reply {
  const plain = decodeMessage(types().reply, bytes);
  const reply: Reply = { seq: plain.seq as number, generation: plain.generation as number, hash: plain.hash as Uint8Array,
    refused: plain.refused as RuleRefusal[] };
  if (plain.error !== undefined) reply.error = plain.error as ErrorInfo;
  if (plain.stats !== undefined) reply.stats = plain.stats as WorkerCounters;
  if (plain.arrivals !== undefined) reply.arrivals = plain.arrivals as RuleArrivals;
  if (plain.loop !== undefined) reply.loop = plain.loop as LoopState;
  return reply;
}
