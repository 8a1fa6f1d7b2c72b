/**
 * `mcrctl clear [RULE] [--name NAME]`: sets counters back to zero on
 * purpose: one rule's (by id, or by name), or, with neither, every rule's
 * and every input interface's. mcrd logs each clear at info with the
 * caller this command names (user and pid, as the client says; mcrd cannot
 * check it). Rates are not disturbed: mcrd measures them on totals a clear
 * does not touch. Prometheus sees a clear as a counter reset
 * (docs/metrics.md).
 */
import { userInfo } from 'node:os';
import { Argument, type Command } from 'commander';
import type { ControlClient } from '../../common/control-client.js';
import type { ClearResult } from '../../proto/index.js';
import { usageError } from './errors.js';

export interface ClearCommandContext {
  connect: (cmd: Command) => <T>(work: (client: ControlClient) => Promise<T>) => Promise<T>;
  json: (cmd: Command) => boolean;
  print: (lines: readonly string[]) => void;
  printJson: (value: unknown) => void;
}

/** Who runs this command, for mcrd's log: "user NAME, pid N" (the name may be unknown in a container). */
function caller(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = `uid ${process.getuid?.() ?? '?'}`;
  }
  return `mcrctl, user ${user}, pid ${process.pid}`;
}

export function renderClear(result: Omit<ClearResult, 'kind'>, all: boolean): string[] {
  if (!all) return result.ruleIds.map((id) => `counters of rule ${id} cleared`);
  const rules = result.ruleIds.length;
  const inputs = result.inputs.length;
  return [`counters cleared: ${rules} rule${rules === 1 ? '' : 's'}, ${inputs} input interface${inputs === 1 ? '' : 's'}`];
}

export function addClearCommand(program: Command, c: ClearCommandContext): void {
  program.command('clear')
    .description('set counters to zero: one rule (by id or --name), or every rule and input interface')
    .addArgument(new Argument('[rule]', 'the rule id (see list); without it and --name, everything'))
    .option('--name <name>', 'the rule name')
    .action(async (rule: string | undefined, flags: { name?: string }, cmd: Command) => {
      if (rule !== undefined && flags.name !== undefined) throw usageError('clear takes a rule id or --name, not both');
      if (rule !== undefined && (!/^\d+$/.test(rule) || Number(rule) < 1 || Number(rule) > 0xffffffff)) {
        throw usageError(`rule id "${rule}" is not an integer 1..4294967295 (a name goes with --name)`);
      }
      const target = rule !== undefined ? { id: Number(rule) } : flags.name !== undefined ? { name: flags.name } : {};
      const result = await c.connect(cmd)((client) => client.request({ kind: 'clear', ...target, caller: caller() }));
      const { kind: _kind, ...rest } = result;
      if (c.json(cmd)) c.printJson(rest);
      else c.print(renderClear(rest, rule === undefined && flags.name === undefined));
    });
}
