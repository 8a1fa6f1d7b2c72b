/**
 * mcrctl's command line: the commander program, one subcommand per control
 * request, each opening one connection to mcrd's socket, sending its request
 * and printing the answer as a table (default) or as JSON (--json).
 *
 * runMcrctl() takes its output functions, working directory, clock and an
 * abort signal from the caller instead of touching process.*, so the tests
 * run the real program in-process against a fake mcrd; tools/mcrctl.ts wires
 * it to the real process. It never throws: every outcome is an exit status,
 * with failures reported as one stderr line (errors.ts).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ControlClient } from '../../common/control-client.js';
import { checkText } from './check-text.js';
import { DEFAULT_CONTROL_SOCKET } from '../../common/defaults.js';
import { errorCode } from '../../common/control-errors.js';
import { packageRoot } from '../../native/package-root.js';
import { CONTROL_PROTOCOL, type Draft, type LogsRequest, type VersionResult } from '../../proto/index.js';
import { describeFailure, McrctlError, notAppliedError, usageError } from './errors.js';
import {
  renderCheck, renderLogLevels, renderLogLevelSet, renderLogLine, renderPing, renderReload, renderRemoved,
  renderRules, renderSave, renderStats, renderVersion, renderWorkers, type VersionReport,
} from './render.js';
import { ruleFromFlags, type AddFlags } from './rule-args.js';
import { addClearCommand } from './clear.js';
import { eventsOptions, runEvents, type EventsFlags } from './events.js';
import { runTop, topOptions, type TopFlags } from './top.js';
import type { TerminalStreams } from './top-terminal.js';

export interface McrctlIo {
  /** Receives everything meant for stdout, in pieces that end with a newline. */
  stdout(text: string): void;
  stderr(text: string): void;
  /** Relative --file paths are made absolute against this (mcrd's own cwd differs). Default process.cwd(). */
  cwd?: string;
  /** Milliseconds since the epoch, for uptimes. Default Date.now. */
  now?: () => number;
  /** Aborting ends `logs --follow` with status 0 and interrupts any other request. */
  signal?: AbortSignal;
  /** stdin and stdout when both are a terminal: `top` is then full screen. */
  terminal?: TerminalStreams;
}

interface GlobalOptions {
  socket: string;
  json?: boolean;
  timeout?: number;
}

/** Levels pino knows; `silent` only makes sense when setting one. */
const LOG_FILTER_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const SETTABLE_LEVELS = [...LOG_FILTER_LEVELS, 'silent'];

/** Runs one mcrctl command line (without `node` and the script) and returns its exit status. */
export async function runMcrctl(argv: readonly string[], io: McrctlIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // commander "fails" with status 0 after printing help.
    if (err instanceof CommanderError && err.exitCode === 0) return 0;
    const failure = describeFailure(err instanceof CommanderError ? commanderFailure(err, program, argv) : err);
    io.stderr(failure.line);
    return failure.exitCode;
  }
}

/** commander's own failures are all usage errors. */
function commanderFailure(err: CommanderError, program: Command, argv: readonly string[]): McrctlError {
  if (err.code === 'commander.help') {
    // A command with subcommands was given none; commander printed its help
    // to the (discarded) error stream, which would not be one line.
    const cmd = deepestCommand(program, argv);
    const path = cmd === program ? 'mcrctl' : `mcrctl ${cmd.name()}`;
    const names = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
    return usageError(`${path} needs a command: one of ${names.join(', ')}`);
  }
  // commander ends its sentences with a period; the hint follows on the same line.
  return usageError(err.message.replace(/^error: /, '').replace(/\.$/, ''));
}

function deepestCommand(program: Command, argv: readonly string[]): Command {
  let cmd = program;
  for (const arg of argv) cmd = cmd.commands.find((c) => c.name() === arg) ?? cmd;
  return cmd;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`Expected an integer ${min}..${max}`);
    return n;
  };
}

