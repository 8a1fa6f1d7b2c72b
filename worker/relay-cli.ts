#!/usr/bin/env node
/**
 * `mcr-relay`: the worker run standalone as a one-process relay. Parses the
 * command line, starts a Relay on the input interface with the given rules,
 * forwards until SIGINT/SIGTERM, then prints the final counters as one JSON
 * object on stdout and exits 0. Bad arguments exit 2 with one line on stderr;
 * a failure to start exits 1 with the error code and what to do.
 */
import { writeSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { createLogger, LOG_LEVELS } from '../common/logger.js';
import { Relay, type RelayTuning } from './relay.js';
import { RuleError, validateRule, type RuleSpec } from '../common/rule-spec.js';
import { asWritten, parseOutputList } from '../common/rule-text.js';
import { loadRulesFile } from './rules-file.js';
import { serveStdinCommands } from './stdin-commands.js';
import { isNativeError, native, type IngressMode, type LoopOptionName } from '../native/index.js';
import { addLoopSettingOptions, LOOP_SETTINGS, loopRealtimeOptions, realtimeRefusedText, sliceRefusedText, type LoopSettings } from '../common/loop-settings.js';

interface CliOptions extends LoopSettings {
  inputInterface: string;
  inputGroup?: string;
  inputPort?: string;
  source?: string;
  excludeSources?: string;
  joinGroups?: string;
  outputs?: string;
  name?: string;
  rules?: string;
  ringDepth?: number;
  batch?: number;
  bufferCount?: number;
  bufferSize?: number;
  maxInflight?: number;
  deferTaskrun: boolean;
  udpGso: boolean;
  ingress?: IngressMode;
  stdinCommands?: boolean;
  logLevel: LevelWithSilent;
}

const DRAIN_LIMIT_MS = 10_000;

/** A flag for a numeric Loop option, in the range the addon defines for it. */
function rangeArg(name: LoopOptionName) {
  return (value: string): number => {
    const { min, max } = native.loopOptionRanges()[name];
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

function parseArgs(argv: string[]): CliOptions {
  const program = new Command('mcr-relay')
    .description('Relay UDP datagrams received on one interface (AF_PACKET, no reverse-path check) to one or more outputs.')
    .requiredOption('--input-interface <if>', 'interface to receive on')
    .option('--input-group <addr>', 'destination address or prefix to match (IPv4 or IPv6, multicast group or unicast address, 239.1.0.0/16)')
    .option('--input-port <port>', 'destination UDP port to match, or any')
    .option('--source <list>', 'only match datagrams from these sources: addresses or prefixes, comma-separated')
    .option('--exclude-sources <list>', 'never match datagrams from these sources (addresses or prefixes, comma-separated)')
    .option('--join-groups <list>', 'groups of a prefix --input-group to join, comma-separated')
    .option('--outputs <list>', 'GROUP:PORT:IF[:TTL][,GROUP:PORT:IF[:TTL]...], an IPv6 GROUP in brackets: [ff3e::1]:5000:eth1; GROUP or PORT = keeps the datagram\'s')
    .option('--name <name>', 'name of the command-line rule')
    .option('--rules <file.json>', 'more rules from a JSON file (see docs/relay.md)')
    .option('--ring-depth <n>', 'io_uring submission queue entries', rangeArg('ringDepth'))
    .option('--batch <n>', 'sends per submit at most', rangeArg('batch'))
    .option('--buffer-count <n>', 'receive buffers (power of two)', rangeArg('bufferCount'))
    .option('--buffer-size <bytes>', 'receive buffer size (default: input MTU + 18, 64-byte aligned)', rangeArg('bufferSize'))
    .option('--max-inflight <n>', 'in-flight sends before receiving pauses', rangeArg('maxInflightSends'))
    .addOption(new Option('--ingress <mode>', 'ring (TPACKET_V2 mmap ring) or multishot (recv into provided buffers)').choices(['ring', 'multishot']))
    .option('--no-defer-taskrun', 'do not ask for IORING_SETUP_DEFER_TASKRUN')
    .option('--no-udp-gso', "send every datagram on its own instead of batching a flow's waiting datagrams with UDP_SEGMENT")
    .option('--stdin-commands', 'read JSON rule commands from stdin, one per line')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} });
  addLoopSettingOptions(program, (s) => `(${s.helpUnit}, 0..${s.max}, default ${s.default}${s.default === 0 ? ' = off' : ''})`);
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(0);
      usageError(err.message.replace(/^error: /, ''));
    }
    throw err;
  }
  return program.opts<CliOptions>();
}

function usageError(message: string): never {
  process.stderr.write(`mcr-relay: ${message} (see mcr-relay --help)\n`);
  process.exit(2);
}

