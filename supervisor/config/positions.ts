/**
 * The position table the JSON5 parser builds next to the value: for every
 * value and every object key, where it starts in the text. The validator
 * uses it to put a line and column on an error about any field, including a
 * missing one (which points at the nearest enclosing value that exists).
 * A table can be deferred: built by a callback the first time it is read,
 * since only an error needs one (json5-parser.ts).
 */
import { pathKey, type JsonPath, type Position } from './path.js';

export class PositionTable {
  private values = new Map<string, Position>();
  private keys = new Map<string, Position>();
  private build: (() => PositionTable) | undefined;

  /** A table filled from `build()`'s the first time anything reads it. */
  static deferred(build: () => PositionTable): PositionTable {
    const table = new PositionTable();
    table.build = build;
    return table;
  }

  setValue(path: JsonPath, position: Position): void {
    this.values.set(pathKey(path), position);
  }

  setKey(path: JsonPath, position: Position): void {
    this.keys.set(pathKey(path), position);
  }

  /** Where the value at `path` starts (its first character: `{`, `"`, a digit...). */
  value(path: JsonPath): Position | undefined {
    return this.built().values.get(pathKey(path));
  }

  /** Where the key naming the value at `path` starts; undefined for array elements and the root. */
  key(path: JsonPath): Position | undefined {
    return this.built().keys.get(pathKey(path));
  }

  /**
   * Where to point an error about the field at `path`: its key when it is an
   * object member (the field starts there), else its value (array elements,
   * the root); for a field that does not exist, the value of the nearest
   * ancestor that does (a missing `port` points at its output object).
   * Undefined only for an empty document.
   */
  locate(path: JsonPath): { path: JsonPath; position: Position } | undefined {
    const own = this.key(path) ?? this.value(path);
    if (own) return { path, position: own };
    for (let n = path.length - 1; n >= 0; n--) {
      const ancestor = path.slice(0, n);
      const position = this.value(ancestor);
      if (position) return { path: ancestor, position };
    }
    return undefined;
  }

  /** Number of recorded values (keys are not counted). */
  get size(): number {
    return this.built().values.size;
  }

  private built(): this {
    const build = this.build;
    if (build !== undefined) {
      this.build = undefined;
      const full = build();
      this.values = full.values;
      this.keys = full.keys;
    }
    return this;
  }
}
