/**
 * Writes a Config back as JSON5 text, for `mcrctl save`: a header comment,
 * then the fields in a fixed order (the order of the *_FIELDS lists in
 * schema.ts) so saving the same rules twice gives the same bytes and a diff
 * shows only real changes. parseConfig reads the result back to a deep-equal
 * Config. Only known fields are written: anything else a caller's objects
 * carry (a runtime rule id, say) is left out, since the loader would reject it.
 * A text over the loader's size limit is refused rather than returned: a
 * saved file must load.
 */
import { MAX_CONFIG_BYTES, MAX_CONFIG_SIZE_TEXT } from './json5-parser.js';
import { DAEMON_FIELDS, OUTPUT_FIELDS, RULE_FIELDS, type ConfigToWrite } from './schema.js';

export interface FormatOptions {
  /** Header comment text, one `//` line per line; defaults to a pointer to the format's documentation. */
  header?: string;
}

const DEFAULT_HEADER = 'mcrd configuration (JSON5: comments and trailing commas are allowed).\nFormat: docs/config.md';

export function formatConfig(config: ConfigToWrite, options: FormatOptions = {}): string {
  const header = (options.header ?? DEFAULT_HEADER)
    .split(/\r\n|\r|\n/)
    .map((line) => (line === '' ? '//' : `// ${line}`))
    .join('\n');
  const lines = [header, '{'];
  const daemon = fieldsOf(config.daemon, DAEMON_FIELDS);
  if (daemon.length > 0) {
    lines.push('  daemon: {');
    for (const [key, value] of daemon) lines.push(`    ${key}: ${scalar(value)},`);
    lines.push('  },');
  }
  if (config.rules.length === 0) {
    lines.push('  rules: [],');
  } else {
    lines.push('  rules: [');
    for (const rule of config.rules) {
      lines.push('    {');
      for (const [key, value] of fieldsOf(rule, RULE_FIELDS)) {
        if (key !== 'outputs') {
          // Port 0 is the model's "any": written as the word the loader takes.
          lines.push(`      ${key}: ${key === 'inputPort' && value === 0 ? '"any"' : scalar(value)},`);
          continue;
        }
        // One output per line: a rule's outputs read as a list of destinations.
        lines.push('      outputs: [');
        for (const output of rule.outputs) {
          const fields = fieldsOf(output, OUTPUT_FIELDS).map(([k, v]) => `${k}: ${k === 'port' && v === 0 ? '"="' : scalar(v)}`);
          lines.push(`        { ${fields.join(', ')} },`);
        }
        lines.push('      ],');
      }
      lines.push('    },');
    }
    lines.push('  ],');
  }
  lines.push('}', '');
  const text = lines.join('\n');
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES) {
    const message = `the configuration of ${config.rules.length} rules takes ${bytes} bytes, over the ${MAX_CONFIG_SIZE_TEXT} limit ` +
      'of a config, so mcrd could not load it: nothing was written; remove rules until it fits';
    throw Object.assign(new RangeError(message), { code: 'ERR_MCR_CONFIG_TOO_LARGE' });
  }
  return text;
}

/** The set fields of `obj` among `order`, in that order. */
function fieldsOf(obj: object, order: readonly string[]): Array<[string, unknown]> {
  const record = obj as Record<string, unknown>;
  return order.filter((key) => record[key] !== undefined).map((key) => [key, record[key]]);
}

/** Strings as JSON (valid JSON5, every character escaped that must be); numbers and booleans (daemon.consumeInputs) as written. */
function scalar(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  // Unreachable for a validated Config; refusing beats writing a file that will not load.
  const message = `formatConfig: cannot write ${JSON.stringify(value)} as a config value; pass a Config from parseConfig or loadConfig`;
  throw Object.assign(new TypeError(message), { code: 'ERR_MCR_CONFIG' });
}
