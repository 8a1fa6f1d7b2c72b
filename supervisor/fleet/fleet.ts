/**
 * The worker fleet: for every input interface that rules reference, N worker
 * processes (one per core), started with their rules, kept in step with the
 * rule table (every ack's generation and hash is checked; a worker that
 * drifted gets a full SyncRules), restarted with exponential backoff when
 * they exit (100 ms doubling to 10 s by default, see backoff.ts; reset after
 * a minute of stable run),
 * and stopped when their interface has no rules left or mcrd stops.
 *
 * Interfaces are followed at run time (the InterfaceView is fed by netlink):
 * the slots of an input interface that does not exist or is down are
 * 'waiting' (no process, a reason saying why) and start when it is up; an
 * input interface that disappears, goes down or is re-created under the same
 * name (new index: the old AF_PACKET sockets are dead) has its workers
 * stopped cleanly and parked, never restarted in a loop. When an output
 * interface appears, is re-created or changes address, the workers whose
 * rules send out of it get a full sync, which opens every egress socket
 * afresh (bound to the interface's current address).
 *
 * Changes run one at a time (a promise chain), so a netlink report, a
 * control request and a restart never act on the same slot at once.
 */
import type { Logger } from 'pino';
import { WorkerProcess } from './worker-process.js';
import { DEFAULT_RESTART_BACKOFF, type RestartBackoff } from './backoff.js';
import type { RuleTable } from '../rule-table.js';
import type { InterfaceChange } from '../net/interface-watcher.js';
import type { WorkerLogs } from '../worker-logs.js';
import type { CommandDraft, ErrorInfo, Reply, RuleApplication, WorkerCounters, WorkerInfo } from '../../proto/index.js';
import type { LoopSettings } from '../../common/loop-settings.js';
import type { WorkerSlots } from '../../common/rule-limits.js';

const READY_TIMEOUT_MS = 10_000;
const STABLE_MS = 60_000;
/** From a stop's start to SIGKILL, whatever the worker does meanwhile (docs/mcrd.md). */
const STOP_TIMEOUT_MS = 10_000;
/**
 * How long one rule change (add, remove) may wait for a worker's answer. A
 * worker that does not answer in time is reported as "not confirmed" and is
 * given a full sync with its next command, rather than holding up the
 * answer to mcrctl (and every change queued behind it).
 */
const RULE_COMMAND_TIMEOUT_MS = 3_000;
/** A full sync opens every output socket of the interface afresh: allow for 10 000 rules. */
const SYNC_TIMEOUT_MS = 10_000;

interface Slot {
  id: string;
  iface: string;
  core: number;
  worker: WorkerProcess | undefined;
  state: 'waiting' | 'starting' | 'running' | 'restarting' | 'stopping';
  /** Why the slot waits, or why its worker holds no rules; shown by `mcrctl workers`. */
  reason: string | undefined;
  restarts: number;
  backoffMs: number;
  startedAtMs: number;
  generation: number;
  logLevel: string;
  timer: NodeJS.Timeout | undefined;
  counters: WorkerCounters | undefined;
  /** Rules the running worker holds but could not apply, from its last reply. */
  refused: Map<number, ErrorInfo>;
  /** The worker did not answer a rule command: it gets a full sync with its next command. */
  needsSync: boolean;
  /** Rules whose change (or whole table, after a sync) the worker did not confirm, until a sync succeeds. */
  unconfirmed: Set<number>;
}

/** What the fleet needs to know about an interface, by name; undefined: it does not exist. */
export interface InterfaceView {
  get(name: string): { ifindex: number; up: boolean } | undefined;
}

interface InputInterface {
  slots: Slot[];
  /** Index the running workers' AF_PACKET sockets are bound to. */
  ifindex: number | undefined;
}

