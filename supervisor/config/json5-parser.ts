/**
 * A JSON5 parser for the mcrd config file that returns, with the value, a
 * position table: where every value and every object key starts. Written
 * here rather than taken from a package because the config errors must name
 * a line and column for any field, which needs positions that ordinary
 * parsers throw away.
 *
 * Supported (https://spec.json5.org/): // and /* *\/ comments, trailing
 * commas, unquoted identifier keys, single- or double-quoted strings with the
 * JSON5 escapes and line continuations, hex numbers, leading or trailing
 * decimal points, an explicit + sign. Not supported, on purpose: Infinity
 * and NaN (no config field can use them) and \u escapes inside unquoted keys.
 * Stricter than the spec: a duplicate key is an error, because silently
 * keeping the last one hides a mistake. Lines and columns are 1-based;
 * columns count UTF-16 code units, and a line ends at \n, \r\n or \r.
 *
 * Speed: a config of 10 000 rules is about 2 MB. The text is parsed once
 * without recording positions (most of the cost of a parse that does: a
 * path array and two map entries per value); the position table is built
 * by a second, recording parse only when something asks for a position,
 * which only an error does. A syntax error found by the fast parse is
 * reported by the recording one, so messages are the same either way.
 */
import { ConfigError } from './errors.js';
import { formatPath, type JsonPath, type Position } from './path.js';
import { PositionTable } from './positions.js';
import { Json5Scanner } from './json5-scanner.js';

/**
 * Larger input is refused before parsing (64 MiB). `mcrctl save` of the
 * most rules mcrd allows one input interface at the default limit (10 000
 * rules, 40 000 outputs) writes at most about 7 MiB even with every field
 * at its longest, and 2.2 MB for 10 000 rules of one output; formatConfig
 * refuses to write a text over this, so whatever mcrd saves, it loads.
 */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

/** The size limit as the messages say it. */
export const MAX_CONFIG_SIZE_TEXT = `${MAX_CONFIG_BYTES}-byte (64 MiB)`;

/** The config is four levels deep; the limit keeps hostile input from exhausting the stack. */
export const MAX_NESTING = 64;

export interface Json5Options {
  /**
   * Accept a document with no value at all (only whitespace and comments),
   * returning `value: undefined`; plain JSON5 calls that an error.
   */
  allowEmpty?: boolean;
}

export interface Json5Result {
  value: unknown;
  positions: PositionTable;
}

/** Parses `text`; `fileName` only labels error messages. Throws ConfigError. */
export function parseJson5(text: string, fileName: string, options: Json5Options = {}): Json5Result {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) {
    throw new ConfigError(
      'ERR_MCR_CONFIG_TOO_LARGE',
      `${fileName}: the file is ${bytes} bytes, over the ${MAX_CONFIG_SIZE_TEXT} limit for a config; check that this is the right file`,
      { file: fileName },
    );
  }
  const allowEmpty = options.allowEmpty ?? false;
  const recorded = (): Json5Result => new Json5Parser(text, fileName, true).parseDocument(allowEmpty);
  let value: unknown;
  try {
    value = new Json5Parser(text, fileName, false).parseDocument(allowEmpty).value;
  } catch (err) {
    // The recording parse fails at the same place, with paths in its message.
    recorded();
    throw err;
  }
  return { value, positions: PositionTable.deferred(() => recorded().positions) };
}

// JSON5 WhiteSpace and LineTerminator (ES5 7.2, 7.3): the BOM and every Zs space count.
const NO_PATH: JsonPath = [];

class Json5Parser extends Json5Scanner {
  private readonly positions = new PositionTable();

  /** `record`: build the position table (and paths for messages); without it, only the value. */
  constructor(
    text: string,
    file: string,
    private readonly record: boolean,
  ) {
    super(text, file);
  }

  parseDocument(allowEmpty: boolean): Json5Result {
    this.skipBlank();
    if (this.pos >= this.text.length) {
      if (allowEmpty) return { value: undefined, positions: this.positions };
      this.fail(this.pos, 'the file is empty: expected a value such as {}');
    }
    const value = this.parseValue([], 0);
    this.skipBlank();
    if (this.pos < this.text.length) {
      this.fail(this.pos, `unexpected ${this.describeHere()} after the end of the top-level value; the file holds one value`);
    }
    return { value, positions: this.positions };
  }

  private parseValue(path: JsonPath, depth: number): unknown {
    const start = this.pos;
    const c = this.text[start];
    if (this.record) this.positions.setValue(path, this.positionOf(start));
    if (c === '{') return this.parseObject(path, depth + 1);
    if (c === '[') return this.parseArray(path, depth + 1);
    if (c === '"' || c === "'") return this.parseString(c);
    const code = this.text.charCodeAt(start);
    // 0-9 + - .
    if ((code >= 48 && code <= 57) || code === 43 || code === 45 || code === 46) return this.parseNumber();
    if (this.identifierAt(start) !== undefined) return this.parseWord();
    const where = path.length === 0 ? 'at the top level' : `for ${formatPath(path)}`;
    return this.fail(start, `expected a value ${where}, got ${this.describeHere()}`);
  }

