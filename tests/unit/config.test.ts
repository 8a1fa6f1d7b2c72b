/**
 * The mcrd config loader: the JSON5 parser and its position table, every
 * syntax and validation error with its line, column and field, the checks
 * across rules, the size limit, reading files, and the round trip through
 * formatConfig. Fixtures are in tests/fixtures/config/.
 */
import { packageRoot } from '../../native/package-root.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { ConfigError } from '../../supervisor/config/errors.js';
import { MAX_CONFIG_BYTES, MAX_NESTING, parseJson5 } from '../../supervisor/config/json5-parser.js';
import { loadConfig, parseConfig } from '../../supervisor/config/load.js';
import { formatPath } from '../../supervisor/config/path.js';
import { formatConfig } from '../../supervisor/config/save.js';
import { DAEMON_FIELDS, defaultDaemonSettings, type Config, type ConfigToWrite } from '../../supervisor/config/schema.js';
import { RuleError, validateOutput, validateRule } from '../../common/rule-spec.js';

const ROOT = packageRoot();
const FIXTURES = join(ROOT, 'tests', 'fixtures', 'config');
const fixture = (name: string): string => join(FIXTURES, name);

/** Runs `fn` and returns the ConfigError it must throw. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** A minimal valid rule, as JSON5 text, with `extra` spliced into the rule object. */
const RULE = (extra = ''): string =>
  `{ inputInterface: "eth1", inputGroup: "239.1.1.1", inputPort: 5000, outputs: [{ group: "239.2.2.2", port: 6000, interface: "eth2" }]${extra} }`;

t.test('JSON5 syntax: comments, trailing commas, unquoted keys, quotes, escapes, numbers, nesting', async (t) => {
  const text = [
    '// line comment',
    '/* block',
    '   comment */ {',
    "  plain: 1, $dollar_1: 2, 'single': 'it\\'s', \"double\": \"say \\\"hi\\\"\",",
    '  escapes: "\\n\\t\\r\\b\\f\\v\\0\\\\\\/\\q\\x41\\u00e9\\ud83d\\ude00",',
    '  continued: "a\\',
    'b",',
    '  numbers: [0, -1, +2, 0x1F, -0X10, .5, 5., 1e3, 2.5E-1, -0.25],',
    '  literals: [true, false, null],',
    '  nested: { a: [ { b: [ [], {}, ], }, ], },',
    '  "__proto__": { polluted: true },',
    '  unicodeKey\u00e9: "\u2028",',
    '}',
  ].join('\n');
  const { value } = parseJson5(text, 't.json5');
  const expected: Record<string, unknown> = {
    plain: 1,
    $dollar_1: 2,
    single: "it's",
    double: 'say "hi"',
    escapes: '\n\t\r\b\f\v\0\\/q\u0041\u00e9\u{1F600}',
    continued: 'ab',
    numbers: [0, -1, 2, 31, -16, 0.5, 5, 1000, 0.25, -0.25],
    literals: [true, false, null],
    nested: { a: [{ b: [[], {}] }] },
    'unicodeKey\u00e9': '\u2028',
  };
  Object.defineProperty(expected, '__proto__', { value: { polluted: true }, enumerable: true, writable: true, configurable: true });
  t.same(value, expected);
  // "__proto__" is an ordinary key, never the prototype.
  t.equal(Object.getPrototypeOf(value), Object.prototype);
  t.equal(({} as Record<string, unknown>).polluted, undefined);

  t.same(parseJson5('[1, [2, [3]],]', 'a.json5').value, [1, [2, [3]]]);
  t.same(parseJson5('\uFEFF "top-level string" // after', 's.json5').value, 'top-level string');
  t.equal(parseJson5(' // only a comment\n', 'e.json5', { allowEmpty: true }).value, undefined);

  const fromFixture = loadConfig(fixture('syntax.json5'));
  t.same(fromFixture, {
    daemon: { user: 'mcr', logLevel: 'debug', workers: 4 },
    rules: [
      {
        name: 'it\'s "quoted" \u00e9!',
        inputInterface: 'eth0.100',
        inputGroup: '239.1.1.1',
        inputPort: 5000,
        outputs: [{ group: '239.9.9.9', port: 8080, interface: 'br-lan', ttl: 16 }],
      },
      {
        name: 'line continued',
        inputInterface: 'lo',
        inputGroup: '10.0.0.1',
        inputPort: 6000,
        source: '10.0.0.2',
        outputs: [{ group: '10.0.0.3', port: 6001, interface: 'lo' }],
      },
    ],
  });
});

t.test('any JSON text parses to what JSON.parse returns (JSON is a subset of JSON5)', async (t) => {
  // A fixed-seed generator (mulberry32) so a failure reproduces.
  let seed = 0x5eed;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const text = (): string =>
    Array.from({ length: Math.floor(random() * 6) }, () => pick(['a', 'Z', ' ', '"', "'", '\\', '/', '\n', '\t', '\u0001', '\u2028', 'é', '\u{1F600}', '*'])).join('');
  const value = (depth: number): unknown => {
    const kind = Math.floor(random() * (depth > 3 ? 4 : 6));
    if (kind === 0) return pick([true, false, null]);
    if (kind === 1) return pick([0, 1, -1, 5000, 1.5, -0.25, 1e21, 2 ** 53, 1e-7]);
    if (kind === 2 || kind === 3) return text();
    if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    const obj: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 4); i > 0; i--) obj[text()] = value(depth + 1);
    return obj;
  };
  const mismatches: string[] = [];
  for (let i = 0; i < 300; i++) {
    const json = JSON.stringify(value(0), null, pick([0, 2, '\t']));
    if (!isDeepStrictEqual(parseJson5(json, 'r.json').value, JSON.parse(json))) mismatches.push(json);
  }
  t.same(mismatches, [], '300 random JSON documents');
});

