/**
 * ConfigError: the one error type the config loader throws. Its message is
 * what the user sees (`mcrd.json5:14:9: rules[0].outputs[1].ttl: ...`), and
 * its fields let mcrd, `mcrctl check` and `mcrctl reload` report the same
 * location in JSON without parsing the message back.
 */
import type { JsonPath } from './path.js';

/**
 * - ERR_MCR_CONFIG_SYNTAX: the text is not valid JSON5 (or has a duplicate key).
 * - ERR_MCR_CONFIG: valid JSON5 that is not a valid mcrd config.
 * - ERR_MCR_CONFIG_READ: the file could not be read at all.
 * - ERR_MCR_CONFIG_TOO_LARGE: the file is over the size limit.
 * - ENOSPC: valid, but an input interface has more rules or outputs than
 *   mcrd allows one (common/rule-limits.ts), as `mcrctl add` is told.
 */
export type ConfigErrorCode = 'ERR_MCR_CONFIG_SYNTAX' | 'ERR_MCR_CONFIG' | 'ERR_MCR_CONFIG_READ' | 'ERR_MCR_CONFIG_TOO_LARGE' | 'ENOSPC';

export interface ConfigErrorDetails {
  file: string;
  line?: number;
  column?: number;
  /** The field the error is about, as data (validation errors only). */
  path?: JsonPath;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly path: JsonPath | undefined;

  /** `message` is the complete user-facing text, location prefix included. */
  constructor(code: ConfigErrorCode, message: string, details: ConfigErrorDetails) {
    super(message);
    this.name = 'ConfigError';
    this.code = code;
    this.file = details.file;
    this.line = details.line;
    this.column = details.column;
    this.path = details.path;
  }
}
