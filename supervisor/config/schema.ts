/**
 * What an mcrd config is, and its validation: the top level, the daemon
 * settings and the rule list. The rules themselves are checked by
 * common/rule-spec.ts (validateRule), the one place that decides what a valid
 * rule is; this file adds what only a config has: the input interface, unique
 * names, no two rules matching the same traffic, no input interface past
 * its limits (common/rule-limits.ts; ENOSPC), and no unknown keys. Every
 * error is a ConfigError naming file, line, column and field, located with
 * the parser's position table.
 */
import { DEFAULT_CONTROL_SOCKET, MAX_WORKERS } from '../../common/defaults.js';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { LOG_LEVELS } from '../../common/logger.js';
import { asValid, checkInterfaceName, overlapKeys, RuleError, validateRule, type RuleSpec, type ValidRule } from '../../common/rule-spec.js';
import { checkLoopSetting, LOOP_SETTINGS, loopSettingDefaults, type LoopSettings } from '../../common/loop-settings.js';
import { ConfigError, type ConfigErrorCode } from './errors.js';
import { checkRestartBackoff, DEFAULT_RESTART_BACKOFF } from '../fleet/backoff.js';
import { HUNG_AFTER_MS } from '../fleet/fleet-options.js';
import { parseListenAddress } from '../metrics/listen-address.js';
import { formatPath, type JsonPath } from './path.js';
import { checkCpuList } from '../cpu-set.js';
import { byteLimitAdvice, checkMaxRules, DEFAULT_MAX_RULES_PER_INTERFACE, limitAdvice, ruleBytesLimit, ruleLimits, ruleWireBytes, type RuleLimits } from '../../common/rule-limits.js';
import type { PositionTable } from './positions.js';
import type { ConsumeMode } from '../net/consume-decision.js';

/** The daemon's settings; the loop settings (coalesceUs, busyPollUs, loopRtPriority, loopSliceUs) are common/loop-settings.ts's. */
export interface DaemonSettings extends Required<LoopSettings> {
  /** Path of the control socket mcrctl connects to. */
  controlSocket: string;
  /** Group the control socket is given to (mode 0660), so its members can use mcrctl. */
  socketGroup: string;
  /** Worker processes per input interface. */
  workers: number;
  /** CPU list ("1-3") the workers are pinned to; mcrd runs on the allowed CPUs left over (supervisor/cpu-set.ts). Default: every allowed CPU. */
  workerCpus: string;
  /** User the workers switch to after receiving their sockets. */
  user: string;
  logLevel: LevelWithSilent;
  /** Directory for per-worker log files; none when unset. */
  logDir: string;
  /** First delay before restarting a worker that exited, in ms. */
  restartBackoffMinMs: number;
  /** Longest such delay (the first doubles on each exit up to this), in ms. */
  restartBackoffMaxMs: number;
  /**
   * Drop relayed datagrams before the host's own IP stack sees them, on each
   * rule's input interface: "auto" per rule unless a local listener wants
   * them, true or false for every rule (docs/mcrd.md).
   */
  consumeInputs: ConsumeMode;
  /** Rules one input interface may have (outputs: 4 times as many); see common/rule-limits.ts. */
  maxRulesPerInterface: number;
  /** ADDR:PORT of the Prometheus endpoint (docs/metrics.md); none when unset: metrics off. */
  metricsListen: string;
  /** Serve metrics on a non-loopback metricsListen address (refused otherwise). */
  metricsAllowRemote: boolean;
  /** A worker whose loop's heartbeat stands still this long is killed and replaced, in ms; 0 = no watchdog. */
  hungWorkerMs: number;
}

/** A rule as a config file holds it (what formatConfig writes). */
export type ConfigRule = RuleSpec & { inputInterface: string };

/** What formatConfig writes: any rules of the model, validated or not (the file is validated when it is loaded). */
export interface ConfigToWrite {
  daemon: Partial<DaemonSettings>;
  rules: ConfigRule[];
}

export interface Config {
  /** Only the settings the file sets; see defaultDaemonSettings() for the rest. */
  daemon: Partial<DaemonSettings>;
  /** Validated by the loader: the rule table takes them as they are. */
  rules: ValidRule[];
}