t.test('the position table holds the exact line and column of every value and key', async (t) => {
  const text = [
    '{', //                                                    line 1
    '  // a comment does not move anything', //                line 2
    '  daemon: { workers: 2 },', //                            line 3
    '\trules: [', //                                           line 4 (a tab is one column)
    '    { inputPort: 5000,\r', //                             line 5, CRLF ending
    "      outputs: [ { port: 1 }, 'x' ] },", //               line 6
    '  ],\r', //                                               line 7, lone CR ending
    '  "quoted key": -3 }', //                                 line 8
  ].join('\n');
  const { positions } = parseJson5(text, 'p.json5');
  t.same(positions.value([]), { line: 1, column: 1 });
  t.same(positions.key(['daemon']), { line: 3, column: 3 });
  t.same(positions.value(['daemon']), { line: 3, column: 11 });
  t.same(positions.key(['daemon', 'workers']), { line: 3, column: 13 });
  t.same(positions.value(['daemon', 'workers']), { line: 3, column: 22 });
  t.same(positions.key(['rules']), { line: 4, column: 2 });
  t.same(positions.value(['rules']), { line: 4, column: 9 });
  t.same(positions.value(['rules', 0]), { line: 5, column: 5 });
  t.same(positions.key(['rules', 0, 'inputPort']), { line: 5, column: 7 });
  t.same(positions.value(['rules', 0, 'inputPort']), { line: 5, column: 18 });
  t.same(positions.key(['rules', 0, 'outputs']), { line: 6, column: 7 });
  t.same(positions.value(['rules', 0, 'outputs', 0]), { line: 6, column: 18 });
  t.same(positions.value(['rules', 0, 'outputs', 0, 'port']), { line: 6, column: 26 });
  t.same(positions.value(['rules', 0, 'outputs', 1]), { line: 6, column: 31 });
  t.same(positions.key(['quoted key']), { line: 8, column: 3 });
  t.same(positions.value(['quoted key']), { line: 8, column: 17 });
  // Array elements and the root have no key; the index 0 is not the key "0".
  t.equal(positions.key(['rules', 0]), undefined);
  t.equal(positions.value(['rules', '0']), undefined);
  t.equal(positions.size, 11);

  // locate(): a field at its key, an element at its value, a missing field at its nearest ancestor.
  t.same(positions.locate(['daemon', 'workers']), { path: ['daemon', 'workers'], position: { line: 3, column: 13 } });
  t.same(positions.locate(['rules', 0]), { path: ['rules', 0], position: { line: 5, column: 5 } });
  t.same(positions.locate(['rules', 0, 'outputs', 0, 'ttl']), {
    path: ['rules', 0, 'outputs', 0],
    position: { line: 6, column: 18 },
  });
  t.equal(parseJson5('', 'e.json5', { allowEmpty: true }).positions.locate(['rules']), undefined);
});

