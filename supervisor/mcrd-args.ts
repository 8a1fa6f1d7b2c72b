/**
 * mcrd's command line: the options, their checks (each with the range or
 * form it expects), `--version`, and how a loop setting is chosen among the
 * flag, the config file and the default. A bad argument exits 2 with one
 * line naming it.
 *
 *   mcrd [--config FILE] [--control-socket PATH] [--socket-group GROUP] [--workers N] [--worker-cpus LIST] [--user USER]
 *        [--log-level L] [--log-dir DIR] [--restart-backoff MIN_MS[:MAX_MS]] [--consume-inputs[=auto|on|off] | --no-consume-inputs]
 *        [--max-rules-per-interface N] [--metrics-listen ADDR:PORT [--metrics-allow-remote]] [--hung-worker-ms MS]
 *        [--coalesce-us US] [--busy-poll-us auto|US] [--loop-rt-priority auto|N]
 *   mcrd --version
 *   mcrd --check-host [--config FILE] [--json]     (docs/host-check.md)
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import { DEFAULT_CONTROL_SOCKET } from '../common/defaults.js';
import { LOG_LEVELS } from '../common/logger.js';
import { addLoopSettingOptions, LOOP_SETTINGS, type LoopSettings } from '../common/loop-settings.js';
import { checkMaxRules } from '../common/rule-limits.js';
import { checkHungWorkerMs } from './config/index.js';
import { checkCpuList } from './cpu-set.js';
import { parseRestartBackoff, type RestartBackoff } from './fleet/backoff.js';
import { parseListenAddress } from './metrics/listen-address.js';
import type { ConsumeMode } from './net/consume-decision.js';

export interface Options extends LoopSettings {
  config?: string;
  controlSocket?: string;
  socketGroup?: string;
  workers?: number;
  workerCpus?: string;
  user?: string;
  logLevel?: LevelWithSilent;
  logDir?: string;
  restartBackoff?: RestartBackoff;
  consumeInputs?: ConsumeMode;
  maxRulesPerInterface?: number;
  metricsListen?: string;
  metricsAllowRemote?: boolean;
  hungWorkerMs?: number;
  checkHost?: boolean;
  json?: boolean;
}

export function parse(argv: string[]): Options {
  const program = new Command('mcrd')
    .description('MCR supervisor: rule table, worker fleet, control socket.')
    .option('--config <file>', 'JSON5 config file (docs/config.md)')
    .version(packageVersion(), '--version', "print mcrd's version")
    .option('--control-socket <path>', `control socket (default ${DEFAULT_CONTROL_SOCKET})`)
    .option('--socket-group <group>', 'give the control socket (mode 0660) to this group, so its members can use mcrctl (default: mcrd\'s group)')
    .option('--workers <n>', 'workers per input interface (default: one per core)', (v) => {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < 1 || n > 256) throw new InvalidArgumentError('expected an integer 1..256');
      return n;
    })
    .option('--worker-cpus <list>', 'CPUs the workers are pinned to, e.g. 1-3 (default: every CPU mcrd may run on); mcrd itself then runs on the ones left', (v) => {
      const why = checkCpuList(v);
      if (why !== undefined) throw new InvalidArgumentError(why);
      return v;
    })
    .option('--user <user>', 'user the workers switch to (default nobody)')
    .addOption(new Option('--log-level <level>', 'log level (default info)').choices(LOG_LEVELS))
    .option('--log-dir <dir>', 'also write each worker\'s log lines to DIR/<worker>.log')
    .option('--restart-backoff <min_ms[:max_ms]>', 'delay before restarting an exited worker, doubling from MIN to MAX (default 100:10000)', (v) => {
      const parsed = parseRestartBackoff(v);
      if (typeof parsed === 'string') throw new InvalidArgumentError(parsed);
      return parsed;
    })
    .addOption(new Option('--consume-inputs [mode]', "drop relayed datagrams on the input interface right after the workers' capture, " +
      "before the host's own IP stack: auto (default: each rule unless a local socket listens to its group or port), on (every rule; " +
      'the flag alone means on) or off').argParser(parseConsumeMode))
    .option('--no-consume-inputs', 'the same as --consume-inputs=off')
    .option('--max-rules-per-interface <n>', 'rules one input interface may have, outputs 4 times as many (default 10000)', (v) => {
      const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
      const why = checkMaxRules(n);
      if (why !== undefined) throw new InvalidArgumentError(why);
      return n;
    })
    .option('--metrics-listen <addr:port>', 'serve Prometheus metrics at http://ADDR:PORT/metrics (docs/metrics.md; default off)', (v) => {
      const parsed = parseListenAddress(v);
      if (typeof parsed === 'string') throw new InvalidArgumentError(parsed);
      return v;
    })
    .option('--hung-worker-ms <ms>', 'kill and replace a worker whose loop makes no progress this long (default 1500; 0 = no watchdog)', (v) => {
      const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
      const why = checkHungWorkerMs(n);
      if (why !== undefined) throw new InvalidArgumentError(why);
      return n;
    })
    .option('--check-host', 'check this host for what MCR needs (buffers, rings, offloads, io_uring, locked memory) for the config\'s interfaces, print each problem with its fix, and exit: 0 all pass, 1 otherwise')
    .option('--json', 'with --check-host: the findings as JSON')
    .option('--metrics-allow-remote', 'allow --metrics-listen on an address other than loopback (the endpoint has no authentication)')
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  addLoopSettingOptions(program, (s) => `(each worker's loop; ${s.helpUnit}, 0..${s.max}, default ${s.default}${s.default === 0 ? ' = off' : ''})`);
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(0);
      process.stderr.write(`mcrd: ${err.message.replace(/^error: /, '')} (see mcrd --help)\n`);
      process.exit(2);
    }
    throw err;
  }
  return program.opts<Options>();
}

/** --consume-inputs's value: auto, on/true, off/false. */
function parseConsumeMode(v: string): ConsumeMode {
  switch (v) {
    case 'auto': return 'auto';
    case 'on': case 'true': return true;
    case 'off': case 'false': return false;
    default: throw new InvalidArgumentError('expected auto, on or off');
  }
}

/** Each loop setting from the command line, else the config file, else the default. */
export function loopSettings(opts: Options, file: Partial<LoopSettings>, defaults: Required<LoopSettings>): LoopSettings {
  const out: LoopSettings = {};
  // Each value passed its setting's check (flag or config), "auto" only where accepted.
  for (const { key } of LOOP_SETTINGS) (out as Record<string, unknown>)[key] = opts[key] ?? file[key] ?? defaults[key];
  return out;
}

export function packageVersion(): string {
  const pkg = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}
