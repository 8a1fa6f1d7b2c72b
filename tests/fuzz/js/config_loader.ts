/**
 * Fuzz harness: the config loader (supervisor/config/), what mcrd reads at
 * start, on SIGHUP and for `mcrctl reload`/`check`: any text a user, a
 * script or a template may write. The input is the file's bytes, decoded
 * as UTF-8 (invalid sequences become U+FFFD: loadConfig refuses them before
 * parsing, so the parser sees only valid text anyway). Checked:
 *
 * - parseConfig returns a Config or throws a ConfigError, nothing else
 *   (docs/config.md); the error has one of the codes errors.ts lists, its
 *   message starts with the file name, and any line:column it names lies
 *   inside the text.
 * - An accepted config is what it claims: daemon settings of the right
 *   types, rules that validateRule accepts again. Written back by
 *   formatConfig (`mcrctl save`) it loads as the same Config.
 * - Held to one rule per input interface (a running mcrd's lower limit, as
 *   a reload is) the same text fails with ENOSPC exactly when some input
 *   interface has more than one rule, more than four outputs, or rules
 *   whose bytes (ruleWireBytes) would not fit a worker's full sync.
 * - JSON5 is a superset of JSON: a text JSON.parse accepts (without
 *   duplicate keys, nested at most 64 deep) parses to the same value, and
 *   the position table (built lazily, only for errors) can be built for it.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, formatConfig, parseConfig, parseJson5, type Config } from '../../../supervisor/config/index.js';
import { DAEMON_FIELDS } from '../../../supervisor/config/schema.js';
import { validateRule } from '../../../common/rule-spec.js';
import { ruleBytesLimit, ruleLimits, ruleWireBytes } from '../../../common/rule-limits.js';
import { fail } from './lib/wire-shape.js';

const FILE = 'fuzz.json5';
const CODES = ['ERR_MCR_CONFIG_SYNTAX', 'ERR_MCR_CONFIG', 'ERR_MCR_CONFIG_READ', 'ERR_MCR_CONFIG_TOO_LARGE', 'ENOSPC'];

function checkError(err: unknown, text: string, what: string): ConfigError {
  if (!(err instanceof ConfigError)) throw err;
  if (!CODES.includes(err.code)) fail(`${what}: ConfigError with an unknown code ${String(err.code)}`, err.message);
  if (!err.message.startsWith(FILE) || err.file !== FILE) fail(`${what}: the message does not name the file`, err.message);
  if (err.line !== undefined) {
    const lines = text.split(/\r\n|\r|\n/);
    const line = lines[err.line - 1];
    if (!Number.isInteger(err.line) || line === undefined) fail(`${what}: line ${err.line} is not in a text of ${lines.length} lines`, err.message);
    // A column may point one past the end of a line (an unexpected end of line or file).
    if (err.column === undefined || !Number.isInteger(err.column) || err.column < 1 || err.column > line.length + 1) {
      fail(`${what}: column ${String(err.column)} is not on line ${err.line} (${line.length} characters)`, err.message);
    }
  }
  return err;
}

function checkConfig(config: Config): void {
  // The settings grow; what the file may hold is schema.ts's list, each a string, a finite number or a boolean.
  for (const [key, value] of Object.entries(config.daemon)) {
    if (!(DAEMON_FIELDS as readonly string[]).includes(key)) fail(`daemon.${key}: not a daemon setting`, config.daemon);
    if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) fail(`daemon.${key}: not a string, number or boolean`, value);
  }
  for (const rule of config.rules) {
    if (typeof rule.inputInterface !== 'string') fail('a rule without its input interface', rule);
    const { inputInterface: _if, ...spec } = rule;
    let again;
    try {
      again = validateRule(spec);
    } catch (err) {
      fail(`an accepted rule does not validate again: ${(err as Error).message}`, rule);
    }
    if (!isDeepStrictEqual(again, spec)) fail('an accepted rule validates to something else', { rule, again });
  }
}

function checkLimit(config: Config, text: string): void {
  const counts = new Map<string, { rules: number; outputs: number; bytes: number }>();
  for (const rule of config.rules) {
    const n = counts.get(rule.inputInterface) ?? { rules: 0, outputs: 0, bytes: 0 };
    n.rules += 1;
    n.outputs += rule.outputs.length;
    n.bytes += ruleWireBytes(rule);
    counts.set(rule.inputInterface, n);
  }
  const bytesLimit = ruleBytesLimit(ruleLimits(1));
  const over = [...counts.values()].some((n) => n.rules > 1 || n.outputs > 4 || n.bytes > bytesLimit);
  try {
    parseConfig(text, FILE, { maxRulesPerInterface: 1 });
    if (over) fail('an input interface over the limit of 1 rule (4 outputs, the bytes of a full sync) was accepted', counts);
  } catch (err) {
    const e = checkError(err, text, 'parseConfig (limit 1)');
    if (!over || e.code !== 'ENOSPC') fail(`parseConfig with a limit of 1 threw ${e.code}: ${e.message}`, counts);
  }
}

function checkRoundTrip(config: Config): void {
  let saved: string;
  try {
    saved = formatConfig(config);
  } catch (err) {
    fail(`formatConfig refused an accepted config: ${(err as Error).message}`, config);
  }
  let again: Config;
  try {
    again = parseConfig(saved, FILE);
  } catch (err) {
    fail(`a saved config does not load: ${(err as Error).message}`, saved);
  }
  if (!isDeepStrictEqual(again, config)) fail('a saved config loads as another config', { config, again, saved });
}

function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(value as Record<string, unknown>).map(depth));
}

/** True when JSON.parse read a number literal past a double's range as ±Infinity. */
function holdsInfinity(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (value === null || typeof value !== 'object') return false;
  return Object.values(value as Record<string, unknown>).some(holdsInfinity);
}

function checkJsonSuperset(text: string): void {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return;
  }
  if (depth(json) > 64) return;
  let result;
  try {
    result = parseJson5(text, FILE);
  } catch (err) {
    const e = checkError(err, text, 'parseJson5');
    // JSON.parse keeps the last of duplicate keys; this parser refuses them on purpose.
    if (/: duplicate key /.test(e.message)) return;
    // JSON.parse reads 1e400 as Infinity; this parser refuses it on purpose,
    // with its position (docs/config.md), since no field takes Infinity.
    if (holdsInfinity(json) && / is out of range: /.test(e.message)) return;
    fail(`JSON that JSON5 refuses: ${e.message}`, text);
  }
  if (holdsInfinity(json)) fail('JSON5 accepted a number past a double\'s range', text);
  if (!isDeepStrictEqual(result.value, json)) fail('JSON5 parses JSON to another value', { text, json5: result.value, json });
  if (result.positions.value([]) === undefined) fail('the position table has no place for the top-level value', text);
}

export function fuzz(data: Buffer): void {
  const text = data.toString('utf8');
  let config: Config | undefined;
  try {
    config = parseConfig(text, FILE);
  } catch (err) {
    checkError(err, text, 'parseConfig');
  }
  if (config !== undefined) {
    checkConfig(config);
    checkRoundTrip(config);
    if (config.rules.length > 0) checkLimit(config, text);
  }
  checkJsonSuperset(text);
}

/** Words of the format the instrumented code does not spell as literals. */
export const dictionary = ['true', 'false', 'null', '0x1F', '1e3', '.5', '+1', '// x\n', '/* x */', '\\u0041', '\\x41', "'", '"', '{', '}', '[', ']', ':', ',', '239.1.1.1', '10.0.0.5', 'eth1', '5000'];