t.test('every kind of syntax error names file:line:column and what to do', async (t) => {
  const cases: Array<[string, string, number, number, RegExp]> = [
    ['missing comma in an object', '{\n  port: 5000\n  ttl: 3\n}', 3, 3, /^expected ',' or '}' after the value of "port"$/],
    ['missing comma in an array', '{ outputs: [1\n 2] }', 2, 2, /^expected ',' or '\]' after element \[0\] of "outputs"$/],
    ['missing comma in the top-level array', '[1 2]', 1, 4, /after element \[0\] of the top-level array/],
    ['missing colon', '{ port 5000 }', 1, 8, /^expected ':' after the key "port", got '5'$/],
    ['a number as a key', '{ 1: 2 }', 1, 3, /^expected a key or '}', got '1'; quote keys that are not identifiers$/],
    ['two commas', '{ a: 1,, }', 1, 8, /^expected a key or '}', got ','$/],
    ['a missing value', '{ a: }', 1, 6, /^expected a value for a, got '}'$/],
    ['a missing array element', '{ r: [1, , 2] }', 1, 10, /^expected a value for r\[1\], got ','$/],
    ['an unknown character', '{ a: #1 }', 1, 6, /^expected a value for a, got '#'$/],
    ['a control character', '{ a: \u0001 }', 1, 6, /got the control character U\+0001/],
    ['an unquoted word as a value', '{ interface: eth1 }', 1, 14, /^unexpected word "eth1": put text values in quotes, e.g. "eth1"$/],
    ['an unterminated string', '{ a: "abc', 1, 6, /^unterminated string: add the closing "$/],
    ['a string across lines', "{ a: 'ab\ncd' }", 1, 9, /^unterminated string: a string cannot span lines; close it with ' or write \\n$/],
    ['an unterminated block comment', '{\n  /* open\n}', 2, 3, /^unterminated comment: close it with \*\/$/],
    ['a lone slash', '{ a: 1 / }', 1, 8, /^expected ',' or '}' after the value of "a"$/],
    ['an octal escape', '{ a: "x\\1" }', 1, 8, /^invalid escape \\1: JSON5 has no octal escapes; use \\x or \\u$/],
    ['a short \\x escape', '{ a: "\\x4" }', 1, 7, /^invalid escape: \\x needs exactly 2 hex digits$/],
    ['a short \\u escape', '{ a: "\\u12G4" }', 1, 7, /^invalid escape: \\u needs exactly 4 hex digits$/],
    ['a leading zero', '{ a: 01 }', 1, 6, /^invalid number "01"$/],
    ['an exponent without digits', '{ a: 1e }', 1, 6, /^invalid number "1e"$/],
    ['hex without digits', '{ a: 0x }', 1, 6, /^invalid number "0x": expected hex digits after 0x$/],
    ['letters after a number', '{ port: 5000abc }', 1, 9, /^invalid number "5000abc"$/],
    ['two decimal points', '{ a: 1.2.3 }', 1, 6, /^invalid number "1.2.3"$/],
    ['a bare sign', '{ a: - }', 1, 6, /^invalid number "-"$/],
    ['Infinity', '{ a: -Infinity }', 1, 6, /^Infinity is not supported in the config; write a finite number$/],
    ['NaN', '{ a: NaN }', 1, 6, /^NaN is not supported/],
    // Past a double's range the number would read as Infinity and reach a field as null (JSON.stringify's Infinity).
    ['a number out of range', '{\n  inputPort: 1e400 }', 2, 14, /^number "1e400" is out of range: .* write a finite number$/],
    ['a negative number out of range', '{ a: -1e400 }', 1, 6, /^number "-1e400" is out of range/],
    ['a hex number out of range', `{ a: 0x${'F'.repeat(300)} }`, 1, 6, /^number "0xFFF\.\.\." is out of range/],
    ['an escape in an unquoted key', '{ a\\u0062: 1 }', 1, 4, /escapes are not supported in unquoted keys; quote the key instead/],
    ['text after the value', '{}\n{}', 2, 1, /^unexpected '\{' after the end of the top-level value; the file holds one value$/],
    ['an unclosed object', '{\n  a: 1,\n', 3, 1, /^unexpected end of file: the object opened at 1:1 is not closed; add '}'$/],
    ['an unclosed object after a value', '{ a: 1', 1, 7, /^expected ',' or '}' after the value of "a" \(the object opened at 1:1 is not closed\)$/],
    ['an unclosed array', '{ a: [1,', 1, 9, /^unexpected end of file: the array opened at 1:6 is not closed; add '\]'$/],
    ['a duplicate key', "{\n  port: 1,\n  'port': 2 }", 3, 3, /^duplicate key "port" \(first at 2:3\); remove one of them$/],
    ['a duplicate nested key', '{ d: { a: 1, b: 2, a: 3 } }', 1, 20, /^duplicate key "a" \(first at 1:8\)/],
    ['nesting too deep', '['.repeat(MAX_NESTING + 1), 1, MAX_NESTING + 1, /nested more than 64 levels deep/],
  ];
  for (const [name, text, line, column, message] of cases) {
    const err = configError(() => parseConfig(text, 'mcrd.json5'));
    t.match(
      err,
      { code: 'ERR_MCR_CONFIG_SYNTAX', file: 'mcrd.json5', line, column, path: undefined },
      `${name}: ${err.message}`,
    );
    const prefix = `mcrd.json5:${line}:${column}: `;
    t.ok(err.message.startsWith(prefix), `${name}: message starts with ${prefix}`);
    t.match(err.message.slice(prefix.length), message, `${name}: message text`);
  }
  // The parser alone (without allowEmpty) calls an empty document an error.
  t.throws(() => parseJson5('  \n', 'e.json5'), { code: 'ERR_MCR_CONFIG_SYNTAX', message: /^e\.json5:2:1: the file is empty/ });
});

t.test('every validation error names file:line:column and the field', async (t) => {
  const wrap = (rules: string, daemon = ''): string => `{\n${daemon}  rules: [\n    ${rules},\n  ],\n}\n`;
  // [name, text, line, column, path, message after the location]
  const cases: Array<[string, string, number, number, Array<string | number>, string]> = [
    ['top level is not an object', '[]', 1, 1, [], '(top level): expected an object such as { rules: [...] }, got an array'],
    ['unknown top-level key', '{\n  rule: [] }', 2, 3, ['rule'], '(top level): unknown field "rule" (allowed: daemon, rules)'],
    ['daemon is not an object', '{ daemon: "x" }', 1, 3, ['daemon'], 'daemon: expected an object, got "x"'],
    ['unknown daemon key', '{ daemon: { worker: 2 } }', 1, 13, ['daemon', 'worker'], 'daemon: unknown field "worker" (allowed: controlSocket, workers, workerCpus, user, logLevel, logDir, restartBackoffMinMs, restartBackoffMaxMs, coalesceUs, busyPollUs, loopRtPriority, loopSliceUs, consumeInputs, maxRulesPerInterface, metricsListen, metricsAllowRemote, hungWorkerMs, socketGroup)'],
    ['restartBackoffMinMs 0', '{ daemon: { restartBackoffMinMs: 0 } }', 1, 13, ['daemon', 'restartBackoffMinMs'], 'daemon.restartBackoffMinMs: expected an integer 1..60000 (milliseconds), got 0'],
    ['restartBackoffMinMs as a string', '{ daemon: { restartBackoffMinMs: "5" } }', 1, 13, ['daemon', 'restartBackoffMinMs'], 'daemon.restartBackoffMinMs: expected an integer 1..60000 (milliseconds), got "5"'],
    ['restartBackoffMaxMs below the minimum', '{ daemon: { restartBackoffMinMs: 500, restartBackoffMaxMs: 200 } }', 1, 39, ['daemon', 'restartBackoffMaxMs'], 'daemon.restartBackoffMaxMs: expected an integer 500..3600000 (milliseconds, at least the minimum), got 200'],
    ['restartBackoffMaxMs below the default minimum', '{ daemon: { restartBackoffMaxMs: 50 } }', 1, 13, ['daemon', 'restartBackoffMaxMs'], 'daemon.restartBackoffMaxMs: expected an integer 100..3600000 (milliseconds, at least the minimum), got 50'],
    ['coalesceUs above the loop limit', '{ daemon: { coalesceUs: 10001 } }', 1, 13, ['daemon', 'coalesceUs'], 'daemon.coalesceUs: expected an integer 0..10000 (microseconds; 0 = off), got 10001'],
    ['coalesceUs negative', '{ daemon: { coalesceUs: -1 } }', 1, 13, ['daemon', 'coalesceUs'], 'daemon.coalesceUs: expected an integer 0..10000 (microseconds; 0 = off), got -1'],
    ['busyPollUs above the loop limit', '{ daemon: { busyPollUs: 1000001 } }', 1, 13, ['daemon', 'busyPollUs'], 'daemon.busyPollUs: expected "auto" or an integer 0..1000000 (microseconds; 0 = off), got 1000001'],
    ['loopRtPriority above 99', '{ daemon: { loopRtPriority: 100 } }', 1, 13, ['daemon', 'loopRtPriority'], 'daemon.loopRtPriority: expected "auto" or an integer 0..99 (SCHED_FIFO priority; 0 = the normal policy), got 100'],
    ['loopSliceUs below the kernel\'s 100 µs', '{ daemon: { loopSliceUs: 50 } }', 1, 13, ['daemon', 'loopSliceUs'], 'daemon.loopSliceUs: expected "auto" or an integer 0 or 100..100000 (microseconds; 0 = the kernel\'s), got 50'],
    ['loopSliceUs above 100 ms', '{ daemon: { loopSliceUs: 100001 } }', 1, 13, ['daemon', 'loopSliceUs'], 'daemon.loopSliceUs: expected "auto" or an integer 0 or 100..100000 (microseconds; 0 = the kernel\'s), got 100001'],
    ['busyPollUs not a number', '{ daemon: { busyPollUs: "fast" } }', 1, 13, ['daemon', 'busyPollUs'], 'daemon.busyPollUs: expected "auto" or an integer 0..1000000 (microseconds; 0 = off), got "fast"'],
    ['consumeInputs neither "auto" nor a boolean', '{ daemon: { consumeInputs: "yes" } }', 1, 13, ['daemon', 'consumeInputs'], 'daemon.consumeInputs: expected "auto", true or false, got "yes"'],
    ['hungWorkerMs too short', '{ daemon: { hungWorkerMs: 100 } }', 1, 13, ['daemon', 'hungWorkerMs'], 'daemon.hungWorkerMs: expected 0 (no watchdog) or an integer 500..600000 (milliseconds), got 100'],
    ['hungWorkerMs not a number', '{ daemon: { hungWorkerMs: "2s" } }', 1, 13, ['daemon', 'hungWorkerMs'], 'daemon.hungWorkerMs: expected 0 (no watchdog) or an integer 500..600000 (milliseconds), got "2s"'],
    ['workers 0', '{ daemon: { workers: 0 } }', 1, 13, ['daemon', 'workers'], 'daemon.workers: expected an integer 1..256, got 0'],
    ['workers 257', '{ daemon: { workers: 257 } }', 1, 13, ['daemon', 'workers'], 'daemon.workers: expected an integer 1..256, got 257'],
    ['workers 1.5', '{ daemon: { workers: 1.5 } }', 1, 13, ['daemon', 'workers'], 'daemon.workers: expected an integer 1..256, got 1.5'],
    ['workers as a string', '{ daemon: { workers: "2" } }', 1, 13, ['daemon', 'workers'], 'daemon.workers: expected an integer 1..256, got "2"'],
    ['workerCpus as a number', '{ daemon: { workerCpus: 1 } }', 1, 13, ['daemon', 'workerCpus'], 'daemon.workerCpus: expected a CPU list such as "1-3" or "2,3", got 1'],
    ['workerCpus reversed', '{ daemon: { workerCpus: "3-1" } }', 1, 13, ['daemon', 'workerCpus'], 'daemon.workerCpus: expected a CPU list such as "1-3" or "2,3", got "3-1"'],
    ['logLevel', '{ daemon: { logLevel: "verbose" } }', 1, 13, ['daemon', 'logLevel'], 'daemon.logLevel: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"'],
    ['empty user', '{ daemon: { user: "" } }', 1, 13, ['daemon', 'user'], 'daemon.user: expected a non-empty user name such as "nobody", got ""'],
    ['user not a string', '{ daemon: { user: 0 } }', 1, 13, ['daemon', 'user'], 'daemon.user: expected a non-empty user name such as "nobody", got 0'],
    ['socketGroup with a space', '{ daemon: { socketGroup: "m r" } }', 1, 13, ['daemon', 'socketGroup'], 'daemon.socketGroup: expected a group name such as "mcr", got "m r"'],
    ['relative controlSocket', '{ daemon: { controlSocket: "mcrd.sock" } }', 1, 13, ['daemon', 'controlSocket'], 'daemon.controlSocket: expected an absolute path such as /run/mcr/mcrd.sock, got "mcrd.sock"'],
    ['long controlSocket', `{ daemon: { controlSocket: "/${'s'.repeat(107)}" } }`, 1, 13, ['daemon', 'controlSocket'], 'daemon.controlSocket: is 108 bytes, over the 107-byte limit of a unix socket path; choose a shorter path'],
    ['relative logDir', '{ daemon: { logDir: "logs" } }', 1, 13, ['daemon', 'logDir'], 'daemon.logDir: expected an absolute path such as /var/log/mcr, got "logs"'],
    ['rules not an array', '{ rules: {} }', 1, 3, ['rules'], 'rules: expected an array of rules, got an object'],
    ['a rule that is not an object', wrap('"cam-1"'), 3, 5, ['rules', 0], 'rules[0]: expected a rule object, got "cam-1"'],
    ['unknown rule key', wrap(RULE(', ttl: 3')), 3, 139, ['rules', 0, 'ttl'], 'rules[0]: unknown field "ttl" (allowed: name, inputInterface, inputGroup, inputPort, source, excludeSources, joinGroups, outputs, signalTimeoutMs, monitor)'],
    ['missing inputInterface', wrap('{ inputGroup: "239.1.1.1", inputPort: 1, outputs: [] }'), 3, 5, ['rules', 0, 'inputInterface'], 'rules[0].inputInterface: missing: every rule needs the interface it receives on, e.g. inputInterface: "eth1"'],
    ['inputInterface too long', wrap(RULE().replace('"eth1"', '"an-interface-name"')), 3, 7, ['rules', 0, 'inputInterface'], 'rules[0].inputInterface: expected an interface name (1-15 characters of A-Z a-z 0-9 _ . @ -), got "an-interface-name"'],
    ['inputInterface an alias label', wrap(RULE().replace('"eth1"', '"eth1:0"')), 3, 7, ['rules', 0, 'inputInterface'], 'rules[0].inputInterface: "eth1:0" is not an interface name: Linux refuses \':\' in one (eth0:1 is how ifconfig labels an IPv4 address, not a device); give the device name without the label, eth1'],
    ['bad inputGroup', wrap(RULE().replace('"239.1.1.1"', '"239.1.1"')), 3, 31, ['rules', 0, 'inputGroup'], 'rules[0].inputGroup: expected an IPv4 or IPv6 address such as 239.1.1.1 or ff3e::1234, got "239.1.1"'],
    ['bad inputPort', wrap(RULE().replace('5000', '70000')), 3, 56, ['rules', 0, 'inputPort'], 'rules[0].inputPort: expected an integer 1..65535 or "any" (every port), got 70000'],
    ['bad source', wrap(RULE(', source: "any"')), 3, 139, ['rules', 0, 'source'], 'rules[0].source: expected an IPv4 or IPv6 address such as 239.1.1.1 or ff3e::1234, got "any"'],
    ['empty rule name', wrap(RULE(', name: ""')), 3, 139, ['rules', 0, 'name'], 'rules[0].name: expected 1-64 printable characters, got ""'],
    ['no outputs', wrap('{ inputInterface: "eth1", inputGroup: "239.1.1.1", inputPort: 1, outputs: [] }'), 3, 70, ['rules', 0, 'outputs'], 'rules[0].outputs: expected at least one output'],
    ['outputs missing', wrap('{ inputInterface: "eth1", inputGroup: "239.1.1.1", inputPort: 1 }'), 3, 5, ['rules', 0, 'outputs'], 'rules[0].outputs: expected at least one output'],
    ['output not an object', wrap(RULE().replace(/\[\{.*\}\]/, '[7]')), 3, 83, ['rules', 0, 'outputs', 0], 'rules[0].outputs[0]: expected an object'],
    ['bad output group', wrap(RULE().replace('"239.2.2.2"', '"x"')), 3, 85, ['rules', 0, 'outputs', 0, 'group'], 'rules[0].outputs[0].group: expected an IPv4 or IPv6 address such as 239.1.1.1 or ff3e::1234, got "x"'],
    ['missing output port', wrap(RULE().replace('port: 6000, ', '')), 3, 83, ['rules', 0, 'outputs', 0, 'port'], 'rules[0].outputs[0].port: expected an integer 1..65535 or "=" (the datagram\'s own port), got undefined'],
    ['bad output interface', wrap(RULE().replace('"eth2"', '"eth 2"')), 3, 117, ['rules', 0, 'outputs', 0, 'interface'], 'rules[0].outputs[0].interface: expected an interface name (1-15 characters of A-Z a-z 0-9 _ . @ -), got "eth 2"'],
    ['output ttl 0', wrap(RULE().replace('"eth2" }', '"eth2", ttl: 0 }')), 3, 136, ['rules', 0, 'outputs', 0, 'ttl'], 'rules[0].outputs[0].ttl: expected an integer 1..255, got 0'],
    ['bad output source', wrap(RULE().replace('"eth2" }', '"eth2", source: "" }')), 3, 136, ['rules', 0, 'outputs', 0, 'source'], 'rules[0].outputs[0].source: expected an IPv4 or IPv6 address such as 239.1.1.1 or ff3e::1234, got ""'],
    ['unknown output key', wrap(RULE().replace('"eth2" }', '"eth2", tll: 8 }')), 3, 136, ['rules', 0, 'outputs', 0, 'tll'], 'rules[0].outputs[0]: unknown field "tll" (allowed: group, port, interface, ttl, source)'],
  ];
  for (const [name, text, line, column, path, message] of cases) {
    const err = configError(() => parseConfig(text, 'mcrd.json5'));
    t.equal(err.message, `mcrd.json5:${line}:${column}: ${message}`, name);
    t.match(err, { code: 'ERR_MCR_CONFIG', file: 'mcrd.json5', line, column }, `${name}: fields`);
    t.same(err.path, path, `${name}: path`);
  }
});

t.test('errors in fixture files point at the field, or at the object a missing field belongs in', async (t) => {
  t.throws(() => parseConfig(readFileSync(fixture('bad-ttl.json5'), 'utf8'), 'mcrd.json5'), {
    code: 'ERR_MCR_CONFIG',
    message: 'mcrd.json5:14:11: rules[0].outputs[1].ttl: expected an integer 1..255, got 300',
    line: 14,
    column: 11,
  });
  const path = fixture('missing-port.json5');
  t.throws(() => loadConfig(path), {
    code: 'ERR_MCR_CONFIG',
    message: `${path}:17:9: rules[1].outputs[0].port: expected an integer 1..65535 or "=" (the datagram's own port), got undefined`,
    file: path,
  });
});

t.test('rule names are unique and no two rules match the same traffic', async (t) => {
  const rule = (name: string, iface: string, group: string, source?: string): string =>
    `{ name: "${name}", inputInterface: "${iface}", inputGroup: "${group}", inputPort: 5000,${source ? ` source: "${source}",` : ''} outputs: [{ group: "239.9.9.9", port: 1, interface: "o" }] }`;
  const doc = (...rules: string[]): string => `{ rules: [\n${rules.map((r) => `  ${r},\n`).join('')}] }`;

  t.throws(() => parseConfig(doc(rule('a', 'eth1', '239.1.1.1'), rule('b', 'eth1', '239.1.1.2'), rule('a', 'eth1', '239.1.1.3')), 'm.json5'), {
    code: 'ERR_MCR_CONFIG',
    message: 'm.json5:4:5: rules[2].name: "a" is already the name of rules[0]; rule names must be unique',
    path: ['rules', 2, 'name'],
  });
  t.throws(() => parseConfig(doc(rule('a', 'eth1', '239.1.1.1'), rule('b', 'eth1', '239.1.1.1')), 'm.json5'), {
    code: 'ERR_MCR_CONFIG',
    message:
      'm.json5:3:3: rules[1]: matches the same traffic as rules[0] ("a"): inputInterface eth1, inputGroup 239.1.1.1, ' +
      'inputPort 5000, any source; merge their outputs into one rule or remove one',
    path: ['rules', 1],
  });
  t.throws(() => parseConfig(doc(rule('a', 'eth1', '239.1.1.1', '10.0.0.1'), rule('b', 'eth1', '239.1.1.1', '10.0.0.1')), 'm.json5'), {
    message: /rules\[1\]: matches the same traffic as rules\[0\] \("a"\): .* source 10\.0\.0\.1;/,
  });
  // Unnamed rules conflict too, and the message then names only the index.
  const unnamed = RULE();
  t.throws(() => parseConfig(`{ rules: [${unnamed}, ${unnamed}] }`, 'm.json5'), {
    message: /rules\[1\]: matches the same traffic as rules\[0\]: inputInterface eth1/,
  });
  // A different interface, group or source filter is different traffic.
  const ok = parseConfig(
    doc(rule('a', 'eth1', '239.1.1.1'), rule('b', 'eth2', '239.1.1.1'), rule('c', 'eth1', '239.1.1.2'), rule('d', 'eth1', '239.1.1.1', '10.0.0.1')),
    'm.json5',
  );
  t.equal(ok.rules.length, 4);
});

t.test('an empty file, a comment-only file and a file without rules are valid: mcrd starts with no rules', async (t) => {
  for (const text of ['', '  \n\n', '// nothing yet\n/* at all */\n', '{}', '{ rules: [] }', '{ daemon: {} }']) {
    t.same(parseConfig(text, 'mcrd.json5'), { daemon: {}, rules: [] }, JSON.stringify(text));
  }
  t.same(parseConfig('{ daemon: { workers: 3 } }', 'mcrd.json5'), { daemon: { workers: 3 }, rules: [] });
  const defaults = defaultDaemonSettings();
  t.match(defaults, { controlSocket: '/run/mcr/mcrd.sock', user: 'nobody', logLevel: 'info', restartBackoffMinMs: 100, restartBackoffMaxMs: 10_000,
    coalesceUs: 0, busyPollUs: 'auto', consumeInputs: 'auto', hungWorkerMs: 1500 });
  t.same(parseConfig('{ daemon: { busyPollUs: "auto" } }', 'm.json5').daemon, { busyPollUs: 'auto' }, 'busy polling "auto" from a file');
  t.same(parseConfig('{ daemon: { busyPollUs: 0 } }', 'm.json5').daemon, { busyPollUs: 0 }, 'busy polling off from a file');
  t.same(parseConfig('{ daemon: { hungWorkerMs: 0 } }', 'm.json5').daemon, { hungWorkerMs: 0 }, 'the watchdog can be turned off');
  t.same(parseConfig('{ daemon: { workerCpus: "1-3,5" } }', 'c.json5').daemon, { workerCpus: '1-3,5' }, 'workerCpus is kept as written');
  t.same(parseConfig('{ daemon: { coalesceUs: 20, busyPollUs: 500, consumeInputs: true }, rules: [] }', 'm.json5').daemon,
    { coalesceUs: 20, busyPollUs: 500, consumeInputs: true },
    'throughput settings from a file');
  t.same(parseConfig('{ daemon: { consumeInputs: "auto" } }', 'm.json5').daemon, { consumeInputs: 'auto' }, 'consumeInputs "auto" from a file');
  const saved = formatConfig(parseConfig('{ daemon: { consumeInputs: "auto" } }', 'm.json5'));
  t.same(parseConfig(saved, 'saved.json5').daemon, { consumeInputs: 'auto' }, 'and it is saved as it was written');
  t.ok(Number.isInteger(defaults.workers) && defaults.workers >= 1 && defaults.workers <= 256, 'workers default to the core count');
});

t.test('formatConfig writes text that parseConfig reads back to the same config', async (t) => {
  const rich: ConfigToWrite = {
    daemon: { controlSocket: '/run/mcr/test.sock', workers: 256, user: 'mcr-worker', logLevel: 'trace', logDir: '/var/log/mcr test',
      restartBackoffMinMs: 20, restartBackoffMaxMs: 40 },
    rules: [
      {
        // Every character JSON must escape that a name may hold (no control characters: common/rule-spec.ts).
        name: 'quotes " and \' and \\, \u2028, \u00e9, \u{1F600}, \ud800 lone surrogate',
        inputInterface: 'eth0.100',
        inputGroup: '239.255.255.250',
        inputPort: 1,
        source: '192.0.2.1',
        outputs: [
          { group: '239.1.1.1', port: 65535, interface: 'br-lan', ttl: 255, source: '192.0.2.2' },
          { group: '198.51.100.7', port: 9, interface: 'wg0', ttl: 1 },
          { group: '239.1.1.2', port: 5000, interface: 'a.b@c_d-e' },
        ],
      },
      // A unicast input and output (127.0.0.0/8 is no destination: common/rule-spec.ts refuses it).
      { inputInterface: 'lo', inputGroup: '192.0.2.10', inputPort: 7000, outputs: [{ group: '192.0.2.11', port: 7001, interface: 'lo' }] },
    ],
  };
  const text = formatConfig(rich);
  t.ok(text.startsWith('// mcrd configuration'), 'starts with the header comment');
  const back = parseConfig(text, 'saved.json5');
  t.same(back, rich);
  t.equal(formatConfig(back), text, 'formatting is stable: the same config gives the same bytes');

  // Key order does not depend on the order the caller built the objects in.
  const shuffled: ConfigToWrite = {
    rules: [{ outputs: [{ port: 2, interface: 'o', group: '239.0.0.2' }], inputPort: 1, inputGroup: '239.0.0.1', inputInterface: 'i', name: 'n' }],
    daemon: { logLevel: 'warn', workers: 1 },
  };
  t.equal(
    formatConfig(shuffled, { header: 'Written by a test.\n\nSecond paragraph.' }),
    [
      '// Written by a test.',
      '//',
      '// Second paragraph.',
      '{',
      '  daemon: {',
      '    workers: 1,',
      '    logLevel: "warn",',
      '  },',
      '  rules: [',
      '    {',
      '      name: "n",',
      '      inputInterface: "i",',
      '      inputGroup: "239.0.0.1",',
      '      inputPort: 1,',
      '      outputs: [',
      '        { group: "239.0.0.2", port: 2, interface: "o" },',
      '      ],',
      '    },',
      '  ],',
      '}',
      '',
    ].join('\n'),
  );

  // An empty config round-trips, and fields a config does not have (a runtime id) are left out.
  t.same(parseConfig(formatConfig({ daemon: {}, rules: [] }), 'e.json5'), { daemon: {}, rules: [] });
  const withId = { daemon: {}, rules: [{ ...rich.rules[1]!, id: 7 }] } as unknown as Config;
  t.same(parseConfig(formatConfig(withId), 'i.json5'), { daemon: {}, rules: [rich.rules[1]] });
  t.throws(() => formatConfig({ daemon: { workers: Number.NaN }, rules: [] }), { code: 'ERR_MCR_CONFIG' });

  // The example loads, and round-trips.
  const example = loadConfig(fixture('example.json5'));
  t.same(parseConfig(formatConfig(example), 'example.json5'), example);
});

t.test('the documented example config loads and matches the fixture copy', async (t) => {
  const docs = join(ROOT, 'docs', 'mcrd.example.json5');
  t.equal(readFileSync(docs, 'utf8'), readFileSync(fixture('example.json5'), 'utf8'), 'docs/mcrd.example.json5 and the fixture are the same file');
  const config = loadConfig(docs);
  t.same(config.daemon, { controlSocket: '/run/mcr/mcrd.sock', workers: 2, user: 'nobody', logLevel: 'info', logDir: '/var/log/mcr' });
  t.same(
    config.rules.map((r) => [r.name, r.inputInterface, r.outputs.length]),
    [
      ['cam-1', 'eth1', 2],
      ['feed-a', 'eth1', 1],
    ],
  );
});

t.test('input larger than 64 MiB is refused; exactly 64 MiB is read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const atLimit = '{}' + ' '.repeat(MAX_CONFIG_BYTES - 2);
  t.same(parseConfig(atLimit, 'big.json5'), { daemon: {}, rules: [] }, 'a file of exactly 64 MiB is fine');
  const over = atLimit + ' ';
  t.throws(() => parseConfig(over, 'big.json5'), {
    code: 'ERR_MCR_CONFIG_TOO_LARGE',
    message: `big.json5: the file is ${MAX_CONFIG_BYTES + 1} bytes, over the ${MAX_CONFIG_BYTES}-byte (64 MiB) limit for a config; check that this is the right file`,
  });
  // The limit is in bytes, not characters: 'é' is two bytes of UTF-8.
  t.throws(() => parseConfig(`"${'é'.repeat(MAX_CONFIG_BYTES / 2)}"`, 'big.json5'), { code: 'ERR_MCR_CONFIG_TOO_LARGE' });

  const file = join(dir, 'big.json5');
  writeFileSync(file, over);
  t.throws(() => loadConfig(file), { code: 'ERR_MCR_CONFIG_TOO_LARGE', file, message: new RegExp(`^${file}: the file is ${MAX_CONFIG_BYTES + 1} bytes`) });
  writeFileSync(file, atLimit);
  t.same(loadConfig(file), { daemon: {}, rules: [] });
});

t.test('loadConfig reports files it cannot read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mcr-config-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = join(dir, 'missing.json5');
  t.throws(() => loadConfig(missing), {
    code: 'ERR_MCR_CONFIG_READ',
    file: missing,
    message: `${missing}: cannot read the config file (ENOENT); check the path and its permissions`,
  });
  t.throws(() => loadConfig(dir), { code: 'ERR_MCR_CONFIG_READ', message: /\(EISDIR\); give the path of a file, not a directory$/ });
  const latin1 = join(dir, 'latin1.json5');
  writeFileSync(latin1, Buffer.from('{ rules: [{ name: "caf\xe9" }] }', 'latin1'));
  t.throws(() => loadConfig(latin1), { code: 'ERR_MCR_CONFIG_SYNTAX', message: `${latin1}: the file is not valid UTF-8; save it as UTF-8` });
  const syntax = join(dir, 'syntax.json5');
  writeFileSync(syntax, '{\n  rules: [,\n}');
  t.throws(() => loadConfig(syntax), { code: 'ERR_MCR_CONFIG_SYNTAX', message: `${syntax}:2:11: expected a value for rules[0], got ','`, line: 2, column: 11 });
});

