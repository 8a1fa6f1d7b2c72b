/**
 * Applies the supervisor's worker commands (proto/worker.proto) to a Relay
 * and builds the replies. The supervisor owns rule ids and the rule table's
 * generation and hash; the worker maps supervisor ids to its loop's ids and
 * echoes the generation and hash of the table it actually holds, so the
 * supervisor can detect drift. A failed command leaves the table unchanged.
 */
import type { Logger, LevelWithSilent } from 'pino';
import type { Relay, RuleStats as RelayRuleStats } from './relay.js';
import type { RuleSpec } from './rule-spec.js';
import { LOG_LEVELS } from './logger.js';
import type { Command, Reply, Rule, RuleStats, WorkerCounters } from '../supervisor/wire/index.js';

/** What the worker does after replying. */
export type AfterReply = 'continue' | 'exit';

function toSpec(rule: Rule): RuleSpec {
  return {
    ...(rule.name !== undefined && rule.name !== '' ? { name: rule.name } : {}),
    inputGroup: rule.inputGroup,
    inputPort: rule.inputPort,
    ...(rule.source !== undefined && rule.source !== '' ? { source: rule.source } : {}),
    outputs: rule.outputs.map((o) => ({
      group: o.group,
      port: o.port,
      interface: o.interface,
      ...(o.ttl !== undefined && o.ttl > 0 ? { ttl: o.ttl } : {}),
      ...(o.source !== undefined && o.source !== '' ? { source: o.source } : {}),
    })),
  };
}

function num(v: number | string | boolean | undefined): number {
  return typeof v === 'number' ? v : 0;
}

export class CommandHandler {
  private generation = 0;
  private hash: Uint8Array = new Uint8Array();
  /** supervisor rule id → the loop's rule id */
  private readonly ids = new Map<number, number>();

  constructor(
    private readonly relay: Relay,
    private readonly logger: Logger,
  ) {}

  async handle(command: Command): Promise<{ reply: Reply; after: AfterReply }> {
    const body = command.body;
    let after: AfterReply = 'continue';
    let stats: WorkerCounters | undefined;
    try {
      switch (body.kind) {
        case 'syncRules': {
          const loopIds = await this.relay.replaceRules(body.rules.map(toSpec));
          this.ids.clear();
          body.rules.forEach((r, i) => this.ids.set(r.id, loopIds[i] ?? 0));
          this.commit(body.generation, body.hash);
          break;
        }
        case 'addRule': {
          if (this.ids.has(body.rule.id)) throw coded('EEXIST', `rule ${body.rule.id} is already installed`);
          this.ids.set(body.rule.id, await this.relay.addRule(toSpec(body.rule)));
          this.commit(body.generation, body.hash);
          break;
        }
        case 'removeRule': {
          const loopId = this.ids.get(body.id);
          if (loopId === undefined) throw coded('ENOENT', `rule ${body.id} is not installed in this worker`);
          await this.relay.removeRule(loopId);
          this.ids.delete(body.id);
          this.commit(body.generation, body.hash);
          break;
        }
        case 'setLogLevel':
          if (!LOG_LEVELS.includes(body.level as LevelWithSilent)) {
            throw coded('ERR_MCR_BAD_LEVEL', `unknown log level "${body.level}": use one of ${LOG_LEVELS.join(', ')}`);
          }
          this.logger.level = body.level;
          break;
        case 'stop': {
          const final = await this.relay.stop();
          this.logger.info({ counters: final.loop }, 'worker stopped: final counters');
          after = 'exit';
          break;
        }
        case 'ping':
          if (body.stats === true) stats = this.counters();
          break;
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      return {
        reply: { seq: command.seq, generation: this.generation, hash: this.hash,
          error: { code: e.code ?? 'ERR_MCR_INTERNAL', message: e.message } },
        after,
      };
    }
    const reply: Reply = { seq: command.seq, generation: this.generation, hash: this.hash };
    if (stats !== undefined) reply.stats = stats;
    return { reply, after };
  }

  private commit(generation: number, hash: Uint8Array): void {
    this.generation = generation;
    this.hash = hash;
  }

  /** The worker's counters, rules keyed by supervisor id. */
  counters(): WorkerCounters {
    const { loop, rules } = this.relay.stats();
    const byLoopId = new Map<number, RelayRuleStats>(rules.map((r) => [r.id, r]));
    const malformed = Object.entries(loop)
      .filter(([name]) => name.startsWith('drop_'))
      .reduce((sum, [, v]) => sum + v, 0);
    const ruleStats: RuleStats[] = [];
    for (const [id, loopId] of this.ids) {
      const r = byLoopId.get(loopId);
      if (r === undefined) continue;
      const outputs = r.outputs.map((o) => ({ packets: num(o.packets), bytes: num(o.bytes), errors: num(o.errors) }));
      ruleStats.push({ ruleId: id, packets: r.packets, bytes: r.bytes,
        errors: outputs.reduce((s, o) => s + o.errors, 0), outputs });
    }
    return { received: loop.frames ?? 0, kernelDrops: loop.kernel_drops ?? 0, malformed,
      unmatched: loop.no_rule ?? 0, rules: ruleStats, loop: { ...loop } };
  }
}

function coded(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}
