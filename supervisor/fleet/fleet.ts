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
 * control request, a worker's exit and a restart never act on the same
 * slot at once: a worker's exit is handled in the chain too, after the
 * change in progress. Until then the dead worker is `connected: false`:
 * commands to it fail at once and application() counts it as pending, so
 * a change in progress neither waits for it nor reports it as applied.
 * Only close() acts outside the chain (see there).
 *
 * A watchdog (watchdog.ts) kills a worker whose loop's heartbeat stands
 * still (hung); its exit is then handled here like a crash, told as what it
 * was (slot.verdict). The commands to one worker and what their answers say
 * are slot-commands.ts's; what follows an exit, slot-exit.ts's.
 *
 * Worker processes are started through FleetOptions.startWorker (a
 * WorkerProcess by default) and time limits come from FleetOptions.timing,
 * so the state machine has unit tests with fake workers
 * (tests/unit/fleet-*.test.ts).
 */
import { WorkerProcess, type FleetWorker, type WorkerExit } from './worker-process.js';
import { DEFAULT_FLEET_TIMING, type FleetOptions, type FleetTiming, type InputInterface, type StartWorker } from './fleet-options.js';
import { describeExit, fatalText, lastWords, newSlot, noteStderr, slotInfo, slotsApplication, stopSlotWorker,
  type Slot } from './slot.js';
import { sameHash, SlotCommands } from './slot-commands.js';
import { afterExit } from './slot-exit.js';
import { DEFAULT_RESTART_BACKOFF, type RestartBackoff } from './backoff.js';
import type { InterfaceChange } from '../net/interface-watcher.js';
import { canonicalAddress } from '../../common/address-prefix.js';
import type { CommandDraft, Reply, RuleApplication, RuleArrivals, WorkerInfo } from '../../proto/index.js';
import { loopThreadPolicy, loopThreadState } from './loop-thread.js';
import { Watchdog } from './watchdog.js';
import { FanoutGroups } from './fanout-groups.js';
import { NO_EVENTS, type EventSink } from '../events/event-kinds.js';
import { errorReason } from '../../common/control-errors.js';

export type { FleetOptions, InterfaceView } from './fleet-options.js';

export class Fleet {
  private readonly inputs = new Map<string, InputInterface>();
  private readonly fanoutGroups = new FanoutGroups();
  private closing = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** Stops in progress, by worker (stopSlot). */
  private readonly stops = new WeakMap<FleetWorker, Promise<void>>();
  private readonly backoff: RestartBackoff;
  private readonly t: FleetTiming;
  private readonly startWorker: StartWorker;
  private readonly watchdog: Watchdog;
  private readonly events: EventSink;
  private readonly cmd: SlotCommands;

  constructor(private readonly o: FleetOptions) {
    this.events = o.events ?? NO_EVENTS;
    this.backoff = o.restartBackoff ?? DEFAULT_RESTART_BACKOFF;
    this.t = { ...DEFAULT_FLEET_TIMING, ...o.timing };
    this.startWorker = o.startWorker ?? ((spec, onLine) => new WorkerProcess(spec, onLine));
    this.cmd = new SlotCommands(o.table, this.t, o.logger);
    this.watchdog = new Watchdog(this.t, () => this.allSlots(), o.loopState ?? loopThreadState, o.logger);
  }

  /**
   * Brings the fleet in line with the rule table: workers for every
   * referenced interface (a new one's start with their rules), none for
   * others. A running worker gets a full sync only when it needs one
   * (behind()): its interface's rules changed, it missed a change, or it
   * holds rules it refused (tried again, so a reload retries them). The
   * workers of an interface whose rules did not change are left alone: a
   * reload that changes nothing syncs none, and the first rule of an
   * interface starts its workers only.
   */
  reconcile(): Promise<void> {
    return this.serial(async () => {
      const wanted = new Set(this.o.table.interfaces());
      for (const iface of [...this.inputs.keys()]) if (!wanted.has(iface)) await this.stopInterface(iface);
      await Promise.all([...wanted].map(async (iface) => {
        await this.follow(iface, false);
        if (this.closing) return;
        await Promise.all(this.slotsOf(iface).filter((s) => s.state === 'running' && this.cmd.behind(s)).map((s) => this.cmd.sync(s).catch(() => undefined)));
      }));
    });
  }

