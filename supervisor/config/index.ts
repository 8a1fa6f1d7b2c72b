/**
 * The config loader's public surface, so mcrd and mcrctl import one module:
 * load and parse, write back, the types, and the error.
 */
export { loadConfig, parseConfig, readConfigText } from './load.js';
export { formatConfig, type FormatOptions } from './save.js';
export { checkHungWorkerMs, defaultDaemonSettings, DEFAULT_HUNG_WORKER_MS, validateConfig, type Config, type ConfigRule, type ConfigToWrite, type DaemonSettings, type ValidateOptions } from './schema.js';
export { ConfigError, type ConfigErrorCode } from './errors.js';
export { parseJson5, MAX_CONFIG_BYTES, MAX_CONFIG_SIZE_TEXT, type Json5Result } from './json5-parser.js';
export { PositionTable } from './positions.js';
export { formatPath, type JsonPath, type Position } from './path.js';
