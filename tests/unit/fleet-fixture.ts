/**
 * Fakes for the fleet's unit tests (tests/unit/fleet-*.test.ts): a worker
 * that answers commands the way fleet-worker does (echoing the generation
 * and hash it holds), can be told to ignore, die on, delay or refuse a command,
 * dies like a process (its command stream closes first, the 'exit' follows
 * a turn later) and beats a heartbeat that can be stalled; and a Fleet over
 * a real RuleTable with those workers, a logger whose lines the test reads,
 * and short time limits. No process, socket or addon is involved.
 */
import { pino } from 'pino';
import { Fleet } from '../../supervisor/fleet/fleet.js';
import type { FleetTiming } from '../../supervisor/fleet/fleet-options.js';
import type { FleetWorker, WorkerExit, WorkerSpec } from '../../supervisor/fleet/worker-process.js';
import { RuleTable, checkRule } from '../../supervisor/rule-table.js';
import { WorkerLogs } from '../../supervisor/worker-logs.js';
import type { CommandDraft, ErrorInfo, Reply, RuleRefusal } from '../../proto/index.js';
import type { EventSink } from '../../supervisor/events/event-kinds.js';

/** The loop state a fake worker reports in its ready ping, as a worker on a current kernel with the defaults. */
export const FAKE_LOOP = { ingress: 'ring', sliceUs: 100, rtPriority: 0, deferTaskrun: true, noIowait: true };

/**
 * What a fake worker does with a command: answer it, never answer, die on
 * it, answer after ms, or refuse it with an error (holding what it held, as
 * worker/command-handler.ts does with a failed command).
 */
export type Behaviour = 'answer' | 'ignore' | 'die' | 'die-exit-first' | { delayMs: number } | { error: ErrorInfo };
export type Script = (body: CommandDraft, worker: FakeWorker) => Behaviour;

let nextPid = 40_000;

export class FakeWorker implements FleetWorker {
  readonly pid: number;
  readonly exited: Promise<WorkerExit>;
  readonly sent: CommandDraft[] = [];
  readonly kills: NodeJS.Signals[] = [];
  readonly startedAt = Date.now();
  closed = false;
  /** The fleet's callback for this worker's stdout/stderr lines (what a real worker logs). */
  onLine: (line: string, stream: 'stdout' | 'stderr') => void = () => undefined;
  /** What the worker holds, echoed in every reply. */
  generation = 0;
  hash: Uint8Array = new Uint8Array();
  /** Rules it holds but could not build, listed in every reply (a script sets it, e.g. on a sync). */
  refused: RuleRefusal[] = [];
  /** How its loop runs, as its ready ping says (default FAKE_LOOP). */
  loop: typeof FAKE_LOOP = FAKE_LOOP;
  /** Heartbeat word; bumped every beatMs while beating (after the first ready ping, as a loop that runs). */
  beat = 0n;
  lastBeatAt = 0;
  beating = false;
  private alive = true;
  private dying = false;
  private loopStarted = false;
  private streamOpen = true;
  private resolveExit!: (how: WorkerExit) => void;
  private readonly pending = new Set<(err: Error) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private beatTimer: NodeJS.Timeout | undefined;

  constructor(readonly spec: WorkerSpec, private readonly script: Script, private readonly beatMs: number) {
    this.pid = nextPid++;
    this.exited = new Promise((resolve) => { this.resolveExit = resolve; });
  }

  get connected(): boolean {
    return this.alive && this.streamOpen;
  }

  heartbeat(): bigint {
    return this.beat;
  }

  /** The loop starts beating; stallBeat() stops it (as SIGSTOP would), the word keeps its last value. */
  startBeat(): void {
    if (this.beatTimer !== undefined || !this.alive) return;
    this.beating = true;
    this.beatTimer = setInterval(() => {
      this.beat++;
      this.lastBeatAt = Date.now();
    }, this.beatMs);
  }

  stallBeat(): void {
    this.beating = false;
    clearInterval(this.beatTimer);
    this.beatTimer = undefined;
  }