  /**
   * Sends a rule change to the interface's workers; drifted or failed acks
   * get a full sync. An ack is in step when it echoes the hash this change
   * carried (body.hash, what the worker commits), not the table's hash when
   * the step runs: changes to one interface handled at once each queue a
   * step after the table took them all, so an earlier step would see a
   * later hash and "repair" a worker that was fine. An ack that says the
   * worker holds the table as it is now is in step too, whatever it says
   * of the command: a sync queued before this change (a start, another
   * interface's reconcile) already gave it the rule, and the worker answers
   * the add with EEXIST. A worker that does not answer within
   * RULE_COMMAND_TIMEOUT_MS is marked unconfirmed (see application()) and
   * gets a full sync instead of its next command. A worker that died is
   * left to its exit handling: its replacement gets a full sync.
   */
  broadcast(iface: string, body: CommandDraft): Promise<void> {
    return this.serial(async () => {
      const sent = ('hash' in body ? body.hash : undefined) ?? this.o.table.hashFor(iface);
      await Promise.all(this.slotsOf(iface).filter((s) => s.state === 'running').map(async (slot) => {
        if (slot.needsSync) {
          await this.cmd.sync(slot).catch(() => undefined);
          return;
        }
        let reply: Reply | undefined;
        try {
          reply = await this.cmd.send(slot, body, this.t.ruleCommandTimeoutMs);
        } catch (err) {
          if ((err as { code?: string }).code === 'ETIMEDOUT') {
            this.cmd.unanswered(slot, body.kind, body.kind === 'addRule' && body.rule?.id !== undefined ? [body.rule.id] : []);
            return;
          }
          if (slot.worker?.connected !== true) return;
        }
        const inStep = reply !== undefined && ((reply.error === undefined && sameHash(reply.hash, sent)) || sameHash(reply.hash, this.o.table.hashFor(iface)));
        if (!inStep) {
          this.o.logger.warn({ worker: slot.id, error: reply?.error }, 'worker drifted from the rule table: resyncing');
          await this.cmd.sync(slot).catch(() => undefined);
        }
      }));
    });
  }

  /**
   * What the workers of a rule's input interface did with it, as far as
   * their last answers tell (slot.ts, slotsApplication).
   */
  application(ruleId: number, iface: string): RuleApplication {
    return slotsApplication(this.slotsOf(iface), ruleId);
  }

  /**
   * Follows a (debounced) netlink report: input interfaces that appeared,
   * went or changed start, park or restart their workers; the workers whose
   * rules send out of an interface that appeared, changed or got another
   * address, or from a `source` address that came or went on any
   * interface, rebuild their egress sockets through a full sync.
   */
  interfacesChanged(change: InterfaceChange): Promise<void> {
    return this.serial(async () => {
      const inputs = new Set(this.o.table.interfaces());
      const touched = new Set([...change.links, ...change.addresses]);
      const moved = change.addressTexts ?? new Set<string>();
      const resync = new Set<string>();
      for (const rule of this.o.table.list()) {
        // An output's source address that came or went, wherever it lives
        // (a VIP on lo changes no output interface): an output built dead
        // while it was missing (EADDRNOTAVAIL) is built again with it.
        if (rule.outputs.some((o) => touched.has(o.interface) || (o.source !== undefined && moved.size > 0 && moved.has(canonicalAddress(o.source))))) {
          resync.add(rule.inputInterface);
        }
      }
      await Promise.all([...inputs].map(async (iface) => {
        if (change.links.has(iface)) await this.follow(iface, resync.has(iface));
        else if (resync.has(iface)) await this.syncInterface(iface);
      }));
      if (resync.size > 0) {
        this.o.logger.info({ outputs: [...touched], ...(moved.size > 0 ? { addresses: [...moved] } : {}), inputs: [...resync] },
          'output interfaces or source addresses changed: egress sockets rebuilt');
      }
    });
  }

