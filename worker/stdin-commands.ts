/**
 * Line-delimited JSON commands on stdin for the standalone relay
 * (`--stdin-commands`): {"op":"add","rule":{...}}, {"op":"remove","id":N},
 * {"op":"replace","rules":[...]}, {"op":"stats"}. Each reply is one pino line on stderr with msg "command
 * done" or "command failed", so scripts and tests can change rules while
 * traffic flows before the supervisor's control socket exists.
 */
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { Relay } from './relay.js';
import { validateRule } from '../common/rule-spec.js';

export function serveStdinCommands(relay: Relay, logger: Logger, onEnd: () => void): void {
  const lines = createInterface({ input: process.stdin });
  let seq = 0;
  lines.on('line', (line) => {
    if (line.trim().length === 0) return;
    const n = ++seq;
    void handle(relay, line).then(
      (result) => logger.info({ seq: n, ...result }, 'command done'),
      (err: Error & { code?: string }) =>
        logger.error({ seq: n, code: err.code ?? 'ERR_MCR_COMMAND', err: err.message }, 'command failed'),
    );
  });
  lines.on('close', onEnd);
}

async function handle(relay: Relay, line: string): Promise<Record<string, unknown>> {
  let cmd: { op?: unknown; rule?: unknown; rules?: unknown; id?: unknown };
  try {
    cmd = JSON.parse(line) as typeof cmd;
  } catch {
    throw Object.assign(new Error('not JSON: send one JSON object per line'), { code: 'ERR_MCR_BAD_COMMAND' });
  }
  switch (cmd.op) {
    case 'add':
      return { op: 'add', id: await relay.addRule(validateRule(cmd.rule)) };
    case 'remove':
      if (typeof cmd.id !== 'number') throw Object.assign(new Error('remove needs a numeric "id"'), { code: 'ERR_MCR_BAD_COMMAND' });
      await relay.removeRule(cmd.id);
      return { op: 'remove', id: cmd.id };
    case 'replace':
      if (!Array.isArray(cmd.rules)) throw Object.assign(new Error('replace needs a "rules" array'), { code: 'ERR_MCR_BAD_COMMAND' });
    {
      // Rules the loop could not build are left out; the answer names them with their error.
      const { ids, refused } = await relay.replaceRules(cmd.rules.map((r, i) => validateRule(r, `rules[${i}]`)));
      return { op: 'replace', ids, refused: refused.map((f) => ({ index: f.index, id: f.id, code: f.error.code, message: f.error.message })) };
    }
    case 'stats':
      return { op: 'stats', stats: relay.stats() };
    default:
      throw Object.assign(new Error('unknown op: use add, remove, replace or stats'), { code: 'ERR_MCR_BAD_COMMAND' });
  }
}
