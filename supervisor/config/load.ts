/**
 * Entry points of the config loader: parseConfig for text already in hand
 * (`mcrctl check`, tests) and loadConfig for a file (mcrd start, SIGHUP,
 * `mcrctl reload`). Both return a validated Config or throw one ConfigError
 * whose message is ready to show the user; neither has side effects, so an
 * invalid file changes nothing.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { MAX_CONFIG_BYTES, MAX_CONFIG_SIZE_TEXT, parseJson5 } from './json5-parser.js';
import { validateConfig, type Config, type ValidateOptions } from './schema.js';

/** First read buffer when the file's size is not known yet (grown as needed, up to the limit). */
const MIN_READ_BYTES = 64 * 1024;

/**
 * `fileName` labels the messages (`mcrd.json5:14:9: ...`). A text with no
 * value (empty, or only comments) is a config with no rules. `options`
 * sets the rules-per-interface limit the rules are held to (ENOSPC).
 */
export function parseConfig(text: string, fileName: string, options: ValidateOptions = {}): Config {
  const { value, positions } = parseJson5(text, fileName, { allowEmpty: true });
  return validateConfig(value, positions, fileName, options);
}

/** Reads and validates the file at `path`; messages name it as given. */
export function loadConfig(path: string, options: ValidateOptions = {}): Config {
  return parseConfig(readConfigText(path), path, options);
}

/**
 * The text of the config file at `path`, as loadConfig reads it (size
 * limit, UTF-8 check); errors are ConfigErrors naming the path. mcrctl check
 * reads with it, so a file is read alike by both.
 */
export function readConfigText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw readError(path, err);
  }
  try {
    // Check the size before reading so a wrong path to a huge file costs nothing.
    const { size } = fstatSync(fd);
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError(
        'ERR_MCR_CONFIG_TOO_LARGE',
        `${path}: the file is ${size} bytes, over the ${MAX_CONFIG_SIZE_TEXT} limit for a config; check that this is the right file`,
        { file: path },
      );
    }
    // Room for the file as stat saw it and one byte more, so reaching the
    // end is seen at once; a file that grows while we read gets a larger
    // buffer, never more than one byte over the limit (which is caught).
    let buffer = Buffer.allocUnsafe(Math.min(Math.max(size + 1, MIN_READ_BYTES), MAX_CONFIG_BYTES + 1));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > MAX_CONFIG_BYTES) break;
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, MAX_CONFIG_BYTES + 1));
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > MAX_CONFIG_BYTES) {
      throw new ConfigError('ERR_MCR_CONFIG_TOO_LARGE', `${path}: the file is over the ${MAX_CONFIG_SIZE_TEXT} limit for a config; check that this is the right file`, {
        file: path,
      });
    }
    try {
      // fatal: a config in another encoding should fail loudly, not load with U+FFFD in a name.
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length));
    } catch {
      throw new ConfigError('ERR_MCR_CONFIG_SYNTAX', `${path}: the file is not valid UTF-8; save it as UTF-8`, { file: path });
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw readError(path, err);
  } finally {
    closeSync(fd);
  }
}

function readError(path: string, err: unknown): ConfigError {
  const code = (err as { code?: unknown }).code;
  const reason = typeof code === 'string' ? code : (err as Error).message;
  const hint = code === 'EISDIR' ? 'give the path of a file, not a directory' : 'check the path and its permissions';
  return new ConfigError('ERR_MCR_CONFIG_READ', `${path}: cannot read the config file (${reason}); ${hint}`, { file: path });
}
