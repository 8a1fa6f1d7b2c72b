/**
 * Loads the .proto sources from the package's proto/ directory at run time,
 * once, and hands out message types by full name. The .proto files are the
 * single definition of the protocols: nothing is generated, so a field added
 * there is live after a restart (and after updating the interfaces in
 * control-types.ts / worker-types.ts, which tests check against the schema).
 *
 * proto/ is found by walking up from this module to the directory holding
 * package.json, which works from the sources and from dist/ alike.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Root, Type } from 'protobufjs';
import { WireError } from './errors.js';

const PROTO_FILES = ['common.proto', 'control.proto', 'worker.proto'];

let cached: Root | null = null;

/** The package root: the nearest ancestor of `from` holding package.json. */
export function findPackageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) {
      throw new WireError('ERR_MCR_PROTO_MISSING', `no package.json above ${from}: mcr is not installed as a package; reinstall it (npm ci)`);
    }
  }
}

/** Directory holding the .proto files. */
export function protoDir(): string {
  return join(findPackageRoot(), 'proto');
}

/** The parsed and resolved protobuf root, loaded on first use. */
export function protoRoot(): Root {
  if (cached) return cached;
  const dir = protoDir();
  const files = PROTO_FILES.map((f) => join(dir, f));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new WireError('ERR_MCR_PROTO_MISSING', `missing ${missing.join(', ')}: the proto/ directory ships with mcr; reinstall it (npm ci)`);
  }
  try {
    const root = new protobuf.Root();
    // keepCase false: fields read as camelCase (input_group -> inputGroup),
    // matching the TypeScript interfaces.
    root.loadSync(files, { keepCase: false });
    root.resolveAll();
    cached = root;
    return root;
  } catch (err) {
    throw new WireError('ERR_MCR_PROTO_MISSING', `cannot load ${dir}: ${(err as Error).message}; restore the proto/ files from the release`, { cause: err });
  }
}

/** A message type by its full name, e.g. "mcr.control.Request". */
export function messageType(fullName: string): Type {
  try {
    return protoRoot().lookupType(fullName);
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError('ERR_MCR_PROTO_MISSING', `proto/ has no message ${fullName}: the .proto files and the code are from different versions; reinstall mcr`, { cause: err });
  }
}
