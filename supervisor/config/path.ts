/**
 * Paths into a parsed config document (['rules', 0, 'outputs', 1, 'ttl']) and
 * the two ways they are written: as a map key for the position table, and as
 * `rules[0].outputs[1].ttl` in messages, the way a user would name the field.
 */

export type JsonPath = ReadonlyArray<string | number>;

/** 1-based, like editors and compilers report them. */
export interface Position {
  line: number;
  column: number;
}

/** A map key for a path; JSON keeps the index 0 apart from the key "0". */
export function pathKey(path: JsonPath): string {
  return JSON.stringify(path);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `rules[0].outputs[1].ttl`; keys that are not identifiers are bracketed and quoted. */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (IDENTIFIER.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out === '' ? '(top level)' : out;
}
