#!/usr/bin/env node
/**
 * Generates proto/generated/messages.ts from the .proto files: one
 * TypeScript interface per message, in exactly the shape proto/codec.ts
 * decodes to, and the schema itself as JSON for the codec to load. Run by
 * `npm run build:proto` before every TypeScript build (prepare, build,
 * test), so a .proto change the code does not follow fails `tsc`.
 *
 * Why our own generator rather than protobufjs-cli's pbts: pbts describes
 * protobufjs's runtime objects (every field optional and nullable, 64-bit
 * fields as Long, oneofs as a discriminator string beside the fields),
 * while the codec hands the code normalised plain objects: proto3 defaults
 * filled in, `optional` fields absent when unset, 64-bit integers as
 * numbers, and a oneof named `body` as a tagged union keyed by `kind`.
 * Types for that shape would need an adapter over pbts's; reading the
 * schema with protobufjs (already a dependency) and printing the shape
 * takes less code than the adapter and needs no extra package.
 *
 * Conventions: a message's TypeScript name is its .proto name, except
 * mcr.Error, which is ErrorInfo (it would shadow the global Error). Fields
 * are camelCase. A oneof named `body` becomes `body: <Message>Body`, with
 * `<Message>Bodies` (kind → fields), `<Message>Kind` and the kinds in .proto
 * order as `<MESSAGE>_KINDS`; any other oneof's members are optional fields.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const here = dirname(fileURLToPath(import.meta.url));
const FILES = ['common.proto', 'control.proto', 'worker.proto'];
const RENAME = { Error: 'ErrorInfo' };
const NUMBER = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

const root = new protobuf.Root();
// alternateCommentMode: keep the `//` comments, which become the JSDoc below.
root.loadSync(FILES.map((f) => join(here, f)), { keepCase: false, alternateCommentMode: true });
root.resolveAll();

const tsName = (type) => RENAME[type.name] ?? type.name;
const protoName = (type) => type.fullName.replace(/^\./, '');

/** Every message type, in file order. */
function messages(ns, out = []) {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested);
    if (nested.nestedArray) messages(nested, out);
  }
  return out;
}
const all = messages(root);
const names = new Map();
for (const m of all) {
  const name = tsName(m);
  if (names.has(name)) throw new Error(`two messages would be named ${name}: ${names.get(name)} and ${m.fullName}; add a rename in proto/generate-types.mjs`);
  names.set(name, m.fullName);
}

function fieldType(field) {
  let t;
  if (field.resolvedType instanceof protobuf.Type) t = tsName(field.resolvedType);
  else if (field.resolvedType instanceof protobuf.Enum) t = 'number';
  else if (field.type === 'string') t = 'string';
  else if (field.type === 'bool') t = 'boolean';
  else if (field.type === 'bytes') t = 'Uint8Array';
  else if (NUMBER.has(field.type)) t = 'number';
  else throw new Error(`${field.fullName}: no TypeScript type for ${field.type}`);
  if (field.map) return `Record<string, ${t}>`;
  return field.repeated ? `${t}[]` : t;
}

/** The comment above a field or message in the .proto, as a JSDoc block. */
function doc(comment, indent) {
  if (!comment) return '';
  const lines = comment.split('\n');
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

const upper = (name) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

const parts = [];
for (const m of all) {
  const name = tsName(m);
  const body = m.oneofs?.body;
  const lines = [];
  for (const field of m.fieldsArray) {
    if (body && field.partOf === body) continue;
    const optional = field.partOf !== null && field.partOf !== undefined; // proto3 `optional` or another oneof's member
    lines.push(`${doc(field.comment, '  ')}  ${field.name}${optional ? '?' : ''}: ${fieldType(field)};`);
  }
  if (body) {
    lines.push(`  body: ${name}Body;`);
    const kinds = body.fieldsArray.map((f) => f.name);
    parts.push([
      `/** Kind → fields of ${protoName(m)}'s body (a oneof). */`,
      `export interface ${name}Bodies {`,
      ...body.fieldsArray.map((f) => `${doc(f.comment, '  ')}  ${f.name}: ${fieldType(f)};`),
      '}',
      `export type ${name}Kind = keyof ${name}Bodies;`,
      `/** Every kind of ${protoName(m)}'s body, in .proto order. */`,
      `export const ${upper(name)}_KINDS: readonly ${name}Kind[] = [${kinds.map((k) => `'${k}'`).join(', ')}];`,
      `/** The body of a ${name} of kind K (any kind when K is left out): { kind, ...fields }. */`,
      `export type ${name}Body<K extends ${name}Kind = ${name}Kind> = { [P in K]: { kind: P } & ${name}Bodies[P] }[K];`,
      '',
    ].join('\n'));
  }
  const title = m.comment ? doc(`${protoName(m)}: ${m.comment}`, '') : `/** ${protoName(m)} */\n`;
  parts.push(`${title}export interface ${name} {\n${lines.join('\n')}\n}\n`);
}

const header = `// Generated by proto/generate-types.mjs from ${FILES.join(', ')}: do not edit.
// Run \`npm run build:proto\` after changing a .proto file.
/* eslint-disable */
`;
const schema = `/** The schema, for proto/codec.ts to load without reading the .proto files at run time. */
export const SCHEMA_JSON: string = ${JSON.stringify(JSON.stringify(root.toJSON({ keepComments: false })))};
`;
const text = `${header}\n${parts.join('\n')}\n${schema}`;
const out = join(here, 'generated', 'messages.ts');
mkdirSync(dirname(out), { recursive: true });
// Unchanged output keeps its mtime, so incremental builds stay incremental.
if (!existsSync(out) || readFileSync(out, 'utf8') !== text) writeFileSync(out, text);