function collectRules(opts: CliOptions): RuleSpec[] {
  const rules: RuleSpec[] = [];
  const single = [opts.inputGroup, opts.inputPort, opts.outputs];
  if (single.some((v) => v !== undefined)) {
    if (single.some((v) => v === undefined)) {
      usageError('--input-group, --input-port and --outputs go together');
    }
    rules.push(
      validateRule({
        inputGroup: opts.inputGroup,
        inputPort: opts.inputPort,
        outputs: parseOutputList(opts.outputs ?? '').map(asWritten),
        ...(opts.source !== undefined ? { source: opts.source } : {}),
        ...(opts.excludeSources !== undefined ? { excludeSources: opts.excludeSources } : {}),
        ...(opts.joinGroups !== undefined ? { joinGroups: opts.joinGroups } : {}),
        ...(opts.name !== undefined ? { name: opts.name } : {}),
      }, 'command line'),
    );
  }
  if (opts.rules !== undefined) rules.push(...loadRulesFile(opts.rules));
  if (rules.length === 0 && opts.stdinCommands !== true) {
    usageError('no rules: give --input-group/--input-port/--outputs, --rules FILE or --stdin-commands');
  }
  return rules;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  let rules: RuleSpec[];
  try {
    rules = collectRules(opts);
  } catch (err) {
    if (err instanceof RuleError) usageError(cliFieldNames(err.message));
    throw err;
  }
  const logger = createLogger(opts.logLevel, { inputInterface: opts.inputInterface });
  const tuning: RelayTuning = { deferTaskrun: opts.deferTaskrun, udpGso: opts.udpGso };
  if (opts.ringDepth !== undefined) tuning.ringDepth = opts.ringDepth;
  if (opts.batch !== undefined) tuning.batch = opts.batch;
  if (opts.bufferCount !== undefined) tuning.bufferCount = opts.bufferCount;
  if (opts.bufferSize !== undefined) tuning.bufferSize = opts.bufferSize;
  if (opts.ingress !== undefined) tuning.ingress = opts.ingress;
  for (const { key } of LOOP_SETTINGS) {
    const value = opts[key];
    if (value !== undefined) (tuning as Record<string, unknown>)[key] = value;
  }
  // "auto" (the default): SCHED_FIFO where this process's RLIMIT_RTPRIO grants it.
  Object.assign(tuning, loopRealtimeOptions(opts));
  if (opts.maxInflight !== undefined) tuning.maxInflightSends = opts.maxInflight;
  const relay = new Relay(opts.inputInterface, logger, tuning, {
    // Logged by the relay already; a relay that forwards nothing must not
    // run on. (Not fail(): its hint for the errno is about permissions.)
    onLoopEnded: (code, message) => {
      process.stderr.write(`mcr-relay: ${code}: ${message}\n`);
      process.exit(1);
    },
  });

  // Holds the event loop open while the native thread forwards.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      logger.info({ why }, 'stopping: draining in-flight sends');
      // A send stuck in the kernel must not keep the process alive forever.
      setTimeout(() => {
        logger.error({ code: 'ETIMEDOUT' }, `in-flight sends did not drain within ${DRAIN_LIMIT_MS} ms: exiting`);
        process.exit(1);
      }, DRAIN_LIMIT_MS);
      try {
        const final = await relay.stop();
        // Synchronous: the process exits right after, and a pipe write
        // through process.stdout could still be pending.
        writeSync(1, JSON.stringify(final) + '\n');
      } catch (err) {
        fail(err);
      }
      clearInterval(keepAlive);
      process.exit(0);
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping !== undefined) {
      // Second signal: the user does not want to wait for the drain.
      logger.warn({ signal }, 'second signal: exiting without waiting for the drain');
      process.exit(130);
    }
    void stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const info = relay.start();
    if (info.loopSliceRefused !== undefined) logger.warn({ code: info.loopSliceRefused.code }, sliceRefusedText(info.loopSliceRefused.message));
    if (info.loopRtRefused !== undefined) logger.warn({ code: info.loopRtRefused.code }, realtimeRefusedText(tuning.loopRtPriority ?? 0, info.loopRtRefused.message));
    for (const rule of rules) await relay.addRule(rule);
  } catch (err) {
    await relay.stop().catch(() => undefined);
    clearInterval(keepAlive);
    fail(err);
  }
  if (opts.stdinCommands === true) serveStdinCommands(relay, logger, () => void stop('stdin closed'));
  logger.info({ rules: relay.ruleIds().length }, 'relay forwarding');
}

/** Rule errors for the command-line rule name the flags, not the JSON fields. */
function cliFieldNames(message: string): string {
  return message
    .replace('command line.inputGroup', '--input-group')
    .replace('command line.inputPort', '--input-port')
    .replace('command line.source', '--source')
    .replace('command line.excludeSources', '--exclude-sources')
    .replace('command line.joinGroups', '--join-groups')
    .replace('command line.name', '--name');
}

function fail(err: unknown): never {
  if (isNativeError(err)) {
    const hint = hintFor(err.code);
    const message = err.message.startsWith(err.code) ? err.message : `${err.code}: ${err.message}`;
    process.stderr.write(`mcr-relay: ${message}${hint ? ' — ' + hint : ''}\n`);
  } else {
    process.stderr.write(`mcr-relay: ${(err as Error).message}\n`);
  }
  process.exit(1);
}

function hintFor(code: string): string {
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return 'run as root or with CAP_NET_RAW';
    case 'ENODEV':
      return 'check the interface name with `ip link`';
    case 'EADDRNOTAVAIL':
      return 'give the output interface an IPv4 address (IPv4 outputs) or set the output source to an address of this host';
    case 'EEXIST':
      return 'two rules match the same group, port and source: remove one';
    default:
      return '';
  }
}

void main();
