/**
 * The character level of the config's JSON5 parser (json5-parser.ts, which
 * builds values and positions from it): blanks and comments, strings with
 * their escapes, numbers, identifiers, and turning an offset into the
 * line:column every config error names. Kept apart so the parser reads as
 * the grammar and this file as the lexical rules of https://spec.json5.org/.
 */
import { ConfigError } from './errors.js';
import type { Position } from './path.js';

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

export class Json5Scanner {
  protected pos = 0;
  /** Offsets where each line starts, for offset → line:column; computed when first needed. */
  private lineStarts: number[] | undefined;

  constructor(
    protected readonly text: string,
    protected readonly file: string,
  ) {}

  protected parseString(quote: string): string {
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
  protected escapeAt(at: number): [string, number] {
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

  protected parseNumber(): number {
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
    // 1e400 or 400 hex digits read as Infinity, which no field takes and which
    // the schema would only see as null: refuse it here, where its position is.
    if (!Number.isFinite(magnitude)) {
      const word = this.text.slice(start, i);
      return this.fail(start, `number ${JSON.stringify(word.length > 24 ? `${word.slice(0, 5)}...` : word)} is out of range: ` +
        'it is beyond what a double holds (about 1.8e308) and would read as Infinity; write a finite number');
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
  protected plainInteger(at: number): { value: number; end: number } | undefined {
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

  /** Skips whitespace and comments. */
  protected skipBlank(): void {
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

  protected identifierAt(at: number): string | undefined {
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
  protected wordAt(at: number): string {
    const match = /[^\s,:{}[\]'"/]+/y;
    match.lastIndex = at;
    return match.exec(this.text)?.[0] ?? this.text.slice(at, at + 1);
  }

  /** What is at the current position, for "got ..." in messages. */
  protected describeHere(): string {
    const c = this.text[this.pos];
    if (c === undefined) return 'the end of the file';
    const word = this.identifierAt(this.pos);
    if (word !== undefined) return JSON.stringify(word);
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return c === "'" ? `"'"` : `'${c}'`;
  }

  protected positionOf(offset: number): Position {
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

  protected findLineStarts(): number[] {
    const text = this.text;
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
    }
    this.lineStarts = starts;
    return starts;
  }

  protected where(offset: number): string {
    const { line, column } = this.positionOf(offset);
    return `${line}:${column}`;
  }

  protected fail(offset: number, message: string): never {
    const { line, column } = this.positionOf(offset);
    throw new ConfigError('ERR_MCR_CONFIG_SYNTAX', `${this.file}:${line}:${column}: ${message}`, { file: this.file, line, column });
  }
}
