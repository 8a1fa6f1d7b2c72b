/**
 * Commands to one slot's worker and what their answers tell about it: every
 * answer records the generation and table hash the worker holds and the
 * rules it refused (slot.ts, noteRefusals); a full sync sends the slot's
 * interface's rules as the table has them now, and a refusal of the whole
 * set becomes the slot's reason; a rule change not answered in time is
 * remembered (unconfirmed, and a full sync with the next change); behind()
 * says whether a running worker needs that sync. The fleet (fleet.ts)
 * decides when each is sent, in its chain of changes; this class does not
 * queue.
 */
import type { Logger } from 'pino';
import type { RuleTable } from '../rule-table.js';
import type { CommandDraft, Reply } from '../../proto/index.js';
import type { FleetTiming } from './fleet-options.js';
import { noteRefusals, type Slot } from './slot.js';

export class SlotCommands {
  constructor(private readonly table: RuleTable, private readonly t: FleetTiming, private readonly logger: Logger) {}

  /** Sends one command to the slot's worker and notes what the answer says of the rules it holds. */
  async send(slot: Slot, body: CommandDraft, timeoutMs?: number): Promise<Reply> {
    if (slot.worker === undefined) throw Object.assign(new Error(`worker ${slot.id} is not running`), { code: 'ESRCH' });
    const reply = await slot.worker.send(body, timeoutMs);
    slot.generation = reply.generation;
    slot.hash = reply.hash;
    noteRefusals(slot, reply, this.table, this.logger);
    return reply;
  }

  /**
   * Sends the slot's rules. Rules the worker cannot build come back one by
   * one in the reply's `refused` (logged by noteRefusals, the others
   * forward); a refusal of the whole set is kept as the slot's reason until
   * a sync succeeds.
   */
  async sync(slot: Slot): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.send(slot, { kind: 'syncRules', generation: this.table.generation,
        hash: this.table.hashFor(slot.iface), rules: this.table.forInterface(slot.iface) }, this.t.syncTimeoutMs);
    } catch (err) {
      if ((err as { code?: string }).code === 'ETIMEDOUT') this.unanswered(slot, 'syncRules', this.table.forInterface(slot.iface).map((r) => r.id));
      throw err;
    }
    slot.needsSync = false;
    slot.unconfirmed.clear();
    if (reply.error !== undefined) {
      slot.reason = `rules not applied (${reply.error.code}): ${reply.error.message}`;
      this.logger.error({ worker: slot.id, code: reply.error.code, err: reply.error.message },
        'worker refused its rules: they are sent again when an interface changes, on reload or on the next rule change');
      throw Object.assign(new Error(`worker ${slot.id} refused its rules: ${reply.error.message}`), { code: reply.error.code });
    }
    slot.reason = undefined;
  }

  /** A worker that did not answer a rule command: `rules` are reported as unconfirmed, the worker synced with its next command. */
  unanswered(slot: Slot, what: string, rules: number[]): void {
    slot.needsSync = true;
    for (const id of rules) slot.unconfirmed.add(id);
    this.logger.warn({ worker: slot.id, command: what, timeoutMs: what === 'syncRules' ? this.t.syncTimeoutMs : this.t.ruleCommandTimeoutMs },
      'worker did not answer a rule change in time: not confirmed; it gets a full sync with the next change');
  }

  /**
   * Whether a running worker needs a full sync to hold its interface's rules
   * as the table has them: its last answer named another table, it did not
   * answer a change, or it refused rules (some, or the whole set) that a
   * sync tries again.
   */
  behind(s: Slot): boolean {
    return s.hash === undefined || !sameHash(s.hash, this.table.hashFor(s.iface)) || s.needsSync || s.refused.size > 0 || s.reason !== undefined;
  }

  /** Tells a worker that started with `spawnedLevel` the level set since; one it refuses leaves the slot at the level it runs with. */
  async sendLevel(slot: Slot, spawnedLevel: string): Promise<void> {
    const level = slot.logLevel;
    // A worker that does not answer is left at the level shown: a restart spawns it with that.
    const took = await this.setLevel(slot, level, this.t.ruleCommandTimeoutMs).catch(() => true);
    if (!took && slot.logLevel === level) slot.logLevel = spawnedLevel;
  }

  /** Asks the slot's worker to log at `level`: whether it took it (a refusal is logged); rejects when it does not answer. */
  async setLevel(slot: Slot, level: string, timeoutMs?: number): Promise<boolean> {
    const reply = await this.send(slot, { kind: 'setLogLevel', level }, timeoutMs);
    if (reply.error === undefined) return true;
    this.logger.warn({ worker: slot.id, level, code: reply.error.code, err: reply.error.message }, 'worker refused the log level: it keeps its own');
    return false;
  }
}

export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