  async counters(): Promise<Slot[]> {
    const all = this.allSlots();
    await Promise.all(all.filter((s) => s.state === 'running').map(async (s) => {
      const reply = await this.cmd.send(s, { kind: 'ping', stats: true }, this.t.ruleCommandTimeoutMs).catch(() => undefined);
      if (reply?.stats !== undefined) {
        s.counters = reply.stats;
        s.countersAtMs = performance.now();
      }
      // A worker that missed a rule change answers again: repair it now, not at the next change.
      if (reply !== undefined && s.needsSync) void this.serial(() => (s.state === 'running' && s.needsSync ? this.cmd.sync(s) : Promise.resolve())).catch(() => undefined);
    }));
    return all;
  }

  /**
   * Each running worker's last arrival per rule (Ping.arrivals), for the
   * stream watch: a few bytes per rule instead of every counter. A worker
   * that does not answer in time is left out of this round.
   */
  async arrivals(): Promise<RuleArrivals[]> {
    const running = this.allSlots().filter((s) => s.state === 'running');
    const replies = await Promise.all(running.map((s) =>
      this.cmd.send(s, { kind: 'ping', arrivals: true }, this.t.ruleCommandTimeoutMs).catch(() => undefined)));
    return replies.flatMap((r) => (r?.arrivals !== undefined ? [r.arrivals] : []));
  }

  info(): WorkerInfo[] {
    return this.allSlots().map((s) => slotInfo(s, this.o.loopPolicy ?? loopThreadPolicy));
  }

  /**
   * Sets the log level of every worker, or of one; resolves with how many
   * took it. A running worker is told at once, and a level it refuses
   * (ERR_MCR_BAD_LEVEL) is neither kept for it nor counted. Any other slot
   * keeps the level for its worker: one starting (spawned with the level
   * before) is told once it runs (start()), one waiting or restarting is
   * spawned with it.
   */
  async setLogLevel(level: string, workerId?: string): Promise<number> {
    const targets = this.allSlots().filter((s) => workerId === undefined || s.id === workerId);
    const took = await Promise.all(targets.map(async (s) => {
      if (s.state !== 'running' || s.worker?.connected !== true) {
        s.logLevel = level;
        return true;
      }
      let took: boolean;
      try {
        took = await this.cmd.setLevel(s, level);
      } catch (err) {
        // Died (or hung) meanwhile: its replacement is spawned with the level asked for.
        s.logLevel = level;
        throw err;
      }
      if (took) s.logLevel = level;
      return took;
    }));
    return took.filter((t) => t).length;
  }

  hasWorker(id: string): boolean {
    return this.allSlots().some((s) => s.id === id);
  }

  /**
   * Stops every worker: drain, then SIGKILL whatever is left STOP_TIMEOUT_MS
   * after the stop began. It does not queue behind changes in progress (a
   * command to a hung worker would add its own timeout); those see
   * `closing` and start nothing, and a worker one of them started anyway is
   * stopped once the queue is empty. The watchdog stops first: a worker
   * that is draining stops beating, and a hung one is killed by the stop's
   * own deadline. A follow() in progress checks `closing` after each step
   * it waits for, so a worker it would have started is never started.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.watchdog.stop();
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
    if (this.closing) return;
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
    // close() may have begun during the park (it is not queued): start nothing after it.
    if (this.closing) return;
    input.ifindex = ifindex;
    const waiting = input.slots.filter((s) => s.state === 'waiting');
    await Promise.all(waiting.map((s) => this.start(s).catch((err: Error & { code?: string }) => {
      this.o.logger.error({ worker: s.id, code: err.code, err: err.message }, 'worker failed to start');
    })));
    if (sync && !this.closing) await Promise.all(input.slots.filter((s) => s.state === 'running' && !waiting.includes(s)).map((s) => this.cmd.sync(s).catch(() => undefined)));
  }

  private makeSlots(iface: string): Slot[] {
    this.fanoutGroups.idFor(iface);
    const slots: Slot[] = [];
    for (let i = 0; i < this.o.workersPerInterface; i++) {
      slots.push(newSlot(iface, i, this.o.cpus[i % this.o.cpus.length] ?? 0, this.backoff.minMs, this.o.logLevel));
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
    // Its workers have exited, and their sockets left the group with them;
    // unless a rule brought the interface back meanwhile, the id is free.
    if (!this.inputs.has(iface)) this.fanoutGroups.release(iface);
  }

  /**
   * Drain-and-stop, SIGKILL STOP_TIMEOUT_MS after the start (slot.ts); the
   * slot is left 'stopping' with no worker. A worker already being stopped
   * (a park in progress when close() stops everything) is not stopped
   * twice: the second caller waits for the first stop.
   */
  private stopSlot(s: Slot): Promise<void> {
    const worker = s.worker;
    if (worker === undefined) return stopSlotWorker(s, this.t.stopTimeoutMs, this.o.logger);
    let stop = this.stops.get(worker);
    if (stop === undefined) {
      stop = this.stopWorker(s, worker);
      this.stops.set(worker, stop);
    }
    return stop;
  }