/** Field names in the order save.ts writes them; also the allowed keys. */
export const TOP_LEVEL_FIELDS = ['daemon', 'rules'] as const;
export const DAEMON_FIELDS = ['controlSocket', 'workers', 'workerCpus', 'user', 'logLevel', 'logDir', 'restartBackoffMinMs', 'restartBackoffMaxMs', 'coalesceUs', 'busyPollUs', 'loopRtPriority', 'loopSliceUs', 'consumeInputs', 'maxRulesPerInterface',
  'metricsListen', 'metricsAllowRemote', 'hungWorkerMs', 'socketGroup'] as const;
export const RULE_FIELDS = ['name', 'inputInterface', 'inputGroup', 'inputPort', 'source', 'excludeSources', 'joinGroups', 'outputs', 'signalTimeoutMs', 'monitor'] as const;
export const OUTPUT_FIELDS = ['group', 'port', 'interface', 'ttl', 'source'] as const;

export { MAX_WORKERS };
/** sun_path holds 108 bytes including the terminating NUL (unix(7)). */
const MAX_SOCKET_PATH_BYTES = 107;

/** What mcrd uses for a setting neither the file nor the command line gives (no default for logDir: no files; metricsListen: no endpoint; socketGroup: mcrd's group; workerCpus: every CPU mcrd may run on). */
export function defaultDaemonSettings(): Omit<DaemonSettings, 'logDir' | 'metricsListen' | 'socketGroup' | 'workerCpus'> {
  return {
    controlSocket: DEFAULT_CONTROL_SOCKET,
    workers: Math.min(availableParallelism(), MAX_WORKERS),
    user: 'nobody',
    logLevel: 'info',
    restartBackoffMinMs: DEFAULT_RESTART_BACKOFF.minMs,
    restartBackoffMaxMs: DEFAULT_RESTART_BACKOFF.maxMs,
    ...loopSettingDefaults(),
    consumeInputs: 'auto',
    maxRulesPerInterface: DEFAULT_MAX_RULES_PER_INTERFACE,
    metricsAllowRemote: false,
    hungWorkerMs: DEFAULT_HUNG_WORKER_MS,
  };
}

/** The watchdog's default (fleet-options.ts): 15 missed turns of a loop that turns at least every 100 ms. */
export const DEFAULT_HUNG_WORKER_MS = HUNG_AFTER_MS;
const HUNG_WORKER_MIN_MS = 500;
const HUNG_WORKER_MAX_MS = 600_000;

/**
 * Checks a hung-worker threshold (daemon.hungWorkerMs, mcrd --hung-worker-ms):
 * 0 turns the watchdog off; below 500 ms a loop busy with a large rule sync
 * could be taken for hung. Returns why not, or undefined.
 */
export function checkHungWorkerMs(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && (value === 0 || (value >= HUNG_WORKER_MIN_MS && value <= HUNG_WORKER_MAX_MS))) return undefined;
  return `expected 0 (no watchdog) or an integer ${HUNG_WORKER_MIN_MS}..${HUNG_WORKER_MAX_MS} (milliseconds)`;
}

/** A validation failure before it has a location; validateConfig adds file:line:column. */
class FieldError extends Error {
  /** `path` locates the error; `field` (default: the same) is the name the message starts with. */
  constructor(
    readonly path: JsonPath,
    readonly detail: string,
    readonly field: JsonPath = path,
    readonly code: ConfigErrorCode = 'ERR_MCR_CONFIG',
  ) {
    super(detail);
  }
}

export interface ValidateOptions {
  /**
   * Hold each input interface to this many rules (and 4 times as many
   * outputs): the running mcrd's limit for a reload or a check, or the one
   * on mcrd's command line. Default: the file's own
   * daemon.maxRulesPerInterface, else 10 000.
   */
  maxRulesPerInterface?: number;
}

/**
 * Validates a parsed document (undefined for an empty file, which is a valid
 * config with no rules). `file` labels the messages.
 */
