/**
 * The protocols' schema as protobufjs types, built once from the JSON that
 * proto/generate-types.mjs took from the .proto files at build time. Nothing
 * reads the .proto files at run time, so the codec does not depend on where
 * the package is installed, and the types the code is compiled against and
 * the schema it decodes with come from the same build.
 */
import protobuf from 'protobufjs';
import type { Root, Type } from 'protobufjs';
import { WireError } from './errors.js';
import { SCHEMA_JSON } from './generated/messages.js';

let cached: Root | null = null;

/** The resolved protobuf root, built on first use. */
export function protoRoot(): Root {
  if (cached) return cached;
  const root = protobuf.Root.fromJSON(JSON.parse(SCHEMA_JSON) as protobuf.INamespace);
  root.resolveAll();
  cached = root;
  return root;
}

/** A message type by its full name, e.g. "mcr.control.Request". */
export function messageType(fullName: string): Type {
  try {
    return protoRoot().lookupType(fullName);
  } catch (err) {
    throw new WireError('ERR_MCR_PROTO_MISSING', `the schema has no message ${fullName}: the code and proto/generated are from different builds; rebuild (npm run build)`, { cause: err });
  }
}