  private async stopWorker(s: Slot, worker: FleetWorker): Promise<void> {
    await stopSlotWorker(s, this.t.stopTimeoutMs, this.o.logger);
    // Stopped on purpose (no rules left, interface gone, mcrd stopping): onExit sees no worker and says nothing.
    const how = await worker.exited;
    this.events.record('worker.exited', { worker: s.id, interface: s.iface, pid: worker.pid ?? 0, code: how.code, signal: how.signal,
      reason: `stopped (${describeExit(how)})`, next: 'none' });
  }

  private async syncInterface(iface: string): Promise<void> {
    await Promise.all(this.slotsOf(iface).filter((s) => s.state === 'running').map((s) => this.cmd.sync(s).catch(() => undefined)));
  }

  private async start(slot: Slot): Promise<void> {
    // After an exit (not a first start, nor a start when the interface came back).
    const replacing = slot.state === 'restarting' && slot.lastExit !== undefined;
    slot.state = 'starting';
    slot.reason = undefined;
    slot.refused = new Map();
    slot.needsSync = false;
    slot.unconfirmed = new Set();
    slot.hash = undefined;
    slot.beat = undefined;
    slot.verdict = undefined;
    let worker: FleetWorker;
    // A level set while it starts (setLogLevel) reaches it once it runs.
    const spawnedLevel = slot.logLevel;
    try {
      slot.lastFatal = undefined;
      slot.stderrTail = [];
      worker = this.startWorker(
        { id: slot.id, interface: slot.iface, fanoutGroup: this.fanoutGroups.idFor(slot.iface), cpu: slot.core,
          ...(this.o.auxCpus !== undefined && this.o.auxCpus.length > 0 ? { auxCpus: this.o.auxCpus } : {}),
          logLevel: spawnedLevel, ...(this.o.user !== undefined ? { user: this.o.user } : {}),
          ...(this.o.loop !== undefined ? { loop: this.o.loop } : {}), ...(this.o.slots !== undefined ? { slots: this.o.slots } : {}) },
        (line, stream) => {
          this.o.logs.record(slot.id, { interface: slot.iface, core: slot.core, pid: worker.pid }, line);
          if (stream === 'stderr') noteStderr(slot, line);
          else if (line.includes('"level":60')) slot.lastFatal = fatalText(line);
        },
      );
    } catch (err) {
      // No process, so no exit to restart from: decide here.
      this.noProcess(slot, err as Error & { code?: string });
      throw err;
    }
    slot.worker = worker;
    slot.startedAtMs = Date.now();
    // Every exit is handled in the chain, after the change in progress
    // (this start, when the worker dies during it): one place decides
    // whether and when it restarts.
    void worker.exited.then((how) => this.serial(() => Promise.resolve(this.onExit(slot, worker, how))));
    this.watchdog.arm();
    // Ready = the first command answered: the worker reads its command
    // stream only once its loop runs and its privileges are dropped. (Not a
    // log line: at --log-level warn there would be none.)
    // The same answer says how its loop runs (mcrctl workers).
    const ready = worker.send({ kind: 'ping', stats: false, loop: true }, this.t.readyTimeoutMs)
      .then((reply) => {
        if (reply.loop !== undefined) slot.loop = { worker, state: reply.loop };
        return 'ready';
      }, (err: { code?: string }) => (err.code === 'ETIMEDOUT' ? 'timeout' : 'exited'));
    const outcome = await Promise.race([ready, worker.exited.then(() => 'exited')]);
    if (outcome !== 'ready') {
      if (outcome === 'timeout') {
        worker.kill('SIGKILL');
        throw Object.assign(new Error(`worker ${slot.id} did not answer within ${this.t.readyTimeoutMs} ms of its start: killed`), { code: 'ERR_MCR_WORKER_START' });
      }
      // Its exit (code or signal, last words) is logged by onExit, next in
      // the chain. A worker whose stream broke exits when it sees that; one
      // that does not is killed.
      let timer: NodeJS.Timeout | undefined;
      const how = await Promise.race([worker.exited, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), this.t.stopTimeoutMs); })]);
      clearTimeout(timer);
      if (how === undefined) worker.kill('SIGKILL');
      const words = lastWords(slot);
      throw Object.assign(new Error(`worker ${slot.id} ${how === undefined ? 'closed its command stream' : describeExit(how)} before it was ready` +
        `${words !== undefined ? `: ${words}` : ''}`), { code: 'ERR_MCR_WORKER_START' });
    }
    // Rules before forwarding: the loop has none until this sync.
    await this.cmd.sync(slot).catch(() => undefined);
    if (!worker.connected) {
      // Died during its first sync (or its stream broke, and it exits when
      // it sees that; unless the watchdog killed it already): its exit,
      // handled next in the chain, restarts it.
      if (verdictOn(slot, worker) === undefined) worker.kill('SIGKILL');
      throw Object.assign(new Error(`worker ${slot.id} exited during its first rule sync`), { code: 'ERR_MCR_WORKER_START' });
    }
    // mcrd began to stop meanwhile (close() is not queued): leave it 'stopping'.
    if (slot.state !== 'starting' || slot.worker !== worker) return;
    slot.state = 'running';
    slot.failedStarts = 0;
    this.o.logger.info({ worker: slot.id, pid: worker.pid, core: slot.core, restarts: slot.restarts }, 'worker running');
    const pid = worker.pid ?? 0;
    if (replacing) this.events.record('worker.restarted', { worker: slot.id, interface: slot.iface, pid, restarts: slot.restarts, after: slot.lastExit?.why ?? 'exited' });
    else this.events.record('worker.started', { worker: slot.id, interface: slot.iface, pid, core: slot.core });
    if (slot.logLevel !== spawnedLevel) await this.cmd.sendLevel(slot, spawnedLevel);
  }

  /** A start that failed before any process existed: park if the interface is the cause, else back off and retry. */
  private noProcess(slot: Slot, err: Error & { code?: string }): void {
    const reason = this.unusable(slot.iface) ?? (err.code === 'ENODEV' ? `interface ${slot.iface} does not exist: workers start when it appears` : undefined);
    if (reason !== undefined) {
      slot.state = 'waiting';
      slot.reason = reason;
      return;
    }
    slot.reason = `start failed (${err.code ?? 'ERR_MCR_WORKER_START'}): ${errorReason(err)}`;
    this.scheduleRestart(slot);
  }

  /**
   * A worker's exit, run in the chain (start() queues it): what follows is
   * decided by afterExit (slot-exit.ts); a restart is scheduled here. The
   * replacement gets a new AF_PACKET socket (WorkerProcess): the old one,
   * its ring and every frame still queued in it closed with the dead
   * process, so nothing it held is ever forwarded late.
   */
  private onExit(slot: Slot, worker: FleetWorker, how: WorkerExit): void {
    worker.close();
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const verdict = verdictOn(slot, worker);
    slot.verdict = undefined;
    slot.beat = undefined;
    const next = afterExit(slot, worker, how, verdict, { closing: this.closing, unusable: this.unusable(slot.iface), backoff: this.backoff,
      stableMs: this.t.stableMs, logger: this.o.logger, events: this.events });
    if (next === 'restart') this.scheduleRestart(slot);
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

/** Why the watchdog killed this worker of the slot, if it did. */
function verdictOn(slot: Slot, worker: FleetWorker): string | undefined {
  return slot.verdict?.worker === worker ? slot.verdict.why : undefined;
}