t.test('inputInterface follows the same rule as an output interface', async (t) => {
  const names = ['eth0', 'eth0.100', 'br-lan', 'wg0', 'a:b@c_d-e', 'x', '123456789012345', '1234567890123456', '', 'eth 0', 'eth/0', 'é', 7];
  for (const name of names) {
    const asOutput = !threw(() => validateOutput({ group: '239.0.0.1', port: 1, interface: name }, 'o'));
    const rule = { inputInterface: name, inputGroup: '239.1.1.1', inputPort: 1, outputs: [{ group: '239.0.0.1', port: 1, interface: 'o' }] };
    const asInput = !threw(() => parseConfig(JSON.stringify({ rules: [rule] }), 'm.json5'));
    t.equal(asInput, asOutput, `${JSON.stringify(name)}: ${asOutput ? 'accepted' : 'rejected'} by both`);
  }
});

t.test('RuleError carries the path of the field, prefixed by the caller', async (t) => {
  const good = { inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'o' }] };
  const pathOf = (fn: () => unknown): unknown => {
    try {
      fn();
    } catch (err) {
      if (err instanceof RuleError) return err.path;
    }
    return 'no RuleError';
  };
  t.same(pathOf(() => validateRule({ ...good, outputs: [good.outputs[0], { ...good.outputs[0], ttl: 300 }] }, 'r', ['rules', 0])), ['rules', 0, 'outputs', 1, 'ttl']);
  t.same(pathOf(() => validateRule({ ...good, inputPort: 0 })), ['inputPort']);
  t.same(pathOf(() => validateRule({ ...good, extra: 1 }, 'r', ['x'])), ['x', 'extra']);
  t.same(pathOf(() => validateRule(null, 'r', ['rules', 3])), ['rules', 3]);
  t.same(pathOf(() => validateOutput({ group: '239.2.2.2', port: 6000 }, 'o')), ['interface']);
  t.equal(new RuleError('plain').path, undefined, 'a RuleError built without a path has none');
  t.equal(formatPath(['rules', 0, 'outputs', 1, 'ttl']), 'rules[0].outputs[1].ttl');
  t.equal(formatPath(['a key', 0]), '["a key"][0]');
});

function threw(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
}

t.test('docs/config.md lists the daemon settings in the order formatConfig writes them', async (t) => {
  const doc = readFileSync(join(packageRoot(), 'docs', 'config.md'), 'utf8').replace(/\s+/g, ' ');
  const listed = /settings that are set, in a fixed order: (.*?)\) and `rules`/.exec(doc);
  t.ok(listed, 'the section "Writing a config back" names the order');
  const names = [...(listed?.[1] ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1]);
  t.same(names, [...DAEMON_FIELDS], 'the same keys, in the same order, as DAEMON_FIELDS (save.ts writes in it)');
});
