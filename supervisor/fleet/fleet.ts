/**
 * The worker fleet: for every input interface that rules reference, N worker
 * processes (one per core), started with their rules, kept in step with the
 * rule table (every ack's generation and hash is checked; a worker that
 * drifted gets a full SyncRules), restarted with exponential backoff when
 * they exit (100 ms doubling to 10 s by default, see backoff.ts; reset after
 * a minute of stable run),
 * and stopped when their interface has no rules left or mcrd stops.
 */
import type { Logger } from 'pino';
import { WorkerProcess } from './worker-process.js';
import { DEFAULT_RESTART_BACKOFF, type RestartBackoff } from './backoff.js';
import type { RuleTable } from '../rule-table.js';
import type { WorkerLogs } from '../worker-logs.js';
import type { CommandBody, Reply, WorkerCounters, WorkerInfo } from '../wire/index.js';

const READY_TIMEOUT_MS = 10_000;
const STABLE_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

interface Slot {
  id: string;
  iface: string;
  core: number;
  worker: WorkerProcess | undefined;
  state: 'starting' | 'running' | 'restarting' | 'stopping';
  restarts: number;
  backoffMs: number;
  startedAtMs: number;
  generation: number;
  logLevel: string;
  timer: NodeJS.Timeout | undefined;
  counters: WorkerCounters | undefined;
}

export interface FleetOptions {
  workersPerInterface: number;
  cores: number;
  user: string | undefined;
  logLevel: string;
  table: RuleTable;
  logs: WorkerLogs;
  logger: Logger;
  /** Restart delay bounds; default 100 ms doubling to 10 s. */
  restartBackoff?: RestartBackoff;
}

export class Fleet {
  private readonly slots = new Map<string, Slot[]>();
  private readonly fanoutGroups = new Map<string, number>();
  private nextGroup = 0x4d00;
  private closing = false;
  private readonly backoff: RestartBackoff;

  constructor(private readonly o: FleetOptions) {
    this.backoff = o.restartBackoff ?? DEFAULT_RESTART_BACKOFF;
  }

  /** Brings the fleet in line with the rule table: workers for every referenced interface, none for others. */
  async reconcile(): Promise<void> {
    const wanted = new Set(this.o.table.interfaces());
    for (const iface of [...this.slots.keys()]) if (!wanted.has(iface)) await this.stopInterface(iface);
    await Promise.all([...wanted].map(async (iface) => {
      if (!this.slots.has(iface)) await this.startInterface(iface);
      else await this.syncInterface(iface);
    }));
  }

  /** Sends a rule change to the interface's workers; drifted or failed acks get a full sync. */
  async broadcast(iface: string, body: CommandBody): Promise<void> {
    const expected = this.o.table.hashFor(iface);
    await Promise.all((this.slots.get(iface) ?? []).filter((s) => s.state === 'running').map(async (slot) => {
      const reply = await this.send(slot, body).catch(() => undefined);
      if (reply === undefined || reply.error !== undefined || !sameHash(reply.hash, expected)) {
        this.o.logger.warn({ worker: slot.id, error: reply?.error }, 'worker drifted from the rule table: resyncing');
        await this.sync(slot).catch(() => undefined);
      }
    }));
  }

  async counters(): Promise<Slot[]> {
    const all = [...this.slots.values()].flat();
    await Promise.all(all.filter((s) => s.state === 'running').map(async (s) => {
      const reply = await this.send(s, { kind: 'ping', stats: true }).catch(() => undefined);
      if (reply?.stats !== undefined) s.counters = reply.stats;
    }));
    return all;
  }

  info(): WorkerInfo[] {
    return [...this.slots.values()].flat().map((s) => ({
      id: s.id, interface: s.iface, core: s.core, pid: s.worker?.pid ?? 0, state: s.state,
      restarts: s.restarts, generation: s.generation, logLevel: s.logLevel, startedAtMs: s.startedAtMs,
    }));
  }

  async setLogLevel(level: string, workerId?: string): Promise<number> {
    const targets = [...this.slots.values()].flat().filter((s) => workerId === undefined || s.id === workerId);
    await Promise.all(targets.map(async (s) => {
      s.logLevel = level;
      if (s.state === 'running') await this.send(s, { kind: 'setLogLevel', level });
    }));
    return targets.length;
  }

  hasWorker(id: string): boolean {
    return [...this.slots.values()].flat().some((s) => s.id === id);
  }