function buildProgram(io: McrctlIo): Command {
  const print = (lines: readonly string[]): void => {
    if (lines.length > 0) io.stdout(lines.join('\n') + '\n');
  };
  const printJson = (value: unknown): void => io.stdout(JSON.stringify(value, null, 2) + '\n');
  const cwd = io.cwd ?? process.cwd();
  const now = io.now ?? Date.now;

  const program = new Command('mcrctl')
    .description('Control a running mcrd (the MCR multicast relay daemon) over its control socket.')
    .option('--socket <path>', "mcrd's control socket", DEFAULT_CONTROL_SOCKET)
    .option('--json', 'print machine-readable JSON instead of tables')
    .option('--timeout <ms>', 'give up on mcrd after this many milliseconds (default: 5000 to connect, 15000 per request)', integer(1, 2_147_483_647))
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: () => undefined, outputError: () => undefined })
    .showSuggestionAfterError(true);

  // Commands are attached below; each action gets its own options, the
  // globals (which commander also accepts after the subcommand) and a session.
  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
  const connect = (cmd: Command) => session(globals(cmd), io);
  const json = (cmd: Command): boolean => globals(cmd).json === true;

  program.command('add')
    .description('add a rule to the running table and print its id')
    .requiredOption('--input-interface <if>', 'interface the datagrams arrive on')
    .requiredOption('--input-group <addr>', 'destination address or prefix to match (multicast group or unicast address, e.g. 239.1.1.1 or 239.1.0.0/16)')
    .requiredOption('--input-port <port>', 'destination UDP port to match, or any')
    .option('--source <list>', 'only match datagrams from these sources: addresses or prefixes, comma-separated')
    .option('--exclude-sources <list>', 'never match datagrams from these sources (addresses or prefixes, comma-separated)')
    .option('--join-groups <list>', 'groups of a prefix --input-group that mcrd joins, comma-separated')
    .requiredOption('--outputs <list>', 'GROUP:PORT:IF[:TTL][,GROUP:PORT:IF[:TTL]...]; GROUP or PORT = keeps the datagram\'s, a GROUP prefix maps it')
    .option('--name <name>', 'unique name, usable with remove --name')
    .option('--signal-timeout <ms>', 'stream is "down" after this many ms without a datagram (300..3600000, default 1000; 0 = not watched)')
    .option('--monitor <mode>', 'payload analysis: rtp, mpegts or rtp+mpegts (default off)')
    .action(async (flags: AddFlags, cmd: Command) => {
      const rule = ruleFromFlags(flags);
      const result = await connect(cmd)((c) => c.request({ kind: 'addRule', rule }));
      if (json(cmd)) printJson(withoutKind(result));
      else print([String(result.rule.id)]);
      for (const w of result.warnings) io.stderr(`mcrctl: warning: ${w}\n`);
      const failure = notAppliedError([result.application].filter((a) => a.refused.length > 0 || a.unconfirmed.length > 0));
      if (failure !== undefined) throw failure;
    });

  program.command('remove')
    .description('remove one rule, by id or by name')
    .option('--id <id>', 'the rule id (see list)', integer(1, 0xffffffff))
    .option('--name <name>', 'the rule name')
    .action(async (flags: { id?: number; name?: string }, cmd: Command) => {
      if ((flags.id === undefined) === (flags.name === undefined)) throw usageError('remove needs exactly one of --id and --name');
      const target = flags.id !== undefined ? { id: flags.id } : { name: flags.name ?? '' };
      const result = await connect(cmd)((c) => c.request({ kind: 'removeRule', ...target }));
      if (json(cmd)) printJson({ rule: result.rule });
      else print(renderRemoved(result));
    });

  program.command('list')
    .description('list the running rules')
    .action(async (_flags: object, cmd: Command) => {
      const result = await connect(cmd)((c) => c.requestWhole('listRules'));
      if (json(cmd)) printJson(withoutKind(result));
      else print(renderRules(result, Date.now()));
    });

  program.command('stats')
    .description('packets, bytes, rates and errors per rule and output; received, kernel drops and restarts per worker')
    .action(async (_flags: object, cmd: Command) => {
      if (json(cmd)) {
        const stats = await connect(cmd)((c) => c.requestWhole('stats'));
        printJson(withoutKind(stats));
        return;
      }
      // The table names each rule's input and outputs, which stats carry only by id.
      const [stats, list] = await connect(cmd)((c) => Promise.all([c.requestWhole('stats'), c.requestWhole('listRules')]));
      print(renderStats(stats, list.rules, Date.now()));
    });

  addClearCommand(program, { connect, json, print, printJson });

  program.command('workers')
    .description('list the worker processes')
    .action(async (_flags: object, cmd: Command) => {
      const result = await connect(cmd)((c) => c.request({ kind: 'workers' }));
      if (json(cmd)) printJson({ workers: result.workers });
      else print(renderWorkers(result, now()));
    });

  program.command('logs')
    .description("print recent log lines of mcrd's workers (mcrd's own lines go to its stdout)")
    .option('--worker <id>', 'only this worker (see workers)')
    .option('--follow', 'keep printing new lines until interrupted')
    .addOption(new Option('--level <level>', 'only lines at this level or above').choices(LOG_FILTER_LEVELS))
    .option('--lines <n>', "at most this many recent lines (default: mcrd's, 100)", integer(1, 0xffffffff))
    .action(async (flags: { worker?: string; follow?: boolean; level?: string; lines?: number }, cmd: Command) => {
      const request: Draft<LogsRequest> = { follow: flags.follow === true };
      if (flags.worker !== undefined) request.worker = flags.worker;
      if (flags.level !== undefined) request.level = flags.level;
      if (flags.lines !== undefined) request.lines = flags.lines;
      const asJson = json(cmd);
      if (flags.follow !== true) {
        const result = await connect(cmd)((c) => c.request({ kind: 'logs', ...request }));
        if (asJson) printJson({ lines: result.lines });
        else print(result.lines.map(renderLogLine));
        return;
      }
      await connect(cmd)(async (c) => {
        try {
          for await (const batch of c.stream({ kind: 'logs', ...request })) {
            // Follow output is a stream, so JSON is one compact object per line.
            print(batch.lines.map((l) => (asJson ? JSON.stringify(l) : renderLogLine(l))));
          }
        } catch (err) {
          // Interrupting is how a follow normally ends.
          if (io.signal?.aborted !== true) throw err;
        }
      });
    });

  eventsOptions(program.command('events'), integer)
    .action(async (flags: EventsFlags, cmd: Command) => {
      await connect(cmd)((c) => runEvents(c, flags, json(cmd), print, printJson, () => io.signal?.aborted === true));
    });

  topOptions(program.command('top'), integer)
    .action(async (flags: TopFlags, cmd: Command) => {
      const g = globals(cmd);
      await runTop(flags, { stdout: io.stdout, now, ...(io.signal !== undefined ? { signal: io.signal } : {}),
        ...(io.terminal !== undefined ? { terminal: io.terminal } : {}) }, { socket: g.socket, ...(g.timeout !== undefined ? { timeoutMs: g.timeout } : {}) });
    });

  const logLevel = program.command('log-level').description('show or change log levels');
  logLevel.command('get')
    .description('show the log level of mcrd and of each worker')
    .action(async (_flags: object, cmd: Command) => {
      const result = await connect(cmd)((c) => c.request({ kind: 'logLevelGet' }));
      if (json(cmd)) printJson({ level: result.level, workers: result.workers });
      else print(renderLogLevels(result));
    });
  logLevel.command('set')
    .description('set the log level of mcrd and every worker, or of one worker')
    .addArgument(new Argument('<level>', 'the new level').choices(SETTABLE_LEVELS))
    .option('--worker <id>', 'only this worker (see workers)')
    .action(async (level: string, flags: { worker?: string }, cmd: Command) => {
      const target = flags.worker !== undefined ? { worker: flags.worker } : {};
      const result = await connect(cmd)((c) => c.request({ kind: 'logLevelSet', level, ...target }));
      if (json(cmd)) printJson({ level: result.level, workers: result.workers });
      else print(renderLogLevelSet(result, flags.worker));
    });

  program.command('reload')
    .description("re-read mcrd's config file and apply the difference")
    .action(async (_flags: object, cmd: Command) => {
      const result = await connect(cmd)((c) => c.request({ kind: 'reload' }));
      if (json(cmd)) printJson(withoutKind(result));
      else print(renderReload(result));
      const failure = notAppliedError(result.problems);
      if (failure !== undefined) throw failure;
    });

  program.command('save')
    .description('write the running rules as a config file')
    .option('--file <path>', 'where to write (default: the file mcrd was started with)')
    .action(async (flags: { file?: string }, cmd: Command) => {
      // mcrd resolves relative paths against its own directory, not ours.
      const target = flags.file !== undefined ? { file: resolve(cwd, flags.file) } : {};
      const result = await connect(cmd)((c) => c.request({ kind: 'save', ...target }));
      if (json(cmd)) printJson(withoutKind(result));
      else print(renderSave(result));
    });

  program.command('check')
    .description('validate a config file without applying it')
    .requiredOption('--file <path>', 'the config file (mcrctl sends it if it can read it and it fits in a request; else mcrd reads it)')
    .action(async (flags: { file: string }, cmd: Command) => {
      const file = resolve(cwd, flags.file);
      const result = await connect(cmd)((c) => c.request({ kind: 'check', file, ...checkText(file) }));
      if (json(cmd)) printJson(withoutKind(result));
      else print(renderCheck(result));
    });

  program.command('ping')
    .description('check that mcrd answers')
    .action(async (_flags: object, cmd: Command) => {
      const result = await connect(cmd)((c) => c.request({ kind: 'ping' }));
      if (json(cmd)) printJson(withoutKind(result));
      else print(renderPing(result));
    });

  program.command('version')
    .description("print mcrctl's version and, if mcrd answers, the daemon's")
    .action(async (_flags: object, cmd: Command) => {
      const report: VersionReport = { mcrctl: ownVersion(), mcrd: null };
      try {
        report.mcrd = withoutKind(await connect(cmd)((c) => c.request({ kind: 'version' })));
      } catch (err) {
        // Knowing mcrctl's own version is useful precisely when mcrd is down.
        report.mcrdError = { code: errorCode(err) ?? 'ERR_MCR_INTERNAL', message: err instanceof Error ? err.message : String(err) };
      }
      if (json(cmd)) printJson(report);
      else print(renderVersion(report));
    });

  return program;
}