export function validateConfig(value: unknown, positions: PositionTable, file: string, options: ValidateOptions = {}): Config {
  try {
    return checkConfig(value, options);
  } catch (err) {
    if (err instanceof FieldError) throw locate(file, positions, err.path, `${formatPath(err.field)}: ${err.detail}`, err.code);
    // rule-spec messages already start with the field ("rules[0].outputs[1].ttl: ...").
    if (err instanceof RuleError) throw locate(file, positions, err.path ?? [], err.message);
    throw err;
  }
}

function locate(file: string, positions: PositionTable, path: JsonPath, message: string, code: ConfigErrorCode = 'ERR_MCR_CONFIG'): ConfigError {
  const found = positions.locate(path);
  if (!found) return new ConfigError(code, `${file}: ${message}`, { file, path });
  const { line, column } = found.position;
  return new ConfigError(code, `${file}:${line}:${column}: ${message}`, { file, line, column, path });
}

function checkConfig(value: unknown, options: ValidateOptions): Config {
  if (value === undefined) return { daemon: {}, rules: [] };
  const top = expectObject(value, [], 'an object such as { rules: [...] }');
  checkKeys(top, TOP_LEVEL_FIELDS, []);
  const daemon = top.daemon === undefined ? {} : checkDaemon(top.daemon);
  let rules: ValidRule[] = [];
  if (top.rules !== undefined) {
    if (!Array.isArray(top.rules)) throw new FieldError(['rules'], `expected an array of rules, got ${describe(top.rules)}`);
    rules = top.rules.map((rule, i) => checkRule(rule, i));
    checkUnique(rules);
    checkLimits(rules, ruleLimits(options.maxRulesPerInterface ?? daemon.maxRulesPerInterface ?? DEFAULT_MAX_RULES_PER_INTERFACE));
  }
  return { daemon, rules };
}

function checkDaemon(value: unknown): Partial<DaemonSettings> {
  const d = expectObject(value, ['daemon'], 'an object');
  checkKeys(d, DAEMON_FIELDS, ['daemon']);
  const out: Partial<DaemonSettings> = {};
  if (d.controlSocket !== undefined) out.controlSocket = checkSocketPath(d.controlSocket, ['daemon', 'controlSocket']);
  if (d.socketGroup !== undefined) {
    if (typeof d.socketGroup !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(d.socketGroup)) {
      throw new FieldError(['daemon', 'socketGroup'], `expected a group name such as "mcr", got ${describe(d.socketGroup)}`);
    }
    out.socketGroup = d.socketGroup;
  }
  if (d.workers !== undefined) {
    const w = d.workers;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > MAX_WORKERS) {
      throw new FieldError(['daemon', 'workers'], `expected an integer 1..${MAX_WORKERS}, got ${describe(w)}`);
    }
    out.workers = w;
  }
  if (d.workerCpus !== undefined) {
    const why = checkCpuList(d.workerCpus);
    if (why !== undefined) throw new FieldError(['daemon', 'workerCpus'], `${why}, got ${describe(d.workerCpus)}`);
    out.workerCpus = d.workerCpus as string;
  }
  if (d.user !== undefined) {
    if (typeof d.user !== 'string' || d.user.length === 0) {
      throw new FieldError(['daemon', 'user'], `expected a non-empty user name such as "nobody", got ${describe(d.user)}`);
    }
    out.user = d.user;
  }
  if (d.logLevel !== undefined) {
    const level = LOG_LEVELS.find((l) => l === d.logLevel);
    if (level === undefined) {
      throw new FieldError(['daemon', 'logLevel'], `expected one of ${LOG_LEVELS.join(', ')}, got ${describe(d.logLevel)}`);
    }
    out.logLevel = level;
  }
  if (d.logDir !== undefined) out.logDir = checkAbsolutePath(d.logDir, ['daemon', 'logDir'], '/var/log/mcr');
  if (d.restartBackoffMinMs !== undefined || d.restartBackoffMaxMs !== undefined) {
    // Only what the file sets is returned; the pair is checked together so
    // a maximum below the (file's or default) minimum is caught here.
    const checked = checkRestartBackoff(d.restartBackoffMinMs ?? DEFAULT_RESTART_BACKOFF.minMs, d.restartBackoffMaxMs);
    if (typeof checked === 'string') {
      const field = checked.startsWith('minimum') ? 'restartBackoffMinMs' : 'restartBackoffMaxMs';
      throw new FieldError(['daemon', field], checked.replace(/^(minimum|maximum): /, ''));
    }
    if (d.restartBackoffMinMs !== undefined) out.restartBackoffMinMs = checked.minMs;
    if (d.restartBackoffMaxMs !== undefined) out.restartBackoffMaxMs = checked.maxMs;
  }
  for (const setting of LOOP_SETTINGS) {
    const value = d[setting.key];
    if (value === undefined) continue;
    const why = checkLoopSetting(setting, value);
    if (why !== undefined) throw new FieldError(['daemon', setting.key], `${why}, got ${describe(value)}`);
    (out as Record<string, unknown>)[setting.key] = value;
  }
  if (d.consumeInputs !== undefined) {
    if (typeof d.consumeInputs !== 'boolean' && d.consumeInputs !== 'auto') {
      throw new FieldError(['daemon', 'consumeInputs'], `expected "auto", true or false, got ${describe(d.consumeInputs)}`);
    }
    out.consumeInputs = d.consumeInputs;
  }
  if (d.maxRulesPerInterface !== undefined) {
    const why = checkMaxRules(d.maxRulesPerInterface);
    if (why !== undefined) throw new FieldError(['daemon', 'maxRulesPerInterface'], `${why}, got ${describe(d.maxRulesPerInterface)}`);
    out.maxRulesPerInterface = d.maxRulesPerInterface as number;
  }
  if (d.metricsListen !== undefined) {
    // Only the form here: whether a non-loopback address may be used depends on the command line too (mcrd.ts).
    const parsed = parseListenAddress(d.metricsListen);
    if (typeof parsed === 'string') throw new FieldError(['daemon', 'metricsListen'], parsed);
    out.metricsListen = parsed.text;
  }
  if (d.hungWorkerMs !== undefined) {
    const why = checkHungWorkerMs(d.hungWorkerMs);
    if (why !== undefined) throw new FieldError(['daemon', 'hungWorkerMs'], `${why}, got ${describe(d.hungWorkerMs)}`);
    out.hungWorkerMs = d.hungWorkerMs as number;
  }
  if (d.metricsAllowRemote !== undefined) {
    if (typeof d.metricsAllowRemote !== 'boolean') {
      throw new FieldError(['daemon', 'metricsAllowRemote'], `expected true or false, got ${describe(d.metricsAllowRemote)}`);
    }
    out.metricsAllowRemote = d.metricsAllowRemote;
  }
  return out;
}