  send(body: CommandDraft, timeoutMs = 10_000): Promise<Reply> {
    if (!this.connected) return Promise.reject(Object.assign(new Error('gone'), { code: 'ECONNRESET' }));
    this.sent.push(body);
    const behaviour = this.script(body, this);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(fail);
        reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      const fail = (err: Error): void => { clearTimeout(timer); reject(err); };
      this.pending.add(fail);
      const answer = (error?: ErrorInfo): void => {
        if (!this.pending.delete(fail)) return;
        clearTimeout(timer);
        resolve(this.reply(body, error));
        if (body.kind === 'stop') this.die({ code: 0, signal: null });
      };
      if (behaviour === 'answer') answer();
      else if (behaviour === 'die') this.die({ code: 1, signal: null });
      else if (behaviour === 'die-exit-first') this.die({ code: 1, signal: null }, true);
      else if (typeof behaviour === 'object' && 'error' in behaviour) answer(behaviour.error);
      else if (typeof behaviour === 'object') this.later(answer, behaviour.delayMs);
    });
  }

  private reply(body: CommandDraft, error?: ErrorInfo): Reply {
    // The loop runs once the worker answers: it beats from its first answer on.
    if (!this.loopStarted && this.beatMs > 0) {
      this.loopStarted = true;
      this.startBeat();
    }
    if (error === undefined && (body.kind === 'syncRules' || body.kind === 'addRule' || body.kind === 'removeRule')) {
      this.generation = body.generation ?? 0;
      this.hash = body.hash ?? new Uint8Array();
    }
    const reply: Reply = { seq: 0, generation: this.generation, hash: this.hash, refused: [...this.refused], ...(error !== undefined ? { error } : {}) };
    // As a real worker: how its loop runs, when asked (the fleet's ready ping).
    if (body.kind === 'ping' && body.loop === true) reply.loop = { ...this.loop };
    return reply;
  }

  /**
   * Dies as a process does: its command stream closes (what waits fails
   * with ECONNRESET) and the exit is reported a turn later, or, with
   * exitFirst, the other way round (both happen with a real process).
   */
  die(how: WorkerExit, exitFirst = false): void {
    if (this.dying) return;
    this.dying = true;
    this.stallBeat();
    const exit = (): void => {
      this.alive = false;
      this.resolveExit(how);
    };
    if (exitFirst) {
      exit();
      setImmediate(() => this.closeStream());
    } else {
      this.closeStream();
      setImmediate(exit);
    }
  }

  private closeStream(): void {
    this.streamOpen = false;
    for (const fail of this.pending) fail(Object.assign(new Error('stream closed'), { code: 'ECONNRESET' }));
    this.pending.clear();
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.alive) return;
    this.kills.push(signal);
    if (signal === 'SIGKILL') this.die({ code: null, signal });
  }

  close(): void {
    this.closed = true;
    this.closeStream();
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => { this.timers.delete(timer); fn(); }, ms);
    this.timers.add(timer);
  }

  /** Clears the fake's own timers (teardown). */
  dispose(): void {
    this.stallBeat();
    for (const timer of this.timers) clearTimeout(timer);
  }
}

export interface LogRecord {
  level: number;
  msg: string;
  worker?: string;
  [key: string]: unknown;
}

export interface FleetLab {
  fleet: Fleet;
  table: RuleTable;
  workers: FakeWorker[];
  logs: LogRecord[];
  /** The interfaces the fleet sees; change them and call fleet.interfacesChanged. */
  links: Map<string, { ifindex: number; up: boolean }>;
  /** Resolves when cond holds (checked every 5 ms), rejects after limitMs. */
  until(cond: () => boolean, limitMs?: number, what?: string): Promise<void>;
  logged(msg: RegExp): LogRecord[];
}

export interface FleetLabOptions {
  script?: Script;
  backoff?: { minMs: number; maxMs: number };
  timing?: Partial<FleetTiming>;
  workers?: number;
  /** Heartbeat period of the fake loops; 0: they never beat (word stays 0). */
  beatMs?: number;
  rules?: number;
  /** The loop thread's scheduler state the watchdog reads (default: none known, as if /proc had no such thread). */
  loopState?: (pid: number) => string | undefined;
  /** The loop thread's scheduling policy `mcrctl workers` reads (default: none known). */
  loopPolicy?: (pid: number) => number | undefined;
  /** How the fake workers' loops run, as their ready pings say (default FAKE_LOOP). */
  loop?: typeof FAKE_LOOP;
  /** Where the fleet records worker events (default nowhere). */
  events?: EventSink;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A fleet over fake workers, with `rules` rules on in0 sending out of out0; closed and cleaned up at teardown. */
export function fleetLab(t: { teardown(fn: () => unknown): void }, o: FleetLabOptions = {}): FleetLab {
  const table = new RuleTable();
  for (let i = 0; i < (o.rules ?? 2); i++) {
    table.add(checkRule({ inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000 + i,
      outputs: [{ group: '239.2.2.2', port: 6000 + i, interface: 'out0' }] }));
  }
  const links = new Map([['in0', { ifindex: 2, up: true }], ['out0', { ifindex: 3, up: true }]]);
  const logs: LogRecord[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogRecord) });
  const workers: FakeWorker[] = [];
  const script = o.script ?? (() => 'answer');
  const fleet = new Fleet({
    interfaces: { get: (name) => links.get(name) }, workersPerInterface: o.workers ?? 1, cpus: [0], user: undefined,
    logLevel: 'info', table, logs: new WorkerLogs(), logger,
    restartBackoff: o.backoff ?? { minMs: 20, maxMs: 160 },
    timing: { readyTimeoutMs: 1_000, stableMs: 60_000, stopTimeoutMs: 1_000, ruleCommandTimeoutMs: 500, syncTimeoutMs: 1_000,
      heartbeatCheckMs: 20, hungAfterMs: 200, ...o.timing },
    loopState: o.loopState ?? (() => undefined),
    loopPolicy: o.loopPolicy ?? (() => undefined),
    ...(o.events !== undefined ? { events: o.events } : {}),
    startWorker: (spec, onLine) => {
      const w = new FakeWorker(spec, script, o.beatMs ?? 10);
      w.onLine = onLine;
      w.loop = o.loop ?? FAKE_LOOP;
      workers.push(w);
      return w;
    },
  });
  t.teardown(async () => {
    await fleet.close();
    for (const w of workers) w.dispose();
  });
  const until = async (cond: () => boolean, limitMs = 3_000, what = 'condition'): Promise<void> => {
    const end = Date.now() + limitMs;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${what}: not reached within ${limitMs} ms`);
      await sleep(5);
    }
  };
  return { fleet, table, workers, logs, links, until, logged: (msg) => logs.filter((l) => msg.test(l.msg)) };
}
