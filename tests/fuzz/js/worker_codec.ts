/**
 * Fuzz harness: the worker command stream's decoders (proto/worker.ts),
 * what a worker does with each frame mcrd sends it (decodeCommand) and mcrd
 * with each frame a worker answers (decodeReply). The input is one frame
 * body, given to both. Checked: either a message of exactly the generated
 * type (lib/wire-shape.ts: a Command's body one of COMMAND_KINDS with its
 * fields, a Reply with its optional error and stats only when sent) that
 * encodes and decodes back to itself, or WireError ERR_MCR_BAD_FRAME /
 * ERR_MCR_UNKNOWN_KIND (a Command's with its seq, so the worker can answer
 * it); nothing else is thrown.
 */
import { decodeCommand, decodeReply, encodeCommand, encodeReply } from '../../../proto/worker.js';
import { COMMAND_KINDS } from '../../../proto/types.js';
import { checkBody, checkMessage, checkRoundTrip, expectWireError, messageType } from './lib/wire-shape.js';

const Command = messageType('mcr.worker.Command');
const Reply = messageType('mcr.worker.Reply');
const BODY = new Set<string>(COMMAND_KINDS);

function checkCommand(frame: Buffer): void {
  let command;
  try {
    command = decodeCommand(frame);
  } catch (err) {
    expectWireError(err, ['ERR_MCR_BAD_FRAME', 'ERR_MCR_UNKNOWN_KIND'], 'decodeCommand');
    return;
  }
  const { body, ...envelope } = command;
  checkMessage(Command, envelope, 'command', BODY);
  checkBody(Command, body, COMMAND_KINDS, 'command.body');
  checkRoundTrip(command, encodeCommand, decodeCommand, 'command');
}

function checkReply(frame: Buffer): void {
  let reply;
  try {
    reply = decodeReply(frame);
  } catch (err) {
    expectWireError(err, ['ERR_MCR_BAD_FRAME'], 'decodeReply');
    return;
  }
  checkMessage(Reply, reply, 'reply');
  checkRoundTrip(reply, encodeReply, decodeReply, 'reply');
}

export function fuzz(data: Buffer): void {
  checkCommand(data);
  checkReply(data);
}