function checkAbsolutePath(value: unknown, path: JsonPath, example: string): string {
  if (typeof value !== 'string' || !isAbsolute(value) || value.includes('\0')) {
    throw new FieldError(path, `expected an absolute path such as ${example}, got ${describe(value)}`);
  }
  return value;
}

function checkSocketPath(value: unknown, path: JsonPath): string {
  const socketPath = checkAbsolutePath(value, path, DEFAULT_CONTROL_SOCKET);
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new FieldError(path, `is ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte limit of a unix socket path; choose a shorter path`);
  }
  return socketPath;
}

function checkRule(value: unknown, index: number): ValidRule {
  const path: JsonPath = ['rules', index];
  const r = expectObject(value, path, 'a rule object');
  checkKeys(r, RULE_FIELDS, path);
  const inputInterface = checkInputInterface(r.inputInterface, [...path, 'inputInterface']);
  const { inputInterface: _omitted, ...ruleOnly } = r;
  const spec = validateRule(ruleOnly, formatPath(path), path);
  // Rebuilt in RULE_FIELDS order so a loaded rule prints like the file.
  return asValid({
    ...(spec.name !== undefined ? { name: spec.name } : {}),
    inputInterface,
    inputGroup: spec.inputGroup,
    inputPort: spec.inputPort,
    ...(spec.source !== undefined ? { source: spec.source } : {}),
    ...(spec.excludeSources !== undefined ? { excludeSources: spec.excludeSources } : {}),
    ...(spec.joinGroups !== undefined ? { joinGroups: spec.joinGroups } : {}),
    outputs: spec.outputs,
    ...(spec.signalTimeoutMs !== undefined ? { signalTimeoutMs: spec.signalTimeoutMs } : {}),
    ...(spec.monitor !== undefined ? { monitor: spec.monitor } : {}),
  });
}