export interface FleetOptions {
  interfaces: InterfaceView;
  workersPerInterface: number;
  /** CPUs workers are pinned to: worker i of an interface gets cpus[i mod length]. */
  cpus: number[];
  user: string | undefined;
  logLevel: string;
  table: RuleTable;
  logs: WorkerLogs;
  logger: Logger;
  /** Workers' loop settings (coalescing, busy polling; WorkerSpec.loop). */
  loop?: LoopSettings;
  /** Counter slots each worker's loop gets, sized from the rule limits (WorkerSpec.slots); default the loop's own. */
  slots?: WorkerSlots;
  /** Restart delay bounds; default 100 ms doubling to 10 s. */
  restartBackoff?: RestartBackoff;
}

export class Fleet {
  private readonly inputs = new Map<string, InputInterface>();
  private readonly fanoutGroups = new Map<string, number>();
  private nextGroup = 0x4d00;
  private closing = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly backoff: RestartBackoff;

  constructor(private readonly o: FleetOptions) {
    this.backoff = o.restartBackoff ?? DEFAULT_RESTART_BACKOFF;
  }

  /** Brings the fleet in line with the rule table: workers for every referenced interface, none for others. */
  reconcile(): Promise<void> {
    return this.serial(async () => {
      const wanted = new Set(this.o.table.interfaces());
      for (const iface of [...this.inputs.keys()]) if (!wanted.has(iface)) await this.stopInterface(iface);
      await Promise.all([...wanted].map((iface) => this.follow(iface, true)));
    });
  }

  /**
   * Sends a rule change to the interface's workers; drifted or failed acks
   * get a full sync. A worker that does not answer within
   * RULE_COMMAND_TIMEOUT_MS is marked unconfirmed (see application()) and
   * gets a full sync instead of its next command.
   */
  broadcast(iface: string, body: CommandDraft): Promise<void> {
    return this.serial(async () => {
      const expected = this.o.table.hashFor(iface);
      await Promise.all(this.slotsOf(iface).filter((s) => s.state === 'running').map(async (slot) => {
        if (slot.needsSync) {
          await this.sync(slot).catch(() => undefined);
          return;
        }
        let reply: Reply | undefined;
        try {
          reply = await this.send(slot, body, RULE_COMMAND_TIMEOUT_MS);
        } catch (err) {
          if ((err as { code?: string }).code === 'ETIMEDOUT') {
            this.unanswered(slot, body.kind, body.kind === 'addRule' && body.rule?.id !== undefined ? [body.rule.id] : []);
            return;
          }
        }
        if (reply === undefined || reply.error !== undefined || !sameHash(reply.hash, expected)) {
          this.o.logger.warn({ worker: slot.id, error: reply?.error }, 'worker drifted from the rule table: resyncing');
          await this.sync(slot).catch(() => undefined);
        }
      }));
    });
  }

  /**
   * What the workers of a rule's input interface did with it, as far as
   * their last answers tell: applied, refused (with the worker's error), not
   * confirmed (no answer in time), or pending (no worker running now).
   */
  application(ruleId: number, iface: string): RuleApplication {
    const result: RuleApplication = { ruleId, applied: [], refused: [], unconfirmed: [], pending: [] };
    for (const slot of this.slotsOf(iface)) {
      if (slot.state !== 'running' || slot.worker === undefined) result.pending.push(slot.id);
      else if (slot.unconfirmed.has(ruleId)) result.unconfirmed.push(slot.id);
      else {
        const error = slot.refused.get(ruleId);
        if (error !== undefined) result.refused.push({ worker: slot.id, error });
        else result.applied.push(slot.id);
      }
    }
    return result;
  }

  /**
   * Follows a (debounced) netlink report: input interfaces that appeared,
   * went or changed start, park or restart their workers; the workers whose
   * rules send out of an interface that appeared, changed or got another
   * address rebuild their egress sockets through a full sync.
   */
  interfacesChanged(change: InterfaceChange): Promise<void> {
    return this.serial(async () => {
      const inputs = new Set(this.o.table.interfaces());
      const touched = new Set([...change.links, ...change.addresses]);
      const resync = new Set<string>();
      for (const rule of this.o.table.list()) {
        if (rule.outputs.some((o) => touched.has(o.interface))) resync.add(rule.inputInterface);
      }
      await Promise.all([...inputs].map(async (iface) => {
        if (change.links.has(iface)) await this.follow(iface, resync.has(iface));
        else if (resync.has(iface)) await this.syncInterface(iface);
      }));
      if (resync.size > 0) this.o.logger.info({ outputs: [...touched], inputs: [...resync] }, 'output interfaces changed: egress sockets rebuilt');
    });
  }