  /** Stops every worker: drain, then SIGKILL whatever is left after the time limit. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.slots.keys()].map((iface) => this.stopInterface(iface)));
  }

  private async startInterface(iface: string): Promise<void> {
    if (!this.fanoutGroups.has(iface)) this.fanoutGroups.set(iface, this.nextGroup++);
    const slots: Slot[] = [];
    for (let i = 0; i < this.o.workersPerInterface; i++) {
      slots.push({ id: `${iface}/${i}`, iface, core: i % this.o.cores, worker: undefined, state: 'starting', restarts: 0,
        backoffMs: this.backoff.minMs, startedAtMs: 0, generation: 0, logLevel: this.o.logLevel, timer: undefined, counters: undefined });
    }
    this.slots.set(iface, slots);
    await Promise.all(slots.map((s) => this.start(s).catch((err: Error) => {
      this.o.logger.error({ worker: s.id, err: err.message }, 'worker failed to start');
    })));
  }

  private async stopInterface(iface: string): Promise<void> {
    const slots = this.slots.get(iface) ?? [];
    this.slots.delete(iface);
    await Promise.all(slots.map(async (s) => {
      s.state = 'stopping';
      if (s.timer !== undefined) clearTimeout(s.timer);
      const worker = s.worker;
      if (worker === undefined) return;
      await this.send(s, { kind: 'stop' }, STOP_TIMEOUT_MS).catch(() => undefined);
      const done = await Promise.race([worker.exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS, 'timeout'))]);
      if (done === 'timeout') worker.child.kill('SIGKILL');
      await worker.exited;
      worker.close();
    }));
  }

  private async syncInterface(iface: string): Promise<void> {
    await Promise.all((this.slots.get(iface) ?? []).filter((s) => s.state === 'running').map((s) => this.sync(s)));
  }

  private async start(slot: Slot): Promise<void> {
    slot.state = 'starting';
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const worker = new WorkerProcess(
      { id: slot.id, interface: slot.iface, fanoutGroup: this.fanoutGroups.get(slot.iface) ?? 0, cpu: slot.core,
        logLevel: slot.logLevel, ...(this.o.user !== undefined ? { user: this.o.user } : {}) },
      (line) => {
        this.o.logs.record(slot.id, { interface: slot.iface, core: slot.core, pid: worker.pid }, line);
        if (line.includes('"msg":"worker ready"')) markReady();
      },
    );
    slot.worker = worker;
    slot.startedAtMs = Date.now();
    void worker.exited.then((how) => this.onExit(slot, worker, how));
    const outcome = await Promise.race([ready.then(() => 'ready'), worker.exited.then(() => 'exited'),
      new Promise((r) => setTimeout(r, READY_TIMEOUT_MS, 'timeout'))]);
    if (outcome !== 'ready') {
      if (outcome === 'timeout') worker.child.kill('SIGKILL');
      throw Object.assign(new Error(`worker ${slot.id} did not become ready (${String(outcome)})`), { code: 'ERR_MCR_WORKER_START' });
    }
    // Rules before forwarding: the loop has none until this sync.
    await this.sync(slot);
    if (slot.state === 'starting') slot.state = 'running';
    this.o.logger.info({ worker: slot.id, pid: worker.pid, core: slot.core, restarts: slot.restarts }, 'worker running');
  }

  private async sync(slot: Slot): Promise<void> {
    const reply = await this.send(slot, { kind: 'syncRules', generation: this.o.table.generation,
      hash: this.o.table.hashFor(slot.iface), rules: this.o.table.forInterface(slot.iface) });
    if (reply.error !== undefined) {
      throw Object.assign(new Error(`worker ${slot.id} refused its rules: ${reply.error.message}`), { code: reply.error.code });
    }
  }

  private async send(slot: Slot, body: CommandBody, timeoutMs?: number): Promise<Reply> {
    if (slot.worker === undefined) throw Object.assign(new Error(`worker ${slot.id} is not running`), { code: 'ESRCH' });
    const reply = await slot.worker.send(body, timeoutMs);
    slot.generation = reply.generation;
    return reply;
  }

  private onExit(slot: Slot, worker: WorkerProcess, how: { code: number | null; signal: NodeJS.Signals | null }): void {
    worker.close();
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    if (this.closing || slot.state === 'stopping') return;
    if (Date.now() - slot.startedAtMs > STABLE_MS) slot.backoffMs = this.backoff.minMs;
    slot.state = 'restarting';
    slot.restarts++;
    this.o.logger.warn({ worker: slot.id, code: how.code, signal: how.signal, restartInMs: slot.backoffMs }, 'worker exited: restarting');
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (this.closing || slot.state !== 'restarting') return;
      this.start(slot).catch((err: Error) => this.o.logger.error({ worker: slot.id, err: err.message }, 'worker restart failed'));
    }, slot.backoffMs);
    slot.backoffMs = Math.min(this.backoff.maxMs, slot.backoffMs * 2);
  }
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
