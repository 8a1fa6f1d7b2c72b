/**
 * Schema-driven conversion between protobufjs messages and the plain
 * objects typed in generated/messages.ts (proto/types.ts). This is the
 * one place where protobufjs's loosely typed objects are turned into the
 * interfaces; nothing of protobufjs's types leaks past the codecs.
 *
 * Decoding applies proto3 semantics so consumers never see holes: scalars
 * absent on the wire read as their zero value, repeated fields as [], and a
 * sub-message that is not marked `optional` reads as its all-default message
 * (so `request.rule.outputs` is always an array). Fields marked `optional`
 * and oneof members stay absent (undefined) when not sent. 64-bit integers
 * become JS numbers: exact below 2^53, which a packet counter does not
 * reach in centuries at line rate, and a byte counter at 10 Gbit/s after
 * about 83 days; past it a count rounds to the nearest double, which never
 * makes a growing counter go back.
 *
 * A message's oneof (`body`) is exposed as a tagged union: the set field's
 * name becomes `kind` and its fields sit beside it ({ kind: 'ping' }).
 */
import protobuf from 'protobufjs';
import type { Type } from 'protobufjs';
import { WireError } from './errors.js';

export type Plain = Record<string, unknown>;

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: true, arrays: true };

/**
 * Fills non-optional sub-messages with their defaults and drops the nulls
 * protobufjs's toObject leaves for absent ones. Recursion ends because no
 * message in proto/ contains itself outside a repeated or optional field.
 */
function normalize(type: Type, obj: Plain): Plain {
  for (const field of type.fieldsArray) {
    const value = obj[field.name];
    const sub = field.resolvedType instanceof protobuf.Type && !field.map ? field.resolvedType : null;
    if (value === null || value === undefined) {
      if (field.partOf) delete obj[field.name];
      else if (sub && !field.repeated) obj[field.name] = defaults(sub);
      continue;
    }
    if (!sub) continue;
    if (field.repeated && Array.isArray(value)) obj[field.name] = value.map((v: unknown) => normalize(sub, v as Plain));
    else if (!field.repeated) obj[field.name] = normalize(sub, value as Plain);
  }
  return obj;
}

function defaults(type: Type): Plain {
  return normalize(type, type.toObject(type.create({}), TO_OBJECT));
}

/** Encodes a plain object after checking it against the schema. */
export function encodeMessage(type: Type, plain: Plain): Uint8Array {
  const problem = type.verify(plain);
  if (problem !== null) {
    throw new WireError('ERR_MCR_BAD_MESSAGE', `cannot encode ${type.fullName.replace(/^\./, '')}: ${problem} (see proto/ for the expected fields)`);
  }
  return type.encode(plain).finish();
}

/** Decodes one frame body into a normalised plain object. */
export function decodeMessage(type: Type, bytes: Uint8Array): Plain {
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (err) {
    throw new WireError(
      'ERR_MCR_BAD_FRAME',
      `frame is not a valid ${type.fullName.replace(/^\./, '')} (${(err as Error).message}): the peer does not speak this version of the mcr protocol`,
      { cause: err },
    );
  }
  return normalize(type, type.toObject(message, TO_OBJECT));
}

/**
 * Moves the set member of oneof `oneofName` out of `obj` as { kind, ...fields };
 * returns null when no member is set (unknown to this build, or omitted).
 */
export function takeOneof(type: Type, obj: Plain, oneofName: string): Plain | null {
  const oneof = type.oneofs?.[oneofName];
  if (!oneof) throw new WireError('ERR_MCR_PROTO_MISSING', `${type.fullName} has no oneof ${oneofName}: proto/ and the code differ; reinstall mcr`);
  for (const name of oneof.oneof) {
    const value = obj[name];
    if (value !== undefined) {
      delete obj[name];
      return { ...(value as Plain), kind: name };
    }
  }
  return null;
}

/** The inverse of takeOneof: { kind, ...fields } -> { [kind]: fields }. */
export function putOneof(body: { kind: string }): Plain {
  const { kind, ...fields } = body as { kind: string } & Plain;
  return { [kind]: fields };
}

/**
 * Decodes an envelope (a message with an id field and a `body` oneof):
 * its id, its other fields, and the body as { kind, ...fields }. A body of a
 * kind this build does not know (or none) is ERR_MCR_UNKNOWN_KIND carrying
 * the id, so the receiver can still answer that message; `unknown` words
 * the message for the receiver's side.
 */
export function decodeEnvelope(type: Type, bytes: Uint8Array, idField: string, unknown: (id: number) => string): { id: number; plain: Plain; body: Plain } {
  const plain = decodeMessage(type, bytes);
  const id = plain[idField] as number;
  const body = takeOneof(type, plain, 'body');
  if (!body) throw new WireError('ERR_MCR_UNKNOWN_KIND', unknown(id), { messageId: id });
  return { id, plain, body };
}