/** mcrd's answer without the protocol's `kind` tag, for --json. */
function withoutKind<T extends { kind: string }>(result: T): Omit<T, 'kind'> {
  const { kind: _kind, ...rest } = result;
  return rest;
}

function ownVersion(): VersionResult {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return { version: typeof pkg.version === 'string' ? pkg.version : 'unknown', node: process.version, protocol: CONTROL_PROTOCOL };
}

/**
 * A function running `work` on a fresh connection and closing it after,
 * whatever happens. The abort signal closes the connection, which fails
 * whatever is waiting on it; callers decide whether that was an error.
 */
function session(g: GlobalOptions, io: McrctlIo) {
  return async <T>(work: (client: ControlClient) => Promise<T>): Promise<T> => {
    const aborted = (): boolean => io.signal?.aborted === true;
    if (aborted()) throw interrupted();
    const client = new ControlClient({
      ...(g.timeout !== undefined ? { connectTimeoutMs: g.timeout, requestTimeoutMs: g.timeout } : {}),
    });
    const onAbort = (): void => void client.close();
    io.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await client.connect(g.socket);
      // The signal may have fired while connecting, before close() could act.
      if (aborted()) throw interrupted();
      return await work(client);
    } catch (err) {
      if (aborted() && !(err instanceof McrctlError)) throw interrupted();
      throw err;
    } finally {
      io.signal?.removeEventListener('abort', onAbort);
      await client.close();
    }
  };
}

function interrupted(): McrctlError {
  return new McrctlError('EINTR', 'interrupted before mcrd answered: a change may still have been applied; check with `mcrctl list`');
}