/** The input interface follows the same rule as an output interface (rule-spec.ts, checkInterfaceName). */
function checkInputInterface(value: unknown, path: JsonPath): string {
  if (value === undefined) throw new FieldError(path, 'missing: every rule needs the interface it receives on, e.g. inputInterface: "eth1"');
  try {
    return checkInterfaceName(value, 'inputInterface');
  } catch (err) {
    throw new FieldError(path, (err as Error).message.replace(/^inputInterface: /, ''));
  }
}

function checkUnique(rules: ConfigRule[]): void {
  const names = new Map<string, number>();
  const matches = new Map<string, number>();
  rules.forEach((rule, i) => {
    if (rule.name !== undefined) {
      const first = names.get(rule.name);
      if (first !== undefined) {
        throw new FieldError(['rules', i, 'name'], `${JSON.stringify(rule.name)} is already the name of rules[${first}]; rule names must be unique`);
      }
      names.set(rule.name, i);
    }
    // One key per source entry at the rule's precedence (rule-table.ts,
    // overlapKeys): a shared key is a duplicate or an overlap the relay
    // could not order.
    for (const match of overlapKeys(rule)) {
      const first = matches.get(match);
      if (first !== undefined) {
        const other = rules[first];
        const label = other?.name !== undefined ? ` (${JSON.stringify(other.name)})` : '';
        const same = other !== undefined && other.inputGroup === rule.inputGroup && other.inputPort === rule.inputPort && (other.source ?? '') === (rule.source ?? '');
        throw new FieldError(
          ['rules', i],
          same
            ? `matches the same traffic as rules[${first}]${label}: inputInterface ${rule.inputInterface}, ` +
              `inputGroup ${rule.inputGroup}, inputPort ${rule.inputPort === 0 ? 'any' : rule.inputPort}, ${rule.source !== undefined ? `source ${rule.source}` : 'any source'}; ` +
              'merge their outputs into one rule or remove one'
            : `overlaps rules[${first}]${label} at the same precedence (${match.split('|').slice(1).join(' ')} on ${rule.inputInterface}: ` +
              'source, group prefix and port equally specific), so neither would win: make one more specific (a longer prefix, one port) or remove one',
        );
      }
      matches.set(match, i);
    }
  });
}

/** Refuses (ENOSPC) the first rule that takes its input interface past the limits, as the rule table would. */
function checkLimits(rules: ConfigRule[], limits: RuleLimits): void {
  const counts = new Map<string, { rules: number; outputs: number; bytes: number }>();
  const bytesLimit = ruleBytesLimit(limits);
  rules.forEach((rule, i) => {
    const n = counts.get(rule.inputInterface) ?? { rules: 0, outputs: 0, bytes: 0 };
    n.rules += 1;
    n.outputs += rule.outputs.length;
    n.bytes += ruleWireBytes(rule);
    counts.set(rule.inputInterface, n);
    if (n.rules > limits.maxRules) {
      throw new FieldError(['rules', i], `input interface ${rule.inputInterface} has ${n.rules} rules up to here, one too many: ${limitAdvice(limits)}`,
        ['rules', i], 'ENOSPC');
    }
    if (n.outputs > limits.maxOutputs) {
      throw new FieldError(['rules', i], `input interface ${rule.inputInterface} has ${n.outputs} outputs up to here, over the limit: ${limitAdvice(limits)}`,
        ['rules', i], 'ENOSPC');
    }
    if (n.bytes > bytesLimit) {
      throw new FieldError(['rules', i], `input interface ${rule.inputInterface}'s rules up to here take up to ${n.bytes} bytes on its workers' command stream, over the bound: ${byteLimitAdvice(limits)}`,
        ['rules', i], 'ENOSPC');
    }
  });
}

function expectObject(value: unknown, path: JsonPath, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FieldError(path, `expected ${what}, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: JsonPath): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      // Located at the key itself, worded like rule-spec's unknown-field errors (named by the object).
      throw new FieldError([...path, key], `unknown field ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})`, path);
    }
  }
}

/** A value as a message shows it: JSON for scalars, a word for structures. */
function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value) ?? String(value);
}
