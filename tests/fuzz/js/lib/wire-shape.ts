/**
 * Checks shared by the wire harnesses (control_codec, worker_codec): that a
 * decoded message has exactly the shape its generated interface
 * (proto/generated/messages.ts) promises, read from the same schema the
 * codec uses but checked independently of it: every non-optional field
 * present, nothing else present, strings are strings, uint32 are integers
 * 0..2^32-1, uint64 non-negative integers, bools booleans, bytes
 * Uint8Arrays, repeated fields arrays, maps plain objects, at most one
 * member of a oneof set; that a decoding failure is a WireError with one
 * of the codes the decoder promises; and that a decoded message encodes
 * and decodes back to itself.
 */
import { isDeepStrictEqual, inspect } from 'node:util';
import protobuf from 'protobufjs';
import type { Type } from 'protobufjs';
import { protoRoot } from '../../../../proto/schema.js';
import { WireError, type WireErrorCode } from '../../../../proto/errors.js';

/** A broken promise of the code under test: the harness throws it, the fuzzer reports it. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function fail(what: string, value?: unknown): never {
  throw new InvariantError(value === undefined ? what : `${what}: ${inspect(value, { depth: 6, breakLength: 160 })}`);
}

export function messageType(name: string): Type {
  return protoRoot().lookupType(name);
}

const UINT32_MAX = 0xffffffff;

function checkScalar(type: string, value: unknown, path: string): void {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') fail(`${path}: expected a string`, value);
      return;
    case 'bool':
      if (typeof value !== 'boolean') fail(`${path}: expected a boolean`, value);
      return;
    case 'uint32':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > UINT32_MAX) fail(`${path}: expected a uint32`, value);
      return;
    case 'uint64':
      // Exact below 2^53 only (proto/codec.ts says so), but always a non-negative integer.
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 64) fail(`${path}: expected a uint64 as a number`, value);
      return;
    case 'double':
      if (typeof value !== 'number') fail(`${path}: expected a number`, value);
      return;
    case 'bytes':
      if (!(value instanceof Uint8Array)) fail(`${path}: expected a Uint8Array`, value);
      return;
    default:
      fail(`${path}: the schema has a field of type ${type} the checker does not know; extend tests/fuzz/js/lib/wire-shape.ts`);
  }
}

/**
 * Checks `value` against message `type`. `skip`: fields the caller checks
 * itself (the envelope's body oneof, moved to `body` by the codec).
 */
export function checkMessage(type: Type, value: unknown, path: string, skip: ReadonlySet<string> = new Set()): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) fail(`${path}: expected an object`, value);
  const obj = value as Record<string, unknown>;
  const fields = type.fieldsArray.filter((f) => !skip.has(f.name));
  const names = new Set(fields.map((f) => f.name));
  for (const key of Object.keys(obj)) if (!names.has(key)) fail(`${path}: unexpected key ${JSON.stringify(key)} in ${type.name}`, value);
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((name) => !skip.has(name) && obj[name] !== undefined);
    if (set.length > 1) fail(`${path}: more than one member of oneof ${oneof.name} is set (${set.join(', ')})`, value);
  }
  for (const field of fields) {
    const v = obj[field.name];
    const where = `${path}.${field.name}`;
    if (v === undefined) {
      if (field.partOf === null || field.partOf === undefined) fail(`${where}: missing (not optional)`, value);
      if (Object.hasOwn(obj, field.name)) fail(`${where}: present with the value undefined`, value);
      continue;
    }
    const sub = field.resolvedType instanceof protobuf.Type ? field.resolvedType : null;
    const checkOne = (item: unknown, at: string): void => (sub ? checkMessage(sub, item, at) : checkScalar(field.type, item, at));
    if (field.map) {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) fail(`${where}: expected a plain object (map)`, v);
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) checkOne(item, `${where}[${JSON.stringify(k)}]`);
    } else if (field.repeated) {
      if (!Array.isArray(v)) fail(`${where}: expected an array`, v);
      v.forEach((item, i) => checkOne(item, `${where}[${i}]`));
    } else {
      checkOne(v, where);
    }
  }
}

/**
 * Checks an envelope's body: `{ kind, ...fields }` with `kind` one of
 * `kinds` and the fields those of that member's message.
 */
export function checkBody(envelope: Type, body: unknown, kinds: readonly string[], path: string): void {
  if (typeof body !== 'object' || body === null) fail(`${path}: expected an object`, body);
  const kind = (body as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !kinds.includes(kind)) fail(`${path}.kind: expected one of ${kinds.join(', ')}`, body);
  const member = envelope.fields[kind];
  if (member === undefined || !(member.resolvedType instanceof protobuf.Type)) fail(`${path}.kind: ${kind} is not a message member of ${envelope.name}`);
  const { kind: _kind, ...fields } = body as Record<string, unknown>;
  checkMessage(member.resolvedType, fields, `${path}(${kind})`);
}

/** A decoding failure must be a WireError with one of `codes`; ERR_MCR_UNKNOWN_KIND must carry the message's id. */
export function expectWireError(err: unknown, codes: readonly WireErrorCode[], what: string): void {
  if (!(err instanceof WireError)) throw err;
  if (!codes.includes(err.code)) fail(`${what} threw ${err.code}, not one of ${codes.join(', ')}: ${err.message}`);
  if (typeof err.message !== 'string' || err.message.length === 0) fail(`${what} threw ${err.code} without a message`);
  if (err.code === 'ERR_MCR_UNKNOWN_KIND') {
    const id = err.messageId;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(`${what}: ERR_MCR_UNKNOWN_KIND without the message's id`, err);
  }
}

/** True when every number in `value` is exact as a double (uint64 above 2^53 are not, and do not round-trip). */
export function allExact(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isInteger(value) || Math.abs(value) <= Number.MAX_SAFE_INTEGER;
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return true;
  return Object.values(value as Record<string, unknown>).every(allExact);
}

/** `decode(encode(value))` must give `value` back. */
export function checkRoundTrip<T>(value: T, encode: (v: T) => Uint8Array, decode: (b: Uint8Array) => T, what: string): void {
  if (!allExact(value)) return;
  let again: T;
  try {
    again = decode(encode(value));
  } catch (err) {
    fail(`${what}: a decoded message does not encode and decode again (${(err as Error).message})`, value);
  }
  if (!isDeepStrictEqual(normalizeBytes(again), normalizeBytes(value))) {
    fail(`${what}: decode(encode(x)) differs from x`, { x: value, again });
  }
}

/** Buffers and plain Uint8Arrays compare unequal under isDeepStrictEqual; compare their bytes. */
function normalizeBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalizeBytes);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, normalizeBytes(v)]));
  }
  return value;
}