  async counters(): Promise<Slot[]> {
    const all = this.allSlots();
    await Promise.all(all.filter((s) => s.state === 'running').map(async (s) => {
      const reply = await this.send(s, { kind: 'ping', stats: true }, RULE_COMMAND_TIMEOUT_MS).catch(() => undefined);
      if (reply?.stats !== undefined) s.counters = reply.stats;
      // A worker that missed a rule change answers again: repair it now, not at the next change.
      if (reply !== undefined && s.needsSync) void this.serial(() => (s.state === 'running' && s.needsSync ? this.sync(s) : Promise.resolve())).catch(() => undefined);
    }));
    return all;
  }

  info(): WorkerInfo[] {
    return this.allSlots().map((s) => ({
      id: s.id, interface: s.iface, core: s.core, pid: s.worker?.pid ?? 0, state: s.state,
      restarts: s.restarts, generation: s.generation, logLevel: s.logLevel, startedAtMs: s.startedAtMs,
      ...(reasonOf(s) !== undefined ? { reason: reasonOf(s) } : {}),
    }));
  }

  async setLogLevel(level: string, workerId?: string): Promise<number> {
    const targets = this.allSlots().filter((s) => workerId === undefined || s.id === workerId);
    await Promise.all(targets.map(async (s) => {
      s.logLevel = level;
      if (s.state === 'running') await this.send(s, { kind: 'setLogLevel', level });
    }));
    return targets.length;
  }

  hasWorker(id: string): boolean {
    return this.allSlots().some((s) => s.id === id);
  }