  private parseObject(path: JsonPath, depth: number): Record<string, unknown> {
    const open = this.pos;
    if (depth > MAX_NESTING) this.fail(open, `objects and arrays are nested more than ${MAX_NESTING} levels deep`);
    this.pos++;
    const result: Record<string, unknown> = {};
    // Where each key started, for the duplicate-key message; the fast parse only needs to notice one.
    const seen = this.record ? new Map<string, number>() : undefined;
    for (;;) {
      this.skipBlank();
      const keyStart = this.pos;
      const c = this.text[keyStart];
      if (c === '}') {
        this.pos++;
        return result;
      }
      if (c === undefined) this.fail(keyStart, `unexpected end of file: the object opened at ${this.where(open)} is not closed; add '}'`);
      const key = this.parseKey();
      if (seen === undefined) {
        if (Object.hasOwn(result, key)) this.fail(keyStart, `duplicate key ${JSON.stringify(key)}`);
      } else {
        const first = seen.get(key);
        if (first !== undefined) {
          this.fail(keyStart, `duplicate key ${JSON.stringify(key)} (first at ${this.where(first)}); remove one of them`);
        }
        seen.set(key, keyStart);
      }
      const valuePath = this.record ? [...path, key] : NO_PATH;
      if (this.record) this.positions.setKey(valuePath, this.positionOf(keyStart));
      this.skipBlank();
      if (this.text[this.pos] !== ':') {
        this.fail(this.pos, `expected ':' after the key ${JSON.stringify(key)}, got ${this.describeHere()}`);
      }
      this.pos++;
      this.skipBlank();
      const value = this.parseValue(valuePath, depth);
      // Assigning "__proto__" would set the prototype instead of adding a key.
      if (key === '__proto__') Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
      else result[key] = value;
      this.skipBlank();
      const next = this.text[this.pos];
      if (next === ',') {
        this.pos++;
      } else if (next === '}') {
        this.pos++;
        return result;
      } else {
        const unclosed = next === undefined ? ` (the object opened at ${this.where(open)} is not closed)` : '';
        this.fail(this.pos, `expected ',' or '}' after the value of ${JSON.stringify(key)}${unclosed}`);
      }
    }
  }

  private parseKey(): string {
    const c = this.text[this.pos];
    if (c === '"' || c === "'") return this.parseString(c);
    const word = this.identifierAt(this.pos);
    if (word === undefined) {
      let hint = '';
      if (c === '\\') hint = '; escapes are not supported in unquoted keys, quote the key instead';
      else if (/[0-9]/.test(c ?? '')) hint = '; quote keys that are not identifiers';
      return this.fail(this.pos, `expected a key or '}', got ${this.describeHere()}${hint}`);
    }
    if (this.text[this.pos + word.length] === '\\') {
      return this.fail(this.pos + word.length, 'escapes are not supported in unquoted keys; quote the key instead');
    }
    this.pos += word.length;
    return word;
  }

  private parseArray(path: JsonPath, depth: number): unknown[] {
    const open = this.pos;
    if (depth > MAX_NESTING) this.fail(open, `objects and arrays are nested more than ${MAX_NESTING} levels deep`);
    this.pos++;
    const result: unknown[] = [];
    for (;;) {
      this.skipBlank();
      const c = this.text[this.pos];
      if (c === ']') {
        this.pos++;
        return result;
      }
      if (c === undefined) this.fail(this.pos, `unexpected end of file: the array opened at ${this.where(open)} is not closed; add ']'`);
      const index = result.length;
      result.push(this.parseValue(this.record ? [...path, index] : NO_PATH, depth));
      this.skipBlank();
      const next = this.text[this.pos];
      if (next === ',') {
        this.pos++;
      } else if (next === ']') {
        this.pos++;
        return result;
      } else {
        const last = path[path.length - 1];
        const array = path.length === 0 ? 'the top-level array' : typeof last === 'string' ? JSON.stringify(last) : formatPath(path);
        const unclosed = next === undefined ? ` (the array opened at ${this.where(open)} is not closed)` : '';
        this.fail(this.pos, `expected ',' or ']' after element [${index}] of ${array}${unclosed}`);
      }
    }
  }

  private parseWord(): unknown {
    const start = this.pos;
    const word = this.identifierAt(start) ?? '';
    if (word === 'true' || word === 'false' || word === 'null') {
      this.pos += word.length;
      return word === 'true' ? true : word === 'false' ? false : null;
    }
    if (word === 'Infinity' || word === 'NaN') {
      return this.fail(start, `${word} is not supported in the config; write a finite number`);
    }
    return this.fail(start, `unexpected word ${JSON.stringify(word)}: put text values in quotes, e.g. ${JSON.stringify(word)}`);
  }

}
