/**
 * Reads MCR's counters over one control connection, every `everyMs` in the
 * background and on demand (phase boundaries), into one series of samples
 * (counters.ts). Requests are serialised so samples never interleave. A
 * request that fails (mcrd busy with a stopped worker, say) is recorded as
 * an error, not a sample; the soak goes on.
 */
import { ControlLink } from './control-link.js';
import type { CounterSample } from './counters.js';

export class CounterSampler {
  readonly samples: CounterSample[] = [];
  readonly errors: Array<{ atMs: number; message: string }> = [];
  readonly #client: ControlLink;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(socket: string, private readonly clock: () => number) {
    this.#client = new ControlLink(socket);
  }

  async start(everyMs: number): Promise<void> {
    await this.sample();
    const tick = (): void => {
      if (this.#stopped) return;
      void this.sample().catch(() => undefined).finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, everyMs);
      });
    };
    tick();
  }

  /** Takes one sample (after any in progress) and returns its index, or throws why it could not. */
  sample(): Promise<number> {
    const next = this.#chain.then(() => this.#take());
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** The latest sample. */
  get last(): CounterSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  async #take(): Promise<number> {
    try {
      const [stats, workers, list] = await Promise.all([
        this.#client.request({ kind: 'stats' }),
        this.#client.request({ kind: 'workers' }),
        this.#client.request({ kind: 'listRules' }),
      ]);
      const names = new Map(list.rules.map((r) => [r.id, r.name ?? `#${r.id}`]));
      const loops = new Map(stats.workers.map((w) => [w.worker, w.loop]));
      const sample: CounterSample = {
        atMs: this.clock(),
        rules: stats.rules.map((r) => ({ id: r.ruleId, name: names.get(r.ruleId) ?? `#${r.ruleId}`, packets: r.packets,
          outputs: r.outputs.map((o) => {
            const byErrno = (o as { errorsByErrno?: Record<string, number> }).errorsByErrno;
            return { packets: o.packets, errors: o.errors, ...(byErrno !== undefined && Object.keys(byErrno).length > 0 ? { errorsByErrno: { ...byErrno } } : {}) };
          }) })),
        workers: workers.workers.map((w) => {
          const loop = loops.get(w.id);
          return { id: w.id, iface: w.interface, pid: w.pid, state: w.state, restarts: w.restarts,
            loop: w.state === 'running' && loop !== undefined && Object.keys(loop).length > 0 ? { ...loop } : undefined };
        }),
      };
      this.samples.push(sample);
      return this.samples.length - 1;
    } catch (err) {
      this.errors.push({ atMs: this.clock(), message: (err as Error).message });
      throw err;
    }
  }

  close(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#client.close();
  }
}
