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
const WHITESPACE = /[\t\n\v\f\r \u00A0\u2028\u2029\uFEFF\p{Zs}]/u;
// ES5 IdentifierName without \u escapes; sticky so it matches exactly at `lastIndex`.
const IDENTIFIER = /[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*/uy;
const IDENTIFIER_CHAR = /[\p{ID_Continue}$\u200C\u200D.]/u;
const DECIMAL = /(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?/y;
const HEX_DIGITS = /[0-9a-fA-F]+/y;

const SIMPLE_ESCAPES: Record<string, string> = {
  "'": "'",
  '"': '"',
  '\\': '\\',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** The path given to values while not recording: only the recording parse's messages and table use paths. */
const NO_PATH: JsonPath = [];

class Json5Parser {
  private pos = 0;
  private readonly positions = new PositionTable();
  /** Offsets where each line starts, for offset → line:column; computed when first needed. */
  private lineStarts: number[] | undefined;

  /** `record`: build the position table (and paths for messages); without it, only the value. */
  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly record: boolean,
  ) {}

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

  private parseString(quote: string): string {
    const open = this.pos;
    const text = this.text;
    const quoteCode = quote.charCodeAt(0);
    let out = '';
    let i = open + 1;
    let chunk = i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === quoteCode) {
        this.pos = i + 1;
        return out + text.slice(chunk, i);
      }
      // Anything but a backslash, a line break or the end: part of the string.
      if (c !== 92 && c !== 10 && c !== 13 && i < text.length) {
        i++;
        continue;
      }
      if (i >= text.length) this.fail(open, `unterminated string: add the closing ${quote}`);
      if (c === 10 || c === 13) {
        this.fail(i, `unterminated string: a string cannot span lines; close it with ${quote} or write \\n`);
      }
      out += this.text.slice(chunk, i);
      const [decoded, length] = this.escapeAt(i);
      out += decoded;
      i += length;
      chunk = i;
    }
  }

  /** Decodes the escape whose backslash is at `at`: the text it stands for and its length. */
  private escapeAt(at: number): [string, number] {
    const e = this.text[at + 1];
    if (e === undefined) return this.fail(at, 'unterminated string: the file ends inside an escape');
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) return [simple, 2];
    // Line continuation: the backslash and the line break vanish.
    if (e === '\r') return ['', this.text[at + 2] === '\n' ? 3 : 2];
    if (e === '\n' || e === '\u2028' || e === '\u2029') return ['', 2];
    if (e === '0' && !/[0-9]/.test(this.text[at + 2] ?? '')) return ['\0', 2];
    if (/[0-9]/.test(e)) return this.fail(at, `invalid escape \\${e}: JSON5 has no octal escapes; use \\x or \\u`);
    if (e === 'x' || e === 'u') {
      const digits = e === 'x' ? 2 : 4;
      const hex = this.text.slice(at + 2, at + 2 + digits);
      if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) {
        return this.fail(at, `invalid escape: \\${e} needs exactly ${digits} hex digits`);
      }
      return [String.fromCharCode(parseInt(hex, 16)), 2 + digits];
    }
    // JSON5 (like ES5) lets any other character escape to itself: '\q' is 'q'.
    return [e, 2];
  }

  private parseNumber(): number {
    const start = this.pos;
    let i = start;
    const sign = this.text[i] === '-' ? -1 : 1;
    if (this.text[i] === '-' || this.text[i] === '+') i++;
    let magnitude: number;
    const word = this.identifierAt(i);
    if (word === 'Infinity' || word === 'NaN') {
      return this.fail(start, `${word} is not supported in the config; write a finite number`);
    }
    const integer = this.plainInteger(i);
    if (integer !== undefined) {
      this.pos = integer.end;
      return sign * integer.value;
    }
    if (/^0[xX]/.test(this.text.slice(i, i + 2))) {
      HEX_DIGITS.lastIndex = i + 2;
      const hex = HEX_DIGITS.exec(this.text);
      if (!hex) return this.fail(start, `invalid number ${JSON.stringify(this.wordAt(start))}: expected hex digits after 0x`);
      magnitude = parseInt(hex[0], 16);
      i = HEX_DIGITS.lastIndex;
    } else {
      DECIMAL.lastIndex = i;
      const decimal = DECIMAL.exec(this.text);
      if (!decimal) return this.fail(start, `invalid number ${JSON.stringify(this.wordAt(start))}`);
      magnitude = Number(decimal[0]);
      i = DECIMAL.lastIndex;
    }
    // "01", "1e", "5000abc", "1.2.3": a number must not run into more name or number characters.
    if (IDENTIFIER_CHAR.test(this.text[i] ?? '')) {
      return this.fail(start, `invalid number ${JSON.stringify(this.wordAt(start))}`);
    }
    this.pos = i;
    return sign * magnitude;
  }

  /**
   * The common case without regexes: up to 15 decimal digits, no leading
   * zero, followed by something that cannot continue a number. Undefined
   * for anything else (fractions, exponents, hex, errors): parseNumber's
   * general path decides those.
   */
  private plainInteger(at: number): { value: number; end: number } | undefined {
    const text = this.text;
    let i = at;
    let value = 0;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57 || Number.isNaN(c)) break;
      value = value * 10 + (c - 48);
      i++;
    }
    const digits = i - at;
    if (digits === 0 || digits > 15 || (digits > 1 && text.charCodeAt(at) === 48)) return undefined;
    const next = text.charCodeAt(i);
    // . e E x X, a letter, _ $ or anything non-ASCII: not a plain integer.
    if (next === 46 || next === 95 || next === 36 || next >= 128 || (next >= 65 && next <= 90) || (next >= 97 && next <= 122)) return undefined;
    return { value, end: i };
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

  /** Skips whitespace and comments. */
  private skipBlank(): void {
    const text = this.text;
    for (;;) {
      const code = text.charCodeAt(this.pos);
      // Space, \n, \r, \t: nearly all the blank text there is, without a regex.
      if (code === 32 || code === 10 || code === 13 || code === 9) {
        this.pos++;
        continue;
      }
      const c = text[this.pos];
      if (c === undefined) return;
      if (WHITESPACE.test(c)) {
        this.pos++;
      } else if (c === '/' && text[this.pos + 1] === '/') {
        // A // comment ends at a line break, which is then skipped as whitespace.
        let i = this.pos + 2;
        while (i < text.length && !'\n\r\u2028\u2029'.includes(text[i] ?? '')) i++;
        this.pos = i;
      } else if (c === '/' && text[this.pos + 1] === '*') {
        const end = text.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail(this.pos, 'unterminated comment: close it with */');
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  private identifierAt(at: number): string | undefined {
    // ASCII names (every key mcrd knows) without the Unicode regex.
    const text = this.text;
    let i = at;
    for (;;) {
      const c = text.charCodeAt(i);
      const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36;
      if (letter || (i > at && c >= 48 && c <= 57)) {
        i++;
        continue;
      }
      // Stopped at a character that ends every identifier: done. Anything else (non-ASCII) goes to the regex.
      if (Number.isNaN(c) || c < 128) return i > at ? text.slice(at, i) : undefined;
      break;
    }
    IDENTIFIER.lastIndex = at;
    return IDENTIFIER.exec(this.text)?.[0];
  }

  /** The run of non-separator characters at `at`, to quote a bad token whole. */
  private wordAt(at: number): string {
    const match = /[^\s,:{}[\]'"/]+/y;
    match.lastIndex = at;
    return match.exec(this.text)?.[0] ?? this.text.slice(at, at + 1);
  }

  /** What is at the current position, for "got ..." in messages. */
  private describeHere(): string {
    const c = this.text[this.pos];
    if (c === undefined) return 'the end of the file';
    const word = this.identifierAt(this.pos);
    if (word !== undefined) return JSON.stringify(word);
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return c === "'" ? `"'"` : `'${c}'`;
  }

  private positionOf(offset: number): Position {
    const starts = this.lineStarts ?? this.findLineStarts();
    // Binary search for the last line start at or before `offset`.
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] ?? 0) + 1 };
  }

  private findLineStarts(): number[] {
    const text = this.text;
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
    }
    this.lineStarts = starts;
    return starts;
  }

  private where(offset: number): string {
    const { line, column } = this.positionOf(offset);
    return `${line}:${column}`;
  }

  private fail(offset: number, message: string): never {
    const { line, column } = this.positionOf(offset);
    throw new ConfigError('ERR_MCR_CONFIG_SYNTAX', `${this.file}:${line}:${column}: ${message}`, { file: this.file, line, column });
  }
}