  /**
   * Stops every worker: drain, then SIGKILL whatever is left STOP_TIMEOUT_MS
   * after the stop began. It does not queue behind changes in progress (a
   * command to a hung worker would add its own timeout); those see
   * `closing` and start nothing, and a worker one of them started anyway is
   * stopped once the queue is empty.
   */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.inputs.keys()].map((iface) => this.stopInterface(iface)));
    await this.serial(() => Promise.all([...this.inputs.keys()].map((iface) => this.stopInterface(iface))));
  }

  /** Runs fn after every change queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private allSlots(): Slot[] {
    return [...this.inputs.values()].flatMap((i) => i.slots);
  }

  private slotsOf(iface: string): Slot[] {
    return this.inputs.get(iface)?.slots ?? [];
  }

  /** Why an input interface cannot have workers now, or undefined when it can. */
  private unusable(iface: string): string | undefined {
    const link = this.o.interfaces.get(iface);
    if (link === undefined) return `interface ${iface} does not exist: workers start when it appears`;
    if (!link.up) return `interface ${iface} is down: workers start when it is up (ip link set ${iface} up)`;
    return undefined;
  }

  /**
   * Matches one input interface's slots to the interface's state: parked
   * while it is missing or down, started when it is usable, restarted when
   * it was re-created; `sync` also re-sends the rules to running workers.
   */
  private async follow(iface: string, sync: boolean): Promise<void> {
    let input = this.inputs.get(iface);
    if (input === undefined) {
      input = { slots: this.makeSlots(iface), ifindex: undefined };
      this.inputs.set(iface, input);
    }
    const reason = this.unusable(iface);
    const ifindex = this.o.interfaces.get(iface)?.ifindex;
    if (reason !== undefined) {
      await this.park(input, reason);
      return;
    }
    if (input.ifindex !== undefined && input.ifindex !== ifindex && input.slots.some((s) => s.worker !== undefined)) {
      // Re-created under the same name: the workers' sockets belong to the old index.
      await this.park(input, `interface ${iface} was re-created: restarting its workers`);
    }
    input.ifindex = ifindex;
    const waiting = input.slots.filter((s) => s.state === 'waiting');
    await Promise.all(waiting.map((s) => this.start(s).catch((err: Error & { code?: string }) => {
      this.o.logger.error({ worker: s.id, code: err.code, err: err.message }, 'worker failed to start');
    })));
    if (sync) await Promise.all(input.slots.filter((s) => s.state === 'running' && !waiting.includes(s)).map((s) => this.sync(s).catch(() => undefined)));
  }

  private makeSlots(iface: string): Slot[] {
    if (!this.fanoutGroups.has(iface)) this.fanoutGroups.set(iface, this.nextGroup++);
    const slots: Slot[] = [];
    for (let i = 0; i < this.o.workersPerInterface; i++) {
      slots.push({ id: `${iface}/${i}`, iface, core: this.o.cpus[i % this.o.cpus.length] ?? 0, worker: undefined, state: 'waiting',
        reason: undefined, restarts: 0, backoffMs: this.backoff.minMs, startedAtMs: 0, generation: 0, logLevel: this.o.logLevel,
        timer: undefined, counters: undefined, refused: new Map(), needsSync: false, unconfirmed: new Set() });
    }
    return slots;
  }

  /** Stops the interface's workers cleanly and leaves the slots waiting. */
  private async park(input: InputInterface, reason: string): Promise<void> {
    const active = input.slots.filter((s) => s.state !== 'waiting');
    await Promise.all(active.map(async (s) => {
      const had = s.worker !== undefined;
      await this.stopSlot(s);
      s.state = 'waiting';
      s.reason = reason;
      s.backoffMs = this.backoff.minMs;
      if (had) this.o.logger.info({ worker: s.id, reason }, 'worker stopped: waiting for its interface');
    }));
    for (const s of input.slots) s.reason = reason;
    input.ifindex = undefined;
  }

  private async stopInterface(iface: string): Promise<void> {
    const slots = this.slotsOf(iface);
    this.inputs.delete(iface);
    await Promise.all(slots.map((s) => this.stopSlot(s)));
  }

  /** Drain-and-stop, SIGKILL STOP_TIMEOUT_MS after the start; the slot is left 'stopping' with no worker. */
  private async stopSlot(s: Slot): Promise<void> {
    s.state = 'stopping';
    if (s.timer !== undefined) clearTimeout(s.timer);
    s.timer = undefined;
    const worker = s.worker;
    if (worker === undefined) return;
    // One deadline for the whole stop: the stop command and the exit share it.
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { deadline = setTimeout(resolve, STOP_TIMEOUT_MS, 'timeout'); });
    void this.send(s, { kind: 'stop' }, STOP_TIMEOUT_MS).catch(() => undefined);
    const done = await Promise.race([worker.exited, timedOut]);
    clearTimeout(deadline);
    if (done === 'timeout') {
      this.o.logger.warn({ worker: s.id, pid: worker.pid, timeoutMs: STOP_TIMEOUT_MS }, 'worker did not stop in time: killed');
      worker.child.kill('SIGKILL');
    }
    await worker.exited;
    worker.close();
    if (s.worker === worker) s.worker = undefined;
    s.refused.clear();
    s.needsSync = false;
    s.unconfirmed.clear();
  }

  /** A worker that did not answer a rule command: `rules` are reported as unconfirmed, the worker synced with its next command. */
  private unanswered(slot: Slot, what: string, rules: number[]): void {
    slot.needsSync = true;
    for (const id of rules) slot.unconfirmed.add(id);
    this.o.logger.warn({ worker: slot.id, command: what, timeoutMs: RULE_COMMAND_TIMEOUT_MS },
      'worker did not answer a rule change in time: not confirmed; it gets a full sync with the next change');
  }

  private async syncInterface(iface: string): Promise<void> {
    await Promise.all(this.slotsOf(iface).filter((s) => s.state === 'running').map((s) => this.sync(s).catch(() => undefined)));
  }

  private async start(slot: Slot): Promise<void> {
    slot.state = 'starting';
    slot.reason = undefined;
    slot.refused = new Map();
    slot.needsSync = false;
    slot.unconfirmed = new Set();
    let worker: WorkerProcess;
    try {
      worker = new WorkerProcess(
        { id: slot.id, interface: slot.iface, fanoutGroup: this.fanoutGroups.get(slot.iface) ?? 0, cpu: slot.core,
          logLevel: slot.logLevel, ...(this.o.user !== undefined ? { user: this.o.user } : {}),
          ...(this.o.loop !== undefined ? { loop: this.o.loop } : {}), ...(this.o.slots !== undefined ? { slots: this.o.slots } : {}) },
        (line) => {
          this.o.logs.record(slot.id, { interface: slot.iface, core: slot.core, pid: worker.pid }, line);
        },
      );
    } catch (err) {
      // No process, so no exit to restart from: decide here.
      this.noProcess(slot, err as Error & { code?: string });
      throw err;
    }
    slot.worker = worker;
    slot.startedAtMs = Date.now();
    void worker.exited.then((how) => this.onExit(slot, worker, how));
    // Ready = the first command answered: the worker reads its command
    // stream only once its loop runs and its privileges are dropped. (Not a
    // log line: at --log-level warn there would be none.)
    const ready = worker.send({ kind: 'ping', stats: false }, READY_TIMEOUT_MS)
      .then(() => 'ready', (err: { code?: string }) => (err.code === 'ETIMEDOUT' ? 'timeout' : 'exited'));
    const outcome = await Promise.race([ready, worker.exited.then(() => 'exited')]);
    if (outcome !== 'ready') {
      if (outcome === 'timeout') worker.child.kill('SIGKILL');
      throw Object.assign(new Error(`worker ${slot.id} did not become ready (${String(outcome)})`), { code: 'ERR_MCR_WORKER_START' });
    }
    // Rules before forwarding: the loop has none until this sync.
    await this.sync(slot).catch(() => undefined);
    if (slot.state === 'starting') slot.state = 'running';
    this.o.logger.info({ worker: slot.id, pid: worker.pid, core: slot.core, restarts: slot.restarts }, 'worker running');
  }

  /**
   * Sends the slot's rules. Rules the worker cannot build come back one by
   * one in the reply's `refused` (logged by noteRefusals, the others
   * forward); a refusal of the whole set is kept as the slot's reason until
   * a sync succeeds.
   */
  private async sync(slot: Slot): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.send(slot, { kind: 'syncRules', generation: this.o.table.generation,
        hash: this.o.table.hashFor(slot.iface), rules: this.o.table.forInterface(slot.iface) }, SYNC_TIMEOUT_MS);
    } catch (err) {
      if ((err as { code?: string }).code === 'ETIMEDOUT') this.unanswered(slot, 'syncRules', this.o.table.forInterface(slot.iface).map((r) => r.id));
      throw err;
    }
    slot.needsSync = false;
    slot.unconfirmed.clear();
    if (reply.error !== undefined) {
      slot.reason = `rules not applied (${reply.error.code}): ${reply.error.message}`;
      this.o.logger.error({ worker: slot.id, code: reply.error.code, err: reply.error.message },
        'worker refused its rules: they are sent again when an interface changes, on reload or on the next rule change');
      throw Object.assign(new Error(`worker ${slot.id} refused its rules: ${reply.error.message}`), { code: reply.error.code });
    }
    slot.reason = undefined;
  }

  private async send(slot: Slot, body: CommandDraft, timeoutMs?: number): Promise<Reply> {
    if (slot.worker === undefined) throw Object.assign(new Error(`worker ${slot.id} is not running`), { code: 'ESRCH' });
    const reply = await slot.worker.send(body, timeoutMs);
    slot.generation = reply.generation;
    this.noteRefusals(slot, reply);
    return reply;
  }

  /** Keeps the worker's refused rules and logs each change, naming rules by the ids mcrctl shows. */
  private noteRefusals(slot: Slot, reply: Reply): void {
    const now = new Map(reply.refused.map((r) => [r.ruleId, r.error]));
    for (const [id, error] of now) {
      if (slot.refused.get(id)?.code === error.code) continue;
      const rule = this.o.table.get(id);
      this.o.logger.error({ worker: slot.id, rule: id, name: rule?.name, code: error.code, err: error.message },
        'worker refused a rule: it is not forwarded, the other rules are; it is tried again on reload, on an interface change or a worker restart');
    }
    for (const id of slot.refused.keys()) {
      if (!now.has(id) && this.o.table.get(id) !== undefined) this.o.logger.info({ worker: slot.id, rule: id }, 'worker applied a rule it had refused');
    }
    slot.refused = now;
  }

  /** A start that failed before any process existed: park if the interface is the cause, else back off and retry. */
  private noProcess(slot: Slot, err: Error & { code?: string }): void {
    const reason = this.unusable(slot.iface) ?? (err.code === 'ENODEV' ? `interface ${slot.iface} does not exist: workers start when it appears` : undefined);
    if (reason !== undefined) {
      slot.state = 'waiting';
      slot.reason = reason;
      return;
    }
    slot.reason = `start failed (${err.code ?? 'ERR_MCR_WORKER_START'}): ${err.message}`;
    this.scheduleRestart(slot);
  }

  private onExit(slot: Slot, worker: WorkerProcess, how: { code: number | null; signal: NodeJS.Signals | null }): void {
    worker.close();
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    if (this.closing || slot.state === 'stopping' || slot.state === 'waiting') return;
    const reason = this.unusable(slot.iface);
    if (reason !== undefined) {
      // The interface went away under the worker: wait for it, do not restart in a loop.
      slot.state = 'waiting';
      slot.reason = reason;
      this.o.logger.info({ worker: slot.id, code: how.code, signal: how.signal, reason }, 'worker exited: waiting for its interface');
      return;
    }
    if (Date.now() - slot.startedAtMs > STABLE_MS) slot.backoffMs = this.backoff.minMs;
    slot.restarts++;
    this.o.logger.warn({ worker: slot.id, code: how.code, signal: how.signal, restartInMs: slot.backoffMs }, 'worker exited: restarting');
    this.scheduleRestart(slot);
  }

  private scheduleRestart(slot: Slot): void {
    slot.state = 'restarting';
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      void this.serial(async () => {
        if (this.closing || slot.state !== 'restarting' || !this.slotsOf(slot.iface).includes(slot)) return;
        const reason = this.unusable(slot.iface);
        if (reason !== undefined) {
          slot.state = 'waiting';
          slot.reason = reason;
          return;
        }
        await this.start(slot).catch((err: Error & { code?: string }) =>
          this.o.logger.error({ worker: slot.id, code: err.code, err: err.message }, 'worker restart failed'));
      });
    }, slot.backoffMs);
    slot.backoffMs = Math.min(this.backoff.maxMs, slot.backoffMs * 2);
  }
}

/** Why `mcrctl workers` should look at a slot: its own reason, then the rules its worker refused. */
function reasonOf(s: Slot): string | undefined {
  const parts: string[] = [];
  if (s.reason !== undefined) parts.push(s.reason);
  if (s.needsSync) parts.push(`did not answer a rule change in time${s.unconfirmed.size > 0 ? ` (rules ${[...s.unconfirmed].slice(0, 5).join(', ')} not confirmed)` : ''}: gets a full sync with the next change or stats request`);
  if (s.refused.size > 0) {
    const first = [...s.refused].slice(0, 3).map(([id, e]) => `rule ${id} (${e.code}: ${e.message})`);
    parts.push(`${s.refused.size} rule${s.refused.size === 1 ? '' : 's'} refused: ${first.join('; ')}${s.refused.size > 3 ? '; ...' : ''}`);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
